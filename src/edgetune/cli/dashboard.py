"""``edgetune dashboard``: serve the live web page of one or two run folders (docs/dashboard.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``dashboard``."""
    p = sub.add_parser(
        "dashboard",
        help="serve a live web page of run folders (fleet graph, eliminations, scores, charts)",
        description="Serve a web page for finished or running run folders: the fleet graph coloured by node "
        "state, the per-node scores against the cut, and loss/active/time/energy charts, updated live while "
        "epochs.jsonl grows. Two folders are shown side by side. Binds 127.0.0.1 unless --host says otherwise; "
        "any other address requires the random token printed at start.",
    )
    p.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="run folder(s) (record.json, fleet.yaml, epochs.jsonl)"
    )
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1); any other needs the printed token on every request",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from edgetune.dashboard.server import start_dashboard

    dash = start_dashboard([Path(p) for p in args.run_dirs], host=args.host, port=args.port)
    print(f"edgetune dashboard: {dash.url}", flush=True)
    if dash.token:
        print(
            "  every request needs this token (?token=... or 'Authorization: Bearer ...'); no TLS: "
            "use it only on networks you trust, or over an SSH tunnel",
            flush=True,
        )
    print("  Ctrl-C stops it", flush=True)
    try:
        dash.wait()
    except KeyboardInterrupt:
        print("edgetune dashboard: stopped", flush=True)
    finally:
        dash.stop()
    return 0
