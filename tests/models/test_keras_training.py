"""Keras's training surface (issue #18, item 13): train_on_batch / test_on_batch /
predict_on_batch, sample_weight / class_weight, LambdaCallback, LearningRateScheduler,
CSVLogger. Oracles: hand-written torch loops and hand computation."""

import copy
import re

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.models import (
    BackupAndRestore,
    CSVLogger,
    LambdaCallback,
    LearningRateScheduler,
    Sequential,
    losses,
)
from rnnkit.models.optimizers import SGD
from rnnkit.utils import set_random_seed

LR = 0.1


def data(n=12, T=6, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.integers(1, 20, size=(n, T)))
    y = torch.from_numpy(rng.integers(0, 2, size=(n,))).float()
    return x, y


def binary_model(metrics=None):
    set_random_seed(0)
    model = Sequential([Embedding(20, 5), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(SGD(learning_rate=LR), "binary_crossentropy", metrics=metrics)
    model.build((None, 6))
    return model


def sgd_step_by_hand(model, x, y, w=None, lr=LR):
    """The oracle: one plain SGD step with the loss written out in torch."""
    model.train()
    z = model(x, logits=True).reshape(-1)  # (N,)
    per = F.binary_cross_entropy_with_logits(z, y, reduction="none")  # (N,)
    loss = per.mean() if w is None else (w * per).sum() / len(per)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    with torch.no_grad():
        for p, g in zip(model.parameters(), grads, strict=True):
            p -= lr * g
    return float(loss.detach())


def assert_same_weights(a, b, atol=1e-6):
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=atol, rtol=0, msg=name)


# 1. losses.per_sample: its mean is the loss itself (every loss, probabilities and logits,
#    flat and sequence outputs), so the weighted path with weights 1 is the unweighted one.
@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("shape", [(7, 3), (7, 4, 3)])
def test_per_sample_mean_is_the_loss(name, shape):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(shape, generator=g)
    if name == "sparse_categorical_crossentropy":
        y = torch.randint(0, shape[-1], shape[:-1], generator=g)
    elif name == "categorical_crossentropy":
        y = F.one_hot(torch.randint(0, shape[-1], shape[:-1], generator=g), shape[-1]).float()
    else:
        y = torch.rand(shape, generator=g)
    pred = torch.softmax(z, -1) if "categorical" in name else torch.sigmoid(z)
    values = losses.per_sample(name, y, pred)
    assert values.shape == shape[:-1]
    torch.testing.assert_close(values.mean(), losses.LOSSES[name](y, pred))
    torch.testing.assert_close(losses.weighted(values, torch.ones(7)), values.mean())
    if name in losses.LOGIT_ACTIVATION:
        logits = losses.per_sample(name, y, z, from_logits=True).mean()
        torch.testing.assert_close(logits, losses.LOSSES[name](y, z, from_logits=True))


# 2. weighted = sum(w * loss_i) / N (Keras's sum_over_batch_size), not / sum(w).
def test_weighted_divides_by_the_number_of_samples():
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    w = torch.tensor([0.0, 1.0, 2.0, 0.5])
    assert float(losses.weighted(values, w)) == pytest.approx((2 + 6 + 2) / 4)
    steps = torch.tensor([[1.0, 3.0], [2.0, 2.0]])  # (N, T): a weight per sample spreads
    assert float(losses.weighted(steps, torch.tensor([2.0, 0.0]))) == pytest.approx(8 / 4)


# 3. train_on_batch is one SGD step on exactly that batch: the weights of a hand-written torch
#    step, and of fit(batch_size=N, shuffle=False, epochs=1); it returns that batch's loss.
def test_train_on_batch_is_one_step():
    x, y = data()
    model, oracle, fitted = binary_model(), binary_model(), binary_model()
    loss = model.train_on_batch(x, y)
    expected = sgd_step_by_hand(oracle, x, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected, abs=1e-6)
    assert_same_weights(model, oracle)
    history = fitted.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(loss, abs=1e-6)
    assert_same_weights(model, fitted)


# 4. Keras 3's running values: test_on_batch / train_on_batch return the loss (mean over the
#    batches since the last reset, weighted by batch size) and metrics of all those batches;
#    reset_metrics() (and fit / evaluate) start afresh.
def test_on_batch_values_run_until_reset():
    x, y = data(n=12)
    model = binary_model(metrics=["accuracy"])
    a = model.evaluate(x[:4], y[:4], verbose=0, return_dict=True)
    b = model.evaluate(x[4:], y[4:], verbose=0, return_dict=True)
    both = model.evaluate(x, y, verbose=0, return_dict=True)
    first = model.test_on_batch(x[:4], y[:4], return_dict=True)
    assert first == pytest.approx(a)
    second = model.test_on_batch(x[4:], y[4:])
    assert second[0] == pytest.approx((4 * a["loss"] + 8 * b["loss"]) / 12)
    assert second[1] == pytest.approx(both["accuracy"])
    model.reset_metrics()
    assert model.test_on_batch(x[4:], y[4:]) == pytest.approx([b["loss"], b["accuracy"]])


# 5. predict_on_batch: the model's outputs for that batch, as predict gives them.
def test_predict_on_batch():
    x, _ = data()
    model = binary_model()
    out = model.predict_on_batch(x)
    assert isinstance(out, np.ndarray) and out.shape == (12, 1)
    with torch.no_grad():
        np.testing.assert_allclose(out, model(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(out, model.predict(x, batch_size=5), atol=1e-6)


# 6. train_on_batch with sample_weight: the step of the hand-weighted loss sum(w l_i) / N;
#    class_weight gives the same step as the equivalent sample_weight.
def test_train_on_batch_weighted():
    x, y = data()
    w = torch.linspace(0.0, 2.0, len(x))
    model, oracle = binary_model(), binary_model()
    loss = model.train_on_batch(x, y, sample_weight=w.numpy())
    assert loss == pytest.approx(sgd_step_by_hand(oracle, x, y, w), abs=1e-6)
    assert_same_weights(model, oracle)
    by_class, by_sample = binary_model(), binary_model()
    cw = {0: 0.25, 1: 3.0}
    by_class.train_on_batch(x, y, class_weight=cw)
    by_sample.train_on_batch(x, y, sample_weight=torch.where(y == 1, 3.0, 0.25))
    assert_same_weights(by_class, by_sample)


# 7. Bad weights are refused with the argument, what was expected and what was received.
def test_weight_errors():
    x, y = data()
    model = binary_model()
    cases = [
        (
            {"sample_weight": np.ones(5)},
            "train_on_batch: `sample_weight` expected one weight per sample (12), "
            "received shape (5,).",
        ),
        (
            {"sample_weight": np.r_[np.ones(11), -1.0]},
            "train_on_batch: `sample_weight` expected finite, non-negative weights, "
            "received -1.0 (sample 11).",
        ),
        (
            {"sample_weight": np.ones(12), "class_weight": {0: 1.0}},
            "train_on_batch: `class_weight` expected None when `sample_weight` is given "
            "(as Keras), received {0: 1.0}.",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            model.train_on_batch(x, y, **kwargs)
    custom = copy.deepcopy(model)
    custom.compile("sgd", lambda t, p: (t - p).pow(2).mean())
    with pytest.raises(ValueError, match=re.escape("expected a loss given by name")):
        custom.train_on_batch(x, y, sample_weight=np.ones(12))


# 8. LambdaCallback: each function called at its hook, in Keras's order, with the logs.
def test_lambda_callback_order():
    x, y = data(n=5)
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_batch_begin=lambda batch, logs: events.append(f"batch_begin {batch}"),
        on_batch_end=lambda batch, logs: events.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append("train_end"),
    )
    binary_model().fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[cb])
    per_epoch = lambda e: [
        f"epoch_begin {e}",
        *(
            f"batch_{w} {b}" + (" ['loss']" if w == "end" else "")
            for b in range(3)
            for w in ("begin", "end")
        ),
        f"epoch_end {e} ['loss']",
    ]
    assert events == ["train_begin", *per_epoch(0), *per_epoch(1), "train_end"]
    with pytest.raises(
        TypeError,
        match=re.escape(
            "LambdaCallback: `on_epoch_end` expected a function or None, received 3 (int)."
        ),
    ):
        LambdaCallback(on_epoch_end=3)


# 9. LearningRateScheduler: schedule(epoch, lr) sets every param group's rate at each epoch's
#    start; the rate lands in the history as learning_rate; the weights are those of SGD steps
#    by hand at those rates. A one-argument schedule works too (as Keras).
def test_learning_rate_scheduler():
    x, y = data()
    model, oracle = binary_model(), binary_model()
    seen = []
    sched = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr * 0.5)
    spy = LambdaCallback(
        on_epoch_begin=lambda e, logs: seen.append(model.optimizer.param_groups[0]["lr"])
    )
    h = model.fit(
        x, y, batch_size=len(x), epochs=3, shuffle=False, verbose=0, callbacks=[sched, spy]
    )
    assert seen == [0.1, 0.05, 0.025]
    assert h.history["learning_rate"] == [0.1, 0.05, 0.025]
    for lr in seen:
        sgd_step_by_hand(oracle, x, y, lr=lr)
    assert_same_weights(model, oracle)
    one_arg = binary_model()
    h = one_arg.fit(
        x, y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.01 * (e + 1))]
    )
    assert h.history["learning_rate"] == [0.01, 0.02]
    message = "LearningRateScheduler: `schedule` expected to return a finite number, received nan (float)."
    with pytest.raises(ValueError, match=re.escape(message)):
        one_arg.fit(x, y, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: float("nan"))])


