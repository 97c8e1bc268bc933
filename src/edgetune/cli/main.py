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
from typing import Any, NoReturn

from edgetune import __version__
from edgetune.errors import InputError

# Modules under edgetune.cli that provide a command; add one line per new command module.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "fleet",
    "simulate",
    "compare",
    "controller",
    "split",
    "plan",
    "finetune",
    "flower",
    "testbed",
    "dashboard",
    "generate",
    "evaluate",
)
#: Commands registered by a module of another name (every other command ``X`` is ``edgetune.cli.X``);
#: ``tests/cli/test_cli.py`` checks this against what the modules register.
MODULE_OF: dict[str, str] = {
    "profile": "split",
    "estimate": "split",
    "finetune-split": "split",
    "data": "finetune",
    "pretrain": "finetune",
}


class OneLineErrorParser(argparse.ArgumentParser):
    """Argument errors become one line naming the argument and value, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"edgetune: error: {message}\n")


#: How ``edgetune --help`` groups the commands (a command not listed lands under "other").
GROUPS: dict[str, tuple[str, ...]] = {
    "node elimination (paper 000)": ("finetune", "run", "simulate", "compare", "fleet", "dashboard"),
    "models and data": ("generate", "evaluate", "pretrain", "data"),
    "JQODI split fine-tuning (paper 004)": ("plan", "profile", "estimate", "finetune-split"),
    "deployment": ("flower", "controller", "testbed"),
}


def _grouped_commands(sub: Any) -> str:
    """The command list, grouped (argparse lists subcommands in one flat block)."""
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    lines: list[str] = []
    seen: set[str] = set()
    for title, names in [*GROUPS.items(), ("other", tuple(helps))]:
        names = tuple(n for n in names if n in helps and n not in seen)
        if not names:
            continue
        lines.append(f"{title}:")
        for n in names:
            lines.append(f"  {n:<15} {helps[n]}")
            seen.add(n)
        lines.append("")
    return "\n".join(lines)


def command_module(command: str | None) -> str | None:
    """The module under ``edgetune.cli`` that registers ``command`` (``None`` for no known command)."""
    if command is None:
        return None
    module = MODULE_OF.get(command, command)
    return module if module in COMMAND_MODULES else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with every registered command, or with ``command``'s module only.

    ``edgetune simulate ...`` needs only ``simulate``'s flags; registering every command would import
    every command's modules to read its flags' defaults (about 1 s of start-up, issue 17). An unknown
    command, ``--help`` or ``--version`` get the whole parser, so their output is unchanged.
    """
    parser = OneLineErrorParser(
        prog="edgetune",
        description="Fine-tuning across the edge-to-cloud continuum (node elimination, JQODI planning).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgetune {__version__}")
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        title="commands",
        description="`edgetune COMMAND --help` for each; --out is the output file of a "
        "command that writes one file and the output folder of one that writes several.",
    )
    sub.required = True
    only = command_module(command)
    for name in COMMAND_MODULES if only is None else (only,):
        module = importlib.import_module(f"edgetune.cli.{name}")
        module.register(sub)
    parser.epilog = _grouped_commands(sub)
    sub._choices_actions = []  # listed, grouped, in the epilog instead
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
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
