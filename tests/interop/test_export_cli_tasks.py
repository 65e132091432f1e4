"""``rnnkit textgen | translate | forecast export MODEL OUT --format onnx``: each saved task
model's network in ONNX files whose outputs (onnxruntime) equal rnnkit's to 1e-5 at three
lengths and two batch sizes. Oracle: the same network run by rnnkit (the language model's
net with carried states, the translator's encoder and decoder step, the forecaster's
ensemble combined as ``Forecaster._combine`` and calibrated by ``kappa_``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import cli
from rnnkit.tasks.forecast import Forecaster
from rnnkit.tasks.language_model import LanguageModel
from rnnkit.tasks.language_model.config import LanguageModelConfig
from rnnkit.tasks.translate import Translator

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

LENGTHS, BATCHES = (1, 6, 13), (1, 4)


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def text() -> str:
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to the red house".split()
    return "\n".join(" ".join(rng.choice(words, 10)) for _ in range(40))


@pytest.fixture(scope="module")
def lm():
    config = LanguageModelConfig(
        level="char", embedding_dim=6, units=5, layers=2, batch_size=4, seq_len=12, epochs=1
    )
    return LanguageModel(config).fit(text(), verbose=0)


def test_1_textgen_export(lm, tmp_path, capsys):
    lm.save(tmp_path / "model")
    out = tmp_path / "lm.onnx"
    assert cli.main(["textgen", "export", str(tmp_path / "model"), str(out)]) == 0
    assert f"wrote {out}: inputs `ids` int64 (batch, length)" in capsys.readouterr().out
    file = session(out)
    assert [i.name for i in file.get_inputs()] == ["ids", "h_1", "c_1", "h_2", "c_2"]
    g = torch.Generator().manual_seed(0)
    for T in LENGTHS:
        for N in BATCHES:
            ids = torch.randint(1, lm.vocab_.size, (N, T), generator=g)
            state = [torch.randn(N, 5, generator=g) for _ in range(4)]
            with torch.no_grad():
                logits, new = lm.net_.eval()(ids, [(state[0], state[1]), (state[2], state[3])])
            feed = {"ids": ids.numpy()}
            feed.update({k: s.numpy() for k, s in zip(["h_1", "c_1", "h_2", "c_2"], state)})
            got = file.run(None, feed)
            np.testing.assert_allclose(got[0], logits.numpy(), rtol=0, atol=1e-5)
            want = [t for pair in new for t in pair]
            for a, b in zip(got[1:], want):
                np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-5)


def test_2_textgen_file_carries_the_state_as_generate_does(lm, tmp_path):
    """Zeros to start, then the outputs fed back: the next-token distribution after a prompt
    read in two pieces equals LanguageModel.next_words's (read at once)."""
    from rnnkit import export

    path = export.onnx(
        export.LanguageModelStep(lm),
        tmp_path / "lm.onnx",
        (torch.ones(1, 3, dtype=torch.long), *export.LanguageModelStep(lm).zero_state(1)),
        input_names=["ids", "h_1", "c_1", "h_2", "c_2"],
    )
    file = session(path)
    prompt = "the cat sat"
    ids = lm._prompt("next_words", prompt).numpy()  # (1, 1 + n)
    state = [np.zeros((1, 5), np.float32)] * 4
    names = ["h_1", "c_1", "h_2", "c_2"]
    for piece in (ids[:, :4], ids[:, 4:]):
        out = file.run(None, {"ids": piece, **dict(zip(names, state))})
        state = out[1:]
    proba = torch.softmax(torch.from_numpy(out[0][0, -1]).double(), -1)
    best = [(lm.vocab_.tokens[int(i)], float(proba[i])) for i in proba.argsort(descending=True)]
    best = [pair for pair in best if pair[0] != "<unk>"][:3]
    for (a, p), (b, q) in zip(best, lm.next_words(prompt, 3)):
        assert a == b and p == pytest.approx(q, abs=1e-5)


PAIRS = [
    ("i am here .", "je suis ici ."),
    ("you are here .", "tu es ici ."),
    ("he is tall .", "il est grand ."),
    ("i am old .", "je suis vieux ."),
] * 2


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_3_translate_export(tmp_path, capsys, cell):
    from rnnkit import export

    translator = Translator(
        embedding_dim=6, units=6, cell=cell, epochs=1, batch_size=4, min_count=1, dropout=0.0
    ).fit(PAIRS, verbose=0)
    translator.save(tmp_path / "model")
    out = tmp_path / "onnx"
    assert cli.main(["translate", "export", str(tmp_path / "model"), str(out)]) == 0
    assert "decoder_step.onnx: one decoder step" in capsys.readouterr().out
    encoder_file, step_file = session(out / "encoder.onnx"), session(out / "decoder_step.onnx")
    encoder, step = export.Encoder(translator).eval(), export.DecoderStep(translator).eval()
    names = ["h", "c"][: 2 if cell == "lstm" else 1]
    g = torch.Generator().manual_seed(1)
    for S in LENGTHS:
        for N in BATCHES:
            source = torch.randint(1, len(translator.source_vocab_), (N, S), generator=g)
            source[0, S // 2 + 1 :] = 0  # padding at the end of the first row
            with torch.no_grad():
                want = encoder(source)
                prev = torch.randint(1, len(translator.target_vocab_), (N,), generator=g)
                want_step = step(prev, *want)
            got = encoder_file.run(None, {"source": source.numpy()})
            for a, b in zip(got, want):
                np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-5)
            feed = {"prev": prev.numpy(), "enc": got[0], "mask": got[1]}
            feed.update(dict(zip(names, got[2:])))
            for a, b in zip(step_file.run(None, feed), want_step):
                np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-5)


