"""Reports every task shares: classification metrics, a printed metrics table, training-history
plots, and figures saved atomically.

The metrics are scikit-learn's (``accuracy_score``, ``precision_score``, ...), computed once on
the whole set; :mod:`rnnkit.models.metrics` holds the per-batch metrics ``fit`` streams.
Figures are drawn with matplotlib's Agg backend (no display needed) and written through
:func:`rnnkit._files.atomic_write`: an interrupted run never leaves half a PNG, and the file gets
the permissions the umask allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from . import _files

CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def classification_metrics(labels, proba, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1 (label 1 when ``proba > threshold``) and ROC AUC of a
    binary classifier, as plain floats, with ``n`` the number of examples.

    ``roc_auc`` is None when ``labels`` hold one class only (it is undefined there).
    """
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    labels, proba = np.asarray(labels), np.asarray(proba)
    pred = (proba > threshold).astype("int64")
    return {
        "accuracy": float(accuracy_score(labels, pred)),
        "precision": float(precision_score(labels, pred, zero_division=0)),
        "recall": float(recall_score(labels, pred, zero_division=0)),
        "f1": float(f1_score(labels, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, proba)) if len(set(labels.tolist())) > 1 else None,
        "n": len(labels),
    }


def format_metrics(
    title: str, metrics: dict, keys: Iterable[str] = CLASSIFICATION_KEYS, count: str = "examples"
) -> str:
    """A title line, then one line per metric (``n/a`` for a missing or None value) and the
    number of examples ``metrics['n']`` (when present) labelled ``count``."""
    lines = [title]
    for key in keys:
        value = metrics.get(key)
        lines.append(f"  {key:<10} {value:.4f}" if value is not None else f"  {key:<10} n/a")
    if "n" in metrics:
        lines.append(f"  {count:<10} {metrics['n']:,}")
    return "\n".join(lines)


def print_metrics(
    title: str,
    metrics: dict,
    keys: Iterable[str] = CLASSIFICATION_KEYS,
    count: str = "examples",
    print_fn: Callable[[str], None] = print,
) -> None:
    """Print :func:`format_metrics` after a blank line (``print_fn`` lets tests capture it)."""
    print_fn("\n" + format_metrics(title, metrics, keys, count))


def save_figure(fig, path) -> Path:
    """Write the matplotlib figure ``fig`` to ``path`` (format from its suffix, PNG by default)
    atomically, then close it. Returns the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    try:
        with _files.atomic_write(path, "wb") as f:
            fig.savefig(f, format=fmt, dpi=110)
    finally:
        plt.close(fig)
    return path


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history_figure(
    history,
    keys: Iterable[str] | None = None,
    *,
    test: dict | None = None,
    kept_epoch: int | None = None,
):
    """The figure of :func:`plot_history` (a matplotlib ``Figure``, not yet saved).

    One panel per metric: the training curve, the validation curve when logged, the test
    figure (``test[key]``) as a star at the epoch whose weights were kept, and that epoch
    (``kept_epoch``, 1-based: the one ``EarlyStopping(restore_best_weights=True)`` restored,
    else the last) as a dotted line. Ticks fall on whole epochs for any number of them.
    """
    import matplotlib.ticker

    plt = pyplot()
    h = history.history
    if keys is None:
        keys = [k for k in h if not k.startswith("val_") and k != "learning_rate"]
    keys = list(keys)
    epochs = [e + 1 for e in history.epoch]
    last = epochs[-1] if epochs else 1
    kept = kept_epoch if kept_epoch is not None else last
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.5), squeeze=False)
    for ax, key in zip(axes[0], keys):
        ax.plot(epochs, h[key], "o-", label=f"train {key}")
        if f"val_{key}" in h:
            ax.plot(epochs, h[f"val_{key}"], "s--", label=f"validation {key}")
        if test is not None and key in test:
            ax.plot([kept], [test[key]], "*", ms=13, color="C3", label=f"test {test[key]:.4f}")
        if len(epochs) > 1 or kept_epoch is not None:
            ax.axvline(kept, color="0.5", ls=":", lw=1, label=f"kept: epoch {kept}")
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, max(last, kept) + 0.5)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_history(
    history,
    path,
    keys: Iterable[str] | None = None,
    *,
    test: dict | None = None,
    kept_epoch: int | None = None,
) -> Path:
    """One panel per metric of a :class:`~rnnkit.models.callbacks.History` (training, and
    validation when logged, against the epoch; the test figure and the epoch kept when
    given: see :func:`history_figure`), saved to ``path``.

    ``keys``: the metrics to draw (default: every logged metric except the learning rate and
    the ``val_`` ones, which are drawn beside their training metric).
    """
    return save_figure(history_figure(history, keys, test=test, kept_epoch=kept_epoch), path)
