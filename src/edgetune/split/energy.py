"""Node power/speed profiles of the JQODI testbed and the virtual clock of split runs.

Powers are the paper's (004) Tables II-IV: Raspberry Pi 5 idle 3.75 W / rated 12 W, RTX 3090 95/350 W,
RTX 4090 35/450 W, A100 66/400 W. The paper gives no compute speeds; ours are *assumptions* in
multiply-accumulates per second (MAC/s) of effective small-batch float32 CNN training:

* Pi 5 (4x Cortex-A76 @ 2.4 GHz, 128-bit NEON FMA: 77 GMAC/s peak): 1.0e10 MAC/s (~13 % of peak).
* RTX 3090 (35.6 TFLOP/s fp32 = 17.8 TMAC/s peak): 2.0e12 MAC/s (~11 %: tiny models, small batches).
* RTX 4090 (82.6 TFLOP/s fp32 = 41.3 TMAC/s peak): 4.0e12 MAC/s (~10 %).
* A100 (19.5 TFLOP/s fp32, 156 TF32): 4.0e12 MAC/s.

The energy per unit of work is rated power / speed (idle power is not charged, as in the paper, which
ignores idle nodes). A split run measures each side's compute seconds on *this* host and converts them
with a speed factor: ``virtual_s = host_s * host_mac_per_s / node_mac_per_s`` where ``host_mac_per_s``
is calibrated on this host (:func:`edgetune.split.profiler.calibrate_host_speed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edgetune.errors import InputError


@dataclass(frozen=True)
class NodeProfile:
    """A compute node: powers (W) and effective speed (MAC/s)."""

    name: str
    idle_w: float
    busy_w: float
    mac_per_s: float

    @property
    def joule_per_mac(self) -> float:
        """ε: energy per unit of work (J/MAC) = rated power / speed."""
        return self.busy_w / self.mac_per_s


PROFILES: dict[str, NodeProfile] = {
    p.name: p
    for p in (
        NodeProfile("pi5", 3.75, 12.0, 1.0e10),
        NodeProfile("rtx3090", 95.0, 350.0, 2.0e12),
        NodeProfile("rtx4090", 35.0, 450.0, 4.0e12),
        NodeProfile("a100", 66.0, 400.0, 4.0e12),
    )
}


def profile(name: str) -> NodeProfile:
    """The :data:`PROFILES` entry ``name`` (InputError if unknown)."""
    if name not in PROFILES:
        raise InputError("node", name, f"unknown; choose from {sorted(PROFILES)}")
    return PROFILES[name]


@dataclass(frozen=True)
class LinkProfile:
    """A link: rate (bit/s) and energy per bit (J/bit).

    Wi-Fi device-edge links follow the paper's Shannon rate ``b * log2(1 + snr)``.
    """

    rate_bps: float
    joule_per_bit: float

    @classmethod
    def shannon(cls, bandwidth_hz: float, snr: float, joule_per_bit: float) -> LinkProfile:
        """v_(x,y) = b_(x,y) * log2(1 + σ) (paper 004, Section III-A)."""
        return cls(bandwidth_hz * math.log2(1.0 + snr), joule_per_bit)


DEFAULT_WIFI = {"bandwidth_hz": 2.0e7, "snr": 100.0, "device_energy_per_bit": 5.0e-8}
"""Device-edge Wi-Fi: 20 MHz, SNR 100 (20 dB) -> 133 Mbit/s; 50 nJ/bit (~6.7 W radio at full rate)."""
DEFAULT_BACKHAUL = {"cloud_rate_bps": 1.0e9, "cloud_energy_per_bit": 1.0e-9}
"""Edge-cloud wired link: 1 Gbit/s, 1 nJ/bit."""


@dataclass
class VirtualClock:
    """Accumulates virtual time (s) and energy (J) per node and per link, sequentially.

    Split training is sequential per batch (device forward, send, server forward/backward, send back,
    device backward), so the run's time is the sum of every charged interval.
    """

    host_mac_per_s: float
    time_s: dict[str, float] = field(default_factory=dict)
    energy_j: dict[str, float] = field(default_factory=dict)
    bits: dict[str, float] = field(default_factory=dict)

    def compute(self, node: NodeProfile, host_seconds: float) -> float:
        """Charge ``host_seconds`` measured on this host to ``node``; returns the virtual seconds."""
        seconds = host_seconds * self.host_mac_per_s / node.mac_per_s
        self._add(node.name, seconds, seconds * node.busy_w)
        return seconds

    def work(self, node: NodeProfile, macs: float) -> float:
        """Charge a known amount of work (MACs) to ``node`` (used for the cloud's model update)."""
        seconds = macs / node.mac_per_s
        self._add(node.name, seconds, macs * node.joule_per_mac)
        return seconds

    def transfer(self, link_name: str, link: LinkProfile, n_bits: float) -> float:
        """Charge sending ``n_bits`` over ``link``; returns the seconds."""
        seconds = n_bits / link.rate_bps
        self._add(link_name, seconds, n_bits * link.joule_per_bit)
        self.bits[link_name] = self.bits.get(link_name, 0.0) + n_bits
        return seconds

    def _add(self, key: str, seconds: float, joules: float) -> None:
        self.time_s[key] = self.time_s.get(key, 0.0) + seconds
        self.energy_j[key] = self.energy_j.get(key, 0.0) + joules

    @property
    def total_time_s(self) -> float:
        """Sum of all charged intervals."""
        return sum(self.time_s.values())

    @property
    def total_energy_j(self) -> float:
        """Sum of all charged energy."""
        return sum(self.energy_j.values())