def expected_csv(history, sep=",", header=True):
    keys = sorted(history.history)
    lines = [sep.join(["epoch", *keys])] if header else []
    for e in history.epoch:
        lines.append(sep.join([str(e), *(str(history.history[k][e]) for k in keys)]))
    return "".join(line + "\r\n" for line in lines)


# 10. CSVLogger: Keras's file, exactly: "epoch" then the sorted keys, one row per epoch
#     (0-based), \r\n line ends; append=True adds rows under the existing header.
def test_csv_logger(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    model = binary_model(metrics=["accuracy"])
    h = model.fit(
        x, y, epochs=2, verbose=0, validation_data=(x[:4], y[:4]), callbacks=[CSVLogger(path)]
    )
    assert path.read_bytes().decode() == expected_csv(h)
    h2 = model.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        validation_data=(x[:4], y[:4]),
        callbacks=[CSVLogger(path, append=True)],
    )
    assert path.read_bytes().decode() == expected_csv(h) + expected_csv(h2, header=False)
    other = tmp_path / "semi.csv"
    h3 = model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(other, separator=";")])
    assert other.read_bytes().decode() == expected_csv(h3, sep=";")
    with pytest.raises(
        ValueError,
        match=re.escape("CSVLogger: `separator` expected a single character, received ', '."),
    ):
        CSVLogger(path, separator=", ")


