"""The autotuner (rnnkit.kernels.autotune) and dispatch's use of it for impl='auto'.

No test depends on real timing: a fake clock advances only when a candidate "spends" time,
so a chosen candidate wins deterministically. The suite runs with RNNKIT_AUTOTUNE=0
(tests/conftest.py); the ``tuned`` fixture switches it on with a fresh tuner and fake clock.
"""

from __future__ import annotations

import json

import pytest
import torch

from rnnkit.kernels import _ext, autotune, dispatch, native
from rnnkit.kernels import lstm as lstm_kernel

compiled = pytest.mark.skipif(
    _ext.load() is None, reason="rnnkit's compiled loops are not built here (no C++ compiler)"
)


class FakeClock:
    """Seconds that pass only when a candidate spends them."""

    def __init__(self):
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def tuned(monkeypatch, tmp_path, clock):
    """Autotuning on, with a fresh tuner (fake clock, cache file in tmp_path)."""
    monkeypatch.setenv(autotune.ENV, "1")
    tuner = autotune.Tuner(tmp_path / "autotune.json", clock=clock)
    old = autotune.set_tuner(tuner)
    yield tuner
    autotune.set_tuner(old)


def key(**overrides) -> autotune.Key:
    values = dict(
        cell="lstm",
        mode="train",
        batch=64,
        length=128,
        hidden=128,
        input="ids:128",
        threads=1,
        dtype="float32",
    )
    return autotune.Key(**(values | overrides))


def spender(clock, seconds, calls):
    def run():
        calls.append(seconds)
        clock.spend(seconds)

    return run


# -- 1. the tuner on its own -------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, expected", [(0, 0), (1, 1), (2, 2), (3, 2), (63, 32), (64, 64), (200, 128)]
)
def test_1_bucket_rounds_down_to_a_power_of_two(n, expected):
    assert autotune.bucket(n) == expected


def test_2_key_of_reads_the_gradient_mode_and_threads():
    with torch.no_grad():
        k = autotune.Key.of("gru", 65, 200, 32, "16", torch.float64)
    assert k == autotune.Key("gru", "infer", 64, 128, 32, "16", torch.get_num_threads(), "float64")
    assert autotune.Key.of("lstm", 1, 1, 4, "ids:8", torch.float32).mode == "train"


@pytest.mark.parametrize("winner", ["a", "b"])
def test_3_the_fastest_candidate_wins_and_is_remembered(clock, winner):
    tuner = autotune.Tuner(None, clock=clock)
    calls = {"a": [], "b": []}
    times = {"a": 0.002 if winner == "a" else 0.003, "b": 0.003 if winner == "a" else 0.002}
    candidates = {c: spender(clock, times[c], calls[c]) for c in "ab"}
    assert tuner.choose(key(), candidates) == winner
    measured = sum(len(v) for v in calls.values())
    assert measured >= 4  # a warm-up and at least one timed round each
    # the second call of the class reuses the decision: no candidate runs
    assert tuner.choose(key(), candidates) == winner
    assert sum(len(v) for v in calls.values()) == measured
    # another class is measured on its own
    assert tuner.choose(key(batch=1), candidates) == winner
    assert sum(len(v) for v in calls.values()) > measured
    assert [d["key"] for d in tuner.report()] == sorted([str(key()), str(key(batch=1))])


def test_4_rounds_stop_when_the_budget_is_spent(clock):
    tuner = autotune.Tuner(None, clock=clock, budget_s=0.09, max_rounds=50)
    calls = {"a": [], "b": []}
    candidates = {"a": spender(clock, 0.03, calls["a"]), "b": spender(clock, 0.02, calls["b"])}
    assert tuner.choose(key(), candidates) == "b"
    # warm-up, then rounds of 50 ms until 90 ms are spent: 2 timed rounds
    assert len(calls["a"]) == len(calls["b"]) == 3


def test_5_a_candidate_far_slower_in_warm_up_is_not_timed_again(clock):
    tuner = autotune.Tuner(None, clock=clock)
    calls = {"slow": [], "fast": []}
    candidates = {
        "slow": spender(clock, 1.0, calls["slow"]),
        "fast": spender(clock, 0.01, calls["fast"]),
    }
    assert tuner.choose(key(), candidates) == "fast"
    assert len(calls["slow"]) == 1  # its warm-up only
    assert tuner.decisions[str(key())]["times_ms"]["slow"] == 1000.0


def test_6_one_candidate_is_chosen_without_timing(clock):
    tuner = autotune.Tuner(None, clock=clock)
    calls = []
    assert tuner.choose(key(), {"only": spender(clock, 1.0, calls)}) == "only"
    assert calls == [] and tuner.decisions == {}


def test_7_a_remembered_choice_that_is_not_a_candidate_now_is_measured_again(clock):
    tuner = autotune.Tuner(None, clock=clock)
    tuner.choose(key(), {"a": lambda: clock.spend(1), "b": lambda: clock.spend(2)})
    calls = []
    choice = tuner.choose(key(), {"b": spender(clock, 0.2, calls), "c": spender(clock, 0.1, calls)})
    assert choice == "c" and calls


