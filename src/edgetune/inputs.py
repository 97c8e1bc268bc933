"""The one bounded reader of every input file (fleet, planner instance and plan, split config, experiment
TOML, profiles, run records read back, checkpoint meta ...).

Every file a command reads goes through :func:`read_bytes`, so every input gets the same guarantees
and the same one-line errors (:class:`~edgetune.errors.InputError`, exit code 2):

- **regular files only**: a FIFO, a character device (``/dev/zero``), a socket or a folder is refused
  from ``os.stat`` before anything is opened, and the open uses ``O_NONBLOCK`` so that a FIFO swapped in
  between cannot block;
- **bounded size**: at most ``max_bytes + 1`` bytes are ever read (:data:`MAX_INPUT_BYTES` by default);
- **strict UTF-8**: a bad byte is reported with its offset;
- **bounded structure**: nesting deeper than :data:`MAX_DEPTH` is refused (no ``RecursionError``),
  YAML aliases are refused (an alias bomb fails on its first ``*alias``, before any growth), JSON or
  YAML integers past Python's 4,300-digit limit are refused, and NaN (and infinity, unless the caller
  allows it) is refused with the dotted path of the value.

Errors name the flag or file (``field``) the user gave, then the path inside the document.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from edgetune.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT_BYTES",
    "check_tree",
    "load_document",
    "load_json",
    "load_toml",
    "load_yaml",
    "parse_document",
    "parse_json",
    "parse_toml",
    "parse_yaml",
    "read_bytes",
    "read_text",
]

#: Largest input file read by default, bytes (64 MiB). A loader may pass its own ``max_bytes``.
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: Deepest nesting of lists/mappings accepted in a document.
MAX_DEPTH = 64

_CHUNK = 1 << 20


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def read_bytes(path: str | os.PathLike[str], field: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    Parameters
    ----------
    path : str or path-like
        The file.
    field : str
        The flag or key that named the file (``--fleet``, ``INSTANCE``); errors name it.
    max_bytes : int
        Size cap; a longer file is refused (only ``max_bytes + 1`` bytes are read to tell).

    Raises
    ------
    InputError
        Missing, unreadable, not a regular file, or larger than ``max_bytes``.
    """
    shown = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(field, shown, f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(field, shown, f"not a regular file ({_kind(st.st_mode)})")
    if st.st_size > max_bytes:
        raise InputError(field, shown, f"file larger than the limit of {max_bytes} bytes")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(field, shown, f"cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped between stat and open
            raise InputError(field, shown, f"not a regular file ({_kind(mode)})")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise InputError(field, shown, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise InputError(field, shown, f"file larger than the limit of {max_bytes} bytes")
    return data


def _decode(data: bytes, field: str, shown: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(field, shown, f"not valid UTF-8 at byte offset {exc.start}") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str | os.PathLike[str], field: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """:func:`read_bytes` decoded as strict UTF-8 (a leading BOM is dropped)."""
    return _decode(read_bytes(path, field, max_bytes), field, os.fspath(path))


# --------------------------------------------------------------------------------------------- tree check
def _label(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def check_tree(
    doc: Any, source: str, *, allow_inf: bool = False, max_depth: int = MAX_DEPTH, finite: bool = True
) -> Any:
    """Refuse nesting deeper than ``max_depth`` and non-finite floats anywhere in ``doc`` (iteratively).

    The error's field is ``SOURCE: dotted.path`` of the first bad value. ``finite=False`` checks the depth
    only (for a document whose schema names each key itself, such as the run spec). Returns ``doc``.
    """
    stack: list[tuple[Any, list[str | int]]] = [(doc, [])]
    while stack:
        node, where = stack.pop()
        if isinstance(node, float):
            if finite and (math.isnan(node) or (math.isinf(node) and not allow_inf)):
                raise InputError(f"{source}: {_label(where)}", node, "not a finite number")
            continue
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list | tuple):
            items = enumerate(node)
        else:
            continue
        if len(where) >= max_depth:
            raise InputError(f"{source}: {_label(where)}", "...", f"nested deeper than the limit of {max_depth}")
        for k, v in items:
            if isinstance(v, dict | list | tuple | float):
                stack.append((v, [*where, k if isinstance(k, int | str) else str(k)]))
    return doc


# ---------------------------------------------------------------------------------------------------- YAML
try:  # libyaml's reader, scanner and parser (in C) where PyYAML was built with it
    from yaml._yaml import CParser as _Parser  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - pure-Python PyYAML
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _RefusedAlias(yaml.YAMLError):
    pass


class _TooDeep(yaml.YAMLError):
    pass


class BoundedSafeLoader(_Parser, Composer, SafeConstructor, Resolver):  # type: ignore[misc,valid-type,unused-ignore]
    """PyYAML's safe loader with aliases refused and nesting bounded while composing.

    The parser is libyaml's (``CParser``) when available; composition is PyYAML's Python composer with
    two checks: an alias event fails at once (so an alias bomb never grows), and a node deeper than
    :data:`MAX_DEPTH` fails before Python's recursion limit.
    """

    # CParser has C versions of these that would bypass the checks in compose_node: use the Python ones.
    check_node = Composer.check_node
    get_node = Composer.get_node
    get_single_node = Composer.get_single_node
    compose_document = Composer.compose_document

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event: Any = self.peek_event()
            raise _RefusedAlias(f"YAML aliases are not accepted (*{event.anchor} at line {_line(event)})")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(f"nested deeper than the limit of {MAX_DEPTH} (line {_line(self.peek_event())})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# YAML 1.1 (PyYAML) reads ``1e13`` and ``1.9e13`` as strings; YAML 1.2 and JSON read them as numbers, and so
# do we, so that a strictly typed schema does not refuse an ordinary exponent.
BoundedSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _line(event: Any) -> int | str:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else "?"


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, _RefusedAlias | _TooDeep):
        return str(exc)
    first = str(exc).strip().splitlines()
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or (first[0] if first else "malformed")
    return f"malformed YAML: {problem}{where}"


def parse_yaml(text: str, field: str, shown: str, *, allow_inf: bool = False) -> Any:
    """Parse YAML ``text`` with :class:`BoundedSafeLoader`, then :func:`check_tree` it."""
    loader = BoundedSafeLoader(text)
    try:
        doc = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InputError(field, shown, _yaml_reason(exc)) from None
    except (ValueError, RecursionError, OverflowError) as exc:  # an int past 4300 digits, a huge date ...
        raise InputError(field, shown, _value_reason("YAML", exc)) from None
    finally:
        loader.dispose()
    return check_tree(doc, shown, allow_inf=allow_inf)


# ---------------------------------------------------------------------------------------------------- JSON
def _value_reason(kind: str, exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "integer string conversion" in text:
        return f"bad {kind} value: an integer longer than {_max_digits()} digits"
    return f"bad {kind} value: {text[:200]}"


def _max_digits() -> int:
    import sys

    return sys.get_int_max_str_digits() or 4300


def _constant(allow_inf: bool) -> Callable[[str], float]:
    def parse(name: str) -> float:
        if allow_inf and name in ("Infinity", "-Infinity"):
            return float(name.replace("Infinity", "inf"))
        raise ValueError(f"{name} is not a finite number")

    return parse


def _finite_float(allow_inf: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if math.isinf(value) and not allow_inf:
            raise ValueError(f"{text[:40]} overflows to infinity")
        return value

    return parse


def parse_json(text: str, field: str, shown: str, *, allow_inf: bool = False) -> Any:
    """Parse JSON ``text``: NaN/Infinity and overflowing floats refused, huge ints and deep nesting caught."""
    try:
        doc = json.loads(text, parse_constant=_constant(allow_inf), parse_float=_finite_float(allow_inf))
    except json.JSONDecodeError as exc:
        raise InputError(field, shown, f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise InputError(field, shown, f"nested deeper than the limit of {MAX_DEPTH}") from None
    except ValueError as exc:  # int past 4300 digits, NaN/Infinity, 1e999
        raise InputError(field, shown, _value_reason("JSON", exc)) from None
    return check_tree(doc, shown, allow_inf=allow_inf)


# ---------------------------------------------------------------------------------------------------- TOML
def parse_toml(text: str, field: str, shown: str) -> dict[str, Any]:
    """Parse TOML ``text`` (deep nesting and huge ints caught; ``nan``/``inf`` left to the schema)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(field, shown, f"invalid TOML: {exc}") from None
    except RecursionError:
        raise InputError(field, shown, f"nested deeper than the limit of {MAX_DEPTH}") from None
    except ValueError as exc:
        raise InputError(field, shown, _value_reason("TOML", exc)) from None
    check_tree(doc, shown, finite=False)  # the run spec refuses NaN/inf itself, naming the dotted key
    return doc


# ----------------------------------------------------------------------------------------------- by suffix
def parse_document(text: str, field: str, shown: str, suffix: str, *, allow_inf: bool = False) -> Any:
    """Parse by suffix: ``.json`` as JSON, ``.toml`` as TOML, anything else as YAML."""
    suffix = suffix.lower()
    if suffix == ".json":
        return parse_json(text, field, shown, allow_inf=allow_inf)
    if suffix == ".toml":
        return parse_toml(text, field, shown)
    return parse_yaml(text, field, shown, allow_inf=allow_inf)


def load_yaml(
    path: str | os.PathLike[str], field: str, max_bytes: int = MAX_INPUT_BYTES, *, allow_inf: bool = False
) -> Any:
    """Read (bounded) and parse a YAML file."""
    return parse_yaml(read_text(path, field, max_bytes), field, os.fspath(path), allow_inf=allow_inf)


def load_json(
    path: str | os.PathLike[str], field: str, max_bytes: int = MAX_INPUT_BYTES, *, allow_inf: bool = False
) -> Any:
    """Read (bounded) and parse a JSON file."""
    return parse_json(read_text(path, field, max_bytes), field, os.fspath(path), allow_inf=allow_inf)


def load_toml(path: str | os.PathLike[str], field: str, max_bytes: int = MAX_INPUT_BYTES) -> dict[str, Any]:
    """Read (bounded) and parse a TOML file."""
    return parse_toml(read_text(path, field, max_bytes), field, os.fspath(path))


def load_document(
    path: str | os.PathLike[str], field: str, max_bytes: int = MAX_INPUT_BYTES, *, allow_inf: bool = False
) -> Any:
    """Read (bounded) and parse ``path`` by its suffix (``.json``, ``.toml``, else YAML)."""
    text = read_text(path, field, max_bytes)
    return parse_document(text, field, os.fspath(path), Path(path).suffix, allow_inf=allow_inf)
