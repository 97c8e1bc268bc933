"""Reading run folders: partial lines, bad lines, FIFOs, truncation, caps, and the record fallback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from edgetune.dashboard import runfolder
from edgetune.dashboard.runfolder import RunFolder, check_run_folder, read_regular
from edgetune.errors import InputError


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _epochs(folder: RunFolder) -> list[int]:
    folder.refresh(force=True)
    return [e["epoch"] for e in folder.snapshot()[2]]


def test_partial_last_line_waits_for_its_newline(live_run: tuple[Path, dict[str, Any]]) -> None:
    path, record = live_run
    folder = RunFolder(path)
    assert _epochs(folder) == list(range(1, 10))
    line = json.dumps(record["epochs"][9]) + "\n"
    with open(path / "epochs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line[:100])
    assert _epochs(folder) == list(range(1, 10))  # half a line: not yet an epoch, not an error
    with open(path / "epochs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line[100:])
    assert _epochs(folder) == list(range(1, 11))
    assert folder.snapshot()[3] == {"non_utf8": 0, "bad_json": 0, "not_epoch": 0, "too_long": 0}
    assert folder.snapshot()[0]["status"] == "running"


def test_bad_lines_are_skipped_and_counted(live_run: tuple[Path, dict[str, Any]]) -> None:
    path, record = live_run
    with open(path / "epochs.jsonl", "ab") as fh:
        fh.write(b"\xff\xfe not utf-8\n")
        fh.write(b"{not json\n")
        fh.write(b'{"epoch": 11}\n')  # JSON but not an epoch
        fh.write(
            b'{"epoch": "x", "start_s": 0, "end_s": 1, "active": [], "metrics": {}, "scores": {}, "eliminated": []}\n'
        )
        fh.write(b"\n")  # blank: ignored, not counted
        fh.write((json.dumps(record["epochs"][9]) + "\n").encode())
    folder = RunFolder(path)
    assert _epochs(folder) == list(range(1, 11))
    assert folder.snapshot()[3] == {"non_utf8": 1, "bad_json": 1, "not_epoch": 2, "too_long": 0}


def test_overlong_line_is_skipped(live_run: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = live_run
    monkeypatch.setattr(runfolder, "MAX_LINE_BYTES", 64)
    folder = RunFolder(path)
    folder.refresh(force=True)
    assert folder.snapshot()[2] == []  # every real line is longer than 64 bytes
    assert folder.snapshot()[3]["too_long"] == 9
    with open(path / "epochs.jsonl", "ab") as fh:
        fh.write(b"x" * 200)  # an over-long partial line is dropped up to its newline
    folder.refresh(force=True)
    with open(path / "epochs.jsonl", "ab") as fh:
        fh.write(b"yyy\n")
    folder.refresh(force=True)
    assert folder.snapshot()[3]["too_long"] == 10


def test_truncated_file_starts_over(live_run: tuple[Path, dict[str, Any]]) -> None:
    path, record = live_run
    folder = RunFolder(path)
    assert len(_epochs(folder)) == 9
    with open(path / "epochs.jsonl", "w", encoding="utf-8") as fh:  # e.g. a run restarted from scratch
        fh.write(json.dumps(record["epochs"][0]) + "\n")
    assert _epochs(folder) == [1]


def test_complete_record_without_jsonl_falls_back_on_record(
    ne_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path = _copy(ne_run[0], tmp_path / "ne")
    (path / "epochs.jsonl").unlink()
    assert _epochs(RunFolder(path)) == list(range(1, 11))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(ne_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path = _copy(ne_run[0], tmp_path / "ne")
    (path / "epochs.jsonl").unlink()
    os.mkfifo(path / "epochs.jsonl")
    with pytest.raises(InputError, match="not a regular file"):
        read_regular(path / "epochs.jsonl", 100)
    with pytest.raises(InputError, match=r"epochs\.jsonl is not a regular file"):
        check_run_folder(path)
    folder = RunFolder(path)
    assert _epochs(folder) == list(range(1, 11))  # the record's epochs; the FIFO is reported, not read
    assert any("not a regular file" in e for e in folder.errors)


def test_check_run_folder_reasons(ne_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        check_run_folder(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_run_folder(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"not a run folder: no record\.json"):
        check_run_folder(tmp_path / "empty")
    bad = _copy(ne_run[0], tmp_path / "bad")
    (bad / "record.json").write_bytes(b"\xff[")
    with pytest.raises(InputError, match=r"record\.json: not valid UTF-8 JSON"):
        check_run_folder(bad)
    (bad / "record.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="must be a JSON object"):
        check_run_folder(bad)
    (bad / "record.json").write_text("{}")
    (bad / "fleet.yaml").write_text("nodes: []\n")
    with pytest.raises(InputError, match=r"fleet\.yaml"):
        check_run_folder(bad)


def test_record_rewritten_mid_read_keeps_last_good(live_run: tuple[Path, dict[str, Any]]) -> None:
    path, _ = live_run
    folder = RunFolder(path)
    folder.refresh(force=True)
    (path / "record.json").write_text('{"policy": "ne", "sta')  # a non-atomic writer caught mid-way
    folder.refresh(force=True)
    assert folder.snapshot()[0]["status"] == "running"
    assert any("record.json" in e for e in folder.errors)
