"""Issue 16, class 10: a corrupt training cache entry is one warning line and is rebuilt, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from edgetune.training.pretrain import PretrainConfig, pretrain

CFG = PretrainConfig(model="tiny", steps=2, batch_size=4, vocab_size=300)


def _warning(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("edgetune: warning")]
    assert len(err) == 1 and err[0].startswith(f"edgetune: warning: cache {path} is corrupt (")
    assert err[0].endswith("; rebuilding")


@pytest.mark.parametrize(
    ("which", "damage"),
    [
        ("pt", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])),  # truncated .pt
        ("pt", lambda p: p.write_bytes(b"garbage")),
        ("json", lambda p: p.write_text("{bad json")),
        ("json", lambda p: p.write_text("[]")),
        ("bpe", lambda p: p.write_text("garbage tokenizer")),
        ("bpe", lambda p: p.write_bytes(b"\xff\xfe\x00")),
    ],
)
def test_corrupt_cache_entry_is_rebuilt(
    which: str, damage: Callable[[Path], object], offline_corpora: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = pretrain(CFG)
    assert first.info["cached"] is False
    capsys.readouterr()
    path = {
        "pt": Path(first.info["path"]),
        "json": Path(first.info["path"]).with_suffix(".json"),
        "bpe": next(offline_corpora.glob("bpe-300-*.json")),
    }[which]
    damage(path)
    again = pretrain(CFG)
    _warning(capsys, path)
    for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)  # rebuilt to the same seeded weights
    assert pretrain(CFG).info["cached"] is True  # and cached again
    assert "warning" not in capsys.readouterr().err


def test_corrupt_pretraining_text_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgetune.training import corpus

    html = tmp_path / "html"
    (html / "library").mkdir(parents=True)
    (html / "library" / "os.html").write_text("<html><body><p>The os module.</p></body></html>")
    monkeypatch.setattr(corpus, "_pydoc_html_root", lambda cache, deb: html)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "pydoc.txt").write_bytes(b"\xff\xfe not utf-8")
    out = corpus.pretrain_text(cache)
    _warning(capsys, cache / "pydoc.txt")
    assert "The os module." in out.read_text(encoding="utf-8")
    assert corpus.pretrain_text(cache) == out and capsys.readouterr().err == ""
