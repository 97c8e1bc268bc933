"""Small, fast fixtures for the training tests: a character tokenizer, a synthetic domain corpus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from edgetune.training.corpus import Document
from edgetune.training.partition import DataConfig, FinetuneData, build_finetune_data

ALPHABET = "abcdefghijklmnopqrstuvwxyz .,!?\n"
WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "big", "red", "house", "and", "then", "slept"]


class CharTokenizer:
    """One id per character of :data:`ALPHABET`; id 0 is end-of-text."""

    vocab_size = len(ALPHABET) + 1
    eos_id = 0

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [[ALPHABET.index(c) + 1 for c in t if c in ALPHABET] for t in texts]


def synthetic_docs(n: int, rng: np.random.Generator, categories: int = 3) -> list[Document]:
    """Short sentences from a tiny vocabulary (learnable), spread over a few categories."""
    docs = []
    for k in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(6, 14)))
        docs.append(Document(category=f"c{k % categories}", text=" ".join(words) + "."))
    return docs


def synthetic_data(seed: int = 0, train_tokens: int = 2048, val_tokens: int = 512, block_len: int = 32) -> FinetuneData:
    """A fine-tuning split of the synthetic corpus with :class:`CharTokenizer`."""
    rng = np.random.default_rng(seed)
    docs = synthetic_docs(400, rng)
    cfg = DataConfig(block_len=block_len, train_tokens=train_tokens, val_tokens=val_tokens)
    return build_finetune_data(docs, CharTokenizer(), cfg, rng)


def tiny_model(seed: int = 0, vocab_size: int = CharTokenizer.vocab_size) -> object:
    """The ``tiny`` GPT-2 with a small vocabulary."""
    from edgetune.training.model import build_gpt2

    return build_gpt2("tiny", vocab_size, np.random.default_rng(seed))


FORTUNE_WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "the", "dog", "ran", "home", "fast"]


def offline_tiny_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache with a small pre-training text and fortunes folder; ``tiny`` pre-trains 2 steps.

    Returns the training cache folder. The ``tiny`` preset then resolves in about a second.
    """
    from edgetune.training import corpus, pretrain

    cache = Path(tmp_path) / "cache"
    (cache / "training").mkdir(parents=True)
    paras = [" ".join(FORTUNE_WORDS[(k * 5 + j) % len(FORTUNE_WORDS)] for j in range(40)) for k in range(200)]
    (cache / "training" / "pydoc.txt").write_text("\n\n".join(paras), encoding="utf-8")
    fort = Path(tmp_path) / "fortunes"
    fort.mkdir()
    for cat in ("wisdom", "work"):
        (fort / cat).write_text(
            "".join(f"The {cat} cat number {k} sat on a mat.\n%\n" for k in range(120)), encoding="utf-8"
        )
    monkeypatch.setenv("EDGETUNE_CACHE_DIR", str(cache))
    monkeypatch.setattr(corpus, "FORTUNES_DIR", fort)
    monkeypatch.setitem(pretrain.DEFAULT_STEPS, "tiny", 2)
    return cache / "training"
