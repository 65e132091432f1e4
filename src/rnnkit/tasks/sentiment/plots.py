"""The sentiment task's figures: the training history (shared reporting) and the running
prediction after each word of a review."""

from __future__ import annotations

import numpy as np

from ...reporting import plot_history, pyplot, save_figure

__all__ = ["plot_history", "plot_trajectory"]


def plot_trajectory(words: list[str], proba: np.ndarray, path, title: str = "") -> None:
    """The running prediction after each word, as a PNG."""
    plt = pyplot()
    width = min(max(6.0, 0.28 * len(words)), 40.0)
    fig, ax = plt.subplots(figsize=(width, 3.8))
    xs = np.arange(len(words))
    ax.plot(xs, proba, "-", color="0.3", lw=1)
    ax.scatter(xs, proba, c=proba, cmap="RdYlGn", vmin=0, vmax=1, s=18, zorder=3)
    ax.axhline(0.5, color="0.6", lw=0.8, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("P(positive)")
    ax.set_xticks(xs)
    ax.set_xticklabels(words, rotation=90, fontsize=7)
    ax.set_title(title or "running prediction after each word")
    fig.tight_layout()
    save_figure(fig, path)