# -- 2. the disk cache -------------------------------------------------------------------------
def test_8_the_disk_cache_round_trips(tmp_path, clock):
    path = tmp_path / "cache" / "autotune.json"
    first = autotune.Tuner(path, clock=clock)
    assert first.choose(key(), {"a": lambda: clock.spend(2), "b": lambda: clock.spend(1)}) == "b"
    data = json.loads(path.read_text())
    assert data["format"] == autotune.FORMAT
    assert data["torch"] == torch.__version__
    assert data["decisions"][str(key())]["choice"] == "b"
    # a new process (a new tuner) reads the decision: nothing runs
    second = autotune.Tuner(path, clock=clock)
    never = {"a": pytest.fail, "b": pytest.fail}
    assert second.choose(key(), never) == "b"
    assert second.report() == [
        {"key": str(key()), "choice": "b", "times_ms": data["decisions"][str(key())]["times_ms"]}
    ]


@pytest.mark.parametrize(
    "text",
    ["{not json", "[]", '{"format": 999, "decisions": {}}', '{"format": 1, "decisions": {"k": 3}}'],
)
def test_9_a_corrupt_cache_is_ignored_with_a_warning_then_replaced(tmp_path, clock, text):
    path = tmp_path / "autotune.json"
    path.write_text(text)
    tuner = autotune.Tuner(path, clock=clock)
    with pytest.warns(RuntimeWarning, match="rnnkit autotune: ignoring the unreadable cache"):
        choice = tuner.choose(key(), {"a": lambda: clock.spend(1), "b": lambda: clock.spend(2)})
    assert choice == "a"
    assert json.loads(path.read_text())["decisions"][str(key())]["choice"] == "a"


def test_10_the_cache_file_is_named_by_cpu_and_torch(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path))
    path = autotune.default_path()
    assert path.parent == tmp_path / "autotune"
    assert path.name.endswith(f"-torch{torch.__version__.replace('+', '-')}.json")


def test_11_rnnkit_autotune_0_switches_it_off(monkeypatch):
    monkeypatch.setenv(autotune.ENV, "0")
    assert not autotune.enabled()
    monkeypatch.setenv(autotune.ENV, "1")
    assert autotune.enabled()
    monkeypatch.delenv(autotune.ENV)
    assert autotune.enabled()  # on by default


# -- 3. dispatch: the embedding lookup against PyTorch's fused LSTM ------------------------------
def ids_args(N=8, T=6, V=20, D=5, H=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (N, T), generator=g)
    ids[:, :2] = 0  # padding in front
    E = torch.randn(V, D, generator=g).requires_grad_()
    W_x = (0.5 * torch.randn(D, 4 * H, generator=g)).requires_grad_()
    W_h = (0.5 * torch.randn(H, 4 * H, generator=g)).requires_grad_()
    b = torch.zeros(4 * H).requires_grad_()
    return E, ids, (W_x, W_h, b)


def slow(monkeypatch, module, name, clock, seconds=1.0):
    """Make ``module.name`` spend ``seconds`` of fake time per call; returns its call count."""
    original = getattr(module, name)
    count = []

    def wrapped(*args, **kwargs):
        count.append(1)
        clock.spend(seconds)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)
    return count


def applies(E, ids, weights, **kw):
    return dispatch.lookup_applies(
        cell="lstm", impl="auto", input_dropout=False, E=E, ids=ids, weights=weights, **kw
    )


@compiled
@pytest.mark.parametrize("slower, expected", [("lookup", False), ("native", True)])
def test_12_auto_takes_the_faster_of_lookup_and_native(monkeypatch, tuned, clock, slower, expected):
    E, ids, weights = ids_args()
    if slower == "lookup":
        slow(monkeypatch, lstm_kernel, "lstm_lookup", clock)
    else:
        slow(monkeypatch, native, "lstm", clock)
    assert applies(E, ids, weights, native_ok=True) is expected
    [decision] = tuned.report()
    assert decision["choice"] == ("lookup" if expected else "native")
    assert "in:ids:5/rep" in decision["key"] and " train " in f" {decision['key']} "
    # the weights' gradients were not touched by the timing calls
    assert all(w.grad is None for w in (E, *weights))


@compiled
def test_13_without_autotuning_the_fixed_rule_decides(monkeypatch, tuned, clock):
    monkeypatch.setenv(autotune.ENV, "0")
    slow(monkeypatch, lstm_kernel, "lstm_lookup", clock)
    E, ids, weights = ids_args(N=dispatch.LOOKUP_MIN_ROWS)
    assert applies(E, ids, weights, native_ok=True) is True  # lookup at >= 8 rows
    E, ids, weights = ids_args(N=dispatch.LOOKUP_MIN_ROWS - 1)
    assert applies(E, ids, weights, native_ok=True) is False  # a small training batch
    assert tuned.report() == []


