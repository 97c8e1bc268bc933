"""HTML to text, fortunes parsing, the local BPE and its cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgetune.errors import InputError
from edgetune.training.corpus import FORTUNES_DIR, fortune_documents, html_to_text
from edgetune.training.tokenizer import BPETokenizer, load_or_train_bpe, train_bpe

PAGE = """<html><head><title>T</title><script>var x = 1;</script></head><body>
<div class="related" role="navigation"><a href="x">index</a></div>
<div class="body" role="main"><h1>Lists<a class="headerlink" href="#l">\u00b6</a></h1>
<p>A list is <em>mutable</em>.<br>Really &amp; truly.</p><pre>x = [1,   2]</pre></div>
<div class="footer">Copyright</div></body></html>"""


def test_html_to_text_keeps_body_only() -> None:
    text = html_to_text(PAGE)
    assert "Lists" in text and "A list is mutable." in text and "Really & truly." in text
    for chrome in ("index", "Copyright", "var x", "\u00b6"):
        assert chrome not in text


def test_fortune_files_parse(tmp_path: Path) -> None:
    (tmp_path / "wisdom").write_text("Be kind.\n%\nTwo\nlines.\n%\n", encoding="utf-8")
    (tmp_path / "wisdom.dat").write_bytes(b"\0\1")
    (tmp_path / "ascii-art").write_text("(o_o)\n%\n", encoding="utf-8")
    docs = fortune_documents(tmp_path)
    assert [(d.category, d.text) for d in docs] == [("wisdom", "Be kind."), ("wisdom", "Two\nlines.")]
    with pytest.raises(InputError):
        fortune_documents(tmp_path / "missing")


@pytest.mark.skipif(not FORTUNES_DIR.is_dir(), reason="Debian fortunes not installed (scripts/install-system.sh)")
def test_real_fortunes_corpus() -> None:
    docs = fortune_documents()
    assert len(docs) > 5000 and len({d.category for d in docs}) > 20


def test_bpe_roundtrip_and_cache(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n\n".join(f"def function_{k}(x):\n    return x + {k}" for k in range(300)), encoding="utf-8")
    tok = load_or_train_bpe(corpus, 300, tmp_path)
    assert tok.vocab_size == 300 and tok.eos_id == 0
    ids = tok.encode_batch(["return x + 7 ünïcode"])[0]
    assert tok.decode(ids) == "return x + 7 ünïcode"
    assert len(list(tmp_path.glob("bpe-300-*.json"))) == 1
    again = load_or_train_bpe(corpus, 300, tmp_path)
    assert again.to_str() == tok.to_str()
    assert isinstance(train_bpe(["a b c"] * 5, 260), BPETokenizer)
