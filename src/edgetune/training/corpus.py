"""The two text corpora, prepared offline from Debian packages.

* **Pre-training** (the cloud): the Python 3.11 documentation from the Debian package
  ``python3.11-doc``. ``scripts/install-system.sh`` downloads the ``.deb`` (``apt-get download``) into
  :data:`DEB_DIR`; :func:`pretrain_text` extracts it with ``dpkg -x`` into the cache, turns every HTML
  page into plain text (body only: no navigation, scripts or styles) and caches the result.
* **Fine-tuning domain** (the fleet): the Debian ``fortunes`` package (``/usr/share/games/fortunes``):
  one document per fortune, labelled with its category (the file it comes from), which the
  Dirichlet non-IID partition uses as its classes.

Nothing here touches the network: a missing package is reported with the set-up command to run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from edgetune.errors import InputError
from edgetune.io import atomic_write_text

#: Where ``scripts/install-system.sh`` puts downloaded ``.deb`` files (override: ``EDGETUNE_DEB_DIR``).
DEB_DIR = Path(os.environ.get("EDGETUNE_DEB_DIR", "/var/cache/edgetune/debs"))
PYDOC_PACKAGE = "python3.11-doc"
PYDOC_HTML = Path("usr/share/doc/python3.11/html")
FORTUNES_DIR = Path(os.environ.get("EDGETUNE_FORTUNES_DIR", "/usr/share/games/fortunes"))
#: Fortune files left out of the domain corpus: pictures made of characters are not language.
SKIP_FORTUNES = frozenset({"ascii-art", "art"})
SETUP_HINT = "run: bash scripts/install-system.sh (as root)"


def default_cache_dir() -> Path:
    """``$EDGETUNE_CACHE_DIR/training``, else ``$XDG_CACHE_HOME/edgetune/training`` (``~/.cache``)."""
    if "EDGETUNE_CACHE_DIR" in os.environ:
        return Path(os.environ["EDGETUNE_CACHE_DIR"]) / "training"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgetune" / "training"


@dataclass(frozen=True)
class Document:
    """One text of a corpus and its category (fortune file, documentation section)."""

    category: str
    text: str


# -- pre-training corpus: Python docs --------------------------------------------------------------
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})
_SKIP_CLASSES = frozenset({"sphinxsidebar", "related", "footer", "headerlink", "mobile-nav", "nav-content"})
_BLOCK = frozenset({"p", "div", "pre", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section"})


class _SphinxText(HTMLParser):
    """Visible text of a Sphinx HTML page, without navigation chrome."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._stack: list[bool] = []  # per open element: does it hide its content?
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        hide = tag in _SKIP_TAGS or bool(classes & _SKIP_CLASSES) or dict(attrs).get("role") == "navigation"
        self._stack.append(hide)
        self._hidden += hide
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or not self._stack:
            return
        self._hidden -= self._stack.pop()
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of one documentation page (blank-line separated blocks, spaces collapsed)."""
    parser = _SphinxText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\u00b6", "")
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def find_pydoc_deb(deb_dir: Path | None = None) -> Path | None:
    """The downloaded ``python3.11-doc`` ``.deb``, or ``None``."""
    for d in (deb_dir or DEB_DIR, default_cache_dir()):
        debs = sorted(Path(d).glob(f"{PYDOC_PACKAGE}_*.deb")) if Path(d).is_dir() else []
        if debs:
            return debs[-1]
    return None


def _pydoc_html_root(cache_dir: Path, deb_dir: Path | None) -> Path:
    """Extracted HTML tree: the installed package if present, else the ``.deb`` unpacked into the cache."""
    installed = Path("/") / PYDOC_HTML
    if (installed / "library").is_dir():
        return installed
    unpacked = cache_dir / "pydoc-root"
    if (unpacked / PYDOC_HTML / "library").is_dir():
        return unpacked / PYDOC_HTML
    deb = find_pydoc_deb(deb_dir)
    if deb is None:
        raise InputError("pre-training corpus", PYDOC_PACKAGE, f"package file not found in {DEB_DIR}; {SETUP_HINT}")
    if shutil.which("dpkg") is None:
        raise InputError("pre-training corpus", str(deb), "dpkg is needed to extract it")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pydoc-", dir=cache_dir))
    try:
        subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True, capture_output=True)
        if unpacked.exists():
            shutil.rmtree(unpacked)
        os.replace(tmp, unpacked)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return unpacked / PYDOC_HTML


def _check_text(path: Path) -> bool:
    """A cached text must be non-empty UTF-8 (a truncated or garbage file is rebuilt)."""
    if not path.read_text(encoding="utf-8").strip():
        raise ValueError("empty")
    return True


def pretrain_text(cache_dir: Path | None = None, deb_dir: Path | None = None) -> Path:
    """Path of the cached plain-text Python 3.11 documentation (built on first use).

    Pages are visited in sorted path order and separated by blank lines, so the file is reproducible.
    """
    cache = cache_dir or default_cache_dir()
    out = cache / "pydoc.txt"
    from edgetune.io import read_cache

    if read_cache(out, lambda: _check_text(out)) is not None:
        return out
    root = _pydoc_html_root(cache, deb_dir)
    texts = []
    for page in sorted(root.rglob("*.html")):
        rel = page.relative_to(root)
        if rel.parts[0].startswith("_") or rel.name in {"genindex.html", "py-modindex.html", "search.html"}:
            continue
        if rel.name.startswith("genindex"):
            continue
        text = html_to_text(page.read_text(encoding="utf-8", errors="replace"))
        if text:
            texts.append(text)
    atomic_write_text(out, "\n\n".join(texts) + "\n")
    return out


# -- fine-tuning corpus: fortunes ------------------------------------------------------------------
def fortune_documents(fortunes_dir: Path | None = None) -> list[Document]:
    """Every fortune of the Debian ``fortunes`` package, in file then file order.

    Raises
    ------
    InputError
        When the package is not installed.
    """
    root = fortunes_dir or FORTUNES_DIR
    files = sorted(p for p in root.glob("*") if p.is_file() and not p.suffix and p.name not in SKIP_FORTUNES)
    if not files:
        raise InputError("fine-tuning corpus", str(root), f"no fortune files; {SETUP_HINT}")
    docs: list[Document] = []
    for path in files:
        raw = path.read_text(encoding="utf-8", errors="replace")
        for chunk in re.split(r"^%\s*$", raw, flags=re.MULTILINE):
            text = chunk.strip("\n")
            if text.strip():
                docs.append(Document(category=path.name, text=text))
    return docs


def corpus_digest(paths_or_texts: list[str]) -> str:
    """Short content hash of some texts (cache keys)."""
    h = hashlib.sha256()
    for t in paths_or_texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]
