"""Shared helpers of the fuzz suite (issue 16): run a command and assert the one-line error promise.

The promise for any bad input: exit code 2, exactly one line on stderr starting ``edgetune: error: ``,
no traceback, and no output file left behind. Use :func:`assert_one_line_error` on what a command
printed, the ``cli`` fixture to run ``edgetune.cli.main.main`` in-process in an empty working folder
(it also checks that a failed command created no file there), and :func:`run_subprocess` for cases
that could hang (a FIFO, ``/dev/zero``, an alias bomb): it kills the command after ``timeout_s`` and
fails the test instead of hanging CI.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import edgetune
from edgetune.cli.main import build_parser as _build_parser

PREFIX = "edgetune: error: "
#: ``src`` folder of the edgetune being tested (so a subprocess imports the same sources).
SRC = str(Path(edgetune.__file__).resolve().parent.parent)


class Hang(BaseException):
    """Raised by :func:`deadline` (a BaseException, so no ``except Exception``/``except OSError`` hides it)."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail with :class:`Hang` when the block runs longer than ``seconds`` (``SIGALRM``; main thread only)."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s (hang)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@dataclass(frozen=True)
class Result:
    """Exit code and captured streams of one command."""

    code: int
    out: str
    err: str


def assert_one_line_error(result: Result, field: str | None = None) -> str:
    """Assert exit code 2, exactly one stderr line ``edgetune: error: ...`` and no traceback; returns the line.

    ``field``, when given, must appear in the line (the flag or key the error names).
    """
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err[-2000:]
    assert result.code == 2, f"exit code {result.code}, stderr: {result.err[-2000:]!r}"
    lines = result.err.rstrip("\n").split("\n")
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {result.err[-2000:]!r}"
    assert lines[0].startswith(PREFIX), lines[0]
    if field is not None:
        assert field in lines[0], f"{field!r} not named in {lines[0]!r}"
    return lines[0]


def files_under(folder: Path) -> set[str]:
    """Relative paths of every file and folder under ``folder``."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@functools.cache
def _full_parser() -> argparse.ArgumentParser:
    return _build_parser()  # the real builder, bound when this module was imported


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    return _full_parser()  # the whole parser serves every command (main asks for one command's)


def run_main(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Result:
    """Run ``edgetune.cli.main.main(argv)`` in-process and capture its output.

    The parser is built once per session (``build_parser`` takes ~0.4 s; parsing does not change it).
    """
    import edgetune.cli.main as cli_main

    capsys.readouterr()
    real = cli_main.build_parser
    cli_main.build_parser = _parser
    try:
        code = cli_main.main(list(argv))
    except SystemExit as exc:  # argparse exits on its own errors
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        cli_main.build_parser = real
    out, err = capsys.readouterr()
    return Result(int(code), out, err)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, made the current directory."""
    wd = tmp_path / "wd"
    wd.mkdir()
    monkeypatch.chdir(wd)
    return wd


@pytest.fixture
def cli(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli(*argv, keep=set())`` runs a command in ``workdir``; on a failure it asserts no new file appeared.

    Files present before the call (inputs the test wrote) are allowed to stay.
    """

    def call(*argv: str) -> Result:
        before = files_under(workdir)
        result = run_main(argv, capsys)
        if result.code != 0:
            left = files_under(workdir) - before
            assert not left, f"files left behind by a failed command: {sorted(left)}"
        return result

    return call


def run_subprocess(argv: Sequence[str], cwd: Path, timeout_s: float = 30.0, stdin: bytes = b"") -> Result:
    """Run ``edgetune ARGV`` in a child process; a command still running after ``timeout_s`` fails the test."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "edgetune.cli.main", *argv],
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"edgetune {' '.join(argv)} still running after {timeout_s} s (hang)")
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))
