"""Fleet -> testbed plan: which namespaces, OVS bridges, veth links, shapers and loss rules to create.

Pure functions, no system calls, so the plan is unit-tested anywhere. Every name starts with the
testbed's prefix ``et<tag>`` (e.g. ``etq7k``); interface names stay within Linux's 15 characters.

Wiring of one orchestrator <-> node path (paper Sec. IV-A topology)::

    node ns [eth0] =veth= [<P>n<k>r] ~relay~ [<P>n<k>s] =veth= [<P>n<k>p] gateway bridge <P>b<g>
    gateway bridge [<P>u<g>g] =veth= [<P>u<g>a] aggregation bridge <P>b0 [<P>c0a] =veth= [eth0] orchestrator ns

* **Bandwidth**: a ``tbf`` shaper on the egress of the sending end of every link, in both directions:
  access link downlink on ``<P>n<k>r`` (fed by the relay), uplink on the node's ``eth0`` (fed by the
  node's TCP stack); gateway uplink on ``<P>u<g>g`` (up) and ``<P>u<g>a`` (down); core link on
  ``<P>c0a`` (up) and the orchestrator's ``eth0`` (down). Access queues hold one path RTT (at least
  50 ms); shared links' queues 20 ms (they are fed by OVS; see docs/testbed.md, "Limits").
* **Delay**: the relay delays each direction of the access link by the whole one-way path delay
  (access + gateway uplink + core). No kernel ``netem`` is available, and lumping the tier delays into
  the access link gives every path exactly the fleet's end-to-end one-way delay.
* **Loss**: nftables ``numgen random`` drop rules on the receiving side: in the node's namespace for
  packets from the orchestrator (downlink) and in the orchestrator's namespace for packets from the
  node (uplink). Loss is on the access link only (the generator puts all loss there).

Scaling (docs/testbed.md): :func:`testbed_fleet` caps every link's bandwidth at ``cap_mbps`` (default
50) so that a run fits in the CPU of a small machine; the simulation prediction uses the same capped
fleet, so the two are compared on the same network.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet, LinkSpec

#: Every resource name starts with this.
NAME_ROOT = "et"
#: Subnet of the testbed (only inside the namespaces it creates; nothing in the root namespace).
SUBNET_PREFIX = "10.231"
MAX_NODES = 200
#: Queue of the shapers on links shared by several paths (gateway uplinks, core), seconds.
SHARED_QUEUE_S = 0.02
_TAG_RE = re.compile(r"^[a-z0-9]{1,4}$")


@dataclass(frozen=True)
class Shaper:
    """A ``tbf`` on the egress of ``dev`` (in namespace ``netns``, "" for the root namespace)."""

    dev: str
    netns: str
    rate_mbps: float
    queue_s: float


@dataclass(frozen=True)
class LossRule:
    """Drop ``loss_pct`` % of IPv4 packets from ``saddr`` arriving in namespace ``netns``."""

    netns: str
    saddr: str
    loss_pct: float


@dataclass(frozen=True)
class HostPlan:
    """A namespace with one interface ``eth0`` (orchestrator or edge node)."""

    role: str  # "orchestrator" | "node"
    node_id: int | None
    netns: str
    ip: str
    mac: str
    #: The root-namespace end of the veth whose other end becomes ``eth0`` in the namespace.
    peer: str
    #: The name that other end has until it is moved into the namespace and renamed ``eth0``.
    temp: str


@dataclass(frozen=True)
class BridgePlan:
    """An OVS bridge (``datapath_type=netdev``) for a fleet switch."""

    name: str
    switch_id: str
    kind: str  # "gateway" | "aggregation"
    dpid: int
    #: Port name -> OpenFlow port number requested for it.
    ports: dict[str, int]


@dataclass(frozen=True)
class RelayPlan:
    """One access link's delay line between ``a`` (node side) and ``b`` (bridge side)."""

    node_id: int
    a: str
    b: str
    delay_ms: float


@dataclass(frozen=True)
class PathPlan:
    """What the controller needs to know about one orchestrator <-> node path."""

    node_id: int
    node_ip: str
    node_mac: str
    gateway_bridge: str
    gateway_dpid: int
    access_port: int  # on the gateway bridge, towards the node
    uplink_port: int  # on the gateway bridge, towards the aggregation bridge
    agg_port: int  # on the aggregation bridge, towards this gateway
    configured: dict[str, float]  # end-to-end bandwidth_mbps, delay_ms, loss_pct (for checks only)


