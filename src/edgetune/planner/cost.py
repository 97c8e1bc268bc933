"""Per-epoch time and energy (paper 004, Eq. 1-10) and the plan objective/constraints (Eq. 12-15).

With model variant M_(a,q) of n blocks (compute d^i per epoch, size g^i bits), partition point j
(blocks 1..j on the device) and edge server ES_x:

* Eq. 1  ``D^{c→e} = Σ_{i=1..n} g^i``          (cloud → edge, and back edge → cloud: same volume)
* Eq. 2  ``D^{e→d} = Σ_{i=1..j} g^i``          (edge → end, and back end → edge: same volume)
* Eq. 3  ``D^{ed}  = Σ_{i=1..j} d^i``          (work on the end device)
* Eq. 4  ``D^{es}  = Σ_{i=j+1..n} d^i``        (work on the edge server)
* Eq. 5  ``t(k) = τ^run + τ^tran``;  Eq. 6  ``e(k) = ε^run + ε^tran``
* Eq. 7  ``τ^run = D^{ed}/v_y + D^{es}/v_x + F_a/v_c``
* Eq. 8  ``ε^run = D^{ed}·ε_y + D^{es}·ε_x + F_a·ε_c``
* Eq. 9  ``τ^tran = 2·(D^{c→e}/v_(c,x) + D^{e→d}/v_(x,y))``,  ``v_(x,y) = b_(x,y)·log2(1+σ)``
* Eq. 10 ``ε^tran = 2·(D^{c→e}·ε_(c,x) + D^{e→d}·ε_(x,y))``

A plan of K epochs of variant (a, q) is feasible (Eq. 13 with the quantization time of Eq. 15.2) when
``τ_(a,q) + Σ_k t(k) < T_max`` and ``L_a + γ_(a,q) + K·ℓ < L_max`` (Eq. 12); its energy is
``ε_(a,q) + Σ_k e(k)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edgetune.planner.instance import EdgeServer, Instance, Model, Variant

__all__ = [
    "EpochCost",
    "OptionTable",
    "Volumes",
    "device_link_rate_bps",
    "epoch_cost",
    "option_table",
    "plan_energy_j",
    "plan_time_s",
    "volumes",
]


@dataclass(frozen=True)
class Volumes:
    """Data volumes of one epoch (Eq. 1-4).

    Attributes
    ----------
    cloud_edge_bits : float
        D^{c→e} (Eq. 1), bits.
    edge_device_bits : float
        D^{e→d} (Eq. 2), bits.
    device_compute : float
        D^{ed} (Eq. 3), compute units.
    edge_compute : float
        D^{es} (Eq. 4), compute units.
    """

    cloud_edge_bits: float
    edge_device_bits: float
    device_compute: float
    edge_compute: float


def volumes(variant: Variant, partition: int) -> Volumes:
    """Eq. 1-4 for ``variant`` split after block ``partition`` (0 = all on the server)."""
    n = len(variant.layers)
    if not 0 <= partition <= n:
        raise ValueError(f"partition {partition} outside 0..{n}")
    sizes = [layer.size_bits for layer in variant.layers]
    work = [layer.compute for layer in variant.layers]
    return Volumes(
        cloud_edge_bits=math.fsum(sizes),
        edge_device_bits=math.fsum(sizes[:partition]),
        device_compute=math.fsum(work[:partition]),
        edge_compute=math.fsum(work[partition:]),
    )


def device_link_rate_bps(server: EdgeServer) -> float:
    """Shannon rate of the server-device link: ``v_(x,y) = b_(x,y)·log2(1 + σ)`` in bits/s."""
    return server.bandwidth_hz * math.log2(1.0 + server.snr)


@dataclass(frozen=True)
class EpochCost:
    """Time and energy of one epoch, split as in Eq. 5-10.

    Attributes
    ----------
    run_s, tran_s : float
        τ^run (Eq. 7) and τ^tran (Eq. 9), seconds.
    run_j, tran_j : float
        ε^run (Eq. 8) and ε^tran (Eq. 10), joules.
    """

    run_s: float
    tran_s: float
    run_j: float
    tran_j: float

    @property
    def time_s(self) -> float:
        """t(k) of Eq. 5."""
        return self.run_s + self.tran_s

    @property
    def energy_j(self) -> float:
        """e(k) of Eq. 6."""
        return self.run_j + self.tran_j


def epoch_cost(inst: Instance, model: Model, variant: Variant, server: EdgeServer, partition: int) -> EpochCost:
    """Eq. 5-10: the time and energy of one epoch with ``server`` and ``partition``."""
    vol = volumes(variant, partition)
    dev, cloud = inst.device, inst.cloud
    v_xy = device_link_rate_bps(server)
    run_s = vol.device_compute / dev.speed + vol.edge_compute / server.speed + model.update_compute / cloud.speed
    run_j = (
        vol.device_compute * dev.energy_per_unit
        + vol.edge_compute * server.energy_per_unit
        + model.update_compute * cloud.energy_per_unit
    )
    tran_s = 2.0 * (vol.cloud_edge_bits / server.cloud_rate_bps + vol.edge_device_bits / v_xy)
    tran_j = 2.0 * (
        vol.cloud_edge_bits * server.cloud_energy_per_bit + vol.edge_device_bits * server.device_energy_per_bit
    )
    return EpochCost(run_s=run_s, tran_s=tran_s, run_j=run_j, tran_j=tran_j)


@dataclass(frozen=True)
class OptionTable:
    """Every per-epoch action (edge server, partition point) of a variant with its cost.

    Attributes
    ----------
    server : ndarray of int
        Index into ``Instance.edge_servers`` per option.
    partition : ndarray of int
        Partition point j per option.
    time_s, energy_j : ndarray of float
        t and e of one epoch with that option (Eq. 5-10).
    """

    server: NDArray[np.int64]
    partition: NDArray[np.int64]
    time_s: NDArray[np.float64]
    energy_j: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.time_s.shape[0])


def option_table(inst: Instance, model: Model, variant: Variant) -> OptionTable:
    """All (server, partition) options of ``variant`` with Eq. 5-10 costs, vectorised.

    Options are ordered server-major, then by partition point as listed in the variant.
    """
    parts = np.asarray(variant.partition_points(), dtype=np.int64)
    work = np.asarray([layer.compute for layer in variant.layers], dtype=np.float64)
    sizes = np.asarray([layer.size_bits for layer in variant.layers], dtype=np.float64)
    cum_work = np.concatenate(([0.0], np.cumsum(work)))
    cum_size = np.concatenate(([0.0], np.cumsum(sizes)))
    d_ce = float(cum_size[-1])  # Eq. 1
    d_ed_bits = cum_size[parts]  # Eq. 2
    d_ed = cum_work[parts]  # Eq. 3
    d_es = cum_work[-1] - cum_work[parts]  # Eq. 4
    srv = inst.edge_servers
    v_x = np.asarray([s.speed for s in srv])[:, None]
    e_x = np.asarray([s.energy_per_unit for s in srv])[:, None]
    v_cx = np.asarray([s.cloud_rate_bps for s in srv])[:, None]
    e_cx = np.asarray([s.cloud_energy_per_bit for s in srv])[:, None]
    v_xy = np.asarray([device_link_rate_bps(s) for s in srv])[:, None]
    e_xy = np.asarray([s.device_energy_per_bit for s in srv])[:, None]
    dev, cloud = inst.device, inst.cloud
    f_a = model.update_compute
    t = (d_ed / dev.speed + d_es / v_x + f_a / cloud.speed) + 2.0 * (d_ce / v_cx + d_ed_bits / v_xy)
    e = (d_ed * dev.energy_per_unit + d_es * e_x + f_a * cloud.energy_per_unit) + 2.0 * (d_ce * e_cx + d_ed_bits * e_xy)
    n_srv, n_part = len(srv), len(parts)
    return OptionTable(
        server=np.repeat(np.arange(n_srv, dtype=np.int64), n_part),
        partition=np.tile(parts, n_srv),
        time_s=np.ascontiguousarray(t, dtype=np.float64).ravel(),
        energy_j=np.ascontiguousarray(e, dtype=np.float64).ravel(),
    )


def plan_time_s(quantize_time_s: float, epoch_times_s: Sequence[float] | NDArray[np.float64]) -> float:
    """Total time of a plan, ``T = τ_(a,q) + Σ_k t(k)`` (Eq. 13 / Eq. 15.2), exactly rounded sum."""
    return math.fsum([quantize_time_s, *map(float, epoch_times_s)])


def plan_energy_j(quantize_energy_j: float, epoch_energies_j: Sequence[float] | NDArray[np.float64]) -> float:
    """Objective of Eq. 13: ``E = ε_(a,q) + Σ_k e(k)``, exactly rounded sum."""
    return math.fsum([quantize_energy_j, *map(float, epoch_energies_j)])
