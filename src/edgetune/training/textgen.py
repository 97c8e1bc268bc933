"""Using a (fine-tuned) model: seeded text generation and the loss on a text, per token and per character.

* :func:`generate_text`: a completion of a prompt. Sampling (temperature, top-k) draws from the
  global torch generator inside ``torch.random.fork_rng`` seeded with ``seed``, so the same seed
  gives the same text and the caller's random state is left alone; ``temperature = 0`` is greedy.
  An empty prompt starts from the end-of-text token, i.e. the model writes a fresh document.
* :func:`evaluate_documents`: the documents joined with end-of-text (as the training data is) and
  cut into blocks of ``block_len`` tokens (the tail block kept), at most ``max_tokens`` tokens; the
  mean cross-entropy over every predicted token, and the same loss per character
  (``loss * tokens / characters``, which compares models with different tokenizers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from edgetune.errors import InputError
from edgetune.training.corpus import Document
from edgetune.training.local import compute_precision
from edgetune.training.spec import MAX_EVAL_TOKENS, MAX_NEW_TOKENS
from edgetune.training.tokenizer import DecodingTokenizer

MAX_PROMPT_CHARS = 100_000


@dataclass(frozen=True)
class TextLoss:
    """Loss of a model on a text.

    Attributes
    ----------
    loss : float
        Mean cross-entropy, nats per predicted token.
    loss_per_char : float
        Nats per character of the text evaluated (``loss * tokens / chars``).
    perplexity : float
        ``exp(loss)``.
    tokens : int
        Tokens of the evaluated text (end-of-text separators included).
    chars : int
        Characters of the evaluated text.
    """

    loss: float
    loss_per_char: float
    perplexity: float
    tokens: int
    chars: int

    def to_json(self) -> dict[str, Any]:
        """As a plain dict (the ``edgetune evaluate`` line)."""
        return asdict(self)


def check_generation(max_new_tokens: int, temperature: float, prompt: str) -> None:
    """Bounds of :func:`generate_text` (:class:`InputError` naming the flag)."""
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise InputError("--max-new-tokens", max_new_tokens, f"must be between 1 and {MAX_NEW_TOKENS}")
    if not (0.0 <= temperature <= 5.0) or math.isnan(temperature):
        raise InputError("--temperature", temperature, "must be between 0 (greedy) and 5")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError("--prompt", f"{prompt[:20]}...", f"longer than {MAX_PROMPT_CHARS} characters")


@torch.no_grad()
def generate_text(
    model: Any,
    tokenizer: DecodingTokenizer,
    prompt: str = "",
    max_new_tokens: int = 64,
    seed: int = 0,
    temperature: float = 0.8,
    top_k: int = 50,
) -> str:
    """The completion of ``prompt`` (the new text only), seeded by ``seed`` (module docstring)."""
    check_generation(max_new_tokens, temperature, prompt)
    ids = tokenizer.encode_batch([prompt])[0] if prompt else []
    ids = [tokenizer.eos_id, *ids]
    x = torch.tensor([ids], dtype=torch.long)
    was_training = model.training
    model.eval()
    kwargs: dict[str, Any] = {"do_sample": False}
    if temperature > 0:
        kwargs = {"do_sample": True, "temperature": temperature, "top_k": top_k}
    try:
        with torch.random.fork_rng(devices=[]), compute_precision(model):
            torch.manual_seed(seed)
            out = model.generate(
                input_ids=x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=max_new_tokens,
                eos_token_id=tokenizer.eos_id,
                pad_token_id=tokenizer.eos_id,
                **kwargs,
            )
    finally:
        model.train(was_training)
    return tokenizer.decode(out[0, len(ids) :].tolist())


def token_stream(docs: Sequence[Document], tokenizer: DecodingTokenizer, max_tokens: int) -> tuple[list[int], int]:
    """Documents joined by end-of-text, at most ``max_tokens`` tokens; and their character count.

    Whole documents are taken in order while they fit; a first document longer than the budget is
    cut (its characters counted by decoding the kept tokens).
    """
    if not 2 <= max_tokens <= MAX_EVAL_TOKENS:
        raise InputError("--max-tokens", max_tokens, f"must be between 2 and {MAX_EVAL_TOKENS}")
    stream: list[int] = []
    chars = 0
    for doc in docs:
        ids = tokenizer.encode_batch([doc.text])[0]
        if len(stream) + len(ids) + 1 > max_tokens:
            if not stream:
                stream = [*ids[: max_tokens - 1], tokenizer.eos_id]
                chars = len(tokenizer.decode(stream))
            break
        stream += [*ids, tokenizer.eos_id]
        chars += len(doc.text)
    return stream, chars


@torch.no_grad()
def evaluate_documents(
    model: Any,
    tokenizer: DecodingTokenizer,
    docs: Sequence[Document],
    max_tokens: int = 8192,
    block_len: int = 128,
    micro_batch: int = 8,
) -> TextLoss:
    """Loss of ``model`` on ``docs`` (module docstring)."""
    stream, chars = token_stream(docs, tokenizer, max_tokens)
    if len(stream) < 2 or chars == 0:
        raise InputError("--data", len(docs), "too little text to evaluate")
    blocks = [stream[k : k + block_len] for k in range(0, len(stream), block_len)]
    if len(blocks) > 1 and len(blocks[-1]) < 2:
        blocks.pop()
    was_training = model.training
    model.eval()
    total, predicted = 0.0, 0
    try:
        by_len: dict[int, list[list[int]]] = {}
        for b in blocks:
            by_len.setdefault(len(b), []).append(b)
        for rows in by_len.values():
            for lo in range(0, len(rows), micro_batch):
                x = torch.tensor(rows[lo : lo + micro_batch], dtype=torch.long)
                with compute_precision(model):
                    out = model(input_ids=x, labels=x, use_cache=False)
                n = int(x.shape[0] * (x.shape[1] - 1))
                total += float(out.loss) * n
                predicted += n
    finally:
        model.train(was_training)
    loss = total / predicted
    return TextLoss(
        loss=loss,
        loss_per_char=loss * len(stream) / chars,
        perplexity=float(np.exp(loss)),
        tokens=len(stream),
        chars=chars,
    )


def chars_per_token(blocks: np.ndarray, tokenizer: DecodingTokenizer) -> float:
    """Characters per token of some token blocks (decoded without special tokens)."""
    n_chars = sum(len(tokenizer.decode(row.tolist())) for row in blocks)
    return n_chars / max(int(blocks.size), 1)