@dataclass(frozen=True)
class TestbedPlan:
    """Everything ``up`` creates, in creation order."""

    __test__ = False  # not a pytest class

    name: str
    prefix: str
    orchestrator: HostPlan
    nodes: list[HostPlan]
    bridges: list[BridgePlan]
    #: veth pairs (a, b): a is created in the root namespace and possibly moved; b stays in root.
    veths: list[tuple[str, str]]
    #: veth end -> (bridge, OpenFlow port) for ends attached to a bridge.
    attach: dict[str, tuple[str, int]]
    relays: list[RelayPlan]
    shapers: list[Shaper]
    loss_rules: list[LossRule]
    paths: list[PathPlan]
    agg_dpid: int
    orch_port: int
    cap_mbps: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (the controller reads it from the state file)."""
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> TestbedPlan:
        """Inverse of :meth:`to_json`."""
        return TestbedPlan(
            name=data["name"],
            prefix=data["prefix"],
            orchestrator=HostPlan(**data["orchestrator"]),
            nodes=[HostPlan(**h) for h in data["nodes"]],
            bridges=[BridgePlan(**{**b, "ports": dict(b["ports"])}) for b in data["bridges"]],
            veths=[(a, b) for a, b in data["veths"]],
            attach={k: (v[0], int(v[1])) for k, v in data["attach"].items()},
            relays=[RelayPlan(**r) for r in data["relays"]],
            shapers=[Shaper(**s) for s in data["shapers"]],
            loss_rules=[LossRule(**r) for r in data["loss_rules"]],
            paths=[PathPlan(**p) for p in data["paths"]],
            agg_dpid=int(data["agg_dpid"]),
            orch_port=int(data["orch_port"]),
            cap_mbps=float(data["cap_mbps"]),
            extra=dict(data.get("extra", {})),
        )


def _capped(link: LinkSpec, cap_mbps: float) -> LinkSpec:
    return link.model_copy(update={"bandwidth_mbps": round(min(link.bandwidth_mbps, cap_mbps), 4)})


def testbed_fleet(fleet: Fleet, cap_mbps: float = 50.0) -> Fleet:
    """The fleet as the testbed builds it: every link's bandwidth capped at ``cap_mbps``.

    Delay and loss are kept. The simulation prediction of a testbed run uses this fleet too.
    """
    if not cap_mbps > 0:
        raise InputError("--cap-mbps", cap_mbps, "must be positive")
    orch = fleet.orchestrator.model_copy(update={"link": _capped(fleet.orchestrator.link, cap_mbps)})
    switches = [
        s if s.uplink is None else s.model_copy(update={"uplink": _capped(s.uplink, cap_mbps)}) for s in fleet.switches
    ]
    nodes = [n.model_copy(update={"link": _capped(n.link, cap_mbps)}) for n in fleet.nodes]
    return fleet.model_copy(update={"orchestrator": orch, "switches": switches, "nodes": nodes})


def _mac(k: int) -> str:
    return f"02:e7:00:00:{(k >> 8) & 0xFF:02x}:{k & 0xFF:02x}"


def _node_ip(k: int) -> str:
    return f"{SUBNET_PREFIX}.{1 + k // 200}.{10 + k % 200}"


def path_delay_ms(fleet: Fleet, node_id: int) -> float:
    """End-to-end one-way delay of a node's path: access + gateway uplink + core."""
    node = fleet.node(node_id)
    gw = next(s for s in fleet.switches if s.id == node.gateway)
    up = gw.uplink.delay_ms if gw.uplink is not None else 0.0
    return node.link.delay_ms + up + fleet.orchestrator.link.delay_ms


def queue_s(rate_mbps: float, rtt_ms: float, floor_s: float = 0.05) -> float:
    """Queue of a shaper: one bandwidth-delay product of the path (at least ``floor_s``)."""
    return max(rtt_ms / 1e3, floor_s)


