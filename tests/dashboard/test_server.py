"""The JSON API and event stream over loopback: hand-checked values, bad paths and parameters, tokens."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetune.dashboard.api import ApiError, parse_route
from edgetune.dashboard.server import Dashboard, start_dashboard
from edgetune.errors import InputError
from tests.dashboard.runfolders import append_epoch

TOKEN = "t0k3n-for-tests-0123456789"


def _get(dash: Dashboard, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, http.client.HTTPMessage]:
    conn = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        ctype = resp.headers.get("Content-Type", "")
        return resp.status, json.loads(body) if ctype.startswith("application/json") else body, resp.headers
    finally:
        conn.close()


@pytest.fixture
def dash(ne_run: tuple[Path, dict[str, Any]], ar_run: tuple[Path, dict[str, Any]]) -> Iterator[Dashboard]:
    d = start_dashboard([ne_run[0], ar_run[0]])
    try:
        yield d
    finally:
        d.stop()


def test_runs_and_record(dash: Dashboard, ne_run: tuple[Path, dict[str, Any]]) -> None:
    assert dash.url == f"http://127.0.0.1:{dash.port}/" and dash.token is None
    status, body, _ = _get(dash, "/api/runs")
    assert status == 200
    assert all(r["epochs_total"] == 10 and r["latest_epoch"] == 10 for r in body["runs"])
    assert [(r["index"], r["name"], r["policy"], r["status"], r["nodes"], r["epochs_done"]) for r in body["runs"]] == [
        (0, "ne", "ne", "complete", 12, 10),
        (1, "ar", "ar", "complete", 12, 10),
    ]
    status, rec, _ = _get(dash, "/api/runs/0")
    assert status == 200
    expected = ne_run[1]
    assert rec["policy"] == "ne" and rec["nodes"] == expected["nodes"]
    assert [e["epoch"] for e in rec["epochs"]] == list(range(1, 11))
    assert [e["eliminated"] for e in rec["epochs"]] == [e["eliminated"] for e in expected["epochs"]]
    assert len(rec["fleet"]["nodes"]) == 12 and rec["dashboard"]["metric_names"][0] == "compute"
    # AR: nobody is eliminated, so every node stays active in every epoch.
    _, ar, _ = _get(dash, "/api/runs/1")
    assert all(set(e["view"]["states"].values()) == {"active"} for e in ar["epochs"])


def test_epochs_after(dash: Dashboard, ne_run: tuple[Path, dict[str, Any]]) -> None:
    status, body, _ = _get(dash, "/api/runs/0/epochs?after=7")
    assert status == 200
    assert [e["epoch"] for e in body["epochs"]] == [8, 9, 10] and body["latest_epoch"] == 10 and not body["more"]
    ep8 = body["epochs"][0]
    assert ep8["scores"] == ne_run[1]["epochs"][7]["scores"]
    # Epoch 8 of a 12-node NE run: 5 trained, 1 eliminated, so ranks 1-4 kept and rank 5 cut.
    assert ep8["view"]["n_active"] == 5 and ep8["view"]["cut_rank"] == 4
    assert [r["rank"] for r in ep8["view"]["rows"]] == [1, 2, 3, 4, 5]
    assert [r["kept"] for r in ep8["view"]["rows"]] == [True] * 4 + [False]
    assert ep8["view"]["rows"][-1]["node"] == ep8["eliminated"][0]
    _, limited, _ = _get(dash, "/api/runs/0/epochs?after=0&limit=2")
    assert [e["epoch"] for e in limited["epochs"]] == [1, 2] and limited["more"]
    _, none, _ = _get(dash, "/api/runs/0/epochs?after=10")
    assert none["epochs"] == []


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/runs/2", 404, "run"),
        ("/api/runs/-1", 404, "path"),
        ("/api/nope", 404, "path"),
        ("/etc/passwd", 404, "path"),
        ("/static/../../server.py", 404, "path"),
        ("/api/runs/0/epochs?after=x", 400, "after"),
        ("/api/runs/0/epochs?after=-3", 400, "after"),
        ("/api/runs/0/epochs?after=99999999999", 400, "after"),
        ("/api/runs/0/epochs?limit=0", 400, "limit"),
        ("/api/runs/0/epochs?after=1&after=2", 400, "after"),
        ("/api/runs/0/epochs?color=red", 400, "color"),
    ],
)
def test_bad_paths_and_params_get_json_4xx(dash: Dashboard, path: str, status: int, field: str) -> None:
    got, body, headers = _get(dash, path)
    assert got == status and headers["Content-Type"] == "application/json"
    assert body["field"] == field and body["error"]


def test_other_methods_refused(dash: Dashboard) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=10)
    conn.request("POST", "/api/runs", body=b"{}")
    resp = conn.getresponse()
    assert resp.status == 405 and json.loads(resp.read())["field"] == "method"
    conn.close()


def test_static_page_and_headers(dash: Dashboard) -> None:
    status, body, headers = _get(dash, "/")
    assert status == 200 and b"/static/app.js" in body and b"{{TOKEN_QS}}" not in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert b"https://" not in body  # no CDN
    for name in ("app.js", "charts.js", "style.css"):
        status, body, _ = _get(dash, f"/static/{name}")
        assert status == 200
        # The only absolute URL is the SVG namespace name (an identifier, never fetched).
        assert set(re.findall(rb"https?://[^\s\"'`]*", body)) <= {b"http://www.w3.org/2000/svg"}


def test_dns_rebinding_guard(dash: Dashboard) -> None:
    status, body, _ = _get(dash, "/api/runs", headers={"Host": "evil.example:80"})
    assert status == 403 and body["field"] == "Host"
    assert _get(dash, "/api/runs", headers={"Host": f"localhost:{dash.port}"})[0] == 200


def test_token_required_when_set(ne_run: tuple[Path, dict[str, Any]]) -> None:
    with start_dashboard([ne_run[0]], token=TOKEN) as d:
        assert d.url.endswith(f"/?token={TOKEN}")
        assert _get(d, "/api/runs")[0] == 403
        assert _get(d, "/")[0] == 403
        assert _get(d, "/api/runs?token=wrong-token-0123456789")[0] == 403
        assert _get(d, f"/api/runs?token={TOKEN}")[0] == 200
        assert _get(d, "/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert _get(d, "/api/runs", headers={"X-Edgetune-Token": TOKEN})[0] == 200
        status, page, _ = _get(d, f"/?token={TOKEN}")
        assert status == 200 and f"/static/app.js?token={TOKEN}".encode() in page


def test_non_loopback_host_draws_a_token(ne_run: tuple[Path, dict[str, Any]]) -> None:
    # 0.0.0.0 is not loopback: a token is drawn. Only loopback is ever contacted below.
    with start_dashboard([ne_run[0]], host="0.0.0.0") as d:
        assert d.token is not None and len(d.token) >= 32 and f"?token={d.token}" in d.url
        assert _get(d, "/api/runs")[0] == 403
        assert _get(d, f"/api/runs?token={d.token}")[0] == 200


def test_bad_arguments(ne_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--port"):
        start_dashboard([ne_run[0]], port=70000)
    with pytest.raises(InputError, match="RUN_DIR"):
        start_dashboard([tmp_path / "none"])
    with pytest.raises(InputError, match="RUN_DIR"):
        start_dashboard([ne_run[0]] * 5)
    with pytest.raises(InputError, match="token"):
        start_dashboard([ne_run[0]], token="short")
    with start_dashboard([ne_run[0]]) as d, pytest.raises(InputError, match="--port"):
        start_dashboard([ne_run[0]], port=d.port)


def test_event_stream_sends_new_epochs(live_run: tuple[Path, dict[str, Any]]) -> None:
    path, record = live_run
    with start_dashboard([path]) as d:
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        conn.request("GET", "/api/runs/0/events?after=8")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
        events: list[tuple[str, str]] = []
        deadline = time.monotonic() + 20
        appended = False
        event = ""
        while time.monotonic() < deadline and [e for e in events if e[0] == "epoch"][-1:] != [("epoch", "10")]:
            line = resp.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                events.append((event, str(data.get("epoch", data.get("status")))))
                if event == "epoch" and data["epoch"] == 9 and not appended:
                    append_epoch(path, record["epochs"][9])
                    appended = True
        conn.close()
        assert events == [("status", "running"), ("epoch", "9"), ("epoch", "10")]


@settings(max_examples=200, deadline=None)
@given(path=st.text(max_size=60), query=st.text(max_size=60))
def test_parse_route_never_crashes(path: str, query: str) -> None:
    try:
        route = parse_route(path, query, 2)
    except ApiError as err:
        assert 400 <= err.status < 500 and err.to_json()["error"]
    else:
        assert route.endpoint in {"runs", "run", "epochs", "events"}
        assert route.after >= 0 and 1 <= route.limit <= 1000
