"""The testbed's SDN controller: an os-ken (Ryu) OpenFlow 1.3 app that forwards and measures.

Started by ``edgetune testbed up`` as its own process (see :func:`controller_command`)::

    EDGETUNE_TESTBED_STATE=<state file> EDGETUNE_TESTBED_CONTROLLER='{"http_port": ..}' \\
        python -c 'from os_ken.cmd.manager import main; main()' \\
        --ofp-listen-host 127.0.0.1 --ofp-tcp-listen-port <port> edgetune.testbed.controller_app

Forwarding (proactive, from the plan in the state file; bridges are ``fail_mode=secure``, so nothing
else moves): on the aggregation bridge, the orchestrator's MAC goes to its port and every node's MAC
to its gateway's uplink; on a gateway bridge, its nodes' MACs go to their access ports and every other
known MAC up the uplink; broadcast floods. Unknown destinations are dropped (OpenFlow 1.3 table miss).

Measuring (see :mod:`edgetune.testbed.estimator` for the formulas):

* port statistics of every gateway bridge each ``poll_interval_s`` -> per-path throughput;
* ICMP echo probes each ``probe_interval_s`` per path and direction, injected by packet-out as if sent
  by the orchestrator (at the aggregation bridge) or by the node (at its gateway bridge); the replies
  are caught by priority-100 flows that send echo replies addressed to the orchestrator (aggregation
  bridge) or to a node arriving from the uplink (gateway bridge) to the controller. Probe RTT minus
  the bridge's control-channel RTT (OpenFlow echo, EWMA) gives the path's round trip;
* the smoothed metrics are served with the foundation's :class:`~edgetune.network.northbound.NorthboundServer`
  on 127.0.0.1, so the documents have exactly the simulated monitor's schema.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, ClassVar

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.lib.packet import ethernet, icmp, ipv4, packet
from os_ken.ofproto import ether, inet, ofproto_v1_3

from edgetune.network.northbound import NorthboundServer
from edgetune.testbed.build import CONFIG_ENV, STATE_ENV
from edgetune.testbed.estimator import EstimatorConfig, PathEstimator, ewma
from edgetune.testbed.topology import TestbedPlan

LOG = logging.getLogger("edgetune.testbed.controller")
PROBE_ID = {"down": 0xE701, "up": 0xE702}
BROADCAST = "ff:ff:ff:ff:ff:ff"


class TestbedController(app_manager.OSKenApp):
    """Forwarding + measurement for one testbed (its plan comes from the state file)."""

    __test__ = False
    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with open(os.environ[STATE_ENV]) as fh:
            state = json.load(fh)
        opts = json.loads(os.environ.get(CONFIG_ENV, "{}"))
        self.plan = TestbedPlan.from_json(state["plan"])
        self.cfg = EstimatorConfig(**opts.get("estimator", {}))
        self.est = PathEstimator([p.node_id for p in self.plan.paths], self.cfg)
        self.paths = {p.node_id: p for p in self.plan.paths}
        self.by_dpid_port = {(p.gateway_dpid, p.access_port): p.node_id for p in self.plan.paths}
        self.by_ip = {p.node_ip: p.node_id for p in self.plan.paths}
        self.bridge_of_dpid = {b.dpid: b for b in self.plan.bridges}
        self.datapaths: dict[int, Any] = {}
        self.ready: set[int] = set()
        self.echo_rtt_s: dict[int, float] = {}
        self.echo_sent: dict[int, float] = {}
        self.pending: dict[tuple[str, int], tuple[int, float]] = {}  # (dir, seq) -> (node, sent)
        self.seq = 0
        self.server = NorthboundServer(self.est, host="127.0.0.1", port=int(opts.get("http_port", 0))).start()
        LOG.info("northbound API on %s", self.server.url)
        self.threads = [hub.spawn(self._poll_loop), hub.spawn(self._probe_loop)]

    # ---- switches -----------------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev: Any) -> None:
        dp = ev.datapath
        if ev.state == MAIN_DISPATCHER and dp.id in self.bridge_of_dpid:
            self.datapaths[dp.id] = dp
        elif ev.state == DEAD_DISPATCHER:
            self.datapaths.pop(dp.id, None)
            self.ready.discard(dp.id)

    def _flow(self, dp: Any, priority: int, match: Any, actions: list[Any]) -> None:
        parser, ofp = dp.ofproto_parser, dp.ofproto
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=priority, match=match, instructions=inst))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _features(self, ev: Any) -> None:
        dp = ev.msg.datapath
        bridge = self.bridge_of_dpid.get(dp.id)
        if bridge is None:
            LOG.warning("unknown datapath %016x ignored", dp.id)
            return
        parser, ofp = dp.ofproto_parser, dp.ofproto
        out = parser.OFPActionOutput
        to_ctrl = [out(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        orch = self.plan.orchestrator
        if bridge.kind == "aggregation":
            self._flow(
                dp,
                100,
                parser.OFPMatch(
                    eth_type=ether.ETH_TYPE_IP, ip_proto=inet.IPPROTO_ICMP, icmpv4_type=0, ipv4_dst=orch.ip
                ),
                to_ctrl,
            )
            self._flow(dp, 10, parser.OFPMatch(eth_dst=orch.mac), [out(self.plan.orch_port)])
            for p in self.plan.paths:
                self._flow(dp, 10, parser.OFPMatch(eth_dst=p.node_mac), [out(p.agg_port)])
        else:
            mine = [p for p in self.plan.paths if p.gateway_dpid == dp.id]
            for p in mine:
                self._flow(
                    dp,
                    100,
                    parser.OFPMatch(
                        in_port=p.uplink_port,
                        eth_type=ether.ETH_TYPE_IP,
                        ip_proto=inet.IPPROTO_ICMP,
                        icmpv4_type=0,
                        ipv4_dst=p.node_ip,
                    ),
                    to_ctrl,
                )
                self._flow(dp, 10, parser.OFPMatch(eth_dst=p.node_mac), [out(p.access_port)])
            uplink = mine[0].uplink_port if mine else 1
            self._flow(dp, 5, parser.OFPMatch(eth_dst=orch.mac), [out(uplink)])
            for p in self.plan.paths:
                if p.gateway_dpid != dp.id:
                    self._flow(dp, 5, parser.OFPMatch(eth_dst=p.node_mac), [out(uplink)])
        self._flow(dp, 1, parser.OFPMatch(eth_dst=BROADCAST), [out(ofp.OFPP_FLOOD)])
        dp.send_msg(parser.OFPBarrierRequest(dp))  # probes start once the switch confirms its flows

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev: Any) -> None:
        dp = ev.msg.datapath
        self.ready.add(dp.id)
        LOG.info("flows installed on %s (%016x)", self.bridge_of_dpid[dp.id].name, dp.id)

    # ---- port counters ------------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while True:
            t0 = time.monotonic()
            for dpid, dp in list(self.datapaths.items()):
                if self.bridge_of_dpid[dpid].kind == "gateway":
                    parser, ofp = dp.ofproto_parser, dp.ofproto
                    dp.send_msg(parser.OFPPortStatsRequest(dp, 0, ofp.OFPP_ANY))
                if dpid not in self.echo_sent:
                    self.echo_sent[dpid] = time.monotonic()
                    dp.send_msg(dp.ofproto_parser.OFPEchoRequest(dp, data=b"et"))
            self._expire_probes()
            self.est.end_round()
            hub.sleep(max(0.0, self.cfg.poll_interval_s - (time.monotonic() - t0)))

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def _port_stats(self, ev: Any) -> None:
        dpid = ev.msg.datapath.id
        now = time.monotonic()
        for st in ev.msg.body:
            nid = self.by_dpid_port.get((dpid, st.port_no))
            if nid is not None:
                # The switch's own clock (port age when it read the counters) times the delta, so the
                # controller's scheduling jitter does not distort the rate.
                t = st.duration_sec + st.duration_nsec * 1e-9 if st.duration_sec or st.duration_nsec else now
                self.est.port_counters(nid, t, st.rx_bytes, st.tx_bytes)

    @set_ev_cls(ofp_event.EventOFPEchoReply, MAIN_DISPATCHER)
    def _echo_reply(self, ev: Any) -> None:
        dpid = ev.msg.datapath.id
        sent = self.echo_sent.pop(dpid, None)
        if sent is not None:
            self.echo_rtt_s[dpid] = ewma(self.echo_rtt_s.get(dpid), time.monotonic() - sent, 0.3)

    # ---- probes -------------------------------------------------------------------------------------
    def _probe_packet(self, src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, ident: int, seq: int) -> bytes:
        pkt = packet.Packet()
        pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=src_mac, ethertype=ether.ETH_TYPE_IP))
        pkt.add_protocol(ipv4.ipv4(src=src_ip, dst=dst_ip, proto=inet.IPPROTO_ICMP, ttl=64))
        pkt.add_protocol(
            icmp.icmp(
                type_=icmp.ICMP_ECHO_REQUEST, code=0, csum=0, data=icmp.echo(id_=ident, seq=seq, data=b"edgetune-probe")
            )
        )
        pkt.serialize()
        return bytes(pkt.data)

    def _packet_out(self, dp: Any, in_port: int, data: bytes) -> None:
        parser, ofp = dp.ofproto_parser, dp.ofproto
        dp.send_msg(
            parser.OFPPacketOut(
                datapath=dp,
                buffer_id=ofp.OFP_NO_BUFFER,
                in_port=in_port,
                actions=[parser.OFPActionOutput(ofp.OFPP_TABLE)],
                data=data,
            )
        )

    def _probe_loop(self) -> None:
        orch = self.plan.orchestrator
        while True:
            t0 = time.monotonic()
            agg = self.datapaths.get(self.plan.agg_dpid)
            for p in self.plan.paths:
                gw = self.datapaths.get(p.gateway_dpid)
                if agg is None or gw is None or not {agg.id, gw.id} <= self.ready:
                    continue
                self.seq = (self.seq + 1) & 0xFFFF
                now = time.monotonic()
                self.pending[("down", self.seq)] = (p.node_id, now)
                down = self._probe_packet(orch.mac, p.node_mac, orch.ip, p.node_ip, PROBE_ID["down"], self.seq)
                self._packet_out(agg, self.plan.orch_port, down)
                self.pending[("up", self.seq)] = (p.node_id, now)
                up = self._probe_packet(p.node_mac, orch.mac, p.node_ip, orch.ip, PROBE_ID["up"], self.seq)
                self._packet_out(gw, p.access_port, up)
            hub.sleep(max(0.0, self.cfg.probe_interval_s - (time.monotonic() - t0)))

    def _expire_probes(self) -> None:
        now = time.monotonic()
        for key, (nid, sent) in list(self.pending.items()):
            if now - sent > self.cfg.probe_timeout_s:
                del self.pending[key]
                self.est.probe_lost(nid, key[0])

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev: Any) -> None:
        now = time.monotonic()
        pkt = packet.Packet(ev.msg.data)
        ic = pkt.get_protocol(icmp.icmp)
        if ic is None or ic.type != icmp.ICMP_ECHO_REPLY or not isinstance(ic.data, icmp.echo):
            return
        direction = "down" if ic.data.id == PROBE_ID["down"] else "up" if ic.data.id == PROBE_ID["up"] else None
        if direction is None:
            return
        got = self.pending.pop((direction, ic.data.seq), None)
        if got is None:
            return
        nid, sent = got
        dpid = ev.msg.datapath.id
        ctrl = self.echo_rtt_s.get(dpid, 0.0)
        one_way_ms = max(now - sent - ctrl, 0.0) / 2 * 1e3
        self.est.probe_answered(nid, direction, one_way_ms)
