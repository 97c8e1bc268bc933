"""Network namespaces and veth pairs: thin wrappers that run ``ip`` and record what they created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgetune.testbed.state import Resource, TestbedState
from edgetune.testbed.system import TestbedError, list_links, list_netns, run

OFFLOADS = ["tx", "off", "tso", "off", "gso", "off", "gro", "off"]


def add_netns(state: TestbedState, name: str) -> None:
    """Create namespace ``name`` (refusing one that already exists), loopback up, IPv6 off."""
    if name in list_netns():
        raise TestbedError(f"namespace {name} already exists and is not ours; refusing to touch it")
    run(["ip", "netns", "add", name])
    state.add(Resource(kind="netns", name=name))
    run(["ip", "link", "set", "lo", "up"], netns=name)
    # No IPv6 chatter (router solicitations, MLD) on the testbed's links: only the traffic we send.
    run(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"], netns=name)


def add_veth(state: TestbedState, a: str, b: str) -> None:
    """Create the veth pair ``a``/``b`` in the root namespace (``b`` names it in the state file)."""
    existing = set(list_links())
    for dev in (a, b):
        if dev in existing:
            raise TestbedError(f"link {dev} already exists and is not ours; refusing to touch it")
    run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
    state.add(Resource(kind="link", name=b, info={"peer": a}))
    for dev in (a, b):
        _quiet_root_dev(dev)


def _quiet_root_dev(dev: str) -> None:
    """A root-namespace end carries no address and no IPv6: the host never talks on it."""
    p = Path(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6")
    if p.exists():
        p.write_text("1\n")


def offloads_off(dev: str, netns: str = "") -> None:
    """``ethtool -K dev tx off tso off gso off gro off`` (TCP through netdev OVS stalls otherwise)."""
    run(["ethtool", "-K", dev, *OFFLOADS], netns=netns)


def link_up(dev: str, netns: str = "") -> None:
    """``ip link set dev up``."""
    run(["ip", "link", "set", dev, "up"], netns=netns)


def move_into(dev: str, netns: str, ip_cidr: str, mac: str, new_name: str = "eth0") -> None:
    """Move ``dev`` into ``netns``, rename it, give it ``mac`` and ``ip_cidr``, bring it up."""
    run(["ip", "link", "set", dev, "netns", netns])
    run(["ip", "link", "set", dev, "name", new_name], netns=netns)
    run(["ip", "link", "set", new_name, "address", mac], netns=netns)
    run(["ip", "addr", "add", ip_cidr, "dev", new_name], netns=netns)
    offloads_off(new_name, netns)
    link_up(new_name, netns)


def add_neighbor(netns: str, ip: str, mac: str, dev: str = "eth0") -> None:
    """A permanent ARP entry, so no traffic depends on ARP getting through a lossy link."""
    run(["ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent"], netns=netns)


def del_link(name: str) -> None:
    """Delete a link if it still exists (deleting one end of a veth removes both)."""
    if name in list_links():
        run(["ip", "link", "del", name])


def del_netns(name: str) -> None:
    """Delete a namespace if it still exists (its interfaces, qdiscs and nft rules go with it)."""
    if name in list_netns():
        run(["ip", "netns", "del", name])


_CLONE_NEWNET = 0x40000000


def socket_in_netns(name: str, family: int = 2, kind: int = 1) -> Any:
    """A socket created inside namespace ``name`` (usable from any thread of this process afterwards).

    A socket belongs to the namespace it was created in; Linux switches namespaces per thread, so a
    short-lived helper thread enters ``name`` with ``setns(2)``, creates the socket and exits; the
    calling thread never leaves its own namespace.
    """
    import ctypes
    import socket
    import threading

    libc = ctypes.CDLL(None, use_errno=True)
    out: dict[str, Any] = {}

    def enter() -> None:
        try:
            fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({name}): {os.strerror(err)}")
            finally:
                os.close(fd)
            out["sock"] = socket.socket(family, kind)
        except BaseException as exc:  # handed to the caller
            out["err"] = exc

    t = threading.Thread(target=enter, name=f"setns-{name}")
    t.start()
    t.join()
    if "err" in out:
        raise out["err"]
    return out["sock"]
