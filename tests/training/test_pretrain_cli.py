"""Cached pre-training and the ``data`` / ``pretrain`` / ``finetune`` commands (offline, tiny)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgetune.cli.main import main
from edgetune.training.pretrain import (
    DEFAULT_STEPS,
    PretrainConfig,
    default_pretrain_config,
    pretrain,
    sample_paragraphs,
)


def test_pretrain_is_cached_by_config_and_seed(offline_corpora: Path) -> None:
    cfg = PretrainConfig(model="tiny", steps=3, batch_size=4, vocab_size=300)
    first = pretrain(cfg)
    assert first.info["cached"] is False and len(first.info["loss_curve"]) == 3
    second = pretrain(cfg)
    assert second.info["cached"] is True
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)
    other = pretrain(PretrainConfig(model="tiny", steps=3, batch_size=4, vocab_size=300, seed=1))
    assert other.info["key"] != first.info["key"]
    assert len(list(offline_corpora.glob("pretrain-tiny-*.pt"))) == 2


def test_sample_paragraphs_spreads_over_the_whole_text() -> None:
    text = "\n\n".join(f"para {k:03d} " + "x" * 20 for k in range(100))
    assert sample_paragraphs(text, len(text)) == text
    sample = sample_paragraphs(text, len(text) // 4)
    assert len(sample) <= len(text) // 4
    assert "para 000" in sample and "para 095" in sample and "para 001" not in sample
    assert sample_paragraphs(text, len(text) // 4) == sample


def test_default_pretrain_config_per_model() -> None:
    assert default_pretrain_config("small").steps == DEFAULT_STEPS["small"]
    assert default_pretrain_config("tiny").steps == DEFAULT_STEPS["tiny"]
    assert default_pretrain_config("tiny", steps=7, seed=3) == PretrainConfig(model="tiny", steps=7, seed=3)


SMALL_JOB = [
    "--model",
    "tiny",
    "--threads",
    "1",
    "--nodes",
    "4",
    "--epochs",
    "2",
    "--pretrain-steps",
    "2",
    "--train-tokens",
    "1024",
    "--val-tokens",
    "256",
    "--quiet",
]


def test_finetune_writes_records_and_figure(offline_corpora: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["finetune", *SMALL_JOB, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ar", "ar.json", "fig3.png", "ne", "ne.json", "summary.md"]
    for pol in ("ne", "ar"):  # a run folder per policy
        assert {"record.json", "spec.toml", "fleet.yaml", "epochs.jsonl", "epochs.csv"} <= {
            p.name for p in (out / pol).iterdir()
        }
        assert len((out / pol / "epochs.jsonl").read_text().splitlines()) == 2
    ne = json.loads((out / "ne.json").read_text())
    ar = json.loads((out / "ar.json").read_text())
    assert ne["policy"] == "ne" and ar["policy"] == "ar"
    assert ne["config"]["run"]["engine"] == "inprocess" and ne["time_base"] == "virtual"
    assert ne["status"] == "complete"
    assert ne["pre_training_loss"] == ar["pre_training_loss"]
    assert [len(e["active"]) for e in ar["epochs"]] == [4, 4]
    assert (out / "fig3.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["data", "prepare", "--quiet"]) == 0


@pytest.mark.parametrize(
    "bad",
    [
        ["--nodes", "0"],
        ["--setup", "huge"],
        ["--model", "gpt5"],
        ["--partition", "random"],
        ["--partition", "dirichlet", "--alpha", "-1"],
        ["--lr", "-0.1"],
        ["--local-steps", "0"],
        ["--optimizer", "lion"],
        ["--weights", "1,1,1,1,1"],
        ["--train-tokens", "10"],
        ["--epochs", "0"],
    ],
)
def test_bad_input_one_line_exit_2_no_output(
    bad: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["finetune", *bad, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgetune: error: ")
    assert not out.exists()
