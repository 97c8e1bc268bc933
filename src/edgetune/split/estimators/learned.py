"""Estimator (b): the JQODI paper's learned predictors — a small DNN for γ and an LSTM for K.

Paper 004, Section V-B and Appendix I (not in our copy): "two DNNs and an LSTM to estimate γ_(a,q),
γ^run, γ^update and K_(a,q)", one prediction per (model, bit-width) and data set. Our reading:

* **γ-DNN** (:class:`GammaNet`): an MLP from static features of the variant (model one-hot, bit-width
  features, log parameters, log MACs) to the loss jump γ_(a,q) = L_q(0) - L_a. The robust value adds the
  90 % quantile of the training residuals.
* **K-LSTM** (:class:`EpochLSTM`): an LSTM reads the first m epochs of the loss curve, normalised by the
  target (L(k)/L_max, log L(k)/L_max, ΔL(k)/L_max), together with static features, and outputs log K
  with two heads: the expected value (squared error) and the 90 % quantile (pinball loss) — K̂_exp and
  K̂_rob. Training samples come from the recorded curves at several targets each (every target gives
  its own K), curves that never reach a target are labelled 2 x horizon (censored) and a prediction
  beyond the horizon reads as ∞.
* γ^run + γ^update (the per-epoch ℓ) are not predicted separately: the instance derives ℓ from γ and K
  (:func:`edgetune.split.profiler.loss_terms`).

Training is full-batch Adam on CPU for a few hundred steps (seconds). Everything is seeded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from edgetune.split.estimators.curves import Curve
from edgetune.split.estimators.powerlaw import observed_epochs

QUANTILE = 0.9
TARGET_SCALES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0)
"""Targets per training curve, as multiples of the model's L_max (data augmentation)."""


def bit_features(bits: int) -> list[float]:
    """Bit-width features: b/32, log2(b)/5, 1/b."""
    return [bits / 32.0, math.log2(bits) / 5.0, 1.0 / bits]


def static_features(model: str, bits: int, models: Sequence[str]) -> list[float]:
    """Model one-hot + bit-width features."""
    return [1.0 if model == m else 0.0 for m in models] + bit_features(bits)


class GammaNet(nn.Module):
    """MLP: static features -> γ."""

    def __init__(self, n_in: int, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class EpochLSTM(nn.Module):
    """LSTM over the early curve + static features -> (log K̂_exp, log K̂_rob)."""

    def __init__(self, n_seq: int, n_static: int, hidden: int = 24) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_seq, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden + n_static, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, seq: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(seq)  # seq: (B, m, n_seq) -> h: (1, B, hidden)
        out = self.head(torch.cat([h[-1], static], dim=1))  # (B, 2)
        # the robust head is the expected head plus a non-negative margin
        return torch.stack([out[:, 0], out[:, 0] + nn.functional.softplus(out[:, 1])], dim=1)


def sequence_features(prefix: Sequence[float], target: float) -> np.ndarray:
    """(m, 3) features of epochs 1..m: L/target, log(L/target), ΔL/target."""
    arr = np.asarray(prefix, dtype=np.float64)
    ratio = arr[1:] / target
    delta = np.diff(arr) / target
    return np.stack([ratio, np.log(np.maximum(ratio, 1e-6)), delta], axis=1).astype(np.float32)


@dataclass
class LearnedEstimator:
    """The trained γ-DNN and K-LSTM for a family of models, prefix length and horizon."""

    models: tuple[str, ...]
    prefix: int
    horizon: int
    gamma_net: GammaNet
    gamma_margin: float
    gamma_scale: float
    lstm: EpochLSTM

    def gamma(self, model: str, bits: int) -> tuple[float, float]:
        """(expected, robust) γ for a variant."""
        x = torch.tensor([static_features(model, bits, self.models)], dtype=torch.float32)
        with torch.no_grad():
            g = float(self.gamma_net(x)[0]) * self.gamma_scale
        return g, g + self.gamma_margin

    def epochs(self, model: str, bits: int, prefix: Sequence[float], target: float) -> tuple[float, float]:
        """(K̂_exp, K̂_rob) from ``prefix`` = L(0..m); ∞ when beyond the horizon."""
        seen = observed_epochs(prefix, target)
        if math.isfinite(seen):
            return seen, seen
        seq = torch.from_numpy(sequence_features(prefix[: self.prefix + 1], target)).unsqueeze(0)
        static = torch.tensor([[*static_features(model, bits, self.models), prefix[0] / target]], dtype=torch.float32)
        with torch.no_grad():
            log_k = self.lstm(seq, static)[0]
        out = []
        for v in log_k.tolist():
            k = max(float(math.ceil(math.exp(v))), float(self.prefix + 1))
            out.append(k if k <= self.horizon else math.inf)
        return out[0], out[1]


def train_learned(
    curves: Sequence[Curve],
    targets: dict[str, float],
    l_a: dict[str, float],
    prefix: int,
    seed: int = 0,
    steps: int = 400,
) -> LearnedEstimator:
    """Train the γ-DNN and the K-LSTM on ``curves`` (targets[model] = that model's L_max)."""
    torch.manual_seed(seed)
    models = tuple(sorted({c.model for c in curves}))
    horizon = max(len(c.losses) - 1 for c in curves)
    # --- γ-DNN ---
    gx = torch.tensor([static_features(c.model, c.bits, models) for c in curves], dtype=torch.float32)
    gy_raw = np.array([c.losses[0] - l_a[c.model] for c in curves])
    scale = float(max(np.abs(gy_raw).max(), 1e-6))
    gy = torch.tensor(gy_raw / scale, dtype=torch.float32)
    gnet = GammaNet(gx.shape[1])
    opt = torch.optim.Adam(gnet.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(gnet(gx), gy).backward()
        opt.step()
    with torch.no_grad():
        resid = (gy - gnet(gx)).numpy() * scale
    margin = float(max(np.quantile(resid, QUANTILE), 0.0))
    # --- K-LSTM ---
    seqs, statics, labels = [], [], []
    for c in curves:
        for s in TARGET_SCALES:
            target = targets[c.model] * s
            k = c.epochs_to(target)
            if k <= prefix:
                continue  # already visible in the prefix: no prediction needed
            label = min(k, 2.0 * horizon)
            seqs.append(sequence_features(c.losses[: prefix + 1], target))
            statics.append([*static_features(c.model, c.bits, models), c.losses[0] / target])
            labels.append(math.log(label))
    lstm = EpochLSTM(3, len(models) + 4)
    if seqs:
        xs = torch.from_numpy(np.stack(seqs))
        xt = torch.tensor(statics, dtype=torch.float32)
        yl = torch.tensor(labels, dtype=torch.float32)
        opt = torch.optim.Adam(lstm.parameters(), lr=1e-2)
        for _ in range(steps):
            opt.zero_grad()
            out = lstm(xs, xt)
            err = yl - out[:, 1]
            pinball = torch.maximum(QUANTILE * err, (QUANTILE - 1) * err).mean()
            (nn.functional.mse_loss(out[:, 0], yl) + pinball).backward()
            opt.step()
    return LearnedEstimator(models, prefix, horizon, gnet, margin, scale, lstm)
