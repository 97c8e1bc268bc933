"""The entry point registers only the command it runs (issue 17: start-up), and the same flags."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from edgetune.cli.main import COMMAND_MODULES, build_parser, command_module


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_every_command_maps_to_the_module_that_registers_it(module: str) -> None:
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(f"edgetune.cli.{module}").register(sub)
    assert sub.choices
    for command in sub.choices:
        assert command_module(command) == module


def test_unknown_or_no_command_gets_the_whole_parser() -> None:
    assert command_module(None) is None
    assert command_module("no-such-command") is None
    assert command_module("--help") is None


def test_one_command_parser_parses_as_the_whole_parser(tmp_path: object) -> None:
    argv = ["simulate", "--fleet", "f.npz", "--policy", "ar", "--epochs", "3", "--lr", "0.5", "--out", "r.json"]
    one, whole = build_parser("simulate").parse_args(argv), build_parser().parse_args(argv)
    assert {k: v for k, v in vars(one).items() if k != "func"} == {k: v for k, v in vars(whole).items() if k != "func"}
    assert one.func is whole.func


def test_simulate_imports_no_other_command() -> None:
    probe = (
        "import sys\n"
        "from edgetune.cli.main import build_parser\n"
        "build_parser('simulate')\n"
        "print(sorted(m for m in sys.modules if m.startswith('edgetune.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "['edgetune.cli.flags', 'edgetune.cli.main', 'edgetune.cli.simulate']"
