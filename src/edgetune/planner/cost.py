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

**edgetune's addition (Eq. 9a-10a, not in the paper), only when the instance sets
``samples_per_epoch``:** split training also moves, every epoch, each training sample's partition
activations device → edge and their gradients edge → device, and each evaluation sample's activations
forward. Eq. 9-10 count model weights only; on a real split run (ResNet20 32-bit, 15 epochs, p1) that
traffic was 33.8 MB, 1.48 s and 9.85 J against a predicted 0.016 s / 0.53 J for the whole plan
(``docs/split.md``). With o_j = ``output_bits`` and o'_j = ``output_grad_bits`` (default o_j) of block j,
N = ``samples_per_epoch`` and N_ev = ``eval_samples_per_epoch`` (default 0):

* Eq. 9a ``D^{act}_j = N·(o_j + o'_j) + N_ev·o_j``  (= ``2·N·o_j`` without the optional fields;
  ``(N + N_ev)·input_bits`` at j = 0, 0 at j = n), ``τ^act = D^{act}_j / v_(x,y)``
* Eq. 10a ``ε^act = D^{act}_j·ε_(x,y)``

and ``t(k) = τ^run + τ^tran + τ^act``, ``e(k) = ε^run + ε^tran + ε^act``. Without ``samples_per_epoch``
the cost is the paper's Eq. 5-10 exactly. Every planner method reads its costs from
:func:`option_table`, so they all see the same model.

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
    "activation_volume_bits",
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
    activation_bits : float
        D^{act}_j (Eq. 9a, edgetune's addition), bits each epoch over the device link; 0 under the
        paper's model (no ``samples_per_epoch``).
    """

    cloud_edge_bits: float
    edge_device_bits: float
    device_compute: float
    edge_compute: float
    activation_bits: float = 0.0


def activation_volume_bits(inst: Instance, variant: Variant, partition: int) -> float:
    """Eq. 9a (edgetune's addition): activation + gradient bits crossing the device link per epoch.

    ``D^{act}_j = N·(o_j + o'_j) + N_ev·o_j`` with N = ``inst.samples_per_epoch``, N_ev =
    ``inst.eval_samples_per_epoch`` (default 0), o_j = ``output_bits`` of block j and o'_j =
    ``output_grad_bits`` (default o_j); at j = 0 the raw inputs go forward,
    ``(N + N_ev)·input_bits``; at j = n nothing crosses (the device computes the loss itself).

    The paper's Eq. 9-10 count model weights only; the measured split runs show the activations
    dominate the device link (see the module docstring), hence this optional term. Returns 0 when the
    instance has no ``samples_per_epoch`` (the paper's model).

    Raises
    ------
    ValueError
        A partition outside ``0..n`` or a missing size (``validate_instance`` rejects such instances).
    """
    n = len(variant.layers)
    if not 0 <= partition <= n:
        raise ValueError(f"partition {partition} outside 0..{n}")
    if inst.samples_per_epoch is None or partition == n:
        return 0.0
    n_train = inst.samples_per_epoch
    n_eval = inst.eval_samples_per_epoch or 0.0
    if partition == 0:
        if variant.input_bits is None:
            raise ValueError("input_bits is needed for partition 0 with samples_per_epoch")
        return (n_train + n_eval) * variant.input_bits
    layer = variant.layers[partition - 1]
    if layer.output_bits is None:
        raise ValueError(f"output_bits of block {partition} is needed with samples_per_epoch")
    grad = layer.output_bits if layer.output_grad_bits is None else layer.output_grad_bits
    return n_train * (layer.output_bits + grad) + n_eval * layer.output_bits


def volumes(variant: Variant, partition: int, inst: Instance | None = None) -> Volumes:
    """Eq. 1-4 for ``variant`` split after block ``partition`` (0 = all on the server).

    With ``inst`` given, ``activation_bits`` is Eq. 9a of that instance (0 without
    ``samples_per_epoch``); without it, 0.
    """
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
        activation_bits=0.0 if inst is None else activation_volume_bits(inst, variant, partition),
    )


def device_link_rate_bps(server: EdgeServer) -> float:
    """Shannon rate of the server-device link: ``v_(x,y) = b_(x,y)·log2(1 + σ)`` in bits/s."""
    return server.bandwidth_hz * math.log2(1.0 + server.snr)


@dataclass(frozen=True)
class EpochCost:
    """Time and energy of one epoch, split as in Eq. 5-10 (plus edgetune's Eq. 9a-10a).

    Attributes
    ----------
    run_s, tran_s : float
        τ^run (Eq. 7) and τ^tran (Eq. 9), seconds.
    run_j, tran_j : float
        ε^run (Eq. 8) and ε^tran (Eq. 10), joules.
    act_s, act_j : float
        τ^act (Eq. 9a) and ε^act (Eq. 10a): activation traffic, 0 under the paper's model.
    """

    run_s: float
    tran_s: float
    run_j: float
    tran_j: float
    act_s: float = 0.0
    act_j: float = 0.0

    @property
    def time_s(self) -> float:
        """t(k) of Eq. 5 (plus τ^act when modelled)."""
        return self.run_s + self.tran_s + self.act_s

    @property
    def energy_j(self) -> float:
        """e(k) of Eq. 6 (plus ε^act when modelled)."""
        return self.run_j + self.tran_j + self.act_j


def epoch_cost(inst: Instance, model: Model, variant: Variant, server: EdgeServer, partition: int) -> EpochCost:
    """Eq. 5-10 (and Eq. 9a-10a with ``samples_per_epoch``): one epoch with ``server`` and ``partition``."""
    vol = volumes(variant, partition, inst)
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
    act_s = vol.activation_bits / v_xy
    act_j = vol.activation_bits * server.device_energy_per_bit
    return EpochCost(run_s=run_s, tran_s=tran_s, run_j=run_j, tran_j=tran_j, act_s=act_s, act_j=act_j)


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

    With ``inst.samples_per_epoch`` the activation traffic of Eq. 9a-10a is added. Options are
    ordered server-major, then by partition point as listed in the variant.
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
    if inst.has_activation_traffic:  # Eq. 9a-10a (edgetune's addition); skipped: the paper's numbers unchanged
        d_act = np.asarray([activation_volume_bits(inst, variant, int(j)) for j in parts], dtype=np.float64)
        t = t + d_act / v_xy
        e = e + d_act * e_xy
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
