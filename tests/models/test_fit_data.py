"""What fit / evaluate / predict accept (issue #18 items 5, 7; issue #17 item 3): generators,
iterables of batches, torch Dataset / DataLoader, steps_per_epoch / validation_steps / steps as
Keras, bool arrays, ragged input, several inputs, stop_training after the current batch.

Oracles: the same model trained on the same batches given as arrays (``shuffle=False``), and
Keras 3's behaviour measured with /work/kvenv (a generator of 7 batches with
``steps_per_epoch=3``, ``epochs=3`` trains on 3, 3 and 1 batches and warns once that the input
ran out).
"""

import itertools
import re
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from rnnkit.layers import LSTM, Dense, Embedding, Input
from rnnkit.models import Callback, Sequential
from rnnkit.models.data import RAN_OUT
from rnnkit.models.optimizers import SGD
from rnnkit.utils import set_random_seed

N, B = 12, 4  # 3 batches per pass


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 3)).astype("float32")
    y = rng.normal(size=(N, 1)).astype("float32")
    return x, y


def model(metrics=None):
    set_random_seed(0)
    m = Sequential([Input((3,)), Dense(2, activation="tanh"), Dense(1)])
    m.compile(SGD(learning_rate=0.1), "mse", metrics=metrics)
    return m


def batches(x, y, n=None):
    """The batches of a pass in order (n of them, cycling through the data)."""
    count = n if n is not None else len(x) // B
    for k in range(count):
        i = (k % (len(x) // B)) * B
        yield x[i : i + B], y[i : i + B]


def same_weights(a, b):
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


class Counter(Callback):
    def on_train_begin(self, logs=None):
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


# 1. Ragged input and bool arrays ------------------------------------------------------------


def test_ragged_lists_get_the_pad_hint_not_a_numpy_error():
    """Before: NumPy's 'setting an array element with a sequence. The requested array has an
    inhomogeneous shape ...' ValueError."""
    m = Sequential([Embedding(10, 2), LSTM(2), Dense(1, activation="sigmoid")])
    m.compile("sgd", "binary_crossentropy")
    expected = (
        "fit: `x` expected a rectangular array, received ragged sequences (sequences of "
        "different lengths); pad them first with rnnkit.text.pad_sequences."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        m.fit([[1, 2, 3], [4, 5]], [0, 1], verbose=0)
    with pytest.raises(ValueError, match=re.escape(expected.replace("fit", "predict"))):
        m.predict([[1, 2, 3], [4, 5]])


def test_bool_arrays_are_taken_as_zeros_and_ones():
    """Before: fit with bool x raised 'Dense: `inputs` expected a floating-point tensor'."""
    rng = np.random.default_rng(0)
    x = rng.random((N, 3)) > 0.5
    y = rng.random((N, 1)) > 0.5
    a, b = model(), model()
    a.fit(x, y, batch_size=B, shuffle=False, verbose=0)
    b.fit(x.astype("float32"), y.astype("float32"), batch_size=B, shuffle=False, verbose=0)
    same_weights(a, b)
    np.testing.assert_array_equal(a.predict(x), b.predict(x.astype("float32")))


# 2. Streams of batches give the training of the same batches as arrays -----------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda x, y: batches(x, y), id="generator"),
        pytest.param(lambda x, y: list(batches(x, y)), id="list-of-batches"),
        pytest.param(
            lambda x, y: DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=B),
            id="DataLoader",
        ),
        pytest.param(lambda x, y: TensorDataset(torch.tensor(x), torch.tensor(y)), id="Dataset"),
    ],
)
def test_a_stream_trains_as_the_same_batches_given_as_arrays(make):
    """Before: 'fit: `x` expected a rectangular array' / NumPy errors for each of these."""
    x, y = arrays()
    a, b = model(["mae"]), model(["mae"])
    ha = a.fit(make(x, y), batch_size=B, shuffle=False, verbose=0)
    hb = b.fit(x, y, batch_size=B, shuffle=False, verbose=0)
    same_weights(a, b)
    assert ha.history == hb.history
    assert ha.params["steps"] == (None if isinstance(make(x, y), type(batches(x, y))) else 3)


