"""rnnkit.export.onnx: models written to ONNX with a dynamic batch and length, run by
onnxruntime (the oracle: an independent runtime) and compared with rnnkit's own outputs on
its fast paths, to 1e-5, at three lengths and two batch sizes."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

from rnnkit import export
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, SimpleRNN
from rnnkit.models import Sequential

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

LENGTHS = (1, 6, 13)
BATCHES = (1, 4)
ATOL = 1e-5


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and trace notes
        warnings.simplefilter("ignore")
        yield


def ids(N, T, V=40, seed=0):
    """Token ids in [1, V) with 'pre' padding (zeros in front) on every other row."""
    g = torch.Generator().manual_seed(seed + 97 * N + T)
    x = torch.randint(1, V, (N, T), generator=g)
    x[::2, : T // 2] = 0
    return x


def floats(N, T, D=3, seed=0):
    g = torch.Generator().manual_seed(seed + 97 * N + T)
    return torch.randn(N, T, D, generator=g)


def _flat(out):
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _flat(item)]


def check(model, make, tmp_path, name="model"):
    """Export ``model`` once (example at batch 2, length 5), then compare onnxruntime with
    rnnkit at every batch size and length."""
    model.eval()
    path = export.onnx(model, tmp_path / f"{name}.onnx", make(2, 5))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    for N in BATCHES:
        for T in LENGTHS:
            args = make(N, T)
            args = args if isinstance(args, tuple) else (args,)
            with torch.no_grad():
                expected = _flat(model(*args))  # rnnkit's own (fast) path
            got = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
            assert len(got) == len(expected)
            for g, e in zip(got, expected):
                assert g.shape == tuple(e.shape), (N, T)
                np.testing.assert_allclose(g, e.numpy(), rtol=0, atol=ATOL, err_msg=f"{N=} {T=}")
    return path


# -- 1. layers ---------------------------------------------------------------------------------
def test_1_embedding_lstm_dense(tmp_path):
    torch.manual_seed(0)
    model = Sequential([Embedding(40, 8), LSTM(16), Dense(1, activation="sigmoid")])
    check(model, ids, tmp_path)


@pytest.mark.parametrize("reset_after", [True, False])
def test_2_gru(tmp_path, reset_after):
    torch.manual_seed(1)
    model = Sequential([Input((None, 3)), GRU(12, reset_after=reset_after, return_sequences=True)])
    check(model, floats, tmp_path)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_3_simple_rnn(tmp_path, activation):
    torch.manual_seed(2)
    model = Sequential([Input((None, 3)), SimpleRNN(10, activation=activation), Dense(2)])
    check(model, floats, tmp_path)


def test_4_bidirectional(tmp_path):
    torch.manual_seed(3)
    model = Sequential(
        [Input((None, 3)), Bidirectional(LSTM(7, return_sequences=True)), Bidirectional(GRU(5))]
    )
    check(model, floats, tmp_path)


@pytest.mark.parametrize("cell", [LSTM, GRU, SimpleRNN])
def test_5_mask_zero_every_cell(tmp_path, cell):
    """A masked layer keeps a loop over the length (ONNX Loop): padding in front and, for the
    Bidirectional, a backward layer that reads the padding last."""
    torch.manual_seed(4)
    model = Sequential(
        [
            Embedding(40, 6, mask_zero=True),
            Bidirectional(cell(5, return_sequences=True)),
            cell(4),
            Dense(1),
        ]
    )
    check(model, ids, tmp_path)


def test_6_masked_padding_changes_nothing_in_onnx(tmp_path):
    """The file honours the mask: a row with padding in front gives the output of the row
    without it (the padding is not read, not merely the same as rnnkit)."""
    torch.manual_seed(5)
    model = Sequential([Embedding(40, 6, mask_zero=True), GRU(5), Dense(1)]).eval()
    path = export.onnx(model, tmp_path / "m.onnx", ids(2, 5))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    row = torch.tensor([[7, 3, 9]])
    padded = torch.tensor([[0, 0, 0, 0, 7, 3, 9]])
    (a,) = session.run(None, {"input_0": row.numpy()})
    (b,) = session.run(None, {"input_0": padded.numpy()})
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


# -- 2. the task models -------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"cell": "gru", "mask_zero": True, "bidirectional": True}])
def test_7_sentiment_model(tmp_path, options):
    from rnnkit.tasks.sentiment.config import SentimentConfig
    from rnnkit.tasks.sentiment.model import build_model

    torch.manual_seed(6)
    config = SentimentConfig(
        recipe="seed", num_words=40, embedding_dim=8, units=6, layers=2, **options
    )
    check(build_model(config), ids, tmp_path)


def test_8_language_model(tmp_path):
    """The language model's network: logits (N, T, V) and the final states of both layers."""
    from rnnkit.tasks.language_model.config import LanguageModelConfig
    from rnnkit.tasks.language_model.model import LanguageModelNet

    torch.manual_seed(7)
    config = LanguageModelConfig(embedding_dim=8, units=8, layers=2)
    check(LanguageModelNet(config, 40), lambda N, T: ids(N, T) + 1, tmp_path)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_9_forecaster_network(tmp_path, cell):
    from rnnkit.tasks.forecast.config import ForecastConfig
    from rnnkit.tasks.forecast.network import ForecastNet

    torch.manual_seed(8)
    config = ForecastConfig(cell=cell, units=8, layers=2)
    check(ForecastNet(config, 3, 4), floats, tmp_path)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_10_translator_encoder_and_decoder_step(tmp_path, cell):
    """The translator's two inference models: the encoder over a padded source, then one
    decoder step (attention over the encoder outputs, the source's padding masked)."""
    from rnnkit.tasks.translate.config import TranslateConfig
    from rnnkit.tasks.translate.model import build

    torch.manual_seed(9)
    net = build(TranslateConfig(embedding_dim=8, units=8, cell=cell, dropout=0.0), 40, 30)
    net.model.eval()
    encoder = export.Encoder(net)

    def decoder_inputs(N, S):
        with torch.no_grad():
            enc, mask, *state = encoder(ids(N, S))
        prev = torch.arange(1, N + 1)
        return (prev, enc, mask, *state)

    check(encoder, ids, tmp_path, "encoder")
    check(export.DecoderStep(net), decoder_inputs, tmp_path, "decoder")


# -- 3. the file and the arguments --------------------------------------------------------------
def test_11_written_atomically_and_mode_restored(tmp_path, monkeypatch):
    """The file appears whole (a temporary file renamed); an exporter that fails leaves
    nothing behind, and the model's training mode comes back."""
    model = Sequential([Embedding(40, 4), LSTM(3)])
    model.train()

    def boom(*args, **kwargs):
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(torch.onnx, "export", boom)
    with pytest.raises(RuntimeError, match="exporter failed"):
        export.onnx(model, tmp_path / "m.onnx", ids(2, 5))
    assert list(tmp_path.iterdir()) == []
    assert model.training
    monkeypatch.undo()
    export.onnx(model, tmp_path / "m.onnx", ids(2, 5))
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    assert model.training


def test_12_errors(tmp_path):
    with pytest.raises(
        TypeError,
        match=re.escape(
            "export.onnx: `model` expected a torch.nn.Module (an rnnkit model or network), received"
        ),
    ):
        export.onnx("model", tmp_path / "m.onnx", ids(1, 2))
    with pytest.raises(
        TypeError,
        match=re.escape("export.onnx: `example` expected a tensor or a tuple of tensors"),
    ):
        export.onnx(Sequential([Embedding(4, 2), LSTM(2)]), tmp_path / "m.onnx", [[1, 2]])
