"""Tests of the bounded reader (edgetune.inputs)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from edgetune.errors import InputError
from edgetune.inputs import (
    MAX_DEPTH,
    check_tree,
    load_document,
    load_json,
    load_toml,
    load_yaml,
    parse_json,
    parse_yaml,
    read_bytes,
    read_text,
)


def test_reads_small_yaml_json_toml(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\nb: [1.5, {c: x}]\n")
    (tmp_path / "a.json").write_text('{"a": 1, "b": [1.5, {"c": "x"}]}')
    (tmp_path / "a.toml").write_text('a = 1\nb = [1.5]\n[c]\nd = "x"\n')
    assert load_yaml(tmp_path / "a.yaml", "F") == {"a": 1, "b": [1.5, {"c": "x"}]}
    assert load_json(tmp_path / "a.json", "F") == {"a": 1, "b": [1.5, {"c": "x"}]}
    assert load_toml(tmp_path / "a.toml", "F") == {"a": 1, "b": [1.5], "c": {"d": "x"}}
    assert load_document(tmp_path / "a.json", "F") == load_document(tmp_path / "a.yaml", "F")


def test_refuses_non_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    for path, kind in [(fifo, "FIFO"), (Path("/dev/zero"), "device"), (tmp_path, "directory")]:
        with pytest.raises(InputError, match=f"not a regular file \\(a {kind}\\)") as info:
            read_bytes(path, "--fleet")
        assert info.value.field == "--fleet"


def test_missing_and_oversize(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_bytes(tmp_path / "nope", "F")
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(InputError, match="limit of 100 bytes"):
        read_bytes(tmp_path / "big", "F", max_bytes=100)
    assert read_bytes(tmp_path / "big", "F", max_bytes=101) == b"x" * 101


def test_utf8_error_names_offset(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_bytes(b"version: 1\nsetup: \xff\n")
    with pytest.raises(InputError, match="byte offset 18"):
        read_text(tmp_path / "b.yaml", "F")


def test_alias_bomb_fails_fast() -> None:
    rows = [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(24)]
    bomb = 'a: &a ["lol","lol"]\n' + "".join(rows)
    start = time.perf_counter()
    with pytest.raises(InputError, match="aliases are not accepted"):
        parse_yaml(bomb, "F", "f.yaml")
    assert time.perf_counter() - start < 5  # generous: the check fires on the first alias


@pytest.mark.parametrize("text", ["[" * 100_000, "- " * 100_000 + "x", "{a: " * 10_000])
def test_deep_yaml(text: str) -> None:
    with pytest.raises(InputError, match=f"limit of {MAX_DEPTH}"):
        parse_yaml(text, "F", "f.yaml")


def test_depth_limit_is_exact() -> None:
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    parse_yaml(ok, "F", "f")
    parse_json(ok, "F", "f")
    with pytest.raises(InputError):
        parse_yaml("[" + ok + "]", "F", "f")
    with pytest.raises(InputError):
        parse_json("[" + ok + "]", "F", "f")


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' + "9" * 5000 + "}", '{"a": NaN}', '{"a": 1e999}', "{"])
def test_bad_json(text: str) -> None:
    with pytest.raises(InputError):
        parse_json(text, "F", "f.json")


def test_non_finite_named_by_path() -> None:
    with pytest.raises(InputError) as info:
        parse_yaml("nodes:\n- {compute: .inf}\n", "F", "f.yaml")
    assert info.value.field == "f.yaml: nodes[0].compute"
    assert parse_yaml("x: .inf", "F", "f", allow_inf=True) == {"x": float("inf")}
    with pytest.raises(InputError):
        parse_yaml("x: .nan", "F", "f", allow_inf=True)
    with pytest.raises(InputError):
        check_tree({"a": [float("nan")]}, "s")


def test_huge_yaml_int_and_python_tags() -> None:
    with pytest.raises(InputError, match="4300 digits"):
        parse_yaml("a: " + "9" * 5000, "F", "f")
    with pytest.raises(InputError, match="malformed YAML"):
        parse_yaml("a: !!python/object/apply:os.system [ls]", "F", "f")
