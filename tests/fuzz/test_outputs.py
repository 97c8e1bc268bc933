"""Issue 16, class 4 (outputs): every output path is checked before any work, errors name the flag,
non-regular targets are never replaced, modes follow the umask, and a set of outputs appears together
or not at all.

Every case: exit 2, one stderr line ``edgetune: error: ...``, no traceback, and no file left in the
working folder. ``_one_line_error`` runs a command through ``tests/fuzz/conftest.py``'s ``assert_one_line_error``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgetune.cli.main import main
from tests.fuzz.conftest import Result, assert_one_line_error


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], contains: str = "") -> str:
    """Run ``edgetune ARGV`` in-process and assert the one-line promise (an uncaught exception fails the test)."""
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return assert_one_line_error(Result(code, captured.out, captured.err), contains or None)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder; the test checks it is still empty afterwards (or holds only what it made)."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.yaml"
    assert main(["fleet", "generate", "--nodes", "4", "--out", str(path)]) == 0
    return path


CASES: list[tuple[list[str], str]] = [
    # the two reproducers of the issue: a second output that fails leaves no first one
    (["plan", "jqodi-data1", "--out", "p.json", "--inference", "--inference-out", "/proc/x.json"], "--inference-out="),
    (["plan", "jqodi-data1", "--compare", "--out", "/proc/t"], "--out='/proc/t'"),
    (["plan", "jqodi-data1", "--compare", "--inference", "--out", "/proc/t.md"], "--out='/proc/t.md'"),
    (["plan", "jqodi-data1", "--out", "/dev/null"], "character device"),
    (["plan", "jqodi-data1", "--out", "sub/"], "--out='sub/'"),
    (["fleet", "generate", "--out", "/proc/version"], "--out='/proc/version': cannot create files in /proc"),
    (["fleet", "generate", "--out", "/dev/null"], "--out='/dev/null': exists and is a character device"),
    (["fleet", "generate", "--out", "/proc/self/x/y.yaml"], "--out="),
    (["compare", "--setups", "", "--seeds", "1", "--nodes", "4", "--quiet"], "--setups=''"),
    (["compare", "--setups", " , ", "--quiet"], "--setups="),
    (["compare", "--seeds", "1", "--nodes", "4", "--out", "/proc/c", "--quiet"], "--out='/proc/c'"),
    (["compare", "--seeds", "1", "--nodes", "4", "--out", "/dev/null", "--quiet"], "not a folder"),
    (["finetune", "--out", "/proc/x", "--quiet"], "--out='/proc/x'"),
    (["finetune", "--out", "/dev/null", "--quiet"], "--out='/dev/null'"),
    (["profile", "--out", "/proc/i.yaml", "--quiet"], "--out='/proc/i.yaml'"),
    (["estimate", "--json", "/proc/e.json", "--quiet"], "--json="),
    (["finetune-split", "--plan", "p.json", "--instance", "i.yaml", "--out", "/proc/r.json"], "--out="),
]


@pytest.mark.parametrize(("argv", "contains"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_output_is_one_line_and_leaves_nothing(
    argv: list[str], contains: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _one_line_error(argv, capsys, contains)
    assert _tree(work) == []


def test_simulate_and_run_check_out_before_work(
    fleet_file: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _one_line_error(["simulate", "--fleet", str(fleet_file), "--out", "/proc/run.json", "--quiet"], capsys, "--out=")
    exp = work / "exp.toml"
    exp.write_text('[run]\nengine = "simulated"\nepochs = 2\n[fleet]\nnodes = 4\n')
    (work / "afile").write_text("x")
    _one_line_error(["run", str(exp), "--out", "afile", "--quiet"], capsys, "--out='afile': exists and is a regular")
    assert _tree(work) == ["afile", "exp.toml"]


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_non_regular_targets_are_refused_and_kept(kind: str, work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = work / "out.yaml"
    victim = work / "victim"
    victim.write_text("keep")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        target.symlink_to(victim)
    else:
        target.mkdir()
    _one_line_error(["fleet", "generate", "--out", str(target)], capsys, "--out=")
    assert victim.read_text() == "keep"
    assert _tree(work) == ["out.yaml", "victim"]
    mode = target.lstat().st_mode
    assert {"fifo": stat.S_ISFIFO, "symlink": stat.S_ISLNK, "folder": stat.S_ISDIR}[kind](mode)


def test_dev_null_stays_a_device(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = os.lstat("/dev/null")
    _one_line_error(["plan", "jqodi-data1", "--out", "/dev/null"], capsys)
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask(mask: int, mode: int, work: Path) -> None:
    old = os.umask(mask)
    try:
        assert main(["fleet", "generate", "--nodes", "4", "--out", "f.yaml"]) == 0
        assert main(["plan", "jqodi-data1", "--out", "p.json", "--inference", "--inference-out", "x.json"]) == 0
    finally:
        os.umask(old)
    for name in ("f.yaml", "p.json", "x.json"):
        assert stat.S_IMODE((work / name).stat().st_mode) == mode, name


def test_plan_and_inference_appear_together(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "jqodi-data1", "--out", "p.json", "--inference", "--inference-out", "x.json"]
    assert main(argv) == 0
    assert _tree(work) == ["p.json", "x.json"]


def test_compare_folder_appears_complete_or_not_at_all(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgetune.reporting.compare as report

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(report, "plot_fig2", broken)
    argv = ["compare", "--seeds", "1", "--nodes", "4", "--setups", "normal", "--epochs", "2", "--out", "c", "--quiet"]
    with pytest.raises(RuntimeError):
        main(argv)
    assert _tree(work) == []  # not runs.jsonl, not base_spec.toml, not runs.csv, not even the folder
    monkeypatch.undo()
    monkeypatch.chdir(work)
    assert main(argv) == 0
    names = _tree(work / "c")
    assert {"base_spec.toml", "runs.jsonl", "runs.csv", "runs.json", "summary.md", "fig2.png"} <= set(names)
    assert not [n for n in names if n.startswith(".")]
