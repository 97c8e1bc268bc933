"""Open vSwitch bridges: thin wrappers around ``ovs-vsctl`` that record what they created.

Bridges use ``datapath_type=netdev`` (the userspace datapath: no kernel module needed),
``fail_mode=secure`` (no traffic at all unless the controller installed flows for it), OpenFlow 1.3
and an out-of-band controller on 127.0.0.1.
"""

from __future__ import annotations

from edgetune.testbed.state import Resource, TestbedState
from edgetune.testbed.system import TestbedError, list_bridges, run

VSCTL = ["ovs-vsctl", "--timeout=10"]


def add_bridge(state: TestbedState, name: str, dpid: int, controller_port: int) -> None:
    """Create bridge ``name`` with datapath id ``dpid``, controlled from ``tcp:127.0.0.1:<port>``."""
    if name in list_bridges():
        raise TestbedError(f"OVS bridge {name} already exists and is not ours; refusing to touch it")
    run(
        [
            *VSCTL,
            "add-br",
            name,
            "--",
            "set",
            "bridge",
            name,
            "datapath_type=netdev",
            "fail_mode=secure",
            "protocols=OpenFlow13",
            f"other-config:datapath-id={dpid:016x}",
            "other-config:disable-in-band=true",
        ]
    )
    state.add(Resource(kind="bridge", name=name, info={"dpid": dpid}))
    run(
        [
            *VSCTL,
            "set-controller",
            name,
            f"tcp:127.0.0.1:{controller_port}",
            "--",
            "set",
            "controller",
            name,
            "connection-mode=out-of-band",
        ]
    )


def add_port(bridge: str, port: str, ofport: int) -> None:
    """Attach interface ``port`` to ``bridge`` as OpenFlow port ``ofport`` (goes with the bridge)."""
    run([*VSCTL, "add-port", bridge, port, "--", "set", "interface", port, f"ofport_request={ofport}"])


def del_bridge(name: str) -> None:
    """Delete a bridge (and its ports) if it still exists."""
    if name in list_bridges():
        run([*VSCTL, "--if-exists", "del-br", name])
