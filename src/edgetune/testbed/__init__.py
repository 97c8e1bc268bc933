"""A real SDN testbed: network namespaces, Open vSwitch bridges and an OpenFlow controller (issue 7).

Modules:

* :mod:`~edgetune.testbed.topology` turns a fleet into a plan of namespaces, bridges and links with
  unique prefixed names (pure: no system calls);
* :mod:`~edgetune.testbed.state` records every resource the moment it is created (the state file);
* :mod:`~edgetune.testbed.system` runs the ``ip``/``ovs-vsctl``/``tc``/``nft``/``ethtool`` commands;
* :mod:`~edgetune.testbed.netns`, :mod:`~edgetune.testbed.ovs`, :mod:`~edgetune.testbed.shaping` are
  thin wrappers that create one kind of resource each and record it;
* :mod:`~edgetune.testbed.relay` is the userspace delay line (AF_PACKET) between two veth ends;
* :mod:`~edgetune.testbed.build` brings a plan up and tears exactly it down;
* :mod:`~edgetune.testbed.estimator` turns port counters and probes into smoothed path metrics (pure);
* :mod:`~edgetune.testbed.controller_app` is the os-ken (Ryu) OpenFlow 1.3 app serving them northbound;
* :mod:`~edgetune.testbed.engine` is the ``"testbed"`` engine (``[testbed]`` section, modelled compute,
  pacing of real compute); :mod:`~edgetune.testbed.agent` the node side;
* :mod:`~edgetune.testbed.forward` carries the orchestrator namespace's requests to the controller's
  northbound API (real compute: Flower on the testbed, wired in :mod:`edgetune.runs.testbed`).

See docs/testbed.md.
"""
