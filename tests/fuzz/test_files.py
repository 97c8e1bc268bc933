"""Issue 16, class 1: bad input files for every command that reads one.

Kinds: not UTF-8, 100,000 nested brackets, a YAML alias bomb, a 5,000-digit integer, a FIFO with no
writer, ``/dev/zero``, a directory, a file over the size cap (sparse), a missing file, an empty file and a
document that is not a mapping. Every case must give exit code 2 and one stderr line naming the file, no
traceback, and no new file. The cases that could hang or eat memory if the bound regressed (FIFO,
``/dev/zero``, alias bomb) run together in one child process, each under an alarm, the child under a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from edgetune.inputs import MAX_INPUT_BYTES
from edgetune.runs.spec import MAX_FILE_BYTES
from tests.fuzz.conftest import SRC, Result, assert_one_line_error, deadline
from tests.fuzz.inputs_fixtures import instance_doc, write_yaml

#: command -> (argv with {F} for the bad file, its format, its size cap)
COMMANDS: dict[str, tuple[list[str], str, int]] = {
    "fleet-show": (["fleet", "show", "{F}"], "yaml", MAX_INPUT_BYTES),
    "simulate": (["simulate", "--fleet", "{F}"], "yaml", MAX_INPUT_BYTES),
    "controller-serve": (["controller", "serve", "--fleet", "{F}", "--duration-s", "0.01"], "yaml", MAX_INPUT_BYTES),
    "plan-yaml": (["plan", "{F}"], "yaml", MAX_INPUT_BYTES),
    "plan-json": (["plan", "{F}"], "json", MAX_INPUT_BYTES),
    "run": (["run", "{F}"], "toml", MAX_FILE_BYTES),
    "run-fleet-file": (["run", "{EXP}"], "yaml", MAX_INPUT_BYTES),
    "finetune-split-plan": (["finetune-split", "--plan", "{F}", "--instance", "{INST}"], "json", MAX_INPUT_BYTES),
    "finetune-split-instance": (["finetune-split", "--plan", "{F}", "--instance", "{F}"], "yaml", MAX_INPUT_BYTES),
}
SUFFIX = {"yaml": ".yaml", "json": ".json", "toml": ".toml"}

#: kind -> content per format (None: not applicable to that format)
CONTENT: dict[str, dict[str, bytes | None]] = {
    "non-utf8": {
        f: b"version: 1\nsetup: \xff\n" if f == "yaml" else b'{"a": "\xff"}' if f == "json" else b'a = "\xff"'
        for f in SUFFIX
    },
    "deep": {"yaml": b"a: " + b"[" * 100_000, "json": b"[" * 100_000, "toml": b"a = " + b"[" * 100_000},
    "huge-int": {
        "yaml": b"version: " + b"9" * 5000,
        "json": b'{"a": ' + b"9" * 5000 + b"}",
        "toml": b"[run]\nepochs = " + b"9" * 5000,
    },
    "empty": {"yaml": b"", "json": b"", "toml": None},  # an empty TOML is the default experiment: valid
    "not-mapping": {"yaml": b"- 1\n- 2\n", "json": b"[1, 2]", "toml": None},
    "nan": {"yaml": b"version: .nan\n", "json": b'{"a": NaN}', "toml": b"[run]\nlearning_rate = nan\n"},
}
SPECIAL = ["directory", "missing", "oversize"]
ISOLATED = ["fifo", "dev-zero", "alias-bomb"]

ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def _make(kind: str, fmt: str, cap: int, folder: Path) -> Path | None:
    """The bad file of ``kind`` in ``folder`` (None if ``kind`` does not apply to ``fmt``)."""
    path = folder / f"bad{SUFFIX[fmt]}"
    if kind in CONTENT:
        data = CONTENT[kind][fmt]
        if data is None:
            return None
        path.write_bytes(data)
    elif kind == "directory":
        path.mkdir()
    elif kind == "missing":
        pass
    elif kind == "oversize":
        with path.open("wb") as fh:
            fh.truncate(cap + 1)  # sparse: refused from its size before a byte is read
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        return Path("/dev/zero")
    elif kind == "alias-bomb":
        if fmt != "yaml":
            return None
        path.write_text(ALIAS_BOMB)
    return path


def _argv(command: str, bad: Path, folder: Path) -> list[str]:
    """The command line, with a valid experiment (pointing at the bad fleet) and instance where needed."""
    exp = folder / "exp.toml"
    exp.write_text(f"[run]\nepochs = 1\n[fleet]\nfile = {json.dumps(str(bad))}\n", encoding="utf-8")
    inst = write_yaml(folder / "inst.yaml", instance_doc())
    subst = {"{F}": str(bad), "{EXP}": str(exp), "{INST}": str(inst)}
    return [subst.get(a, a) for a in COMMANDS[command][0]]


CASES = [(c, k) for c in COMMANDS for k in [*CONTENT, *SPECIAL]]


@pytest.mark.parametrize(("command", "kind"), CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_bad_file(cli: Callable[..., Result], workdir: Path, command: str, kind: str) -> None:
    """One bad file given to one command: one line naming the file, exit code 2."""
    _, fmt, cap = COMMANDS[command]
    bad = _make(kind, fmt, cap, workdir)
    if bad is None:
        pytest.skip(f"{kind} does not apply to {fmt}")
    with deadline(30):
        result = cli(*_argv(command, bad, workdir))
    line = assert_one_line_error(result)
    # the run spec names a bad number by its key; every other error names the file
    assert ("learning_rate" if (kind, fmt) == ("nan", "toml") else bad.name) in line, line


#: The child that runs the hang-prone cases: each in-process, under its own alarm, memory capped.
_CHILD = textwrap.dedent(
    """
    import contextlib, io, json, os, signal, sys
    from edgetune.cli.main import build_parser, main
    build_parser()  # import every command module (and torch, which finetune-split imports) before any alarm
    import torch
    class Hang(BaseException):
        pass
    def alarm(signum, frame):
        raise Hang()
    signal.signal(signal.SIGALRM, alarm)
    results = []
    for cwd, argv in json.load(sys.stdin):
        os.chdir(cwd)
        before = sorted(os.listdir(cwd))
        out, err = io.StringIO(), io.StringIO()
        signal.alarm(10)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
        except Hang:
            code = "hang"
        except BaseException as exc:
            code = "crash: " + type(exc).__name__ + ": " + str(exc)[:300]
        finally:
            signal.alarm(0)
        left = sorted(set(os.listdir(cwd)) - set(before))
        results.append({"code": code, "out": out.getvalue(), "err": err.getvalue(), "left": left})
    print(json.dumps(results), flush=True)
    os._exit(0)  # skip interpreter teardown (torch's can crash after the results are out)
    """
)

ISOLATED_CASES = [(c, k) for c in COMMANDS for k in ISOLATED if not (k == "alias-bomb" and COMMANDS[c][1] != "yaml")]


@pytest.fixture(scope="module")
def isolated_results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, object]]:
    """Run every hang-prone case in one child process (timeout: the test fails instead of hanging CI)."""
    jobs = []
    for command, kind in ISOLATED_CASES:
        folder = tmp_path_factory.mktemp(f"{command}-{kind}")
        bad = _make(kind, COMMANDS[command][1], COMMANDS[command][2], folder)
        assert bad is not None
        jobs.append([str(folder), _argv(command, bad, folder)])
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD], input=json.dumps(jobs).encode(), capture_output=True, env=env, timeout=240
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the hang-prone file cases did not finish in 240 s (a hang the alarm could not break)")
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    results = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return dict(zip(ISOLATED_CASES, results, strict=True))


@pytest.mark.parametrize(("command", "kind"), ISOLATED_CASES, ids=[f"{c}-{k}" for c, k in ISOLATED_CASES])
def test_hang_prone_file(isolated_results: dict[tuple[str, str], dict[str, object]], command: str, kind: str) -> None:
    """A FIFO, /dev/zero or an alias bomb: refused in one line, fast, no file left."""
    r = isolated_results[(command, kind)]
    assert r["code"] != "hang", f"{command} {kind}: hang"
    assert r["left"] == [], r["left"]
    assert isinstance(r["code"], int), r
    line = assert_one_line_error(Result(r["code"], str(r["out"]), str(r["err"])))
    assert ("zero" if kind == "dev-zero" else "bad") in line, line
