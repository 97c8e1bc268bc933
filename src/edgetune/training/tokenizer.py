"""Tokenizers that work offline.

* :class:`BPETokenizer`: a byte-level BPE trained locally with ``tokenizers`` on the pre-training
  corpus (the cloud's text; the domain corpus is never seen), saved as JSON in the cache and keyed by
  the corpus content and the vocabulary size, so a second run loads it.
* :class:`HFTokenizer`: wraps the tokenizer shipped inside a GGUF file (SmolLM2-135M).

Both expose :meth:`encode_batch`, :attr:`vocab_size` and :attr:`eos_id`, all the data pipeline needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from edgetune.io import atomic_write_text, read_cache

EOS = "<|endoftext|>"


class TextTokenizer(Protocol):
    """What the data pipeline needs from a tokenizer."""

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        ...

    @property
    def eos_id(self) -> int:
        """Id of the end-of-text token placed between documents."""
        ...

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of every text (no special tokens added)."""
        ...


class DecodingTokenizer(TextTokenizer, Protocol):
    """A :class:`TextTokenizer` that also turns ids back into text (generation, characters per token)."""

    def decode(self, ids: Sequence[int]) -> str:
        """Text of some ids (special tokens left out)."""
        ...


class BPETokenizer:
    """A byte-level BPE (``tokenizers.Tokenizer``) with an end-of-text token."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok

    @property
    def vocab_size(self) -> int:
        """Vocabulary size including the special token."""
        return int(self.tok.get_vocab_size())

    @property
    def eos_id(self) -> int:
        """Id of ``<|endoftext|>``."""
        return int(self.tok.token_to_id(EOS))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text."""
        return [e.ids for e in self.tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of some ids."""
        return str(self.tok.decode(list(ids)))

    def to_str(self) -> str:
        """JSON serialisation."""
        return str(self.tok.to_str())

    @classmethod
    def from_file(cls, path: str | Path) -> BPETokenizer:
        """Load a saved tokenizer JSON."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)))


def train_bpe(texts: Iterable[str], vocab_size: int) -> BPETokenizer:
    """Train a byte-level BPE of ``vocab_size`` ids (deterministic for the same texts)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return BPETokenizer(tok)


def _checked(tok: BPETokenizer, vocab_size: int) -> BPETokenizer:
    """A cached tokenizer must have the vocabulary it was keyed by (else the file is not ours)."""
    if tok.vocab_size != vocab_size:
        raise ValueError(f"vocabulary of {tok.vocab_size} ids, expected {vocab_size}")
    return tok


def load_or_train_bpe(
    corpus_path: Path, vocab_size: int, cache_dir: Path, max_chars: int | None = None
) -> BPETokenizer:
    """The cached BPE for this corpus file and size, trained (and saved atomically) on first use.

    Parameters
    ----------
    corpus_path : Path
        Plain-text training corpus (the pre-training text).
    vocab_size : int
    cache_dir : Path
    max_chars : int, optional
        Train on the first ``max_chars`` characters only (faster; part of the cache key).
    """
    text = corpus_path.read_text(encoding="utf-8")
    if max_chars is not None:
        text = text[:max_chars]
    key = hashlib.sha256(f"{vocab_size}\0".encode() + text.encode("utf-8")).hexdigest()[:16]
    path = cache_dir / f"bpe-{vocab_size}-{key}.json"
    cached = read_cache(path, lambda: _checked(BPETokenizer.from_file(path), vocab_size))
    if cached is not None:
        return cached
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    tok = train_bpe(paragraphs, vocab_size)
    atomic_write_text(path, tok.to_str())
    return tok


class HFTokenizer:
    """A ``transformers`` tokenizer (e.g. loaded from a GGUF file) behind :class:`TextTokenizer`."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok

    @property
    def vocab_size(self) -> int:
        """``len(tokenizer)``."""
        return len(self.tok)

    @property
    def eos_id(self) -> int:
        """The tokenizer's end-of-sequence id."""
        return int(self.tok.eos_token_id)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens."""
        out: list[list[int]] = self.tok(list(texts), add_special_tokens=False)["input_ids"]
        return out

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of some ids (special tokens left out by default)."""
        return str(self.tok.decode(list(ids), skip_special_tokens=skip_special_tokens))
