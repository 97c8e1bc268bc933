"""``edgetune testbed run``: bad input is one line and exit 2, before anything is built (no root needed)."""

from __future__ import annotations

import pytest

from edgetune.cli.main import main


@pytest.mark.parametrize(
    ("flag", "value", "shown"),
    [("--compute", "gpu", "--compute='gpu'"), ("--round-timeout-s", "0", "--round-timeout-s=0.0")],
)
def test_bad_testbed_flags_are_one_line(tmp_path, capsys, flag, value, shown):
    out = tmp_path / "run.json"
    rc = main(["testbed", "run", "--fleet", str(tmp_path / "missing.yaml"), "--out", str(out), flag, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith(f"edgetune: error: {shown}"), err
    assert not out.exists() and not out.with_suffix(".run").exists()