def test_a_reiterable_stream_gives_a_whole_pass_each_epoch():
    x, y = arrays()
    a, b = model(), model()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=B)
    count = Counter()
    a.fit(loader, epochs=3, shuffle=False, verbose=0, callbacks=[count])
    b.fit(x, y, epochs=3, batch_size=B, shuffle=False, verbose=0)
    assert count.per_epoch == [3, 3, 3]
    same_weights(a, b)


def test_a_torch_dataset_is_shuffled_each_epoch_with_torchs_generator():
    x, y = arrays()
    ds = TensorDataset(torch.tensor(x), torch.tensor(y))
    a, b = model(), model()
    set_random_seed(5)
    a.fit(ds, batch_size=B, epochs=2, verbose=0)
    set_random_seed(5)
    b.fit(ds, batch_size=B, epochs=2, verbose=0)
    same_weights(a, b)  # reproducible with the seed ...
    c = model()
    c.fit(ds, batch_size=B, epochs=2, shuffle=False, verbose=0)
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


# 3. steps_per_epoch, as Keras ----------------------------------------------------------------


def test_steps_per_epoch_goes_on_where_the_last_epoch_stopped_and_warns_when_out():
    """Keras 3.15 (measured): 7 batches, steps_per_epoch=3, epochs=3 -> 3, 3, 1 batches and
    'Your input ran out of data' once."""
    x, y = arrays()
    count = Counter()
    with pytest.warns(UserWarning, match=re.escape(RAN_OUT)) as record:
        h = model().fit(batches(x, y, 7), epochs=3, steps_per_epoch=3, verbose=0, callbacks=[count])
    assert count.per_epoch == [3, 3, 1]
    assert len(h.history["loss"]) == 3
    assert sum(RAN_OUT in str(w.message) for w in record) == 1
    # the oracle: the same 7 batches as arrays, steps of one pass
    a = model()
    a.fit(batches(x, y, 7), epochs=1, verbose=0)
    b = model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.fit(batches(x, y, 7), epochs=3, steps_per_epoch=3, verbose=0)
    same_weights(a, b)


def test_an_exhausted_generator_ends_training_with_kerass_warning():
    """A generator read to its end in epoch 1 has nothing for epoch 2: Keras's warning, and
    training stops there (no empty epoch in the history)."""
    x, y = arrays()
    count = Counter()
    with pytest.warns(UserWarning, match=re.escape(RAN_OUT)):
        h = model().fit(batches(x, y), epochs=3, verbose=0, callbacks=[count])
    assert count.per_epoch == [3, 0]
    assert len(h.history["loss"]) == 1


