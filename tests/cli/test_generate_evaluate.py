"""``edgetune generate`` and ``edgetune evaluate`` on the tiny preset (offline, pre-trained 2 steps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgetune.cli.main import main
from edgetune.training.aggregate import FedSGD
from edgetune.training.finetuned import save_finetuned
from edgetune.training.local import local_gradient, trainable
from edgetune.training.lora import apply_lora
from edgetune.training.sources import resolve_model
from tests.training.helpers import offline_tiny_env

LINES = [f"The cat number {k} sat on a mat and the dog ran home." for k in range(30)]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    torch.set_num_threads(1)
    return offline_tiny_env(tmp_path, monkeypatch)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_generate_is_seeded(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--model", "tiny", "--prompt", "the cat", "--max-new-tokens", "8", "--threads", "1"]
    code, first, _ = _run([*argv, "--seed", "5"], capsys)
    assert code == 0 and first.startswith("the cat")
    assert _run([*argv, "--seed", "5"], capsys)[1] == first
    assert {_run([*argv, "--seed", str(s)], capsys)[1] for s in range(6, 10)} - {first}


def test_evaluate_txt_jsonl_folder(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("\n\n".join(LINES[:15]), encoding="utf-8")
    (data / "b.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in LINES[15:]), encoding="utf-8")
    results = {}
    for name, path in [("txt", data / "a.txt"), ("jsonl", data / "b.jsonl"), ("dir", data)]:
        code, out, _ = _run(["evaluate", "--model", "tiny", "--data", str(path), "--threads", "1"], capsys)
        assert code == 0 and len(out.strip().splitlines()) == 1
        results[name] = json.loads(out)
        assert set(results[name]) == {"loss", "loss_per_char", "perplexity", "tokens", "chars"}
    assert results["dir"]["chars"] == results["txt"]["chars"] + results["jsonl"]["chars"]
    assert results["txt"]["chars"] == sum(len(t) for t in LINES[:15])
    assert results["dir"]["perplexity"] == pytest.approx(2.718281828459045 ** results["dir"]["loss"])


@pytest.mark.slow
def test_evaluate_is_lower_after_finetuning(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "train.txt"
    text.write_text("\n\n".join(LINES), encoding="utf-8")
    pre = resolve_model("tiny")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = apply_lora(pre.model)
    stream = [t for ids in pre.tokenizer.encode_batch(LINES) for t in (*ids, pre.tokenizer.eos_id)]
    n = len(stream) // 32
    blocks = torch.tensor(stream[: n * 32]).view(n, 32)
    params = [p for _, p in trainable(model)]
    server = FedSGD()
    for _ in range(15):
        server.apply(params, local_gradient(model, params, blocks).update, 1e-2)
    save_finetuned(model, pre.tokenizer, tmp_path / "run" / "model", pre.info["source"])
    losses = []
    for m in ("tiny", str(tmp_path / "run")):
        code, out, _ = _run(["evaluate", "--model", m, "--data", str(text), "--threads", "1"], capsys)
        assert code == 0
        losses.append(json.loads(out)["loss"])
    assert losses[1] < losses[0] - 0.1
    code, out, _ = _run(
        ["generate", "--model", str(tmp_path / "run"), "--max-new-tokens", "5", "--threads", "1"], capsys
    )
    assert code == 0 and out.strip()


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["generate", "--model", "gpt5"], "--model='gpt5'"),
        (["generate", "--model", "tiny", "--max-new-tokens", "5000"], "--max-new-tokens=5000"),
        (["generate", "--model", "tiny", "--temperature", "-1"], "--temperature=-1.0"),
        (["evaluate", "--model", "tiny", "--data", "DATA/x.csv"], "--data="),
        (["evaluate", "--model", "tiny", "--data", "DATA/empty.txt"], "no text"),
        (["evaluate", "--model", "tiny", "--data", "DATA/latin1.txt"], "not UTF-8"),
        (["evaluate", "--model", "tiny", "--data", "DATA/empty.txt", "--max-tokens", "0"], "--max-tokens=0"),
        (["evaluate", "--model", "DATA", "--data", "DATA/ok.txt"], "--model="),
    ],
)
def test_bad_input_one_line_exit_2(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expect: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("a,b\n", encoding="utf-8")
    (data / "empty.txt").write_text("\n\n", encoding="utf-8")
    (data / "latin1.txt").write_bytes(b"caf\xe9\n")
    (data / "ok.txt").write_text("the cat sat", encoding="utf-8")
    argv = [a.replace("DATA", str(data)) for a in argv]
    code, out, err = _run([*argv, "--threads", "1"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and expect in err, err
    assert sorted(p.name for p in data.iterdir()) == ["empty.txt", "latin1.txt", "ok.txt", "x.csv"]
