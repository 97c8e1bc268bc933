"""Run folders for the dashboard tests (see runfolders.py; swap for ``edgetune run`` once it exists)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.runfolders import write_run_folder


@pytest.fixture(scope="session")
def ne_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A finished 12-node, 10-epoch NE run folder and its record (do not modify: shared)."""
    out = tmp_path_factory.mktemp("runs") / "ne"
    return out, write_run_folder(out, "ne")


@pytest.fixture(scope="session")
def ar_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The same fleet and seed under All Resources."""
    out = tmp_path_factory.mktemp("runs") / "ar"
    return out, write_run_folder(out, "ar")


@pytest.fixture
def live_run(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """An NE run folder with 9 of 10 epochs written and status "running" (a test appends the 10th)."""
    out = tmp_path / "live"
    return out, write_run_folder(out, "ne", written_epochs=9)
