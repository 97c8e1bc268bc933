"""The page in a real browser: headless Debian Chromium driven by Playwright (never ``playwright install``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgetune.dashboard.server import start_dashboard
from tests.dashboard.runfolders import append_epoch

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} absent: apt-get install chromium (install.sh --dev)"
    ),
]


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e .[dev])")
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = ctx.new_page()
            page.errors = []  # type: ignore[attr-defined]
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            yield page
        finally:
            ctx.close()


def _state_set(page: Any, state: str) -> set[int]:
    ids = page.locator(f'svg.fleet [data-node-id][data-state="{state}"]').evaluate_all(
        "els => els.map(e => e.getAttribute('data-node-id'))"
    )
    return {int(i) for i in ids}


def test_live_page_follows_the_run(browser_page: Any, live_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    page = browser_page
    path, record = live_run
    with start_dashboard([path]) as dash:
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        # One node element per fleet node, each with an id and a state.
        assert page.locator("[data-node-id]").count() == len(record["nodes"]) == 12
        assert page.locator("[data-node-id]:not([data-state])").count() == 0
        assert page.get_attribute("body", "data-latest-epoch") == "9"

        # Go to epoch 5 with the keyboard on the slider.
        slider = page.locator("#epoch")
        slider.focus()
        page.keyboard.press("Home")
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        page.wait_for_selector("body[data-epoch='5']", timeout=5_000)
        out = set().union(*(set(e["eliminated"]) for e in record["epochs"][:5]))
        assert len(out) == 5
        assert _state_set(page, "eliminated") == out
        assert _state_set(page, "active") == set(record["nodes"]) - out
        cut_now = page.locator("svg.fleet [data-cut-now='true']").evaluate_all(
            "els => els.map(e => +e.getAttribute('data-node-id'))"
        )
        assert set(cut_now) == set(record["epochs"][4]["eliminated"])
        assert page.locator("#follow").is_checked() is False
        assert page.locator("table.nodes tbody tr").count() == 12

        # Follow again, then the run finishes epoch 10: the page shows it without a reload.
        page.locator("#follow").check()
        append_epoch(path, record["epochs"][9])
        page.wait_for_selector("body[data-latest-epoch='10'][data-epoch='10']", timeout=20_000)
        out10 = set().union(*(set(e["eliminated"]) for e in record["epochs"]))
        assert _state_set(page, "eliminated") == out10
        assert len(_state_set(page, "active")) == len(record["epochs"][9]["active"]) == 3
        assert page.locator("#epoch-label").inner_text() == "epoch 10 of 10"
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    assert page.errors == []


def test_two_runs_side_by_side(
    browser_page: Any, ne_run: tuple[Path, dict[str, Any]], ar_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    page = browser_page
    with start_dashboard([ne_run[0], ar_run[0]]) as dash:
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        assert page.locator("article.run").count() == 2
        ne, ar = page.locator("article.run").all()
        assert ne.locator("[data-node-id]").count() == ar.locator("[data-node-id]").count() == 12
        # Epoch 10: NE trained 3 nodes, AR all 12.
        assert ne.locator("[data-state='active']").count() == 3
        assert ar.locator("[data-state='active']").count() == 12
        assert page.locator("#chart-active .series").count() == 2
        page.screenshot(path=str(tmp_path / "ne-ar.png"), full_page=True)
    assert page.errors == []


def test_page_opened_before_the_run_writes_its_folder(
    browser_page: Any, live_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """``edgetune run --dashboard`` serves the folder first; the graph appears once the run writes it."""
    page = browser_page
    src, _ = live_run
    folder = tmp_path / "later"
    folder.mkdir()
    with start_dashboard([folder], check=False) as dash:
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        assert page.locator("[data-node-id]").count() == 0
        for name in ("fleet.yaml", "record.json", "epochs.jsonl"):  # the order a run writes them
            (folder / name).write_bytes((src / name).read_bytes())
        page.wait_for_selector("body[data-latest-epoch='9']", timeout=20_000)
        page.wait_for_function("() => document.querySelectorAll('[data-node-id]').length === 12", timeout=20_000)
        assert page.locator("article.run .policy").inner_text() == "NE"
    assert page.errors == []
