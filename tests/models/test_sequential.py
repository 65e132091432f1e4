"""Sequential: the seed program's summary, compile / fit / evaluate / predict, seeds, callbacks."""

import numpy as np
import pytest
import torch

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, Input, SimpleRNN
from rnnkit.models import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, Sequential
from rnnkit.models.optimizers import SGD, Adam
from rnnkit.utils import set_random_seed

SEED_SUMMARY = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ embedding (Embedding)           │ (None, None, 128)      │     1,280,000 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ lstm (LSTM)                     │ (None, 128)            │       131,584 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 1)              │           129 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 1,411,713 (5.39 MB)
 Trainable params: 1,411,713 (5.39 MB)
 Non-trainable params: 0 (0.00 B)"""


def seed_model():
    model = Sequential()
    model.add(Embedding(input_dim=10000, output_dim=128))
    model.add(LSTM(units=128))
    model.add(Dense(units=1, activation="sigmoid"))
    return model


def test_seed_program_summary_matches_keras():
    lines = []
    seed_model().summary(print_fn=lines.append)
    assert "\n".join(lines) == SEED_SUMMARY


def test_seed_program_runs_as_a_script(capsys):
    exec(
        "from rnnkit.models import Sequential\n"
        "from rnnkit.layers import Embedding, LSTM, Dense\n"
        "model = Sequential()\n"
        "model.add(Embedding(input_dim=10000, output_dim=128))\n"
        "model.add(LSTM(units=128))\n"
        "model.add(Dense(units=1, activation='sigmoid'))\n"
        "model.summary()\n",
        {},
    )
    out = capsys.readouterr().out
    assert "1,280,000" in out and "131,584" in out and "│           129 │" in out
    assert "Total params: 1,411,713 (5.39 MB)" in out


def test_summary_of_stacked_bidirectional_and_unbuilt():
    model = Sequential(
        [
            Input(shape=(None, 8)),
            Bidirectional(GRU(16, return_sequences=True)),
            SimpleRNN(4),
            Dense(2, activation="softmax"),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "│ bidirectional (Bidirectional)   │ (None, None, 32)       │         2,496 │" in text
    assert "│ simple_rnn (SimpleRNN)          │ (None, 4)              │           148 │" in text
    unbuilt = Sequential([LSTM(3), Dense(1)])
    lines = []
    unbuilt.summary(print_fn=lines.append)
    assert "│ lstm (LSTM)                     │ ?                      │   0 (unbuilt) │" in lines


def token_task(n=800, T=20, seed=0):
    """Label 1 when token 7 appears: learnable only by remembering across steps."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 30, size=(n, T))
    y = (x == 7).any(axis=1).astype("float32")
    return x, y


