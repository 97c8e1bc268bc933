"""Loss and epoch estimators of a variant (paper 004, Eq. 11-12 and Section III-D).

The paper treats γ̂_(a,q) (loss jump after quantization), γ̂^update + γ̂^run (per-epoch loss change ℓ)
and K̂_(a,q) (epochs to reach L_max) as given estimators, in an expected and a robust flavour
(Tables VI-VII). An instance provides them per variant; when ``epochs`` is absent, K̂ is "the least K"
with ``L_a + γ + K·ℓ < L_max`` (Eq. 12 solved for K in closed form, at least one epoch, at most
``MAX_EPOCHS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from edgetune.planner.instance import MAX_EPOCHS, Model, Variant

__all__ = ["Flavour", "VariantEstimate", "final_loss", "least_epochs", "variant_estimate"]

Flavour = Literal["expected", "robust"]
#: Most unit steps taken after the closed form of :func:`least_epochs` (rounding can move it by one or two).
_ROUNDING_STEPS = 8


def final_loss(l_a: float, gamma: float, delta: float, epochs: int) -> float:
    """Eq. 12 with a constant per-epoch change: ``L = L_a + γ + K·ℓ``.

    Parameters
    ----------
    l_a : float
        L_a, loss of the full-precision model.
    gamma : float
        γ_(a,q), loss jump caused by the quantization (may be ``inf``).
    delta : float
        ℓ = γ^update + γ^run, loss change per epoch (Eq. 11).
    epochs : int
        K, number of fine-tuning epochs.
    """
    return l_a + gamma + epochs * delta


def least_epochs(l_a: float, gamma: float, delta: float, l_max: float) -> int | None:
    """The least K >= 1 with ``L_a + γ + K·ℓ < L_max``, or ``None`` when no K <= ``MAX_EPOCHS`` reaches it.

    ``None`` is the paper's γ = ∞ case: an infinite jump, or a non-negative ℓ that starts above target;
    edgetune adds a third: a negative ℓ so small that more than :data:`~edgetune.planner.instance.MAX_EPOCHS`
    epochs would be needed. Closed form (Eq. 12 solved for K): with ``r = L_max - L_a - γ`` and ℓ < 0,
    ``K = floor(r / ℓ) + 1``, then at most a few unit steps fix floating-point rounding.

    Examples
    --------
    >>> least_epochs(0.0186, 0.004, -1.0e-4, 0.0186)   # 0.004 / 1e-4 = 40 epochs reach equality
    41
    >>> least_epochs(1.0, 0.0, -1e-300, 0.5) is None   # 5e299 epochs: beyond MAX_EPOCHS
    True
    """
    if math.isinf(gamma) or math.isnan(gamma):
        return None
    if final_loss(l_a, gamma, delta, 1) < l_max:
        return 1
    if not delta < 0:
        return None
    ratio = (l_max - l_a - gamma) / delta  # >= 1 here; may be huge or inf for a tiny ℓ
    if not ratio < MAX_EPOCHS:
        return None
    k = max(1, math.floor(ratio) + 1)
    for _ in range(_ROUNDING_STEPS):  # the closed form is off by at most a step or two from rounding
        if k > 1 and final_loss(l_a, gamma, delta, k - 1) < l_max:
            k -= 1
        elif not final_loss(l_a, gamma, delta, k) < l_max:
            k += 1
        else:
            break
    return k if k <= MAX_EPOCHS and final_loss(l_a, gamma, delta, k) < l_max else None


@dataclass(frozen=True)
class VariantEstimate:
    """The estimates of one variant under one flavour.

    Attributes
    ----------
    flavour : str
        ``"expected"`` or ``"robust"``.
    loss_jump : float
        γ̂_(a,q).
    epoch_delta : float
        ℓ̂ per epoch.
    epochs : int or None
        K̂ (``None``: the target is unreachable).
    final_loss : float or None
        L after K̂ epochs (Eq. 12), ``None`` when unreachable.
    reachable : bool
        Whether ``L_a + γ + K̂·ℓ < L_max`` holds.
    reason : str or None
        Why not reachable.
    """

    flavour: Flavour
    loss_jump: float
    epoch_delta: float
    epochs: int | None
    final_loss: float | None
    reachable: bool
    reason: str | None


def variant_estimate(model: Model, variant: Variant, l_max: float, flavour: Flavour) -> VariantEstimate:
    """Estimates of ``variant`` of ``model`` under the expected or robust estimators.

    Explicit ``epochs`` win over the least-K rule; they must still satisfy the loss condition of
    Eq. 13 (``L < L_max``), otherwise the variant is reported unreachable with the reason.
    """
    gamma = getattr(variant.loss_jump, flavour)
    delta = getattr(variant.epoch_loss_delta, flavour)
    label = f"{model.name} {variant.bits}-bit"
    if math.isinf(gamma):
        return VariantEstimate(flavour, gamma, delta, None, None, False, f"{label}: γ = ∞ (cannot reach L_max)")
    if variant.epochs is not None:
        k: int | None = int(getattr(variant.epochs, flavour))
    else:
        k = least_epochs(model.loss, gamma, delta, l_max)
        if k is None:
            return VariantEstimate(
                flavour,
                gamma,
                delta,
                None,
                None,
                False,
                f"{label}: no epoch count reaches L_max={l_max} ({flavour} ℓ={delta:g} >= 0)"
                if delta >= 0
                else f"{label}: more than MAX_EPOCHS={MAX_EPOCHS} epochs needed to reach L_max={l_max} "
                f"({flavour} ℓ={delta:g})",
            )
    assert k is not None
    loss = final_loss(model.loss, gamma, delta, k)
    if not loss < l_max:
        return VariantEstimate(
            flavour,
            gamma,
            delta,
            k,
            loss,
            False,
            f"{label}: {flavour} loss after K={k} epochs is {loss:.6g} >= L_max={l_max}",
        )
    return VariantEstimate(flavour, gamma, delta, k, loss, True, None)