def test_an_endless_generator_needs_steps_per_epoch():
    x, y = arrays()
    expected = (
        "fit: `steps_per_epoch` expected a positive integer for an infinite generator (it "
        "never runs out), received None."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        model().fit(itertools.cycle(list(batches(x, y))), verbose=0)
    count = Counter()
    model().fit(
        itertools.cycle(list(batches(x, y))),
        epochs=2,
        steps_per_epoch=5,
        verbose=0,
        callbacks=[count],
    )
    assert count.per_epoch == [5, 5]


def test_steps_per_epoch_with_arrays_as_keras():
    """Keras: arrays of 3 batches with steps_per_epoch=2: epoch 1 takes 2, epoch 2 the last one
    (and warns), epoch 3 starts a new pass."""
    x, y = arrays()
    count = Counter()
    with pytest.warns(UserWarning, match=re.escape(RAN_OUT)):
        model().fit(x, y, batch_size=B, epochs=3, steps_per_epoch=2, verbose=0, callbacks=[count])
    assert count.per_epoch == [2, 1, 2]


# 4. Validation, evaluate, predict -------------------------------------------------------------


def test_validation_data_as_a_generator_is_the_same_every_epoch():
    x, y = arrays()
    xv, yv = arrays(1)
    a, b = model(["mae"]), model(["mae"])
    ha = a.fit(
        x, y, batch_size=B, epochs=3, shuffle=False, verbose=0, validation_data=batches(xv, yv)
    )
    hb = b.fit(x, y, batch_size=B, epochs=3, shuffle=False, verbose=0, validation_data=(xv, yv))
    for key in ("val_loss", "val_mae"):
        np.testing.assert_allclose(ha.history[key], hb.history[key], rtol=1e-6)


def test_validation_steps_limits_the_validation_batches():
    x, y = arrays()
    xv, yv = arrays(1)
    loader = DataLoader(TensorDataset(torch.tensor(xv), torch.tensor(yv)), batch_size=B)
    m = model()
    h = m.fit(x, y, batch_size=B, epochs=1, verbose=0, validation_data=loader, validation_steps=1)
    assert h.history["val_loss"][0] == pytest.approx(m.evaluate(xv[:B], yv[:B], verbose=0))


def test_evaluate_and_predict_take_streams_and_steps():
    x, y = arrays()
    m = model(["mae"])
    whole = m.evaluate(x, y, batch_size=B, verbose=0)
    np.testing.assert_allclose(m.evaluate(batches(x, y), verbose=0), whole, rtol=1e-6)
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=B)
    np.testing.assert_allclose(m.evaluate(loader, verbose=0), whole, rtol=1e-6)
    first = m.evaluate(x[:B], y[:B], verbose=0)
    np.testing.assert_allclose(m.evaluate(loader, steps=1, verbose=0), first, rtol=1e-6)
    np.testing.assert_allclose(m.evaluate(x, y, batch_size=B, steps=1, verbose=0), first)
    expected = m.predict(x)
    np.testing.assert_array_equal(m.predict(loader), expected)  # (x, y) batches: y ignored
    np.testing.assert_array_equal(m.predict((xb for xb, _ in batches(x, y))), expected)
    np.testing.assert_array_equal(m.predict(((xb,) for xb, _ in batches(x, y))), expected)
    np.testing.assert_array_equal(m.predict(TensorDataset(torch.tensor(x)), batch_size=5), expected)
    np.testing.assert_array_equal(m.predict(x, batch_size=B, steps=2), expected[: 2 * B])


def test_sample_weights_in_the_batches_weigh_the_loss_as_the_argument():
    x, y = arrays()
    w = np.linspace(0.0, 2.0, N).astype("float32")
    a, b = model(), model()
    stream = [(x[i : i + B], y[i : i + B], w[i : i + B]) for i in range(0, N, B)]
    a.fit(stream, verbose=0, shuffle=False)
    b.fit(x, y, sample_weight=w, batch_size=B, shuffle=False, verbose=0)
    same_weights(a, b)


# 5. Errors for what a stream carries itself, as Keras ----------------------------------------


