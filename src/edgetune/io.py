"""File helpers shared by every command: output preflight, atomic writes and output sets.

* :func:`check_output` checks an output path named by a flag **before any work**: its folder exists or
  can be created and takes new files, and the target is absent or a regular file (a FIFO, a device, a
  symbolic link or a folder given as a file is refused, so ``--out /dev/null`` never replaces
  ``/dev/null``). The error names the flag and the value the user typed.
* ``atomic_write_*`` write through a temporary file beside the target and an atomic rename, so a failed
  write leaves no half file; new files get the usual ``0o666 & ~umask`` mode (not mkstemp's 0600).
* :func:`read_cache` loads a cache entry; a corrupt one (truncated ``.pt``, bad JSON, garbage
  tokenizer) is one warning line on stderr, is removed, and the caller rebuilds it.
* :class:`OutputSet` makes several outputs (a plan and its inference rows, a table and its figure)
  appear together or not at all: inside ``with outs.capture():`` every ``atomic_write_*`` is staged
  as a temporary file beside its target; leaving ``with outs:`` without an error renames them all,
  an error removes every temporary (and any folder the set created).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from edgetune.errors import InputError

T = TypeVar("T")

#: The output set that ``atomic_write_*`` stage into (``OutputSet.capture``); None = write directly.
_ACTIVE: contextvars.ContextVar[OutputSet | None] = contextvars.ContextVar("edgetune_output_set", default=None)

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFDIR: "a folder",
    stat.S_IFREG: "a regular file",
}


def umask() -> int:
    """The process umask (read from /proc where possible, so no other thread sees it change)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_cache(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], load: Callable[[], T]) -> T | None:
    """``load()`` a cache entry made of ``paths``; None when it is absent or corrupt.

    A corrupt entry (``load`` raises: a truncated ``.pt``, bad meta JSON, a garbage tokenizer file) is
    reported in one line on stderr, ``edgetune: warning: cache FILE is corrupt (...); rebuilding``, and
    its files are removed so that the caller rebuilds it. Interrupts (``KeyboardInterrupt``) pass through.
    """
    items = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    if not all(p.exists() for p in items):
        return None
    try:
        return load()
    except Exception as exc:  # any failure to read a cache entry means: rebuild it
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        print(
            f"edgetune: warning: cache {items[0]} is corrupt ({type(exc).__name__}: {first}); rebuilding",
            file=sys.stderr,
        )
        for p in items:
            with contextlib.suppress(OSError):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
        return None


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _probe(folder: Path) -> str | None:
    """Why no file can be created in ``folder`` (None when one can): tries a real temporary file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".edgetune-probe.", dir=folder)
    except OSError as exc:
        return f"cannot create files in {folder} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(tmp)
    return None


def _existing_ancestor(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists() or parent.is_symlink():
            return parent
    return Path("/")


def check_output(path: str | os.PathLike[str], field: str, *, folder: bool = False) -> Path:
    """Check an output path before any work; raise :class:`InputError` naming ``field`` if it is unusable.

    Parameters
    ----------
    path : str or os.PathLike
        The path as the user gave it.
    field : str
        The flag or key that named it (``--out``), for the error line.
    folder : bool
        True when ``path`` is an output folder (it may exist as a folder), False for an output file
        (absent or a regular file, never a symlink, FIFO, device or folder).

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.
    """
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise InputError(field, text, "not a usable path")
    target = Path(text)
    if not folder and text.endswith(os.sep):
        raise InputError(field, text, "names a folder; give a file")
    try:
        st: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # ENOTDIR, ENAMETOOLONG, EACCES ...
        raise InputError(field, text, exc.strerror or str(exc)) from None
    if st is not None and folder:
        if stat.S_ISLNK(st.st_mode) and target.is_dir():  # a link to a folder is a folder
            st = os.stat(target)
        if not stat.S_ISDIR(st.st_mode):
            raise InputError(field, text, f"exists and is {_kind(st.st_mode)}, not a folder")
        reason = _probe(target)
        if reason is not None:
            raise InputError(field, text, reason)
        return target
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InputError(field, text, f"exists and is {_kind(st.st_mode)}; give a regular file")
    parent = _existing_ancestor(target)
    if not parent.is_dir():
        raise InputError(field, text, f"{parent} is not a folder")
    reason = _probe(parent)
    if reason is not None:
        raise InputError(field, text, reason)
    return target


def _check_target(target: Path) -> None:
    """At write time: refuse to replace anything but a regular file (the preflight may be far back)."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError:
        return  # the write itself reports it, naming the target
    if not stat.S_ISREG(st.st_mode):
        raise InputError("output", str(target), f"exists and is {_kind(st.st_mode)}; not replaced")


