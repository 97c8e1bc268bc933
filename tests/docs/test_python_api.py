"""docs/python-api.md: its snippet runs as written (tiny preset, own fleet file and text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgetune.cli.main import main
from tests.training.helpers import offline_tiny_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


@pytest.mark.slow
def test_python_api_snippet_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    offline_tiny_env(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert main(["fleet", "generate", "--nodes", "4", "--seed", "1", "--out", "my-fleet.yaml"]) == 0
    text = "\n\n".join(f"The cat number {k} sat on a mat, and the dog ran home." for k in range(600))
    Path("my-text.txt").write_text(text, encoding="utf-8")
    capsys.readouterr()
    exec(compile(snippet(), str(DOC), "exec"), {})
    out = capsys.readouterr().out.splitlines()
    match = re.fullmatch(r"held-out loss (\d+\.\d+) -> (\d+\.\d+)", out[0])
    assert match, out
    before, after = float(match[1]), float(match[2])
    assert after < before
    assert len(out) >= 2 and (tmp_path / "runs" / "mine" / "model" / "edgetune-model.json").is_file()
