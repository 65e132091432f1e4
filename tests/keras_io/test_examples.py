"""keras-io examples that use recurrent layers, run with only their imports changed.

Each example is a file of ``benchmarks/keras_io/`` (the example as keras.io has it, imports
changed, at full size); each test runs that file with smaller sizes (the lines replaced are
listed in the test) on real data, then checks what it built and trained against an oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _example_runner import run_example


def _hand_lstm(layer, x):
    """Keras's LSTM equations by hand on the layer's Keras weights (``get_weights``)."""
    W, U, b = (torch.as_tensor(w, dtype=torch.float64) for w in layer.get_weights())
    x = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64))
    H = U.shape[0]
    h = torch.zeros(x.shape[0], H, dtype=torch.float64)
    c = torch.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ W + h @ U + b  # (N, 4H): [i | f | g | o]
        i, f, g, o = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, 1).numpy()  # (N, T, H)


# 1. addition_rnn: LSTM encoder, RepeatVector, LSTM decoder, Dense per step on bool one-hots.
def test_addition_rnn(tmp_path, capsys):
    ns = run_example(
        "addition_rnn",
        {"TRAINING_SIZE = 50000": "TRAINING_SIZE = 400", "epochs = 30": "epochs = 3"},
        tmp_path,
    )
    model, x_val = ns["model"], ns["x_val"]
    assert x_val.dtype == bool and ns["x_train"].shape == (360, 7, 12)
    out = capsys.readouterr().out
    assert out.count("Iteration") == 2 and out.count("Q ") == 20
    # The model's prediction equals the hand-computed stack on the same weights.
    enc, _, dec, dense = model.layers
    h = _hand_lstm(enc, x_val[:5])[:, -1]  # (5, 128)
    seq = _hand_lstm(dec, np.repeat(h[:, None], 4, axis=1))  # (5, 4, 128)
    W, b = dense.get_weights()
    logits = seq @ W + b
    want = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x_val[:5], verbose=0), want, atol=1e-5)


@pytest.fixture
def data_dir(shared_data, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(shared_data))
    return shared_data


# 2. bidirectional_lstm_imdb: functional model on Keras's IMDb arrays (read from the real data).
def test_bidirectional_lstm_imdb(tmp_path, data_dir):
    ns = run_example(
        "bidirectional_lstm_imdb",
        {
            "maxlen = 200  # Only consider the first 200 words of each movie review": "maxlen = 30",
            "model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val))": (
                "history = model.fit(x_train[:192], y_train[:192], batch_size=32, epochs=1,"
                " validation_data=(x_val[:64], y_val[:64]))"
            ),
        },
        tmp_path,
    )
    model, x_val = ns["model"], ns["x_val"]
    assert ns["x_train"].shape == (25000, 30) and len(ns["y_train"]) == 25000
    assert set(ns["history"].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # Oracle: the two bidirectional layers by hand (forward + reversed LSTM, concatenated).
    emb, bi1, bi2, dense = model.layers[1:]
    e = emb.get_weights()[0][x_val[:3]]  # (3, 30, 128)

    def bi(layer, x, sequences):
        f = _hand_lstm(layer.forward_layer, x)
        b = _hand_lstm(layer.backward_layer, x[:, ::-1])
        if sequences:
            return np.concatenate([f, b[:, ::-1]], -1)
        return np.concatenate([f[:, -1], b[:, -1]], -1)

    h = bi(bi2, bi(bi1, e, True), False)  # (3, 128)
    W, b = dense.get_weights()
    want = 1 / (1 + np.exp(-(h @ W + b)))
    np.testing.assert_allclose(model.predict(x_val[:3], verbose=0), want, atol=1e-5)


# 3. lstm_character_level_text_generation: Tiny Shakespeare for Nietzsche, sampling loop.
def test_lstm_character_level_text_generation(tmp_path, shared_data, capsys):
    ns = run_example(
        "lstm_character_level_text_generation",
        {
            'text = text.replace("\\n", " ")  # We remove newlines chars for nicer display': (
                'text = text.replace("\\n", " ")[:3000]'
            ),
            "epochs = 40": "epochs = 1",
            "for i in range(400):": "for i in range(5):",
        },
        tmp_path,
    )
    out = capsys.readouterr().out
    assert out.count("...Generated: ") == 4
    model, x, y = ns["model"], ns["x"], ns["y"]
    assert y.dtype == bool and (y.sum(1) == 1).all()
    assert x.dtype == bool and x.shape == (len(ns["sentences"]), 40, len(ns["chars"]))
    lstm, dense = model.layers
    h = _hand_lstm(lstm, x[:4])[:, -1]
    W, b = dense.get_weights()
    logits = h @ W + b
    want = np.exp(logits - logits.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x[:4], verbose=0), want, atol=1e-5)


# 4. timeseries_weather_forecasting: windows from timeseries_dataset_from_array, callbacks.
def test_timeseries_weather_forecasting(tmp_path, shared_data):
    ns = run_example("timeseries_weather_forecasting", {"epochs = 10": "epochs = 3"}, tmp_path)
    history, model = ns["history"], ns["model"]
    assert len(history.history["loss"]) == 3 and len(history.history["val_loss"]) == 3
    assert (tmp_path / "model_checkpoint.weights.h5").is_file()
    # The first training window: 48 months of both features; its target 60 months later.
    features = ns["features"].values
    inputs, targets = next(iter(ns["dataset_train"]))
    np.testing.assert_allclose(inputs[0].numpy(), features[:48], rtol=1e-6)
    np.testing.assert_allclose(targets[0].numpy(), features[60, [1]], rtol=1e-6)
    lstm, dense = model.layers[1:]
    h = _hand_lstm(lstm, inputs[:4].numpy())[:, -1]
    W, b = dense.get_weights()
    np.testing.assert_allclose(model.predict(inputs[:4], verbose=0), h @ W + b, atol=1e-5)


# 5. timeseries_classification_from_scratch: Conv1D / BatchNormalization / ReLU, .keras best model.
def test_timeseries_classification_from_scratch(tmp_path, shared_data):
    ns = run_example(
        "timeseries_classification_from_scratch",
        {
            "epochs = 500": "epochs = 2",
            "x_train = x_train[idx]": "x_train = x_train[idx][:256]",
            "y_train = y_train[idx]": "y_train = y_train[idx][:256]",
        },
        tmp_path,
    )
    assert set(np.unique(ns["y_train"])) == {0, 1} and ns["num_classes"] == 2
    assert 0.0 <= ns["test_acc"] <= 1.0
    model = ns["model"]  # loaded back from best_model.keras
    x = ns["x_test"][:8]
    # Oracle: torch.nn.functional on the loaded model's weights (inference batch norm).
    h = torch.as_tensor(x, dtype=torch.float32).transpose(1, 2)  # (N, 1, T)
    convs = [la for la in model.layers if type(la).__name__ == "Conv1D"]
    norms = [la for la in model.layers if type(la).__name__ == "BatchNormalization"]
    for conv, bn in zip(convs, norms):
        k, b = (torch.as_tensor(w) for w in conv.get_weights())  # (3, C, 64), (64,)
        h = torch.nn.functional.conv1d(h, k.permute(2, 1, 0), b, padding=1)
        g, beta, mean, var = (torch.as_tensor(w) for w in bn.get_weights())
        h = torch.nn.functional.batch_norm(h, mean, var, g, beta, False, 0.0, bn.epsilon)
        h = torch.relu(h)
    W, b = (torch.as_tensor(w) for w in model.layers[-1].get_weights())
    want = torch.softmax(h.mean(-1) @ W + b, -1).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-5)


# 6. The functional API guide: two inputs through Embedding -> LSTM, a loss per named output.
def test_functional_api_multi_io(tmp_path):
    ns = run_example(
        "functional_api_multi_io",
        {
            "title_data = np.random.randint(num_words, size=(1280, 10))": (
                "title_data = np.random.randint(num_words, size=(96, 10))"
            ),
            "body_data = np.random.randint(num_words, size=(1280, 100))": (
                "body_data = np.random.randint(num_words, size=(96, 20))"
            ),
            'tags_data = np.random.randint(2, size=(1280, num_tags)).astype("float32")': (
                'tags_data = np.random.randint(2, size=(96, num_tags)).astype("float32")'
            ),
            "priority_targets = np.random.random(size=(1280, 1))": (
                "priority_targets = np.random.random(size=(96, 1))"
            ),
            "dept_targets = np.random.randint(2, size=(1280, num_departments))": (
                "dept_targets = np.random.randint(2, size=(96, num_departments))"
            ),
        },
        tmp_path,
    )
    model = ns["model"]
    history = model.history.history
    # (Keras also logs each head's loss, "priority_loss" / "department_loss": not yet here)
    assert len(history["loss"]) == 2
    # The total is the weighted sum of the two heads' losses (loss_weights 1.0 and 0.2).
    data = {"title": ns["title_data"], "body": ns["body_data"], "tags": ns["tags_data"]}
    out = model.predict(data, verbose=0)
    p = torch.as_tensor(out["priority"], dtype=torch.float64)
    d = torch.as_tensor(out["department"], dtype=torch.float64)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        p, torch.as_tensor(ns["priority_targets"])
    )
    dt = torch.as_tensor(ns["dept_targets"], dtype=torch.float64)
    cce = -(dt * torch.log_softmax(d, -1)).sum(-1).mean()
    got = model.evaluate(
        data,
        {"priority": ns["priority_targets"], "department": ns["dept_targets"]},
        verbose=0,
        return_dict=True,
    )
    np.testing.assert_allclose(got["loss"], float(bce + 0.2 * cce), rtol=1e-5)
    assert ns["encoded_input_a"].shape[-1] == 128
    assert (tmp_path / "multi_input_and_output_model.png").exists() or (
        tmp_path / "multi_input_and_output_model.dot"
    ).exists()


# 7. Working with RNNs: stateful layers, state reuse, LSTM vs RNN(LSTMCell) on the same weights.
def test_working_with_rnns(tmp_path, capsys):
    ns = run_example(
        "working_with_rnns",
        {
            "x_train, y_train = images[:1500], labels[:1500]": (
                "x_train, y_train = images[:128], labels[:128]"
            ),
            "x_test, y_test = images[1500:], labels[1500:]": (
                "x_test, y_test = images[1500:1564], labels[1500:1564]"
            ),
        },
        tmp_path,
    )
    x = ns["x_test"][:16]
    np.testing.assert_allclose(
        ns["noncudnn_model"].predict(x, verbose=0) * 0 + ns["cpu_model"].predict(x, verbose=0),
        ns["model"].predict(x, verbose=0),
        atol=1e-6,
    )
    assert "Predicted result is:" in capsys.readouterr().out
    # State reuse: the new layer started from the stateful layer's last states.
    states = [torch.as_tensor(s).detach().numpy() for s in ns["existing_state"]]
    assert len(states) == 2 and states[0].shape == (20, 64)
    assert not np.allclose(states[0], 0)
    new = ns["new_lstm_layer"]
    from_zero = new(ns["paragraph3"])
    assert not torch.allclose(from_zero.detach(), torch.as_tensor(ns["new_output"]).detach())


# 8. lstm_seq2seq at the example's own sizes but smaller, on the real English-French pairs.
def test_lstm_seq2seq(tmp_path, shared_data, capsys):
    ns = run_example(
        "lstm_seq2seq",
        {
            "epochs = 100  # Number of epochs to train for.": "epochs = 2",
            "latent_dim = 256  # Latent dimensionality of the encoding space.": "latent_dim = 32",
            "num_samples = 10000  # Number of samples to train on.": "num_samples = 120",
            "for seq_index in range(20):": "for seq_index in range(2):",
        },
        tmp_path,
    )
    assert ns["input_texts"][:2] == ["Go.", "Hi."]
    assert ns["target_texts"][1] == "\tSalut !\n"
    assert capsys.readouterr().out.count("Decoded sentence:") == 2
    assert ns["encoder_model"].layers[1] is ns["model"].layers[2]