def small_model(cell=LSTM):
    return Sequential([Embedding(30, 8), cell(12), Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("cell", [LSTM, GRU, SimpleRNN])
def test_fit_learns_and_history_is_keras_shaped(cell):
    set_random_seed(0)
    x, y = token_task()
    model = small_model(cell)
    model.compile(
        optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y, batch_size=32, epochs=6, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == list(range(6))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.8
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.8 and loss < 0.5
    proba = model.predict(x[:10], batch_size=4)
    assert proba.shape == (10, 1) and ((proba >= 0) & (proba <= 1)).all()


def test_same_seed_same_weights_and_losses():
    runs = []
    for _ in range(2):
        set_random_seed(42)
        x, y = token_task(n=200)
        model = Sequential(
            [
                Embedding(30, 8),
                LSTM(6, dropout=0.2, recurrent_dropout=0.2),
                Dropout(0.3),
                Dense(1, activation="sigmoid"),
            ]
        )
        model.compile("adam", "binary_crossentropy")
        h = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        runs.append((h.history["loss"], [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        assert torch.equal(a, b)


def test_logits_path_equals_probability_path():
    """Sequential feeds the last Dense's logits to the cross-entropy; the value is the same."""
    from rnnkit.models.losses import binary_crossentropy
    from rnnkit.models.training import loss_and_probs

    x, y = token_task(n=64)
    model = small_model()
    model.compile("adam", "binary_crossentropy")
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    loss_logits, _ = loss_and_probs(model, xt, yt)
    loss_probs = binary_crossentropy(yt, model(xt))
    torch.testing.assert_close(loss_logits, loss_probs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "loss, y_fn, last, oracle",
    [
        (
            "binary_crossentropy",
            lambda x: (x[:, 0] % 2).astype("float32"),
            lambda: Dense(1, activation="sigmoid"),
            lambda out, y: torch.nn.functional.binary_cross_entropy(out[:, 0], y),
        ),
        (
            "sparse_categorical_crossentropy",
            lambda x: x[:, 0] % 3,
            lambda: Dense(3, activation="softmax"),
            lambda out, y: torch.nn.functional.nll_loss(out.log(), y),
        ),
        (
            "categorical_crossentropy",
            lambda x: np.eye(3, dtype="float32")[x[:, 0] % 3],
            lambda: Dense(3, activation="softmax"),
            lambda out, y: torch.nn.functional.cross_entropy(out.log(), y),
        ),
        (
            "mse",
            lambda x: (x[:, 0] % 3).astype("float32"),
            lambda: Dense(1),
            lambda out, y: torch.nn.functional.mse_loss(out[:, 0], y),
        ),
        (
            "mae",
            lambda x: (x[:, 0] % 3).astype("float32"),
            lambda: Dense(1),
            lambda out, y: torch.nn.functional.l1_loss(out[:, 0], y),
        ),
    ],
    ids=["binary_crossentropy", "sparse_categorical", "categorical", "mse", "mae"],
)
def test_other_losses_train(loss, y_fn, last, oracle):
    """Two fit steps with each loss move every parameter exactly as a hand-written torch loop
    does: the torch.nn.functional loss on the model's probabilities, the same SGD steps, on
    batches of 32 and 18 rows (each step's loss the mean over its own rows)."""
    import copy

    set_random_seed(1)
    x, _ = token_task(n=50, T=6)
    y = y_fn(x)
    model = Sequential([Embedding(30, 8), GRU(16), last()])
    model.build((None, 6))
    twin = copy.deepcopy(model)
    start = [p.detach().clone() for p in model.parameters()]
    model.compile(SGD(learning_rate=0.5), loss)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    sgd = torch.optim.SGD(twin.parameters(), lr=0.5)
    for rows in (slice(0, 32), slice(32, 50)):
        sgd.zero_grad()
        oracle(twin(torch.as_tensor(x[rows])), torch.as_tensor(y[rows])).backward()
        sgd.step()
    moved = 0.0
    for (name, ours), theirs, before in zip(model.named_parameters(), twin.parameters(), start):
        torch.testing.assert_close(ours, theirs, atol=2e-6, rtol=1e-5, msg=name)
        moved = max(moved, (ours - before).abs().max().item())
    assert moved > 1e-2  # the steps were not empty


def test_float_inputs_and_sgd_with_clipping():
    set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(256, 10, 1)).astype("float64")
    y = x.sum(axis=(1, 2))
    model = Sequential([LSTM(16, input_shape=(10, 1)), Dense(1)])
    model.compile(SGD(learning_rate=0.05, momentum=0.9, global_clipnorm=1.0), "mse")
    h = model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    assert h.history["loss"][-1] < 0.2 * h.history["loss"][0]


def test_torch_optimizer_and_plain_torch_loop():
    model = small_model()
    model.compile(torch.optim.Adam(model.parameters(), lr=0.01), "binary_crossentropy")
    x, y = token_task(n=64)
    model.fit(x, y, epochs=1, verbose=0)
    # Still a plain nn.Module: a hand-written loop works too.
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = model(torch.as_tensor(x))
    loss = torch.nn.functional.binary_cross_entropy(out.squeeze(1), torch.as_tensor(y))
    loss.backward()
    opt.step()
    assert all(p.grad is not None for p in model.parameters())


def test_early_stopping_restores_best_weights():
    set_random_seed(0)
    x, y = token_task(n=200)
    model = small_model()
    model.compile(Adam(learning_rate=0.5), "binary_crossentropy")  # too high: it will diverge
    stop = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    h = model.fit(x, y, epochs=30, verbose=0, callbacks=[stop])
    assert len(h.epoch) < 30
    best = min(h.history["loss"])
    assert stop.best == best


def test_early_stopping_patience_counts_as_keras():
    """Keras: patience=3 and a loss that never improves after epoch 1 run 4 epochs."""
    set_random_seed(0)
    x, y = token_task(n=64)
    model = small_model()
    model.compile(SGD(learning_rate=1e-12), "binary_crossentropy")  # the loss stays put
    stop = EarlyStopping(monitor="loss", patience=3, min_delta=1e-3)
    h = model.fit(x, y, epochs=10, verbose=0, callbacks=[stop])
    assert len(h.epoch) == 4 and stop.stopped_epoch == 3


def test_reduce_lr_on_plateau_counts_as_keras():
    """Keras: with patience 2 and cooldown 2 a loss that never improves after epoch 1 is cut
    after epochs 3 and 6 (the first epoch of the cooldown does not count, the second does),
    never below min_lr; the rate of each epoch is in the history."""
    set_random_seed(0)
    x, y = token_task(n=64)
    model = small_model()
    model.compile(SGD(learning_rate=1e-12), "binary_crossentropy")  # the loss stays put
    cut = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=2, min_lr=2e-13)
    h = model.fit(x, y, epochs=8, verbose=0, callbacks=[cut])
    assert [lr * 1e12 for lr in h.history["learning_rate"]] == pytest.approx(
        [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    )
    model.fit(x, y, epochs=4, verbose=0, callbacks=[cut])
    assert model.optimizer.param_groups[0]["lr"] * 1e12 == pytest.approx(0.2)  # min_lr


def test_reduce_lr_on_plateau_checks_its_arguments():
    with pytest.raises(ValueError) as info:
        ReduceLROnPlateau(factor=1.0)
    assert str(info.value) == (
        "ReduceLROnPlateau: `factor` expected a number in (0, 1), received 1.0 (float)."
    )
    with pytest.raises(
        ValueError,
        match=r"ReduceLROnPlateau: `monitor` expected one of the "
        r"logged values \['loss'\], received 'val_loss'",
    ):
        model = small_model()
        model.compile("sgd", "binary_crossentropy")
        model.fit(*token_task(n=16), epochs=1, verbose=0, callbacks=[ReduceLROnPlateau()])


def test_model_checkpoint_saves_best(tmp_path):
    set_random_seed(0)
    x, y = token_task(n=200)
    model = small_model()
    model.compile(Adam(learning_rate=0.01), "binary_crossentropy", ["accuracy"])
    ckpt = ModelCheckpoint(
        str(tmp_path / "m-{epoch:02d}"), monitor="val_accuracy", save_best_only=True
    )
    model.fit(x, y, epochs=3, validation_data=(x[:50], y[:50]), verbose=0, callbacks=[ckpt])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved and all(name.startswith("m-0") for name in saved)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_fit_errors():
    model = small_model()
    x, y = token_task(n=10)
    with pytest.raises(RuntimeError, match=r"must be compiled first"):
        model.fit(x, y)
    with pytest.raises(ValueError) as info:
        model.compile("adamw", "binary_crossentropy")
    assert str(info.value) == (
        "compile: `optimizer` expected one of 'adam', 'rmsprop', 'sgd', received 'adamw'."
    )
    with pytest.raises(ValueError) as info:
        model.compile("adam", "hinge")
    assert str(info.value).startswith("compile: `loss` expected one of 'binary_crossentropy'")
    with pytest.raises(ValueError, match="compile: `metrics` expected one of 'accuracy'"):
        model.compile("adam", "mse", metrics=["f2"])
    model.compile("adam", "binary_crossentropy")
    with pytest.raises(
        ValueError,
        match=r"fit: `x` and `y` expected the same number of samples, "
        r"received 10 and 9.",
    ):
        model.fit(x, y[:9], verbose=0)
    with pytest.raises(ValueError, match=r"pad them first with rnnkit\.text\.pad_sequences"):
        model.fit(np.array([[1, 2], [3]], dtype=object), y[:2], verbose=0)
    with pytest.raises(ValueError, match=r"fit: `batch_size` expected a positive integer"):
        model.fit(x, y, batch_size=0)
    with pytest.raises(ValueError, match=r"^fit: `x` expected at least one sample, received 0.$"):
        model.fit(x[:0], y[:0], verbose=0)


def test_a_model_built_by_its_first_call_saves_and_loads(tmp_path):
    """A model built by calling it recorded no input shape, so load_model refused its save
    ("the layers cannot be built from the config alone"); Keras fixes the shape at the call."""
    from rnnkit.layers import LSTM
    from rnnkit.models import load_model

    model = Sequential([LSTM(2)])
    x = torch.randn(3, 5, 4)
    y = model(x)
    assert model.input_shape_hint == (None, 4)
    model.save(tmp_path / "m")
    torch.testing.assert_close(load_model(tmp_path / "m")(x), y)
