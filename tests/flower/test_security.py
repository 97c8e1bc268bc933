"""Run submission is impossible from off the SuperLink's host (issue 16, class 7).

Flower 1.41 serves the Control API (``flwr run``) on the same port as the Fleet API, so edgetune keeps
the SuperLink on 127.0.0.1 whatever ``--host`` says and exposes only the Fleet API through its gateway.
"""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest

from edgetune.cli.main import main
from edgetune.flower.deploy import Deployment, TLSFiles


def _non_loopback_ipv4() -> str | None:
    """This machine's address on its default route (no packet is sent), or ``None``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))
        except OSError:
            return None
        ip = str(s.getsockname()[0])
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def _listeners() -> set[tuple[str, int]]:
    """Listening IPv4 TCP sockets from ``/proc/net/tcp``: (address, port)."""
    out: set[tuple[str, int]] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] != "0A":  # LISTEN
            continue
        hexip, hexport = fields[1].split(":")
        ip = socket.inet_ntoa(bytes.fromhex(hexip)[::-1])
        out.add((ip, int(hexport, 16)))
    return out


def _post(host: str, port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("POST", path, body=b"", headers={"Content-Type": "application/protobuf"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_exposing_needs_tls_or_insecure_and_insecure_says_what_it_allows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="needs TLS"):
        Deployment(tmp_path / "w", host="192.0.2.7")
    assert (
        main(["flower", "serve", "--host", "192.0.2.7", "--insecure", "--print-commands", "--out", str(tmp_path / "o")])
        == 0
    )
    cap = capsys.readouterr()
    (warning,) = cap.err.strip().splitlines()
    assert warning.startswith("edgetune: warning: --insecure:") and "run submission stays on 127.0.0.1" in warning
    superlink, gateway = cap.out.splitlines()[:2]
    assert "flower-superlink --host 127.0.0.1 " in superlink
    assert "edgetune.flower.gateway --listen 192.0.2.7:9093 --upstream 127.0.0.1:" in gateway


@pytest.mark.slow
def test_run_submission_from_a_non_loopback_address_is_impossible(tmp_path: Path) -> None:
    ip = _non_loopback_ipv4()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with Deployment(tmp_path / "w", host=ip, tls=TLSFiles(), insecure_exposure=True) as dep:
        dep.start_superlink(timeout_s=180)
        listening = _listeners()
        # the SuperLink (Fleet + Control + Runtime APIs) listens on loopback only; the address devices
        # dial is the gateway's
        assert ("127.0.0.1", dep.link_port) in listening
        assert not {(a, p) for a, p in listening if p == dep.link_port and a != "127.0.0.1"}
        assert (ip, dep.port) in listening
        with socket.socket() as s:
            assert s.connect_ex((ip, dep.link_port)) != 0
        # through the exposed address the Control API (run submission) is refused by the gateway ...
        for path in ("/v1/control/start-run", "/v1/control/list-runs", "/v1/runtime/pull-messages"):
            assert _post(ip, dep.port, path) == (403, b"403 Forbidden")
        # ... while on loopback Flower's Control API answers, and the Fleet API is forwarded to Flower
        assert _post("127.0.0.1", dep.link_port, "/v1/control/list-runs") != (403, b"403 Forbidden")
        assert _post(ip, dep.port, "/v1/fleet/get-run") != (403, b"403 Forbidden")
