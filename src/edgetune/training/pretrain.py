"""The cloud's pre-training: a reproducible, cached causal-LM run on the Python documentation.

``edgetune pretrain`` (and the main job, on first use) trains a GPT-2-architecture model of a built-in
size on the pre-training corpus (:mod:`edgetune.training.corpus`) with the locally trained BPE
(:mod:`edgetune.training.tokenizer`). The artifact is content-addressed: its file name carries a hash
of the :class:`PretrainConfig` (seed included), the corpus text and the tokenizer, so a second run with
the same inputs loads it instead of training, and any change trains a new one.

Text: about ``corpus_chars`` characters sampled as every k-th paragraph of the whole documentation
(:func:`sample_paragraphs`). Schedule: AdamW, linear warm-up then cosine decay to 10 %, random
mini-batches of ``block_len``-token blocks drawn with a generator seeded from ``seed``. The torch
thread count is the caller's (``--threads``, default 2).

``smollm2-135m`` skips this step: its weights are already pre-trained (loaded from the GGUF file).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.errors import InputError
from edgetune.io import atomic_write_bytes, atomic_write_json, read_cache
from edgetune.training.corpus import default_cache_dir, pretrain_text
from edgetune.training.model import SIZES, SMOLLM2, build_gpt2, check_model_name, torch_seed
from edgetune.training.tokenizer import BPETokenizer, TextTokenizer, load_or_train_bpe

ProgressFn = Callable[[int, int, float], None]  # (step, steps, loss)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines the pre-trained artifact (all of it goes into the cache key)."""

    model: str = "small"
    vocab_size: int = 4096
    tokenizer_chars: int = 3_000_000
    corpus_chars: int = 2_000_000
    block_len: int = 64
    steps: int = 450
    batch_size: int = 16
    learning_rate: float = 3e-3
    warmup_steps: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        check_model_name(self.model)
        for name in ("vocab_size", "tokenizer_chars", "corpus_chars", "block_len", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(name, getattr(self, name), "must be positive")
        if self.model in SIZES and self.block_len > SIZES[self.model].n_positions:
            n_pos = SIZES[self.model].n_positions
            raise InputError("block_len", self.block_len, f"longer than the model's {n_pos} positions")
        if not self.learning_rate > 0:
            raise InputError("learning_rate", self.learning_rate, "must be positive")

    def key(self, *digests: str) -> str:
        """Content address: hash of this config and the given input digests."""
        h = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        for d in digests:
            h.update(d.encode())
        return h.hexdigest()[:16]


#: Default pre-training steps of the built-in sizes (``edgetune pretrain`` / ``edgetune finetune``):
#: about 2.5 minutes on two idle cores each (see docs/training.md, "Measured results").
DEFAULT_STEPS: dict[str, int] = {"tiny": 2000, "small": 450}


def default_pretrain_config(model: str, steps: int | None = None, seed: int = 0) -> PretrainConfig:
    """The main job's pre-training for ``model``: :data:`DEFAULT_STEPS` unless ``steps`` is given."""
    check_model_name(model)
    return PretrainConfig(model=model, steps=steps if steps is not None else DEFAULT_STEPS.get(model, 1), seed=seed)


@dataclass
class Pretrained:
    """A pre-trained model, its tokenizer and how it was obtained."""

    model: Any
    tokenizer: TextTokenizer
    info: dict[str, Any] = field(default_factory=dict)


def prepare_tokenizer(cfg: PretrainConfig, cache_dir: Path | None = None) -> BPETokenizer:
    """The cached BPE trained on the first ``tokenizer_chars`` characters of the pre-training text."""
    cache = cache_dir or default_cache_dir()
    return load_or_train_bpe(pretrain_text(cache), cfg.vocab_size, cache, cfg.tokenizer_chars)


def sample_paragraphs(text: str, max_chars: int) -> str:
    """About ``max_chars`` characters of ``text``: every k-th paragraph, spread over the whole text.

    The documentation is stored in page order (C API first); a prefix would pre-train mostly on C
    declarations, an even spread samples every part (tutorial, library reference, how-tos, FAQ).
    Deterministic; a text shorter than ``max_chars`` is returned whole.
    """
    if len(text) <= max_chars:
        return text
    paras = [p for p in text.split("\n\n") if p.strip()]
    stride = max(1, math.ceil(sum(len(p) + 2 for p in paras) / max_chars))
    return "\n\n".join(paras[::stride])[:max_chars]


def _lr_at(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
    return cfg.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def pretrain(cfg: PretrainConfig, cache_dir: Path | None = None, progress: ProgressFn | None = None) -> Pretrained:
    """The pre-trained model of ``cfg``: loaded from the cache, or trained and cached.

    Returns a model in training mode. ``info`` holds the cache path, whether it was a cache hit, the
    training loss curve and the seconds it took.
    """
    if cfg.model == SMOLLM2:
        raise InputError("model", SMOLLM2, "already pre-trained: load it with training.sources.resolve_model")
    import torch

    cache = cache_dir or default_cache_dir()
    tok = prepare_tokenizer(cfg, cache)
    text = sample_paragraphs(pretrain_text(cache).read_text(encoding="utf-8"), cfg.corpus_chars)
    text_digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    tok_digest = hashlib.sha256(tok.to_str().encode("utf-8")).hexdigest()[:16]
    key = cfg.key(text_digest, tok_digest)
    path = cache / f"pretrain-{cfg.model}-{key}.pt"
    meta_path = path.with_suffix(".json")
    rng = np.random.default_rng(cfg.seed)
    model = build_gpt2(cfg.model, tok.vocab_size, rng, tok.eos_id)

    def load_meta() -> dict[str, Any]:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        return meta

    def load_weights() -> bool:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return True

    had_entry = path.exists() or meta_path.exists()
    info = read_cache(meta_path, load_meta) if path.exists() else None
    if info is not None and read_cache(path, load_weights):
        info["cached"] = True
        return Pretrained(model, tok, info)
    meta_path.unlink(missing_ok=True)  # an entry is the weights and their meta: rebuilt together
    if had_entry:  # a corrupt entry (now removed) may have half-loaded: start again from the seeded model
        rng = np.random.default_rng(cfg.seed)
        model = build_gpt2(cfg.model, tok.vocab_size, rng, tok.eos_id)

    ids = [x for para in tok.encode_batch([p for p in text.split("\n\n") if p.strip()]) for x in (*para, tok.eos_id)]
    n_blocks = len(ids) // cfg.block_len
    if n_blocks < cfg.batch_size:
        raise InputError("corpus_chars", cfg.corpus_chars, "too little pre-training text for one batch")
    blocks = torch.tensor(ids[: n_blocks * cfg.block_len], dtype=torch.long).view(n_blocks, cfg.block_len)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01, betas=(0.9, 0.95))
    curve: list[float] = []
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(rng))
        for step in range(cfg.steps):
            for g in opt.param_groups:
                g["lr"] = _lr_at(step, cfg)
            mb = blocks[torch.from_numpy(rng.choice(n_blocks, size=cfg.batch_size, replace=False))]
            loss = model(input_ids=mb, labels=mb, use_cache=False).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            curve.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, cfg.steps, curve[-1])
    info = {
        "model": cfg.model,
        "config": asdict(cfg),
        "key": key,
        "corpus_tokens": len(ids),
        "trained_tokens": cfg.steps * cfg.batch_size * cfg.block_len,
        "loss_curve": curve,
        "seconds": time.perf_counter() - t0,
        "path": str(path),
    }
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(path, buf.getvalue())
    atomic_write_json(meta_path, info)
    info["cached"] = False
    return Pretrained(model, tok, info)