class Interrupt(Exception):
    pass


# 11. BackupAndRestore resumes LearningRateScheduler and CSVLogger exactly: a fit killed in the
#     middle of epoch 1 and run again gives the file, the rates and the weights of a fit never
#     interrupted (the resumed epoch's rate is not scheduled twice).
def test_scheduler_and_csv_resume(tmp_path):
    x, y = data(n=12)

    def run(name, crash_at):
        model = binary_model()
        path = tmp_path / f"{name}.csv"
        crash = {"on": crash_at is not None}

        def maybe_crash(batch, logs):
            if crash["on"] and (model_epoch[0], batch) == crash_at:
                raise Interrupt

        model_epoch = [0]
        callbacks = [
            LearningRateScheduler(lambda e, lr: lr * 0.5),
            LambdaCallback(
                on_epoch_begin=lambda e, logs: model_epoch.__setitem__(0, e),
                on_batch_begin=maybe_crash,
            ),
            CSVLogger(path),
            BackupAndRestore(tmp_path / f"{name}-backup", save_freq=1),
        ]
        fit = lambda: model.fit(
            x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=callbacks
        )
        if crash["on"]:
            with pytest.raises(Interrupt):
                fit()
            crash["on"] = False
        return model, fit(), path.read_bytes()

    straight, h1, text1 = run("straight", None)
    resumed, h2, text2 = run("resumed", (1, 2))
    assert h2.history["learning_rate"] == h1.history["learning_rate"] == [0.05, 0.025, 0.0125]
    assert text2 == text1
    assert_same_weights(resumed, straight, atol=0)