def _named(exc: OSError, target: Path) -> OSError:
    """``exc`` naming the target instead of the temporary file."""
    return OSError(exc.errno, exc.strerror or str(exc), str(target))


def _mkdirs(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the folders created, outermost first."""
    missing: list[Path] = []
    p = folder
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _stage(target: Path) -> tuple[int, Path, list[Path]]:
    """A temporary file beside ``target`` with the umask's mode: (fd, path, folders created)."""
    _check_target(target)
    try:
        made = _mkdirs(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _named(exc, target) from None
    os.fchmod(fd, 0o666 & ~umask())
    return fd, Path(tmp), made


def _commit(tmp: Path, target: Path) -> None:
    _check_target(target)
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise _named(exc, target) from None


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    target = Path(path)
    active = _ACTIVE.get()
    if active is not None:
        return active.write_bytes(target, data)
    fd, tmp, _ = _stage(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        _commit(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int = 2) -> Path:
    """Atomically write ``obj`` as JSON (keys kept in insertion order)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    """Let ``writer`` fill a temporary path (e.g. ``savefig``), then move it into place atomically."""
    target = Path(path)
    active = _ACTIVE.get()
    if active is not None:
        return active.write_with(target, writer)
    fd, tmp, _ = _stage(target)
    os.close(fd)
    try:
        writer(tmp)
        _commit(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


class OutputSet:
    """Output files that appear together or not at all.

    Examples
    --------
    >>> with OutputSet() as outs, outs.capture():  # doctest: +SKIP
    ...     atomic_write_json("p.json", plan)       # staged as .p.json.XXXX.tmp
    ...     atomic_write_json("x.json", rows)       # an error here removes both temporaries
    ... # here both files are in place
    """

    def __init__(self) -> None:
        self._staged: dict[Path, Path] = {}  # target -> temporary beside it
        self._made: list[Path] = []  # folders this set created (removed again if it fails)
        self._streams: list[IO[Any]] = []

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    @contextlib.contextmanager
    def capture(self) -> Iterator[OutputSet]:
        """Route every ``atomic_write_*`` call inside the block into this set."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def _new(self, target: Path) -> tuple[int, Path]:
        fd, tmp, made = _stage(target)
        self._made += made
        old = self._staged.pop(target, None)
        if old is not None:  # written twice: the last one wins
            old.unlink(missing_ok=True)
        self._staged[target] = tmp
        return fd, tmp

    def write_bytes(self, path: str | os.PathLike[str], data: bytes) -> Path:
        """Stage ``data`` for ``path``."""
        target = Path(path)
        fd, _ = self._new(target)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return target

    def write_with(self, path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
        """Stage what ``writer`` writes to a temporary path for ``path``."""
        target = Path(path)
        fd, tmp = self._new(target)
        os.close(fd)
        writer(tmp)
        return target

    def stream(self, path: str | os.PathLike[str]) -> IO[str]:
        """A text file for ``path`` written as work goes (closed and renamed at commit)."""
        fd, _ = self._new(Path(path))
        fh = os.fdopen(fd, "w", encoding="utf-8")
        self._streams.append(fh)
        return fh

    def commit(self) -> None:
        """Rename every staged file into place (all targets are checked first)."""
        for fh in self._streams:
            fh.close()
        try:
            for target in self._staged:
                _check_target(target)
            for target, tmp in list(self._staged.items()):
                _commit(tmp, target)
                del self._staged[target]
        except BaseException:
            self.discard()
            raise
        self._made = []

    def discard(self) -> None:
        """Remove every temporary file and every folder this set created (if empty)."""
        for fh in self._streams:
            with contextlib.suppress(OSError):
                fh.close()
        for tmp in self._staged.values():
            tmp.unlink(missing_ok=True)
        self._staged.clear()
        for folder in reversed(self._made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._made = []
