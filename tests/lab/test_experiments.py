"""The lab's measurements: the summaries against hand computation, the Jacobian view against
the Jacobian written out, and the experiments' reproducibility on tiny settings."""

from __future__ import annotations

import math
import re

import pytest
import torch

from rnnkit.lab import CellSpec, gradient_profiles, memory_experiment, specs
from rnnkit.lab.gradients import by_distance, decay_rate, jacobian_norms, summarize


def timeless(report) -> dict:
    """A report's data without its wall-clock times (which differ run to run)."""
    data = report.to_dict()
    for item in data.get("profiles", []) + data.get("runs", []):
        item.pop("train_seconds", None)
        item.pop("seconds", None)
    return data


def test_01_summary_of_a_geometric_decay():
    dh = [0.5**k for k in range(200)]  # distance k has 0.5^(k-1)
    s = summarize(dh)
    assert s["decay_per_step"] == pytest.approx(0.5)
    assert s["at"] == {"1": 1.0, "10": 0.5**9, "50": 0.5**49, "100": 0.5**99, "200": 0.5**199}
    assert s["below_floor_at"] == 21  # 0.5^20 < 1e-6 <= 0.5^19
    assert summarize([1.0, 0.9, 0.8])["below_floor_at"] is None
    assert summarize([1.0, 0.5])["at"]["10"] is None
    assert decay_rate([1.0, 0.0, 0.0]) is None  # zeros (underflow) are left out of the fit
    assert by_distance([1, 2, 3]) == [3, 2, 1]


def test_02_jacobian_of_the_tanh_rnn_by_hand():
    """h_t = tanh(x_t W_x + h_{t-1} W_h + b): dh_t/dh_{t-1} = diag(1 - h_t^2) W_h^T."""
    spec = CellSpec("rnn", "tanh")
    layer = spec.layer(6, input_shape=(None, 3))
    x = torch.randn(2, 5, 3)
    got = jacobian_norms(spec, layer, x, rows=2)
    W_x, W_h, b = (w.detach() for w in (layer.W_x, layer.W_h, layer.b))
    h = torch.zeros(2, 6)
    expected = []
    for t in range(5):
        h_new = torch.tanh(x[:, t] @ W_x + h @ W_h + b)
        if t > 0:
            J = torch.stack([torch.diag(1 - h_new[n] ** 2) @ W_h.t() for n in range(2)])
            expected.append(torch.linalg.matrix_norm(J, ord=2).mean().item())
        h = h_new
    assert got == pytest.approx(expected, rel=1e-5)


def test_03_gradient_profiles_are_reproducible_and_complete():
    options = dict(seq_len=12, units=4, batch=4, train_steps=2, activations="tanh", seed=5)
    a = gradient_profiles("rnn,lstm,gru", **options)
    b = gradient_profiles("rnn,lstm,gru", **options)
    assert timeless(a) == timeless(b)
    assert [(p.cell, p.stage) for p in a.profiles] == [
        (c, s) for c in ("rnn-tanh", "lstm", "gru") for s in ("init", "trained")
    ]
    lstm = a.profile("lstm")
    assert len(lstm.dh) == 12 and len(lstm.dc) == 12 and len(lstm.dx) == 12
    assert len(lstm.jacobian) == 11 and a.profile("gru").dc is None
    assert a.fall("rnn-tanh", 10) == pytest.approx(
        a.profile("rnn-tanh").dh[0] / a.profile("rnn-tanh").dh[10]
    )
    with pytest.raises(
        ValueError, match=re.escape("fall: `steps` expected at most 11, received 12.")
    ):
        a.fall("lstm", 12)