def seasonal(n=60):
    t = np.arange(n)
    rng = np.random.default_rng(0)
    return 10 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.2, n)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_4_forecast_export(tmp_path, capsys, cell):
    from rnnkit.datasets.timeseries import from_array

    forecaster = Forecaster(cell=cell, units=4, ensemble=3, epochs=5, patience=2, horizon=4)
    forecaster.fit(from_array(seasonal(), season_length=4))
    # a blend (the default blend="validate" may keep the network alone): forced, with a slope
    forecaster.weight_, forecaster.slope_ = 0.75, 0.02
    forecaster.save(tmp_path / "model")
    out = tmp_path / "f.onnx"
    assert cli.main(["forecast", "export", str(tmp_path / "model"), str(out)]) == 0
    assert "outputs `mean` and `sd` (batch, 4) of the 3-network ensemble" in (
        capsys.readouterr().out
    )
    file = session(out)
    x0 = forecaster.network_input()  # (1, L, C)
    (mean, sd) = file.run(None, {"x": x0})
    want_mean, want_sd = forecaster._combine(x0)
    # the blend's anchor in the scaled units, window scaling: h slope / scale
    anchor = 0.02 * np.arange(1, 5) / forecaster.scaler_.scale
    inputs = forecaster.history_[None, -forecaster.lookback_ :]
    np.testing.assert_allclose(forecaster._anchor(inputs, 4)[0], anchor, rtol=1e-12)
    want_mean = 0.75 * want_mean + 0.25 * anchor
    np.testing.assert_allclose(mean, want_mean, rtol=0, atol=1e-5)
    np.testing.assert_allclose(sd, forecaster.kappa_ * want_sd, rtol=0, atol=1e-5)
    rng = np.random.default_rng(2)
    for T in LENGTHS:
        for N in BATCHES:
            x = rng.normal(size=(N, T, x0.shape[2])).astype(np.float32)
            mean, sd = file.run(None, {"x": x})
            want_mean, want_sd = forecaster._combine(x)
            want_mean = 0.75 * want_mean + 0.25 * anchor
            np.testing.assert_allclose(mean, want_mean, rtol=0, atol=1e-5)
            np.testing.assert_allclose(sd, forecaster.kappa_ * want_sd, rtol=0, atol=1e-5)


def test_4b_a_blend_whose_anchor_depends_on_the_window_is_refused():
    import re

    from rnnkit import export
    from rnnkit.datasets.timeseries import from_array

    forecaster = Forecaster(units=4, ensemble=1, epochs=2, patience=2, horizon=4, scaling="global")
    forecaster.fit(from_array(seasonal(), season_length=4))
    forecaster.weight_ = 0.5
    with pytest.raises(
        ValueError,
        match=re.escape(
            "export: `forecaster` expected a forecaster without blending, or blended with the "
            "'window' scaling (the anchor of another scaling's blend is not in the file), "
            "received \"blend weight 0.5 with scaling 'global'\"."
        ),
    ):
        export.ForecastEnsemble(forecaster)
    forecaster.weight_ = 1.0  # the network alone: exported as before
    assert export.ForecastEnsemble(forecaster).weight.item() == 1.0


# -- scikit-learn's estimator protocol ----------------------------------------------------------
def test_5_language_model_and_forecaster_are_sklearn_estimators(lm):
    from sklearn.base import clone

    params = lm.get_params()
    assert params["units"] == 5 and params["level"] == "char"
    copy = clone(lm)
    assert copy is not lm and copy.get_params() == params and not hasattr(copy, "net_")
    assert LanguageModel(units=7).set_params(layers=3).get_params()["layers"] == 3
    # score: minus the cross-entropy per token (higher is better)
    assert (
        lm.score("the cat sat on a mat") == -lm.perplexity("the cat sat on a mat")["cross_entropy"]
    )
    f = Forecaster(units=8, cell="lstm")
    assert clone(f).get_params() == f.get_params()
    assert f.set_params(ensemble=2).config.ensemble == 2
    with pytest.raises(ValueError, match="Invalid parameter 'unit' for estimator Forecaster"):
        f.set_params(unit=3)
    with pytest.raises(TypeError, match="Forecaster: `config` expected None or a ForecastConfig"):
        Forecaster("lstm")
