"""Issue 16, class 5 (commands that had no validation): ``finetune-split``, ``profile``, ``testbed status|down``.

Table cases run the CLI: exit 2, one stderr line, no traceback, no output file. Hypothesis property tests
build inputs from the schemas (``split.inputs`` and the testbed state schema): any value in any field is
either accepted or one :class:`InputError` — never another exception; and no accepted state file lets
``down`` reach outside the testbed. ``_one_line_error`` runs a command through
``tests/fuzz/conftest.py``'s ``assert_one_line_error``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetune.cli.main import main
from edgetune.errors import InputError
from edgetune.split.config import RecordConfig
from tests.fuzz.conftest import Result, assert_one_line_error


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], contains: str = "") -> str:
    """Run ``edgetune ARGV`` in-process and assert the one-line promise (an uncaught exception fails the test)."""
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return assert_one_line_error(Result(code, captured.out, captured.err), contains or None)


# ---- finetune-split ---------------------------------------------------------------------------------------
def _base(cache_dir: str = "/proc/nonexistent-cache") -> dict[str, Any]:
    """A valid plan / instance / meta triple (checked by test_base_files_are_valid)."""
    server = {
        "name": "rtx3090",
        "speed": 3.5e13,
        "energy_per_unit": 1e-11,
        "cloud_rate_bps": 1e9,
        "cloud_energy_per_bit": 1e-9,
        "bandwidth_hz": 2e7,
        "snr": 100.0,
        "device_energy_per_bit": 1e-7,
    }
    return {
        "plan": {
            "method": "exact",
            "feasible": True,
            "reason": None,
            "model": "lenet",
            "bits": 8,
            "epochs": 2,
            "schedule": [
                {"epoch": 1, "edge_server": "rtx3090", "partition": 2},
                {"epoch": 2, "edge_server": "rtx3090", "partition": 1},
            ],
            "energy_j": 10.0,
            "time_s": 20.0,
            "final_loss": 0.5,
            "timings": {"solve_time_s": 0.01},
        },
        "instance": {
            "t_max_s": 180.0,
            "l_max": 1.0,
            "device": {"name": "pi5", "speed": 1e10, "energy_per_unit": 1e-9},
            "cloud": {"speed": 1e14, "energy_per_unit": 1e-12},
            "edge_servers": [server],
            "models": [],
        },
        "meta": {"record": asdict(RecordConfig()), "cache_dir": cache_dir, "host_mac_per_s": {"lenet": 1e9}},
    }


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """``path`` like ``plan.schedule.0.partition``; value ``...`` deletes the key."""
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value


SPLIT_CASES: list[tuple[str, Any, str]] = [
    ("plan.model", ..., "plan.model=None"),
    ("plan.bits", "eight", "plan.bits"),
    ("plan.bits", 3, "plan.bits"),
    ("plan.bits", True, "plan.bits"),
    ("plan.bits", 8.5, "plan.bits"),
    ("plan.schedule", [], "schedule"),
    ("plan.schedule", ..., "schedule"),
    ("plan.schedule", "x", "plan.schedule="),
    ("plan.schedule.0.edge_server", "a100", "edge_server"),
    ("plan.schedule.0.partition", 99, "partition"),
    ("plan.schedule.0.partition", -1, "partition"),
    ("plan.schedule.0.partition", "two", "partition"),
    ("plan.schedule.1.epoch", 1, "epochs must be 1..K"),
    ("instance.edge_servers", [{"x": 1}], "instance.edge_servers[0]"),
    ("plan.schedule.0", ..., "epochs must be 1..K"),
    ("plan.feasible", False, "plan.feasible"),
    ("plan.feasible", ..., "plan.feasible="),
    ("plan.model", "gpt5", "plan.model"),
    ("plan.model", "resnet20", "not profiled"),
    ("plan.energy_j", float("nan"), "NaN is not a finite number"),  # refused by edgetune.inputs already
    ("instance.device.speed", 0, "instance.device.speed"),
    ("instance.device.speed", -1.0, "instance.device.speed"),
    ("instance.device.speed", "fast", "instance.device.speed"),
    ("instance.device.energy_per_unit", float("inf"), "instance.device.energy_per_unit"),
    ("instance.edge_servers", [], "instance.edge_servers"),
    ("instance.edge_servers", ..., "instance.edge_servers"),
    ("instance.edge_servers.0.snr", 0, "snr"),
    ("instance.edge_servers.0.bandwidth_hz", float("inf"), "bandwidth_hz"),
    ("instance.edge_servers.0.name", ..., "name"),
    ("instance.cloud", ..., "instance.cloud"),
    ("instance.cloud", [], "instance.cloud"),
    ("meta.host_mac_per_s", {"lenet": 0}, "host_mac_per_s"),
    ("meta.host_mac_per_s", {}, "host_mac_per_s"),
    ("meta.host_mac_per_s", {"lenet": "1e9"}, "host_mac_per_s"),
    ("meta.record", ..., "meta.record="),
    ("meta.record.image_size", 0, "image_size"),
    ("meta.record.width", "x", "width"),
    ("meta.record.epochs", 10**9, "epochs"),
    ("meta.record.batch_size", 0, "batch_size"),
    ("meta.record.data", "data9", "data"),
    ("meta.record.colour", 1, "colour"),
    ("meta.cache_dir", ..., "cache_dir"),
]


def _write_split(folder: Path, docs: dict[str, Any]) -> list[str]:
    for name in ("plan", "instance", "meta"):
        (folder / f"{name}.json").write_text(json.dumps(docs[name]))
    return ["--plan", "plan.json", "--instance", "instance.json", "--meta", "meta.json", "--out", "r.json"]


def test_base_files_are_valid(tmp_path: Path) -> None:
    from edgetune.split.inputs import check_execution

    docs = _base()
    plan, inst, meta, rec = check_execution(docs["plan"], docs["instance"], docs["meta"])
    assert plan.model == "lenet" and [s.partition for s in plan.schedule] == [2, 1]
    assert inst.edge_servers[0].name == "rtx3090" and meta.host_mac_per_s == {"lenet": 1e9}
    assert rec == RecordConfig()


@pytest.mark.parametrize(("path", "value", "contains"), SPLIT_CASES, ids=[f"{p}={v!r}" for p, v, _ in SPLIT_CASES])
def test_finetune_split_bad_files(
    path: str,
    value: Any,
    contains: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    docs = _base()
    _set(docs, path, value)
    argv = _write_split(tmp_path, docs)
    before = _tree(tmp_path)
    _one_line_error(["finetune-split", *argv], capsys, contains)
    assert _tree(tmp_path) == before  # no r.json, nothing else


@pytest.mark.parametrize(
    ("extra", "files", "contains"),
    [
        (["--seed", "-1"], {}, "--seed=-1"),
        ([], {"plan.json": "[]"}, "must be a mapping"),
        ([], {"plan.json": "{not json"}, "--plan="),
        ([], {"instance.json": b"\xff\xfe"}, "--instance="),
        ([], {"meta.json": "null"}, "--meta="),
        ([], {"plan.json": "[" * 100_000}, "--plan="),
    ],
)
def test_finetune_split_bad_flags_and_files(
    extra: list[str],
    files: dict[str, str | bytes],
    contains: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = _write_split(tmp_path, _base())
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    before = _tree(tmp_path)
    _one_line_error(["finetune-split", *argv, *extra], capsys, contains)
    assert _tree(tmp_path) == before


def test_finetune_split_missing_meta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_split(tmp_path, _base())
    _one_line_error(
        ["finetune-split", "--plan", "plan.json", "--instance", "instance.json"], capsys, "instance.json.meta.json"
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_PATHS = sorted(
    {p for p, _, _ in SPLIT_CASES} | {"plan.schedule.0.epoch", "plan.time_s", "instance.l_max", "meta.record.n_val"}
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _JSON | st.just(...)), min_size=1, max_size=3))
def test_split_schema_any_value_is_accepted_or_one_input_error(changes: list[tuple[str, Any]]) -> None:
    from edgetune.split.inputs import check_execution

    docs = _base()
    for path, value in changes:
        try:
            _set(docs, path, copy.deepcopy(value))
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # an earlier change removed or replaced the parent
    try:
        plan, inst, meta, rec = check_execution(docs["plan"], docs["instance"], docs["meta"])
    except InputError:
        return
    # accepted: every number the executor divides by or feeds to training is finite and positive
    assert inst.device.speed > 0 and all(s.snr > 0 and s.bandwidth_hz > 0 for s in inst.edge_servers)
    assert meta.host_mac_per_s[plan.model or ""] > 0 and rec.image_size >= 8 and 1 <= len(plan.schedule) <= 1000


# ---- profile ----------------------------------------------------------------------------------------------
PROFILE_CASES = [
    (["--margin", "-1"], "--margin=-1.0"),
    (["--margin", "nan"], "--margin=nan"),
    (["--margin", "inf"], "--margin=inf"),
    (["--l-max", "nan"], "--l-max=nan"),
    (["--l-max", "-2"], "--l-max=-2.0"),
    (["--t-max-s", "0"], "--t-max-s=0.0"),
    (["--image-size", "0"], "--image-size=0"),
    (["--image-size", "100000"], "--image-size=100000"),
    (["--models", ""], "--models=''"),
    (["--models", "lenet,gpt5"], "--models='gpt5'"),
    (["--bits", "3"], "--bits=3"),
    (["--bits", ""], "--bits="),
    (["--servers", ""], "--servers="),
    (["--seeds", "0"], "--seeds=0"),
    (["--seeds", "1000000"], "--seeds=1000000"),
    (["--epochs", "1"], "--epochs=1"),
    (["--epochs", "1000000000"], "--epochs=1000000000"),
    (["--width", "nan"], "--width=nan"),
    (["--width", "0"], "--width=0.0"),
    (["--n-train", "0"], "--n-train=0"),
    (["--n-val", "-5"], "--n-val=-5"),
    (["--prefix", "0"], "--prefix=0"),
    (["--prefix", "30"], "--prefix=30"),
]


@pytest.mark.parametrize(("flags", "contains"), PROFILE_CASES, ids=[" ".join(f) for f, _ in PROFILE_CASES])
def test_profile_bad_flags(
    flags: list[str], contains: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _one_line_error(["profile", "--out", "i.yaml", "--quiet", *flags], capsys, contains)
    _one_line_error(["plan", "i.yaml", "--profile", *flags], capsys, contains)  # the same options, same checks
    assert _tree(tmp_path) == []


# ---- testbed status / down --------------------------------------------------------------------------------
def _state(folder: Path, created: list[dict[str, Any]], name: str = "0") -> dict[str, Any]:
    return {"name": name, "plan": {}, "fleet": {}, "created": created, "services": {}, "phase": "up"}


STATE_CASES: list[tuple[str | bytes | None, str]] = [
    ("garbage", "malformed JSON"),
    ("{}", "name="),
    ("[]", "a JSON list"),
    ("null", "a JSON NoneType"),
    ('"x"', "a JSON str"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    ("[" * 100_000, "nested deeper"),
    ('{"name": "TOOLONG", "created": []}', "name="),
    ('{"name": "0", "created": {}}', "created="),
    ('{"name": "0", "created": [{"kind": "file", "name": "/etc/passwd"}]}', "log files (et0-*.log)"),
    ('{"name": "0", "created": [{"kind": "file", "name": "/etc/et0-x.log"}]}', "log files live in"),
    ('{"name": "0", "created": [{"kind": "file", "name": "sub/../../et0-x.log"}]}', "log files live in"),
    ('{"name": "0", "created": [{"kind": "process", "name": "x", "pid": 1234}]}', "start_ticks"),
    ('{"name": "0", "created": [{"kind": "process", "name": "x", "pid": 1, "start_ticks": 5}]}', "pid=1"),
    ('{"name": "0", "created": [{"kind": "process", "name": "x", "pid": "1", "start_ticks": 5}]}', "pid="),
    ('{"name": "0", "created": [{"kind": "netns", "name": "x", "pid": 7, "start_ticks": 5}]}', "pid belongs"),
    ('{"name": "0", "created": [{"kind": "bridge", "name": "br-lan"}]}', "not a bridge of the testbed"),
    ('{"name": "0", "created": [{"kind": "netns", "name": "et0-o; rm -rf /"}]}', "not a netns of the testbed"),
    ('{"name": "0", "created": [{"kind": "link", "name": "et0a", "info": {"peer": "eth0"}}]}', "info.peer"),
    ('{"name": "0", "created": [{"kind": "qdisc", "name": "eth0"}]}', "not a qdisc"),
    ('{"name": "0", "created": [{"kind": "nft", "name": "inet filter", "netns": "et0-o"}]}', "only the table"),
    ('{"name": "0", "created": [{"kind": "nft", "name": "ip edgetune_loss"}]}', "only the table"),
    ('{"name": "0", "created": [{"kind": "qdisc", "name": "et0a", "netns": "host"}]}', "netns="),
    ('{"name": "0", "created": [{"kind": "rootkit", "name": "x"}]}', "kind="),
    (None, "no such state file"),
]


@pytest.mark.parametrize("command", ["status", "down"])
@pytest.mark.parametrize(("content", "contains"), STATE_CASES, ids=[str(c)[:40] for c, _ in STATE_CASES])
def test_testbed_bad_state_files(
    command: str,
    content: str | bytes | None,
    contains: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "et0.json"
    if content is not None:
        state.write_bytes(content if isinstance(content, bytes) else content.encode())
    elif command == "status":
        assert main(["testbed", "status", "--state", str(state)]) == 0  # no state: "not up"
        return
    before = _tree(tmp_path)
    _one_line_error(["testbed", command, "--state", str(state)], capsys, contains)
    assert _tree(tmp_path) == before  # the state file is kept, nothing else touched


@pytest.mark.parametrize("target", ["/dev/null", "."])
def test_testbed_state_must_be_a_regular_file(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(["testbed", "down", "--state", target], capsys, "not a regular file")


def test_crafted_state_cannot_delete_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    state = tmp_path / "et0.json"
    state.write_text(json.dumps(_state(tmp_path, [{"kind": "file", "name": str(victim)}])))
    _one_line_error(["testbed", "down", "--state", str(state)], capsys, "log files")
    assert victim.read_text() == "keep"
    # the testbed's own log file beside the state file is removed
    log = tmp_path / "et0-controller.log"
    log.write_text("log")
    state.write_text(json.dumps(_state(tmp_path, [{"kind": "file", "name": str(log)}])))
    assert main(["testbed", "down", "--state", str(state)]) == 0
    assert not log.exists() and not state.exists() and victim.exists()


def _ticks(pid: int) -> int:
    from edgetune.testbed.state import process_start_ticks

    ticks = process_start_ticks(pid)
    assert ticks is not None
    return ticks


def _spawn(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 5  # wait for the exec (the command line is the child's own)
    while (
        time.monotonic() < deadline
        and Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[0] != argv[0].encode()
    ):
        time.sleep(0.01)
    return proc


def test_down_signals_only_processes_the_state_proves_it_started(tmp_path: Path) -> None:
    from edgetune.testbed.build import STATE_ENV

    state = tmp_path / "et0.json"
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", "edgetune.testbed.relay"]
    stranger = _spawn(sleeper)  # an edgetune-looking process with the right start time, not started by this testbed
    other_env = _spawn(sleeper, {STATE_ENV: str(tmp_path / "et1.json")})  # another testbed's
    plain = _spawn([sys.executable, "-c", "import time; time.sleep(60)"], {STATE_ENV: str(state)})  # not edgetune
    ours = _spawn(sleeper, {STATE_ENV: str(state)})
    procs = [stranger, other_env, plain, ours]
    try:
        created = [
            {"kind": "process", "name": f"p{k}", "pid": p.pid, "start_ticks": _ticks(p.pid)}
            for k, p in enumerate(procs)
        ]
        created.append(
            {"kind": "process", "name": "reused", "pid": stranger.pid, "start_ticks": _ticks(stranger.pid) + 1}
        )
        state.write_text(json.dumps(_state(tmp_path, created)))
        assert main(["testbed", "down", "--state", str(state)]) == 0
        ours.wait(timeout=10)  # ended (down reaped it: main() runs in this process, its parent)
        assert [p.poll() for p in procs[:3]] == [None, None, None]  # never signalled
    finally:
        for p in procs:  # only the processes this test started, by PID
            if p.poll() is None:
                p.kill()
                p.wait()


_NAMES = st.sampled_from(
    ["et0-o", "et0a", "et0br1", "eth0", "br-lan", "/etc/passwd", "et0-x.log", "../et0-x.log", "ip edgetune_loss", ""]
) | st.text(max_size=20)
_ENTRY = st.fixed_dictionaries(
    {"kind": st.sampled_from(["netns", "link", "bridge", "qdisc", "nft", "process", "file", "x"]), "name": _NAMES},
    optional={
        "netns": _NAMES,
        "pid": st.integers(-5, 2**23) | st.text(max_size=3) | st.none(),
        "start_ticks": st.integers(-1, 10**9) | st.none(),
        "info": st.dictionaries(st.sampled_from(["peer", "cmd"]), _NAMES, max_size=2),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["0", "ab", "", "TOO"]), st.lists(_ENTRY, max_size=5))
def test_state_schema_accepts_only_the_testbeds_own_things(name: str, created: list[dict[str, Any]]) -> None:
    from edgetune.testbed.state import validate_state

    path = Path("/run/edgetune-testbed/et0.json")
    try:
        data = validate_state({"name": name, "created": created}, path)
    except InputError:
        return
    prefix = f"et{name}"
    for r in data["created"]:
        if r["kind"] == "file":
            assert Path(os.path.abspath(r["name"])).parent == path.parent and Path(r["name"]).name.startswith(
                prefix + "-"
            )
        elif r["kind"] == "process":
            assert isinstance(r["pid"], int) and r["pid"] >= 2 and isinstance(r["start_ticks"], int)
        elif r["kind"] == "nft":
            assert r["netns"].startswith(prefix)
        elif r["kind"] != "qdisc" or not r.get("netns"):  # a qdisc inside the testbed's namespace may be on eth0
            assert r["name"].startswith(prefix) and len(r["name"]) <= 15
        assert r.get("netns", "") == "" or r["netns"].startswith(prefix)
