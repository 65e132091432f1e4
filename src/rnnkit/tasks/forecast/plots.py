"""The forecast figure: the history, each model's forecast, and the intervals of the best model
and of the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...reporting import pyplot, save_figure

STYLES = {
    "rnnkit": ("tab:red", "-"),
    "naive": ("tab:gray", ":"),
    "seasonal_naive": ("tab:olive", "--"),
    "drift": ("tab:brown", ":"),
    "ets": ("tab:blue", "-."),
    "arima": ("tab:green", "--"),
}


def plot_forecasts(
    history: np.ndarray,
    forecasts: dict,
    path,
    *,
    best: str | None = None,
    title: str = "",
    show_last: int | None = None,
    level: float = 80.0,
) -> Path:
    """Draw ``history`` (its last ``show_last`` values) and, after it, every model's forecast
    (``forecasts``: name -> object with ``mean``, ``lower``, ``upper``); the intervals of
    ``best`` and of ``"rnnkit"`` are shaded. Saved to ``path`` atomically."""
    plt = pyplot()
    history = np.asarray(history, dtype=np.float64)
    n = len(history)
    start = max(0, n - show_last) if show_last else 0
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(np.arange(start, n), history[start:], color="black", lw=1.2, label="history")
    for name, fc in forecasts.items():
        color, style = STYLES.get(name, ("tab:purple", "-"))
        steps = np.arange(n, n + len(fc.mean))
        label = f"{name} (best)" if name == best else name
        ax.plot(steps, fc.mean, color=color, ls=style, lw=1.6, label=label)
        if name == best or name == "rnnkit":
            ax.fill_between(steps, fc.lower, fc.upper, color=color, alpha=0.18, lw=0)
    ax.axvline(n - 0.5, color="gray", lw=0.8)
    ax.set_xlabel("period index")
    ax.set_title(title or f"forecasts with {level:g}% intervals (shaded: best model and rnnkit)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)
