"""rnnkit.reporting: metrics against scikit-learn and hand computation, the printed table,
history plots, figures written atomically under the umask."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from rnnkit import reporting
from rnnkit.models.callbacks import History


def test_1_classification_metrics_by_hand():
    labels, proba = [0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9]
    m = reporting.classification_metrics(labels, proba)
    # predictions 0, 1, 0, 1: one true positive, one false positive, one false negative
    assert m["accuracy"] == 0.5 and m["precision"] == 0.5 and m["recall"] == 0.5
    assert m["f1"] == 0.5
    # positives above negatives in 3 of the 4 (positive, negative) pairs
    assert m["roc_auc"] == 0.75 and m["n"] == 4
    one_class = reporting.classification_metrics([1, 1], [0.2, 0.9])
    assert one_class["roc_auc"] is None and one_class["accuracy"] == 0.5


def test_2_threshold_moves_the_labels_not_the_auc():
    rng = np.random.default_rng(0)
    labels, proba = rng.integers(0, 2, 200), rng.random(200)
    m = reporting.classification_metrics(labels, proba, threshold=0.3)
    assert m["accuracy"] == pytest.approx(float(np.mean((proba > 0.3) == labels)))
    assert m["roc_auc"] == reporting.classification_metrics(labels, proba)["roc_auc"]


def test_3_metrics_table_text():
    lines = []
    metrics = {"accuracy": 0.8, "precision": 0.75, "recall": 1.0, "f1": 0.857142, "n": 1234}
    reporting.print_metrics("Test set:", metrics, count="reviews", print_fn=lines.append)
    assert lines == [
        "\nTest set:\n"
        "  accuracy   0.8000\n"
        "  precision  0.7500\n"
        "  recall     1.0000\n"
        "  f1         0.8571\n"
        "  roc_auc    n/a\n"
        "  reviews    1,234"
    ]


def _history(**logs):
    h = History()
    for epoch in range(2):
        h.on_epoch_end(epoch, {k: v[epoch] for k, v in logs.items()})
    return h


def test_4_history_plot_has_a_panel_per_metric(tmp_path, monkeypatch):
    drawn = {}

    def capture(fig, path):
        drawn["titles"] = [ax.get_title() for ax in fig.axes]
        drawn["lines"] = [len(ax.get_lines()) for ax in fig.axes]

    monkeypatch.setattr(reporting, "save_figure", capture)
    h = _history(
        loss=[0.7, 0.5], accuracy=[0.5, 0.7], val_loss=[0.6, 0.55], learning_rate=[1e-3, 1e-3]
    )
    reporting.plot_history(h, tmp_path / "h.png")
    # train (+ validation) curves, and the dotted line at the epoch kept (the last here)
    assert drawn == {"titles": ["loss", "accuracy"], "lines": [3, 2]}
    reporting.plot_history(h, tmp_path / "h.png", keys=["learning_rate"])
    assert drawn["titles"] == ["learning_rate"]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_5_figures_written_atomically_with_the_umask(tmp_path, mask):
    """Old behaviour: sentiment's plots went through mkstemp, so every PNG was 0o600."""
    old = os.umask(mask)
    try:
        path = reporting.plot_history(_history(loss=[0.7, 0.5]), tmp_path / "sub" / "h.png")
    finally:
        os.umask(old)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in path.parent.iterdir()) == ["h.png"]  # no temporary left


def test_6_a_failed_figure_leaves_the_old_file(tmp_path):
    plt = reporting.pyplot()
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    fig = plt.figure()
    with pytest.raises(ValueError):
        reporting.save_figure(fig, tmp_path / "f.notaformat")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]


def test_6_one_epoch_has_whole_epoch_ticks():
    """Old behaviour (#19): after one epoch the x ticks read 0.945 ... 1.050."""
    h = History()
    h.on_epoch_end(0, {"loss": 0.7})
    fig = reporting.history_figure(h)
    ticks = [t for t in fig.axes[0].get_xticks() if 0.5 <= t <= 1.5]
    assert ticks == [1.0]
    assert fig.axes[0].get_xlim() == (0.5, 1.5)
    for n in (7, 40):
        h = History()
        for e in range(n):
            h.on_epoch_end(e, {"loss": 1 / (e + 1)})
        ticks = reporting.history_figure(h).axes[0].get_xticks()
        assert all(float(t).is_integer() for t in ticks) and len(ticks) <= 12


def test_7_test_figure_and_kept_epoch_are_marked():
    """Old behaviour (#19): training.png had no test figure and no sign of the epoch kept."""
    h = _history(loss=[0.7, 0.5], accuracy=[0.5, 0.7], val_accuracy=[0.6, 0.55])
    fig = reporting.history_figure(h, test={"accuracy": 0.62}, kept_epoch=1)
    loss_ax, acc_ax = fig.axes
    labels = [line.get_label() for line in acc_ax.get_lines()]
    assert labels == ["train accuracy", "validation accuracy", "test 0.6200", "kept: epoch 1"]
    star = acc_ax.get_lines()[2]
    assert list(star.get_xdata()) == [1] and list(star.get_ydata()) == [0.62]
    assert list(acc_ax.get_lines()[3].get_xdata()) == [1, 1]
    # no test loss was given: the loss panel has no star
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train loss", "kept: epoch 1"]
