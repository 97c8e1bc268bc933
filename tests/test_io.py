"""edgetune.io: output preflight, umask modes, output sets, corrupt caches."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgetune.errors import InputError
from edgetune.io import OutputSet, atomic_write_json, atomic_write_text, atomic_write_with, check_output, read_cache


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_check_output_accepts_new_and_regular_files(tmp_path: Path) -> None:
    assert check_output(tmp_path / "a.json", "--out") == tmp_path / "a.json"
    (tmp_path / "b.json").write_text("{}")
    check_output(tmp_path / "b.json", "--out")
    check_output(tmp_path / "new" / "deeper" / "c.json", "--out")  # parents can be created
    check_output(tmp_path, "--out", folder=True)
    check_output(tmp_path / "newdir", "--out", folder=True)
    assert _files(tmp_path) == ["b.json"]  # the probe leaves nothing behind


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: os.mkfifo(p), "a FIFO"),
        (lambda p: os.symlink("/etc/hostname", p), "a symbolic link"),
        (lambda p: p.mkdir(), "a folder"),
    ],
)
def test_check_output_refuses_non_regular_targets(tmp_path: Path, make: Callable[[Path], object], reason: str) -> None:
    target = tmp_path / "out.json"
    make(target)
    with pytest.raises(InputError) as err:
        check_output(target, "--out")
    assert err.value.field == "--out" and err.value.value == str(target) and reason in err.value.reason


def test_check_output_refuses_devices_proc_and_file_parents(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="character device"):
        check_output("/dev/null", "--out")
    with pytest.raises(InputError, match="cannot create files in /proc"):
        check_output("/proc/version", "--out")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError):
        check_output(tmp_path / "f" / "x.json", "--out")
    with pytest.raises(InputError, match="not a folder"):
        check_output(tmp_path / "f", "--out", folder=True)
    with pytest.raises(InputError, match="names a folder"):
        check_output(f"{tmp_path}/", "--out")
    with pytest.raises(InputError):
        check_output("", "--out")


def test_atomic_writes_honour_the_umask(tmp_path: Path, umask_022: None) -> None:
    atomic_write_text(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    os.umask(0o077)
    atomic_write_with(tmp_path / "b.bin", lambda p: p.write_bytes(b"y"))
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o600
    os.umask(0o002)
    with OutputSet() as outs, outs.capture():
        atomic_write_json(tmp_path / "c.json", {"a": 1})
    assert stat.S_IMODE((tmp_path / "c.json").stat().st_mode) == 0o664


def test_atomic_write_never_replaces_a_fifo_or_symlink(tmp_path: Path) -> None:
    fifo, link = tmp_path / "fifo", tmp_path / "link"
    os.mkfifo(fifo)
    link.symlink_to(tmp_path / "elsewhere")
    for target in (fifo, link):
        with pytest.raises(InputError, match="not replaced"):
            atomic_write_text(target, "x")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()
    assert _files(tmp_path) == ["fifo", "link"]


def test_write_error_names_the_target_not_the_temporary(tmp_path: Path) -> None:
    with pytest.raises(OSError) as err:
        atomic_write_text("/proc/version-x", "x")
    assert err.value.filename == "/proc/version-x"


def test_output_set_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("old")
    with pytest.raises(RuntimeError), OutputSet() as outs, outs.capture():
        atomic_write_json(tmp_path / "old.json", {"new": 1})
        atomic_write_text(tmp_path / "sub" / "dir" / "b.md", "b")
        raise RuntimeError("the second output failed")
    assert _files(tmp_path) == ["old.json"]  # no temporaries, no created folders, old file intact
    assert (tmp_path / "old.json").read_text() == "old"
    with OutputSet() as outs:
        stream = outs.stream(tmp_path / "rows.jsonl")
        stream.write("1\n")
        assert not (tmp_path / "rows.jsonl").exists()  # staged until commit
        with outs.capture():
            atomic_write_text(tmp_path / "sub" / "b.md", "b")
            atomic_write_text(tmp_path / "sub" / "b.md", "b2")  # the last write wins
    assert _files(tmp_path) == ["old.json", "rows.jsonl", "sub", "sub/b.md"]
    assert (tmp_path / "rows.jsonl").read_text() == "1\n" and (tmp_path / "sub" / "b.md").read_text() == "b2"


def test_output_set_commit_checks_every_target_first(tmp_path: Path) -> None:
    outs = OutputSet()
    with outs.capture():
        atomic_write_text(tmp_path / "a", "a")
        atomic_write_text(tmp_path / "b", "b")
    os.mkfifo(tmp_path / "b")  # appears between staging and commit
    with pytest.raises(InputError):
        outs.commit()
    assert _files(tmp_path) == ["b"] and stat.S_ISFIFO((tmp_path / "b").lstat().st_mode)


def test_read_cache_warns_once_removes_and_returns_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text("[1]")
    bad.write_text("[1")
    import json

    assert read_cache(good, lambda: json.loads(good.read_text())) == [1]
    assert read_cache(tmp_path / "absent.json", lambda: 1 / 0) is None  # absent: no load, no warning
    assert capsys.readouterr().err == ""
    assert read_cache(bad, lambda: json.loads(bad.read_text())) is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"edgetune: warning: cache {bad} is corrupt (JSONDecodeError")
    assert err[0].endswith("; rebuilding") and not bad.exists() and good.exists()