@compiled
def test_14_only_exact_candidates_are_timed(monkeypatch, tuned, clock):
    """The fused operator cannot run a masked call or recurrent dropout (native_ok False) and
    an explicit impl is obeyed: the fixed rules decide, nothing is timed."""
    calls = slow(monkeypatch, native, "lstm", clock)
    E, ids, weights = ids_args()
    assert applies(E, ids, weights, native_ok=False) is True
    assert dispatch.lookup_applies(
        cell="lstm", impl="kernel", input_dropout=False, E=E, ids=ids, weights=weights,
        native_ok=True,
    ) is True  # fmt: skip
    assert calls == [] and tuned.report() == []


@compiled
def test_15_the_class_of_token_ids_counts_how_often_ids_recur(monkeypatch, tuned, clock):
    """Real text repeats its words (the lookup's saving), uniform random ids do not: two
    classes, each measured."""
    E, ids, weights = ids_args(N=8, T=16, V=200)
    repeated = ids % 4  # 4 distinct ids in 128
    applies(E, repeated, weights, native_ok=True)
    applies(E, torch.randperm(128).reshape(8, 16), weights, native_ok=True)  # all distinct
    keys = [d["key"] for d in tuned.report()]
    assert len(keys) == 2
    assert any("/rep32 " in k for k in keys) and any("/rep1 " in k for k in keys)


# -- 4. a model: decisions used, results unchanged ---------------------------------------------
def seed_like(impl="auto"):
    from rnnkit.layers import LSTM, Dense, Embedding
    from rnnkit.models import Sequential

    torch.manual_seed(3)
    model = Sequential()
    model.add(Embedding(input_dim=30, output_dim=6))
    model.add(LSTM(units=5, impl=impl))
    model.add(Dense(units=1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def data():
    g = torch.Generator().manual_seed(4)
    x = torch.randint(1, 30, (16, 7), generator=g)
    x[:5, :3] = 0
    return x, torch.randint(0, 2, (16,), generator=g).float()


@compiled
@pytest.mark.parametrize("slower", ["lookup", "native"])
def test_16_results_with_autotuning_equal_results_without(monkeypatch, tuned, clock, slower):
    x, y = data()
    monkeypatch.setenv(autotune.ENV, "0")
    fixed = seed_like()
    fixed.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    expected = fixed.predict(x, batch_size=8)

    monkeypatch.setenv(autotune.ENV, "1")
    lookups = slow(monkeypatch, lstm_kernel, "lstm_lookup", clock, 1.0 if slower == "lookup" else 0)
    natives = slow(monkeypatch, native, "lstm", clock, 1.0 if slower == "native" else 0)
    model = seed_like()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    got = model.predict(x, batch_size=8)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    for w, w0 in zip(model.parameters(), fixed.parameters()):
        torch.testing.assert_close(w, w0, rtol=1e-4, atol=1e-5)
    chosen = {d["choice"] for d in tuned.report() if "ids:" in d["key"]}
    assert chosen == {"native" if slower == "lookup" else "lookup"}
    # after tuning, each call runs the chosen path only
    lookups.clear(), natives.clear()
    model.predict(x[:8], batch_size=8)
    assert (natives if slower == "lookup" else lookups) and not (
        lookups if slower == "lookup" else natives
    )


@compiled
@pytest.mark.parametrize("slower, expected", [("native", "kernel"), ("kernel", "native")])
def test_17_a_layer_fed_vectors_takes_the_faster_of_kernel_and_native(
    monkeypatch, tuned, clock, slower, expected
):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 4, 2, generator=g, requires_grad=True)
    h0 = torch.zeros(3, 4)
    W_x, W_h, b = torch.randn(2, 16, generator=g), torch.randn(4, 16, generator=g), None
    reference, _ = dispatch.lstm(x, h0, h0, W_x, W_h, b, impl="reference")
    module, name = (native, "lstm") if slower == "native" else (lstm_kernel, "lstm")
    slow(monkeypatch, module, name, clock)
    y, _ = dispatch.lstm(x, h0, h0, W_x, W_h, b)
    torch.testing.assert_close(y, reference, rtol=1e-5, atol=1e-6)
    [decision] = tuned.report()
    assert decision["choice"] == expected and "in:2 " in decision["key"]
    assert x.grad is None  # the timing ran on copies


@compiled
def test_18_an_explicit_impl_always_wins(monkeypatch, tuned, clock):
    calls = slow(monkeypatch, native, "lstm", clock)
    x, h0 = torch.randn(2, 3, 2), torch.zeros(2, 4)
    W_x, W_h = torch.randn(2, 16), torch.randn(4, 16)
    dispatch.lstm(x, h0, h0, W_x, W_h, None, impl="native")
    assert len(calls) == 1 and tuned.report() == []


def test_19_the_report_says_whether_autotuning_is_on(monkeypatch, tuned):
    assert dispatch.autotune_report() == {"enabled": True, "decisions": []}
    monkeypatch.setenv(autotune.ENV, "0")
    assert dispatch.autotune_report()["enabled"] is False
