"""Fig. 3 of the node-elimination paper: validation loss per epoch, NE against AR.

Epoch 0 is the loss of the pre-trained model before fine-tuning (Algorithm 1 line 2,
PRE_TRAINING_LOSS). A second panel plots the same losses against the run's (virtual) clock, which
shows both claims at once: similar loss, NE finishing sooner.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgetune.io import atomic_write_with

LABELS = {"ne": "Node Elimination (NE)", "ar": "All Resources (AR)"}
STYLES = {"ne": {"color": "tab:blue", "marker": "o"}, "ar": {"color": "tab:orange", "marker": "s"}}


def loss_series(record: Mapping[str, Any]) -> tuple[list[int], list[float], list[float]]:
    """(epochs, losses, end times) of a run record (JSON form), epoch 0 = pre-training loss at t = 0."""
    epochs, losses, times = [], [], []
    if record.get("pre_training_loss") is not None:
        epochs.append(0)
        losses.append(float(record["pre_training_loss"]))
        times.append(0.0)
    for ep in record["epochs"]:
        if ep.get("loss") is not None:
            epochs.append(int(ep["epoch"]))
            losses.append(float(ep["loss"]))
            times.append(float(ep["end_s"]))
    return epochs, losses, times


def plot_fig3(records: Mapping[str, Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Write Fig. 3 (loss per epoch; loss against time) for records keyed by policy name, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    unit = "virtual s"
    for name, rec in records.items():
        ep, loss, t = loss_series(rec)
        style = STYLES.get(name, {})
        label = LABELS.get(name, name)
        ax1.plot(ep, loss, label=label, **style)
        ax2.plot(t, loss, label=label, **style)
        if rec.get("time_base") == "wall":
            unit = "s"
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("validation cross-entropy (nats/token)")
    ax1.set_title("Loss per epoch")
    ax2.set_xlabel(f"time since distribution ({unit})")
    ax2.set_title("Loss against completion time")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        return atomic_write_with(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    finally:
        plt.close(fig)
