"""Small, fast fixtures for the training tests: a character tokenizer, a synthetic domain corpus."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


def synthetic_data(
    seed: int = 0, train_tokens: int = 2048, val_tokens: int = 512, block_len: int = 32
) -> FinetuneData:
    """A fine-tuning split of the synthetic corpus with :class:`CharTokenizer`."""
    rng = np.random.default_rng(seed)
    docs = synthetic_docs(400, rng)
    cfg = DataConfig(block_len=block_len, train_tokens=train_tokens, val_tokens=val_tokens)
    return build_finetune_data(docs, CharTokenizer(), cfg, rng)


def tiny_model(seed: int = 0, vocab_size: int = CharTokenizer.vocab_size) -> object:
    """The ``tiny`` GPT-2 with a small vocabulary."""
    from edgetune.training.model import build_gpt2

    return build_gpt2("tiny", vocab_size, np.random.default_rng(seed))
