"""``--data``: .txt / .jsonl / folders become documents; every bad input is one InputError naming --data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetune.errors import InputError
from edgetune.training import userdata
from edgetune.training.corpus import Document
from edgetune.training.userdata import load_documents, txt_documents


def test_txt_splits_on_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "jokes.txt"
    f.write_text("one line\nsecond line\n\n\n  \ntwo\r\n\r\nthree\n", encoding="utf-8")
    assert load_documents(f) == [
        Document("jokes", "one line\nsecond line"),
        Document("jokes", "two"),
        Document("jokes", "three"),
    ]


def test_jsonl_reads_text_field(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"text": "a b", "id": 1}) + "\n\n" + json.dumps({"text": "c"}) + "\n", encoding="utf-8")
    assert load_documents(f) == [Document("q", "a b"), Document("q", "c")]


def test_folder_categories_are_file_names(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("x\n\ny", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text('{"text": "z"}\n', encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    docs = load_documents(tmp_path)
    assert [(d.category, d.text) for d in docs] == [("a", "z"), ("b", "x"), ("b", "y")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"\n\n  \n", "no text"),
        ("bad.txt", b"caf\xe9\n", "not UTF-8"),
        ("bad.jsonl", b'{"text": 3}\n', "line 1"),
        ("bad2.jsonl", b'{"text": "ok"}\nnot json\n', "line 2: not JSON"),
        ("data.csv", b"a,b\n", "unknown data file type"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(InputError, match=reason) as exc:
        load_documents(f)
    assert exc.value.field == "--data" and str(f) in str(exc.value)


def test_missing_empty_folder_and_fifo(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_documents(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="holds no"):
        load_documents(tmp_path)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        load_documents(fifo)  # refused before opening: no blocking read


def test_size_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "big.txt"
    f.write_text("word " * 100, encoding="utf-8")
    monkeypatch.setattr(userdata, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError, match="larger than"):
        load_documents(f)
    monkeypatch.setattr(userdata, "MAX_FILE_BYTES", 10_000)
    monkeypatch.setattr(userdata, "MAX_TOTAL_BYTES", 300)
    (tmp_path / "big2.txt").write_text("word " * 50, encoding="utf-8")
    with pytest.raises(InputError, match="in all"):
        load_documents(tmp_path)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=30), max_size=8))
def test_txt_documents_never_blank_and_keep_text(chunks: list[str]) -> None:
    docs = txt_documents("\n\n".join(chunks), "c")
    assert all(d.text.strip() and d.category == "c" for d in docs)
    joined = "".join("".join(c.split()) for c in chunks)
    assert "".join("".join(d.text.split()) for d in docs) == joined
