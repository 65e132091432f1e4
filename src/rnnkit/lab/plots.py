"""The lab's figures, drawn from the reports' data (matplotlib's Agg backend, written atomically
through :func:`rnnkit.reporting.save_figure`)."""

from __future__ import annotations

from pathlib import Path

from ..reporting import pyplot, save_figure
from .gradients import GradientReport
from .memory import MemoryReport


def plot_gradients(report: GradientReport, path) -> Path:
    """Norm of dLoss/dh_t against the distance from the loss, log scale, one line per cell:
    at initialisation and after training; and the one-step Jacobian's spectral norm along the
    sequence."""
    plt = pyplot()
    stages = [s for s in ("init", "trained") if any(p.stage == s for p in report.profiles)]
    fig, axes = plt.subplots(1, len(stages) + 1, figsize=(5.2 * (len(stages) + 1), 4.2))
    colors = {}
    for ax, stage in zip(axes, stages):
        for p in report.profiles:
            if p.stage != stage:
                continue
            color = colors.setdefault(p.cell, f"C{len(colors)}")
            values = [v if v > 0 else float("nan") for v in p.dh]
            ax.semilogy(range(1, len(values) + 1), values, label=p.cell, color=color)
        title = "at initialisation" if stage == "init" else "after training"
        ax.set_title(f"|dLoss/dh_t| {title}")
        ax.set_xlabel("distance from the loss (steps)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("mean L2 norm over the batch")
    axes[0].legend(fontsize=8)
    ax = axes[-1]
    for p in report.profiles:
        style = "-" if p.stage == "init" else "--"
        color = colors.setdefault(p.cell, f"C{len(colors)}")
        ax.plot(range(1, len(p.jacobian) + 1), p.jacobian, style, color=color, lw=1)
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_yscale("log")
    ax.set_title("spectral norm of the one-step Jacobian\n(solid: init, dashed: trained)")
    ax.set_xlabel("step t")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_memory(report: MemoryReport, path) -> Path:
    """The cell x length grid of the test metric, each cell annotated with its value."""
    plt = pyplot()
    cells, lengths = report.cells, report.lengths
    metric = report.runs[0].metric_name if report.runs else "metric"
    grid = [[report.value(c, n) for n in lengths] for c in cells]
    values = [[float("nan") if v is None else v for v in row] for row in grid]
    fig, ax = plt.subplots(figsize=(1.1 * len(lengths) + 2.5, 0.55 * len(cells) + 1.8))
    cmap = "viridis_r" if metric == "mse" else "viridis"
    vmax = max(0.25, max((v for row in values for v in row if v == v), default=0.25))
    limits = (0.0, vmax) if metric == "mse" else (0.0, 1.0)
    image = ax.imshow(values, cmap=cmap, vmin=limits[0], vmax=limits[1], aspect="auto")
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v == v:  # dark text on the light end of the colour map
                light = (v - limits[0]) / (limits[1] - limits[0])
                light = 1 - light if metric == "mse" else light
                color = "k" if light > 0.6 else "w"
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(lengths)), [str(n) for n in lengths])
    ax.set_yticks(range(len(cells)), cells)
    what = "filler tokens" if report.settings.get("task") == "imdb-distance" else "length T"
    ax.set_xlabel(what)
    ax.set_title(f"{report.settings.get('task')}: test {metric}")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return save_figure(fig, path)
