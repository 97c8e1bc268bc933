"""A live web dashboard of a run folder: the fleet, who the orchestrator eliminates and why (docs/dashboard.md).

:func:`edgetune.dashboard.server.start_dashboard` serves it from a background thread;
``edgetune dashboard RUN_DIR [RUN_DIR_B]`` serves it until Ctrl-C.
"""
