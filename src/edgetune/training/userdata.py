"""The user's own fine-tuning text (``--data``): a ``.txt`` file, a ``.jsonl`` file or a folder of them.

* ``.txt``: documents are separated by one or more blank lines.
* ``.jsonl``: one JSON object per line with a string field ``"text"`` (one document per line; blank
  lines are skipped).
* a folder: every ``.txt`` / ``.jsonl`` file directly inside it, in sorted name order (other files
  and sub-folders are ignored; a folder with none of them is an error).

Every document's category is the name of the file it came from (without the suffix), so the
Dirichlet partition (:class:`~edgetune.training.partition.DirichletPartitioner`) splits by file.

Reading is bounded: only regular files are opened (FIFOs, devices and sockets are refused before
opening, so a read cannot block), at most :data:`MAX_FILE_BYTES` per file and :data:`MAX_TOTAL_BYTES`
in all, at most :data:`MAX_FILES` files from a folder. Every problem is an :class:`InputError` naming
``--data`` and the file: non-UTF-8 bytes, a ``.jsonl`` line that is not an object with a string
``"text"``, an unknown suffix, no documents at all.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from edgetune.errors import InputError
from edgetune.training.corpus import Document

#: Suffixes read as data files.
SUFFIXES: tuple[str, ...] = (".txt", ".jsonl")
MAX_FILE_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 512 * 2**20
MAX_FILES = 10_000
FIELD = "--data"

_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")


def _check_regular(path: Path) -> int:
    """Size of ``path`` if it is a regular file (symlinks followed), else :class:`InputError`."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(FIELD, str(path), exc.strerror or "cannot be read") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(FIELD, str(path), "not a regular file (FIFO, device or socket)")
    if st.st_size > MAX_FILE_BYTES:
        raise InputError(FIELD, str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB")
    return int(st.st_size)


def _read_text(path: Path, budget: int) -> str:
    with path.open("rb") as fh:
        raw = fh.read(budget + 1)
    if len(raw) > budget:
        raise InputError(FIELD, str(path), f"data larger than {MAX_TOTAL_BYTES // 2**20} MiB in all")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(FIELD, str(path), f"not UTF-8 text (byte {exc.start})") from None


def txt_documents(text: str, category: str) -> list[Document]:
    """Documents of a ``.txt`` file: blocks separated by blank lines (surrounding newlines stripped)."""
    text = text.replace("\r\n", "\n")
    return [Document(category, chunk.strip("\n")) for chunk in _BLANK_LINES.split(text) if chunk.strip()]


def jsonl_documents(text: str, category: str, source: str) -> list[Document]:
    """Documents of a ``.jsonl`` file: the ``"text"`` field of every non-blank line."""
    docs = []
    for k, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(FIELD, source, f"line {k}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise InputError(FIELD, source, f'line {k}: needs an object with a string "text" field')
        if obj["text"].strip():
            docs.append(Document(category, obj["text"]))
    return docs


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))
        if not files:
            raise InputError(FIELD, str(path), f"folder holds no {' or '.join(SUFFIXES)} files")
        if len(files) > MAX_FILES:
            raise InputError(FIELD, str(path), f"more than {MAX_FILES} data files")
        return files
    if not path.exists():
        raise InputError(FIELD, str(path), "no such file or folder")
    if path.suffix not in SUFFIXES:
        raise InputError(FIELD, str(path), f"unknown data file type; use {', '.join(SUFFIXES)} or a folder")
    return [path]


def load_documents(path: str | Path) -> list[Document]:
    """The documents of ``--data`` (see the module docstring); category = file name without suffix.

    Raises
    ------
    InputError
        Naming ``--data`` and the offending file, for every problem listed in the module docstring.
    """
    root = Path(path)
    files = _files(root)
    budget = MAX_TOTAL_BYTES
    docs: list[Document] = []
    for f in files:
        _check_regular(f)
        text = _read_text(f, budget)
        budget -= len(text.encode("utf-8"))
        if f.suffix == ".txt":
            docs.extend(txt_documents(text, f.stem))
        else:
            docs.extend(jsonl_documents(text, f.stem, str(f)))
    if not docs:
        raise InputError(FIELD, str(root), "no text: the data holds no non-blank document")
    return docs
