"""Entry point of the ``edgetune`` command.

Each command lives in its own module of this package and exposes ``register(subparsers)``; the module
imports heavy dependencies (torch, matplotlib) only inside its handler so that ``--help`` stays fast.
Bad input anywhere raises :class:`edgetune.errors.InputError`, which becomes one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from edgetune import __version__
from edgetune.errors import InputError

# Modules under edgetune.cli that provide a command; add one line per new command module.
COMMAND_MODULES: tuple[str, ...] = (
    "fleet",
    "simulate",
    "compare",
    "controller",
    "split",
    "plan",
    "finetune",
    "flower",
    "testbed",
    "generate",
    "evaluate",
)


class OneLineErrorParser(argparse.ArgumentParser):
    """Argument errors become one line naming the argument and value, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"edgetune: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered command."""
    parser = OneLineErrorParser(
        prog="edgetune",
        description="Fine-tuning across the edge-to-cloud continuum (node elimination, JQODI planning).",
    )
    parser.add_argument("--version", action="version", version=f"edgetune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"edgetune.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except InputError as exc:
        print(f"edgetune: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unwritable --out, a missing input file not caught earlier
        where = exc.filename if exc.filename is not None else "file"
        print(f"edgetune: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgetune: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