def plan_testbed(fleet: Fleet, tag: str, cap_mbps: float = 50.0) -> TestbedPlan:
    """Plan the testbed of ``fleet`` (already capped, see :func:`testbed_fleet`) under prefix ``et<tag>``.

    Parameters
    ----------
    fleet : Fleet
        The fleet to build; its links' bandwidths are capped at ``cap_mbps`` here as well.
    tag : str
        1-4 lowercase letters/digits; names are ``et<tag>...`` so several testbeds can coexist.
    cap_mbps : float
        Bandwidth cap of every link.
    """
    if not _TAG_RE.match(tag):
        raise InputError("--name", tag, "must be 1-4 lowercase letters or digits")
    if len(fleet.nodes) > MAX_NODES:
        raise InputError("--fleet", len(fleet.nodes), f"a testbed holds at most {MAX_NODES} nodes")
    fleet = testbed_fleet(fleet, cap_mbps)
    p = f"{NAME_ROOT}{tag}"
    base_dpid = 0xE7_0000_0000 + (int.from_bytes(tag.encode(), "big") << 8)

    orch = HostPlan(
        role="orchestrator",
        node_id=None,
        netns=f"{p}-o",
        ip=f"{SUBNET_PREFIX}.0.1",
        mac="02:e7:00:ff:00:01",
        peer=f"{p}c0a",
        temp=f"{p}o",
    )
    agg_switch = fleet.orchestrator.switch
    gateways = fleet.gateways
    bridges_ports: dict[str, dict[str, int]] = {}
    bridge_meta: dict[str, tuple[str, str, int]] = {}
    agg_name = f"{p}b0"
    bridges_ports[agg_name] = {f"{p}c0a": 1}
    bridge_meta[agg_name] = (agg_switch, "aggregation", base_dpid)
    veths: list[tuple[str, str]] = [(f"{p}o", f"{p}c0a")]
    attach: dict[str, tuple[str, int]] = {f"{p}c0a": (agg_name, 1)}
    gw_bridge: dict[str, str] = {}
    gw_agg_port: dict[str, int] = {}
    shapers: list[Shaper] = []
    core = fleet.orchestrator.link
    for g, sw in enumerate(gateways, start=1):
        name = f"{p}b{g}"
        gw_bridge[sw.id] = name
        bridge_meta[name] = (sw.id, "gateway", base_dpid + g)
        up_g, up_a = f"{p}u{g}g", f"{p}u{g}a"
        bridges_ports[name] = {up_g: 1}
        bridges_ports[agg_name][up_a] = 10 + g
        gw_agg_port[sw.id] = 10 + g
        veths.append((up_g, up_a))
        attach[up_g] = (name, 1)
        attach[up_a] = (agg_name, 10 + g)
        assert sw.uplink is not None
        shapers.append(Shaper(dev=up_g, netns="", rate_mbps=sw.uplink.bandwidth_mbps, queue_s=0.0))
        shapers.append(Shaper(dev=up_a, netns="", rate_mbps=sw.uplink.bandwidth_mbps, queue_s=0.0))
    shapers.append(Shaper(dev="eth0", netns=orch.netns, rate_mbps=core.bandwidth_mbps, queue_s=0.0))
    shapers.append(Shaper(dev=f"{p}c0a", netns="", rate_mbps=core.bandwidth_mbps, queue_s=0.0))

    nodes: list[HostPlan] = []
    relays: list[RelayPlan] = []
    loss_rules: list[LossRule] = []
    paths: list[PathPlan] = []
    max_rtt_ms = 0.0
    for k, node in enumerate(fleet.nodes):
        ns = f"{p}-n{node.id}"
        r, s, port = f"{p}n{k}r", f"{p}n{k}s", f"{p}n{k}p"
        host = HostPlan(
            role="node", node_id=node.id, netns=ns, ip=_node_ip(k), mac=_mac(k + 1), peer=r, temp=f"{p}n{k}i"
        )
        nodes.append(host)
        gname = gw_bridge[node.gateway]
        ofport = 100 + k
        bridges_ports[gname][port] = ofport
        veths.append((f"{p}n{k}i", r))
        veths.append((s, port))
        attach[port] = (gname, ofport)
        delay = path_delay_ms(fleet, node.id)
        rtt = 2 * delay
        max_rtt_ms = max(max_rtt_ms, rtt)
        relays.append(RelayPlan(node_id=node.id, a=r, b=s, delay_ms=round(delay, 4)))
        q = queue_s(node.link.bandwidth_mbps, rtt)
        shapers.append(Shaper(dev=r, netns="", rate_mbps=node.link.bandwidth_mbps, queue_s=q))
        shapers.append(Shaper(dev="eth0", netns=ns, rate_mbps=node.link.bandwidth_mbps, queue_s=q))
        if node.link.loss_pct > 0:
            loss_rules.append(LossRule(netns=ns, saddr=orch.ip, loss_pct=node.link.loss_pct))
            loss_rules.append(LossRule(netns=orch.netns, saddr=host.ip, loss_pct=node.link.loss_pct))
        gw_spec = next(sw for sw in gateways if sw.id == node.gateway)
        assert gw_spec.uplink is not None
        e2e_bw = min(node.link.bandwidth_mbps, gw_spec.uplink.bandwidth_mbps, core.bandwidth_mbps)
        paths.append(
            PathPlan(
                node_id=node.id,
                node_ip=host.ip,
                node_mac=host.mac,
                gateway_bridge=gname,
                gateway_dpid=bridge_meta[gname][2],
                access_port=ofport,
                uplink_port=1,
                agg_port=gw_agg_port[node.gateway],
                configured={"bandwidth_mbps": e2e_bw, "delay_ms": round(delay, 4), "loss_pct": node.link.loss_pct},
            )
        )
    # Shared links' queues are fed by OVS, whose one AF_PACKET send socket owns every queued frame
    # until it leaves: keep them short (docs/testbed.md, "Limits").
    shared_q = SHARED_QUEUE_S
    shapers = [s if s.queue_s > 0 else Shaper(s.dev, s.netns, s.rate_mbps, shared_q) for s in shapers]
    bridges = [
        BridgePlan(name=name, switch_id=meta[0], kind=meta[1], dpid=meta[2], ports=bridges_ports[name])
        for name, meta in bridge_meta.items()
    ]
    return TestbedPlan(
        name=tag,
        prefix=p,
        orchestrator=orch,
        nodes=nodes,
        bridges=bridges,
        veths=veths,
        attach=attach,
        relays=relays,
        shapers=shapers,
        loss_rules=loss_rules,
        paths=paths,
        agg_dpid=base_dpid,
        orch_port=1,
        cap_mbps=cap_mbps,
    )


testbed_fleet.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
