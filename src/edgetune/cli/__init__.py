"""The ``edgetune`` command line: one module per command, registered in :mod:`edgetune.cli.main`."""
