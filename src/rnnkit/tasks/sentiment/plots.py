"""The sentiment task's figures: the training history (shared reporting) and the running
prediction after each word of a review."""

from __future__ import annotations

import numpy as np

from ...reporting import plot_history, pyplot, save_figure

__all__ = ["plot_history", "plot_trajectory", "trajectory_figure"]


WORDS_PER_ROW = 50  # a row of the --explain figure: 50 words, about 1,500 px wide
MAX_ROWS = 8  # at most 400 words drawn; the figure says how many were left out


def trajectory_figure(
    words: list[str], proba: np.ndarray, title: str = "", total_words: int | None = None
):
    """The running prediction after each word (a matplotlib ``Figure``), wrapped into rows of
    :data:`WORDS_PER_ROW` words so that a long review stays readable; at most
    :data:`MAX_ROWS` rows (the last words: those nearest the prediction). ``total_words``:
    the review's length when ``words`` are only its last words (the model reads at most
    ``maxlen - 1``); the figure says what was left out."""
    plt = pyplot()
    proba = np.asarray(proba, dtype=float)
    total = len(words) if total_words is None else total_words
    keep = min(len(words), WORDS_PER_ROW * MAX_ROWS)
    start = len(words) - keep  # index in `words` of the first word drawn
    first = total - len(words) + start  # ... and its position in the review
    rows = max(1, -(-keep // WORDS_PER_ROW))
    fig, axes = plt.subplots(rows, 1, figsize=(15.0, 0.6 + 2.3 * rows), squeeze=False)
    for r, ax in enumerate(axes[:, 0]):
        lo = start + r * WORDS_PER_ROW
        hi = min(lo + WORDS_PER_ROW, len(words))
        xs = np.arange(lo, hi) - start + first + 1  # word numbers in the review, from 1
        ax.plot(xs, proba[lo:hi], "-", color="0.3", lw=1)
        ax.scatter(xs, proba[lo:hi], c=proba[lo:hi], cmap="RdYlGn", vmin=0, vmax=1, s=18)
        ax.axhline(0.5, color="0.6", lw=0.8, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(xs[0] - 0.5, xs[0] + WORDS_PER_ROW - 0.5)
        ax.set_ylabel("P(positive)")
        ax.set_xticks(xs)
        ax.set_xticklabels(words[lo:hi], rotation=90, fontsize=7)
    heading = title or "running prediction after each word"
    if first > 0:
        heading += f"\n(words {first + 1}-{total} of {total} shown; the first {first} are left out)"
    axes[0, 0].set_title(heading, fontsize=10)
    fig.tight_layout()
    return fig


def plot_trajectory(
    words: list[str], proba: np.ndarray, path, title: str = "", total_words: int | None = None
) -> None:
    """:func:`trajectory_figure` written as a PNG (about 1,650 px wide, at most 8 rows)."""
    save_figure(trajectory_figure(words, proba, title, total_words), path)