def test_targets_beside_a_stream_are_refused_as_keras():
    x, y = arrays()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=B)
    expected = (
        "When providing `x` as a torch DataLoader, `y` should not be passed. Instead, the "
        "targets should be included as part of the torch DataLoader."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        model().fit(loader, y, verbose=0)
    expected = (
        "When providing `x` as a generator, `sample_weight` should not be passed. Instead, "
        "the sample weights should be included as part of the generator."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        model().fit(batches(x, y), sample_weight=np.ones(N), verbose=0)
    with pytest.raises(ValueError, match=re.escape("Argument `class_weight` is not supported")):
        model().fit(batches(x, y), class_weight={0: 1.0}, verbose=0)
    expected = "fit: `x` expected a generator that yields at least one batch, received an empty"
    with pytest.raises(ValueError, match=re.escape(expected)):
        model().fit(iter([]), verbose=0)


def test_a_batch_without_targets_is_refused_by_fit():
    x, _ = arrays()
    expected = (
        "fit: `x` expected a generator of batches (x, y) or (x, y, sample_weight), received a "
        "batch without targets."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        model().fit(((x[:B],) for _ in range(2)), verbose=0)


# 6. Several inputs: the loop calls the model with what it was given ---------------------------


class TwoInputs(Sequential):
    """A stand-in for a functional model with inputs 'a' and 'b': it adds them, then runs its
    layers."""

    inputs = ("a", "b")

    def forward(self, x, mask=None, logits=False):
        if isinstance(x, dict):
            x = x["a"] + x["b"]
        elif isinstance(x, (list, tuple)):
            x = x[0] + x[1]
        return super().forward(x, mask, logits)


def two_inputs():
    set_random_seed(0)
    m = TwoInputs([Input((3,)), Dense(1)])
    m.compile(SGD(learning_rate=0.1), "mse")
    return m


def test_several_inputs_as_a_dict_or_a_list():
    x, y = arrays()
    xa, xb = x * 0.25, x * 0.75
    reference = two_inputs()
    reference.fit(x, y, batch_size=B, shuffle=False, verbose=0)
    for given in ({"a": xa, "b": xb}, [xa, xb]):
        m = two_inputs()
        m.fit(given, y, batch_size=B, shuffle=False, verbose=0)
        for p, q in zip(m.parameters(), reference.parameters()):
            torch.testing.assert_close(p, q)
        np.testing.assert_allclose(m.predict(given), reference.predict(x), rtol=1e-6)
    stream = [({"a": xa[i : i + B], "b": xb[i : i + B]}, y[i : i + B]) for i in range(0, N, B)]
    m = two_inputs()
    m.fit(stream, verbose=0)
    for p, q in zip(m.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)


# 7. stop_training ----------------------------------------------------------------------------


def test_stop_training_is_honoured_after_the_current_batch():
    """As Keras: a callback that sets stop_training in batch 2 of epoch 1 ends training after
    that batch (the old loop did this already; this pins it, for arrays and for streams)."""

    class StopAt(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    x, y = arrays()
    for data in ((x, y), (batches(x, y),)):
        count = Counter()
        h = model().fit(*data, batch_size=B, epochs=3, verbose=0, callbacks=[StopAt(), count])
        assert count.per_epoch == [2]
        assert len(h.history["loss"]) == 1


def test_a_pandas_frame_stays_an_array():
    pd = pytest.importorskip("pandas")
    x, y = arrays()
    a, b = model(), model()
    a.fit(pd.DataFrame(x), pd.Series(y[:, 0]), batch_size=B, shuffle=False, verbose=0)
    b.fit(x, y[:, 0], batch_size=B, shuffle=False, verbose=0)
    same_weights(a, b)


def test_backup_and_restore_with_a_stream_backs_up_at_epoch_ends(tmp_path):
    from rnnkit.models import BackupAndRestore

    x, y = arrays()
    stream = list(batches(x, y))
    a, b = model(), model()
    a.fit(stream, epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path / "bk")])
    b.fit(stream, epochs=2, verbose=0)
    same_weights(a, b)
    expected = (
        "fit: `BackupAndRestore.save_freq` expected 'epoch' when `x` is a stream of batches or "
        "`steps_per_epoch` is given (a stream cannot resume mid-epoch), received 2."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        model().fit(stream, verbose=0, callbacks=[BackupAndRestore(tmp_path / "b2", save_freq=2)])


def test_fit_takes_timeseries_dataset_from_array():
    """The windows of timeseries_dataset_from_array train as the same windows built by hand."""
    from rnnkit.layers import GRU
    from rnnkit.utils import timeseries_dataset_from_array

    series = np.sin(np.arange(60) / 5).astype("float32")[:, None]  # (60, 1)
    L = 6
    ds = timeseries_dataset_from_array(series[:-L], series[L:], sequence_length=L, batch_size=8)
    windows = np.stack([series[i : i + L] for i in range(len(series) - L - L + 1)])  # (49, 6, 1)
    targets = series[L : L + len(windows)]  # (49, 1)
    assert len(ds) == 7
    runs = []
    for data in ((ds,), (windows, targets)):
        set_random_seed(0)
        m = Sequential([Input((L, 1)), GRU(3), Dense(1)])
        m.compile(SGD(learning_rate=0.1), "mse")
        runs.append(m.fit(*data, batch_size=8, epochs=2, shuffle=False, verbose=0).history)
    assert runs[0] == runs[1]
