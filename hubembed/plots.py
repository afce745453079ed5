"""The model card's figures as PNG files: the training-loss curve, and a predicted-against-gold scatter that
evaluators draw (`Evaluator.figures`, e.g. stsb's).

matplotlib's object API with the Agg canvas (no pyplot, no global backend change, no display needed), imported
inside the functions so `import hubembed.plots` stays cheap. Same data, same bytes: no timestamps are embedded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

ASSETS = "assets"
LOSS_PNG = f"{ASSETS}/train_loss.png"
HELD_OUT_PNG = f"{ASSETS}/held_out_curve.png"
_METADATA = {"Software": None}  # no matplotlib version string: re-rendering with another version changes nothing


def _figure(width: float = 6.0, height: float = 4.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def loss_points(log_history: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """(step, training loss) pairs from a Trainer's log history (entries that carry a `loss`)."""
    return [(float(e["step"]), float(e["loss"])) for e in log_history if "loss" in e and "step" in e]


def loss_curve(log_history: Sequence[dict[str, Any]], path: str | Path, title: str = "Training loss") -> Path | None:
    """Draw training loss against step; None (and no file) when the log holds no loss."""
    points = loss_points(log_history)
    if not points:
        return None
    steps, losses = zip(*points)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(steps, losses, marker="o" if len(points) < 30 else None, markersize=3, linewidth=1.5, color="#1f77b4")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def held_out_curve(log_history: Sequence[dict[str, Any]], key: str, kept_step: int | None, path: str | Path) -> Path | None:
    """Draw the held-out score logged under `key` against step, the kept step marked; None when none was logged."""
    points = [(float(e["step"]), float(e[key])) for e in log_history if key in e and "step" in e]
    if not points:
        return None
    steps, values = zip(*points)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(steps, values, marker="o", markersize=3, linewidth=1.5, color="#2ca02c")
    if kept_step is not None:
        ax.axvline(kept_step, color="#d62728", linestyle="--", linewidth=1, label=f"kept: step {kept_step}")
        ax.legend(loc="lower right")
    ax.set_xlabel("step")
    ax.set_ylabel(key.removeprefix("eval_").replace("_cosine_", " ").replace("_", " "))
    ax.set_title("Held-out score during training")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def scatter(
    predicted: Sequence[float], gold: Sequence[float], path: str | Path, *, title: str, xlabel: str = "gold score",
    ylabel: str = "cosine similarity of the embeddings",
) -> Path:
    """Each item's predicted score (y) against its gold score (x), with the Spearman correlation in the title."""
    from scipy.stats import spearmanr

    if len(predicted) != len(gold) or not predicted:
        raise ValueError("a scatter needs as many predictions as gold scores, and at least one")
    rho = float(spearmanr(gold, predicted).statistic)
    fig = _figure(5.0, 5.0)
    ax = fig.add_subplot()
    ax.scatter(gold, predicted, s=6, alpha=0.35, color="#d62728", edgecolors="none")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\nSpearman {rho:.4f}, {len(gold)} pairs", fontsize=11)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata=_METADATA)
    return path