def test_04_specs_expand_the_variants():
    names = [
        s.name
        for s in specs(
            "rnn,lstm", "tanh,relu", recurrent_init="orthogonal,identity", forget_bias="0,1"
        )
    ]
    assert names == ["rnn-tanh", "rnn-relu", "rnn-relu-identity", "lstm-forget0", "lstm"]
    with pytest.raises(
        ValueError,
        match=re.escape("lab: `cells` expected one of 'rnn', 'lstm', 'gru', received 'cnn'"),
    ):
        specs("rnn,cnn")
    layer = CellSpec("rnn", "relu", "identity").layer(5, input_shape=(None, 2))
    assert torch.equal(layer.W_h.detach(), torch.eye(5))  # IRNN: W_h starts as the identity
    lstm = CellSpec("lstm", forget_bias=False).layer(3, input_shape=(None, 2))
    assert torch.equal(lstm.b.detach()[3:6], torch.zeros(3))  # the forget slice starts at 0


def test_04b_chrono_gate_init_is_a_variant_of_the_gated_cells():
    names = [s.name for s in specs("rnn,lstm,gru", forget_bias="0,1", gate_init="keras,chrono")]
    assert names == ["rnn-tanh", "lstm-forget0", "lstm", "lstm-chrono", "gru", "gru-chrono"]
    lstm = CellSpec("lstm", gate_init="chrono").layer(6, input_shape=(None, 2), max_length=40)
    f = lstm.b.detach()[6:12]  # log(u), u uniform on [1, 39]: not Keras's forget bias of 1
    assert bool((f >= 0).all() and (f <= math.log(39) + 1e-6).all()) and not torch.equal(
        f, torch.ones(6)
    )
    gru = CellSpec("gru", gate_init="chrono").layer(6, input_shape=(None, 2), max_length=40)
    assert bool((gru.b_x.detach()[:6] >= 0).all()) and float(gru.b_x.detach()[:6].sum()) > 0
    with pytest.raises(
        ValueError,
        match=re.escape(
            "CellSpec.layer: `max_length` expected the sequence length for 'chrono', received None (NoneType)."
        ),
    ):
        CellSpec("gru", gate_init="chrono").layer(6)
    with pytest.raises(
        ValueError,
        match=re.escape("lab: `gate_init` expected one of 'keras', 'chrono', received 'he'."),
    ):
        specs("lstm", gate_init="he")


@pytest.mark.parametrize("task,metric", [("adding", "mse"), ("recall", "accuracy")])
def test_05_memory_experiment_tiny(task, metric):
    options = dict(max_steps=3, units=4, batch=8, n_test=32, seed=2, clip="on,off")
    a = memory_experiment(task, [4, 6], "rnn,lstm", **options)
    b = memory_experiment(task, [4, 6], "rnn,lstm", **options)
    assert timeless(a) == timeless(b)  # a step budget: reproducible
    assert a.cells == ["rnn-tanh", "rnn-tanh-noclip", "lstm", "lstm-noclip"]
    assert a.lengths == [4, 6] and len(a.runs) == 8
    assert all(r.steps == 3 and r.metric_name == metric for r in a.runs)
    assert all(math.isfinite(r.metric) for r in a.runs)
    if task == "recall":
        assert all(r.baseline == 1 / 8 for r in a.runs)


def test_06_memory_experiment_on_imdb_distance(sample_only):
    r = memory_experiment(
        "imdb-distance",
        [0, 3],
        "gru",
        max_steps=2,
        units=4,
        batch=8,
        n_test=16,
        n_train=32,
        review_len=10,
        num_words=300,
    )
    assert [(x.cell, x.length) for x in r.runs] == [("gru", 0), ("gru", 3)]
    assert all(0 <= x.metric <= 1 and 0.5 <= x.baseline <= 1 for x in r.runs)


def test_07_a_cell_gets_the_same_weights_whatever_it_is_compared_with():
    """Seeds come from the cell's name, not its place in the list (before, adding a cell in
    front changed every later cell's weights and numbers)."""
    options = dict(activations="tanh", seq_len=10, units=4, batch=4, train_steps=0, seed=3)
    alone = gradient_profiles("lstm", **options).profile("lstm")
    among = gradient_profiles("rnn,gru,lstm", **options).profile("lstm")
    assert alone.dh == among.dh and alone.jacobian == among.jacobian
