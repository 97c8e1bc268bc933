"""Issue 16, classes 6 and 7: bad input to ``edgetune flower serve|join`` is one line, exit 2, nothing left.

Every case runs the real command line in-process (``edgetune.cli.main.main``) in an empty folder and
checks the promise: exit code 2, exactly one stderr line ``edgetune: error: FIELD=...``, no traceback,
no output file or Flower work folder left, nothing started. The numeric flags of ``join`` are also
driven by hypothesis over every float outside their documented range.
"""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetune.cli.flower import MAX_COMPUTE
from edgetune.cli.main import main
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import save_fleet

PREFIX = "edgetune: error: "


def assert_one_line_error(code: int, err: str, field: str) -> None:
    """The promise (kept local until the shared ``tests/fuzz/conftest.py`` lands)."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX) and field in lines[0], lines[0]
    assert "Traceback" not in err


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    save_fleet(generate_fleet(3, "normal", np.random.default_rng(0), seed=0), tmp_path / "fleet.yaml")
    (tmp_path / "folder.pem").mkdir()
    return tmp_path


SERVE = [
    (["--model", "gpt5"], "--model"),
    (["--port", "-1"], "--port"),
    (["--port", "0"], "--port"),
    (["--port", "70000"], "--port"),
    (["--lr", "inf"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--straggler-ratio", "nan"], "--straggler-ratio"),
    (["--train-tokens", "0"], "--train-tokens"),
    (["--ssl-certfile", "missing.pem", "--ssl-keyfile", "missing.key"], "--ssl-certfile"),
    (["--ssl-certfile", "folder.pem", "--ssl-keyfile", "fleet.yaml"], "--ssl-certfile"),
    (["--ssl-ca-certfile", "missing-ca.pem"], "--ssl-ca-certfile"),
    (["--host", "0.0.0.0"], "--host"),
    (["--host", "192.0.2.7", "--enable-supernode-auth"], "--enable-supernode-auth"),
    (["--enable-supernode-auth"], "--enable-supernode-auth"),
    (["--northbound-url", "http://127.0.0.1:{closed}"], "--northbound-url"),
    (["--northbound-url", "ftp://x"], "--northbound-url"),
]


@pytest.mark.parametrize(("args", "field"), SERVE)
def test_serve_bad_input(here: Path, capsys: pytest.CaptureFixture[str], args: list[str], field: str) -> None:
    argv = [a.format(closed=closed_port()) for a in args]
    code = main(["flower", "serve", "--fleet", "fleet.yaml", "--out", "out", "--workdir", "w", *argv])
    assert_one_line_error(code, capsys.readouterr().err, field)
    assert sorted(p.name for p in here.iterdir()) == ["fleet.yaml", "folder.pem"]


JOIN = [
    (["--compute", "nan"], "--compute"),
    (["--compute", "-5"], "--compute"),
    (["--compute", "inf"], "--compute"),
    (["--node-id", "1000000000"], "--node-id"),
    (["--partition-id", "-1"], "--partition-id"),
    (["--port", "70000"], "--port"),
    (["--superlink", "nohost"], "--superlink"),
    (["--superlink", "h:99999"], "--superlink"),
    (["--superlink", "h:x"], "--superlink"),
    (["--max-wait-s", "0"], "--max-wait-s"),
    (["--max-wait-s", "nan"], "--max-wait-s"),
    (["--task-poll-s", "nan"], "--task-poll-s"),
    (["--root-certificates", "missing.pem"], "--root-certificates"),
    (["--root-certificates", "folder.pem"], "--root-certificates"),
    (["--auth-key", "fleet.yaml"], "--auth-key"),
]


@pytest.mark.parametrize(("args", "field"), JOIN)
def test_join_bad_input(here: Path, capsys: pytest.CaptureFixture[str], args: list[str], field: str) -> None:
    argv = ["flower", "join", "--trainer-dir", "t", *(["--node-id", "1"] if "--node-id" not in args else []), *args]
    assert_one_line_error(main(argv), capsys.readouterr().err, field)
    assert sorted(p.name for p in here.iterdir()) == ["fleet.yaml", "folder.pem"]


def _outside(lo: float, hi: float) -> st.SearchStrategy[float]:
    inside = st.floats(allow_nan=True, allow_infinity=True)
    return inside.filter(lambda x: math.isnan(x) or not lo <= x <= hi)


@settings(max_examples=40, deadline=None)
@given(
    flag_value=st.one_of(
        st.tuples(st.just("--compute"), _outside(0.0, MAX_COMPUTE)),
        st.tuples(st.just("--max-wait-s"), _outside(1.0, 7 * 86_400.0)),
    )
)
def test_join_numbers_outside_their_range_are_one_line(
    flag_value: tuple[str, float], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Hypothesis: any float outside a flag's range (NaN and infinities included) is refused in one line."""
    import contextlib
    import io

    flag, value = flag_value
    folder = tmp_path_factory.mktemp("join")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["flower", "join", "--node-id", "1", "--trainer-dir", str(folder / "t"), f"{flag}={value!r}"])
    assert_one_line_error(code, err.getvalue(), flag)
    assert os.listdir(folder) == []
