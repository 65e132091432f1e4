"""The language-model figure: validation (and training) perplexity against the epoch and
against the minutes of training, with the Kneser-Ney baseline as a line."""

from __future__ import annotations

from ...reporting import pyplot, save_figure

__all__ = ["plot_perplexity"]


def plot_perplexity(history: list[dict], path, baseline: float | None = None, title: str = ""):
    """Two panels (vs epoch, vs minutes) of the perplexities in ``history`` (the entries of
    :attr:`LanguageModel.history_`), saved to ``path``."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in (
        (axes[0], "epoch", "epoch"),
        (axes[1], "minutes", "minutes of training"),
    ):
        xs = [h[key] for h in history]
        ax.plot(xs, [h["train_perplexity"] for h in history], "o-", label="training (running)")
        valid = [(h[key], h["valid_perplexity"]) for h in history if "valid_perplexity" in h]
        if valid:
            ax.plot(*zip(*valid), "s--", label="validation")
        if baseline is not None:
            ax.axhline(baseline, color="0.5", ls=":", label=f"Kneser-Ney {baseline:.1f}")
        ax.set_xlabel(label)
        ax.set_ylabel("perplexity")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle(title or "perplexity")
    fig.tight_layout()
    return save_figure(fig, path)
