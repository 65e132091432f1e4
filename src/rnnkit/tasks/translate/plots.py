"""The translation task's figures: the attention map of one sentence (the training curves are
:func:`rnnkit.reporting.plot_history`'s)."""

from __future__ import annotations

import numpy as np

from ...reporting import pyplot, save_figure


def attention_figure(source: list[str], output: list[str], weights: np.ndarray, title: str = ""):
    """A heat map: one row per output token, one column per source token, the attention weight
    of each pair (rows sum to 1); source tokens unknown to the model end in ``?``."""
    plt = pyplot()
    rows, cols = max(len(output), 1), max(len(source), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.5 * cols, 1.2 + 0.45 * rows))
    image = ax.imshow(weights if len(output) else np.zeros((1, cols)), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)))
    ax.set_xticklabels(source, rotation=60, ha="right")
    ax.set_yticks(range(len(output)))
    ax.set_yticklabels(output)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    ax.set_title(title or "attention of each output token over the source", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def plot_attention(source, output, weights, path, title: str = ""):
    return save_figure(attention_figure(source, output, weights, title), path)
