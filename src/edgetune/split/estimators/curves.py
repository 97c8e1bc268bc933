"""Recorded fine-tuning loss curves per (model, bit-width, seed), cached on disk.

The protocol mirrors the JQODI paper (004, Sections III-C and V): the cloud pre-trains the
full-precision model M_a (here on Fashion-MNIST), quantizes it to b bits (the loss jumps by γ_(a,q)) and
the device fine-tunes it with QAT on its own data (here digits); L(k) is the validation loss after
epoch k (L(0): right after quantization, before any fine-tuning). Seeds change the batch order.

Definitions used by the tables and the instance (our reading, the paper leaves them open):

* L_a (the model's loss): the best full-precision fine-tuned validation loss, min_k of the seed-mean
  32-bit curve;
* γ_(a,q) = L_q(0) - L_a;
* K for a target L_max: the least k >= 1 with L(k) < L_max (∞ if the horizon ends first).

Curves are stored as JSON under :func:`default_cache_dir` keyed by the configuration's hash, so the
``estimate`` and ``profile`` commands record each curve once.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from edgetune.io import atomic_write_bytes, atomic_write_json, read_cache
from edgetune.split.config import RecordConfig
from edgetune.split.data import Split, cloud_split, device_split
from edgetune.split.models import SplitModel, make_model
from edgetune.split.quant import FULL_PRECISION_BITS
from edgetune.split.train import evaluate, fit, make_optimizer, train_epoch


def default_cache_dir() -> Path:
    """``$EDGETUNE_CACHE_DIR``, else ``$XDG_CACHE_HOME/edgetune/split``, else ``~/.cache/edgetune/split``."""
    if "EDGETUNE_CACHE_DIR" in os.environ:
        return Path(os.environ["EDGETUNE_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "edgetune" / "split"


@dataclass(frozen=True)
class Curve:
    """One recorded fine-tuning run: ``losses[k]`` = validation loss after epoch k (k = 0: before)."""

    model: str
    bits: int
    seed: int
    losses: list[float]
    accuracies: list[float]
    train_losses: list[float]
    host_seconds: float

    def epochs_to(self, target: float) -> float:
        """K: least k >= 1 with L(k) < target, ``inf`` if never within the horizon."""
        for k, loss in enumerate(self.losses[1:], start=1):
            if loss < target:
                return float(k)
        return math.inf


def build(model: str, bits: int, cfg: RecordConfig) -> SplitModel:
    """The model as :class:`RecordConfig` configures it."""
    return make_model(model, width=cfg.width, image_size=cfg.image_size, in_channels=cfg.in_channels, bits=bits)


def device_data(cfg: RecordConfig) -> Split:
    """The device's fine-tuning data (fixed by ``cfg.data_seed``)."""
    n_train, n_val = cfg.sizes()
    return device_split(np.random.default_rng(cfg.data_seed), n_train, n_val, cfg.in_channels, cfg.image_size)


def pretrained_state(model: str, cfg: RecordConfig, cache_dir: Path) -> dict[str, torch.Tensor]:
    """The cloud's full-precision pre-trained weights of ``model`` (Fashion-MNIST), cached."""
    path = cache_dir / f"pretrain-{model}-{cfg.key()}.pt"
    state: dict[str, torch.Tensor] | None = read_cache(path, lambda: torch.load(path, weights_only=True))
    if state is not None:
        return state
    rng = np.random.default_rng(cfg.data_seed)
    torch.manual_seed(cfg.data_seed)
    m = build(model, FULL_PRECISION_BITS, cfg)
    data = cloud_split(rng, cfg.pretrain_images, 500, cfg.in_channels, cfg.image_size)
    fit(m, data.x_train, data.y_train, cfg.pretrain_epochs, rng)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    atomic_write_bytes(path, buf.getvalue())
    return m.state_dict()


def record_curve(
    model: str, bits: int, seed: int, cfg: RecordConfig, cache_dir: Path, data: Split | None = None
) -> Curve:
    """Quantize the pre-trained ``model`` to ``bits`` and fine-tune it on the device data (cached)."""
    path = cache_dir / f"curve-{model}-{bits}-{seed}-{cfg.key()}.json"
    curve = read_cache(path, lambda: Curve(**json.loads(path.read_text())))
    if curve is not None:
        return curve
    state = pretrained_state(model, cfg, cache_dir)
    data = data if data is not None else device_data(cfg)
    torch.manual_seed(seed)
    m = build(model, bits, cfg)
    m.load_state_dict(state)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    # calibrate activation ranges on one training batch before measuring L(0)
    with torch.no_grad():
        m.train()(data.x_train[: cfg.batch_size])
    loss0, acc0 = evaluate(m, data.x_val, data.y_val)
    losses, accs, train_losses = [loss0], [acc0], []
    opt = make_optimizer(m.parameters())
    for _ in range(cfg.epochs):
        train_losses.append(train_epoch(m, opt, data.x_train, data.y_train, cfg.batch_size, rng))
        loss, acc = evaluate(m, data.x_val, data.y_val)
        losses.append(loss)
        accs.append(acc)
    curve = Curve(model, bits, seed, losses, accs, train_losses, time.perf_counter() - t0)
    atomic_write_json(path, asdict(curve))
    return curve


def record_curves(
    models: Iterable[str],
    bits: Iterable[int],
    seeds: Iterable[int],
    cfg: RecordConfig,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Curve]:
    """Curves for every (model, bits, seed); the 32-bit ones are always included (L_a needs them)."""
    cache = cache_dir or default_cache_dir()
    data = device_data(cfg)
    bit_list = sorted(set(bits) | {FULL_PRECISION_BITS})
    out = []
    for model in models:
        for b in bit_list:
            for seed in seeds:
                if progress:
                    progress(f"curve {model} {b}-bit seed {seed}")
                out.append(record_curve(model, b, seed, cfg, cache, data))
    return out


def model_loss(curves: list[Curve], model: str) -> float:
    """L_a: min over epochs of the seed-mean full-precision curve of ``model``."""
    fp = [c.losses for c in curves if c.model == model and c.bits == FULL_PRECISION_BITS]
    if not fp:
        raise ValueError(f"no 32-bit curve of {model}")
    return float(np.min(np.mean(np.array(fp), axis=0)))


def loss_jump(curve: Curve, l_a: float) -> float:
    """γ_(a,q) = L_q(0) - L_a."""
    return curve.losses[0] - l_a