# 12. fit with sample_weight: each step is the SGD step of the hand-weighted batch loss
#     sum(w_i l_i) / batch_size (Keras's sum_over_batch_size), batch after batch; the history's
#     loss is the mean of those batch losses weighted by batch size.
def test_fit_sample_weight_steps():
    x, y = data(n=12)
    w = torch.tensor([0.0, 1.0, 2.0, 0.5] * 3)
    model, oracle = binary_model(), binary_model()
    h = model.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0, sample_weight=w)
    batch_losses = [
        sgd_step_by_hand(oracle, x[i : i + 5], y[i : i + 5], w[i : i + 5]) for i in (0, 5, 10)
    ]
    assert_same_weights(model, oracle)
    expected = (5 * batch_losses[0] + 5 * batch_losses[1] + 2 * batch_losses[2]) / 12
    assert h.history["loss"][0] == pytest.approx(expected, abs=1e-6)
    ones, plain = binary_model(), binary_model()
    ones.fit(x, y, batch_size=5, shuffle=False, verbose=0, sample_weight=np.ones(12))
    plain.fit(x, y, batch_size=5, shuffle=False, verbose=0)
    assert_same_weights(ones, plain)


# 13. class_weight = the equivalent sample_weight (class ids, one-hot rows; classes left out
#     weigh 1.0), as Keras.
def test_fit_class_weight_is_sample_weight():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 20, size=(12, 6))
    ids = rng.integers(0, 3, size=12)

    def softmax_model(loss):
        set_random_seed(0)
        model = Sequential([Embedding(20, 5), LSTM(4), Dense(3, activation="softmax")])
        model.compile(SGD(learning_rate=LR), loss)
        return model

    cw = {0: 2.0, 2: 0.5}  # class 1 left out: 1.0
    w = np.array([cw.get(int(i), 1.0) for i in ids])
    one_hot = np.eye(3)[ids]
    for loss, y in (
        ("sparse_categorical_crossentropy", ids),
        ("categorical_crossentropy", one_hot),
    ):
        by_class, by_sample = softmax_model(loss), softmax_model(loss)
        h1 = by_class.fit(x, y, batch_size=4, shuffle=False, verbose=0, class_weight=cw)
        h2 = by_sample.fit(x, y, batch_size=4, shuffle=False, verbose=0, sample_weight=w)
        assert h1.history["loss"] == pytest.approx(h2.history["loss"], abs=1e-7)
        assert_same_weights(by_class, by_sample)


# 14. evaluate with sample_weight: loss = sum(w_i l_i) / N by hand; the metrics unweighted.
def test_evaluate_sample_weight():
    x, y = data(n=12)
    w = torch.linspace(0.0, 3.0, 12)
    model = binary_model(metrics=["accuracy"])
    with torch.no_grad():
        z = model(x, logits=True).reshape(-1)
        per = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    loss, acc = model.evaluate(x, y, batch_size=5, verbose=0, sample_weight=w)
    assert loss == pytest.approx(float((w * per).sum() / 12), abs=1e-6)
    assert acc == model.evaluate(x, y, verbose=0)[1]


# 15. The validation part gets its weights: validation_split splits sample_weight with x and y;
#     validation_data may carry a third item, as Keras.
def test_validation_weights():
    x, y = data(n=12)
    w = np.linspace(0.0, 3.0, 12)
    model = binary_model()
    h = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=w)
    expected = model.evaluate(x[9:], y[9:], verbose=0, sample_weight=w[9:])
    assert h.history["val_loss"][0] == pytest.approx(expected, abs=1e-6)
    h = model.fit(x, y, epochs=1, verbose=0, validation_data=(x[:4], y[:4], w[:4]))
    expected = model.evaluate(x[:4], y[:4], verbose=0, sample_weight=w[:4])
    assert h.history["val_loss"][0] == pytest.approx(expected, abs=1e-6)
