"""Measure the dashboard in headless Chromium: page load time and live-update delay (issue 15).

Run: ``python bench/bench_dashboard.py [--repeat 5] [--nodes 12,500] [--screenshots docs/img]``.

* **load**: from ``page.goto`` until every node element of the fleet graph is in the page (all
  ``[data-node-id]`` present and the page marked ready), a fresh page each time; the floor printed
  beside it is one plain HTTP GET of ``/api/runs/0`` (the JSON the page needs) from Python.
* **update**: from appending one line to ``epochs.jsonl`` until the page shows that epoch
  (``body[data-latest-epoch=k]``); the floor is the server's poll interval
  (:data:`edgetune.dashboard.server.POLL_S`): a file-polling stream shows a line on average half an
  interval after it lands, at worst one interval.

Aims (ours): load under 1 s for 12 nodes, update under 1 s. Prints min and median of ``--repeat`` runs.
With ``--screenshots DIR`` it also writes the screenshots of docs/dashboard.md: a 12-node NE run at
epochs 1, 5 and 10 and NE beside AR.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.dashboard.runfolders

from tests.dashboard.runfolders import append_epoch, write_run_folder

from edgetune.dashboard.server import POLL_S, start_dashboard

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _stats(xs: list[float]) -> str:
    return f"min {min(xs) * 1e3:7.1f} ms  median {statistics.median(xs) * 1e3:7.1f} ms"


def measure_load(ctx: Any, url: str, n_nodes: int, repeat: int) -> list[float]:
    """Seconds from navigation to every node element present, ``repeat`` fresh pages."""
    times = []
    for _ in range(repeat):
        page = ctx.new_page()
        t0 = time.perf_counter()
        page.goto(url)
        # The page marks itself ready after drawing every node (string predicates would need 'unsafe-eval').
        page.wait_for_selector("body[data-ready=true]", timeout=60_000, state="attached")
        times.append(time.perf_counter() - t0)
        count = page.locator("[data-node-id]").count()
        if count != n_nodes:
            raise SystemExit(f"page drew {count} node elements, fleet has {n_nodes}")
        page.close()
    return times


def measure_api(url: str, repeat: int) -> list[float]:
    """Seconds for one GET of /api/runs/0 (the floor of a page load)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url + "api/runs/0", timeout=30) as resp:
            resp.read()
        times.append(time.perf_counter() - t0)
    return times


def measure_update(ctx: Any, tmp: Path, repeat: int) -> list[float]:
    """Seconds from appending an epoch line to the page showing it."""
    epochs = repeat + 1
    folder = tmp / "live"
    record = write_run_folder(folder, "ne", n_nodes=max(12, epochs + 2), epochs=epochs, written_epochs=1)
    times = []
    with start_dashboard([folder]) as dash:
        page = ctx.new_page()
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        for ep in record["epochs"][1:]:
            time.sleep(0.37)  # de-phase from the server's poll
            t0 = time.perf_counter()
            append_epoch(folder, ep)
            page.wait_for_selector(f"body[data-latest-epoch='{ep['epoch']}']", timeout=30_000, state="attached")
            times.append(time.perf_counter() - t0)
        page.close()
    return times


def screenshots(ctx: Any, tmp: Path, out: Path) -> list[Path]:
    """The docs' screenshots: NE at epochs 1, 5, 10; NE beside AR at epoch 10."""
    ne, ar = tmp / "shots" / "ne", tmp / "shots" / "ar"
    write_run_folder(ne, "ne")
    write_run_folder(ar, "ar")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with start_dashboard([ne]) as dash:
        page = ctx.new_page()
        page.set_viewport_size({"width": 1100, "height": 800})
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        for k in (1, 5, 10):
            page.locator("#epoch").focus()
            page.keyboard.press("Home")
            for _ in range(k - 1):
                page.keyboard.press("ArrowRight")
            page.wait_for_selector(f"body[data-epoch='{k}']")
            page.locator("#epoch").blur()
            path = out / f"dashboard-ne-epoch{k:02d}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
        page.close()
    with start_dashboard([ne, ar]) as dash:
        page = ctx.new_page()
        page.set_viewport_size({"width": 1400, "height": 800})
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        page.locator("#epoch").focus()
        page.keyboard.press("Home")
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        page.wait_for_selector("body[data-epoch='5']")
        page.locator("#epoch").blur()
        path = out / "dashboard-ne-vs-ar.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
        page.close()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nodes", default="12,500", help="fleet sizes to time the page load for")
    ap.add_argument("--screenshots", type=Path, default=None, help="also write the docs' screenshots here")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as td, sync_playwright() as pw:
        tmp = Path(td)
        ctx = pw.chromium.launch_persistent_context(
            str(tmp / "profile"),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            print(f"dashboard bench, {args.repeat} runs each (min / median)")
            load12 = None
            for n in (int(x) for x in args.nodes.split(",")):
                folder = tmp / f"ne{n}"
                write_run_folder(folder, "ne", n_nodes=n)
                with start_dashboard([folder]) as dash:
                    api = measure_api(dash.url, args.repeat)
                    load = measure_load(ctx, dash.url, n, args.repeat)
                load12 = load if n == 12 else load12
                print(f"  load, {n:>5} nodes: {_stats(load)}   (floor: GET /api/runs/0 {_stats(api)})")
            upd = measure_update(ctx, tmp, args.repeat)
            print(f"  update delay:      {_stats(upd)}   (floor: poll interval {POLL_S * 1e3:.0f} ms, mean wait half)")
            if load12 is not None:
                print(
                    f"aim: load of 12 nodes < 1 s: {statistics.median(load12):.3f} s -> "
                    f"{'meets' if statistics.median(load12) < 1 else 'misses'} the aim"
                )
            print(
                f"aim: update < 1 s: {statistics.median(upd):.3f} s -> "
                f"{'meets' if statistics.median(upd) < 1 else 'misses'} the aim"
            )
            if args.screenshots is not None:
                for p in screenshots(ctx, tmp, args.screenshots):
                    print(f"wrote {p} ({p.stat().st_size // 1024} KiB)")
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
