"""rnnkit.tasks.translate.Translator: the functional encoder-decoder against the same model
written in plain PyTorch (outputs and gradients), teacher forcing = step-by-step decoding,
beam 1 = greedy, a tiny corpus learned by heart, save / load, bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit import interop
from rnnkit.tasks.translate import TranslateConfig, Translator
from rnnkit.tasks.translate import model as seq2seq

PAIRS = [
    ("I run.", "Je cours."),
    ("I swim.", "Je nage."),
    ("You run.", "Tu cours."),
    ("You swim.", "Tu nages."),
    ("We run.", "Nous courons."),
    ("We swim.", "Nous nageons."),
    ("He runs.", "Il court."),
    ("He swims.", "Il nage."),
]


def plain_torch(net, source, target_in, enc_lstm, dec_lstm):
    """The same computation with torch.nn modules and tensor maths, weights copied."""
    src_mask = source != 0
    lengths = src_mask.sum(1)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        F.embedding(source, net.source_embedding.E), lengths, batch_first=True, enforce_sorted=False
    )
    enc, (h, c) = enc_lstm(packed)
    enc, _ = torch.nn.utils.rnn.pad_packed_sequence(enc, batch_first=True)
    dec, _ = dec_lstm(F.embedding(target_in, net.target_embedding.E), (h, c))
    scores = dec @ enc.transpose(1, 2)  # (N, T, S)
    scores = scores.masked_fill(~src_mask[:, None, :], float("-inf"))
    context = torch.softmax(scores, -1) @ enc
    x = torch.tanh(torch.cat([dec, context], -1) @ net.combine.W + net.combine.b)
    return x @ net.output.W + net.output.b


def test_1_same_as_plain_pytorch_outputs_and_gradients():
    torch.manual_seed(0)
    net = seq2seq.build(TranslateConfig(units=6, embedding_dim=5, dropout=0.0), 11, 13)
    net.model.eval()
    source = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0], [9, 0, 0, 0]])
    target_in = torch.tensor([[1, 4, 5], [1, 6, 7], [1, 8, 9]])
    enc_lstm, dec_lstm = interop.to_torch(net.encoder), interop.to_torch(net.decoder)
    ours = net.model([source, target_in])
    theirs = plain_torch(net, source, target_in, enc_lstm, dec_lstm)
    torch.testing.assert_close(ours, theirs, atol=2e-6, rtol=0)
    target_out = torch.tensor([[4, 5, 2], [6, 7, 2], [8, 9, 2]])
    F.cross_entropy(ours.transpose(1, 2), target_out).backward()
    shared = [net.source_embedding.E, net.combine.W]
    g_shared = [p.grad.clone() for p in shared]
    for p in shared:
        p.grad = None
    F.cross_entropy(theirs.transpose(1, 2), target_out).backward()
    for p, g in zip(shared, g_shared):
        torch.testing.assert_close(g, p.grad, atol=2e-6, rtol=1e-5)
    # the recurrent weights: rnnkit's W_h is PyTorch's weight_hh transposed
    torch.testing.assert_close(
        net.encoder.W_h.grad, enc_lstm.weight_hh_l0.grad.T, atol=2e-6, rtol=1e-5
    )
    torch.testing.assert_close(
        net.decoder.W_x.grad, dec_lstm.weight_ih_l0.grad.T, atol=2e-6, rtol=1e-5
    )


@pytest.mark.parametrize(
    ("cell", "attention"), [("lstm", "luong"), ("gru", "bahdanau"), ("lstm", "none")]
)
def test_2_teacher_forcing_equals_step_by_step(cell, attention):
    torch.manual_seed(1)
    config = TranslateConfig(units=6, embedding_dim=5, cell=cell, attention=attention)
    net = seq2seq.build(config, 11, 13)
    net.model.eval()
    source = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    target_in = torch.tensor([[1, 4, 5], [1, 6, 7]])
    with torch.no_grad():
        full = torch.log_softmax(net.model([source, target_in]), -1)
        enc, mask, state = seq2seq.encode(net, source)
        for t in range(target_in.shape[1]):
            logp, state = seq2seq.decode_step(net, target_in[:, t], state, enc, mask)
            torch.testing.assert_close(logp, full[:, t], atol=2e-6, rtol=0)


@pytest.fixture(scope="module")
def learned():
    config = dict(
        units=32,
        embedding_dim=16,
        epochs=80,
        batch_size=8,
        learning_rate=1e-2,
        dropout=0.0,
        min_count=1,
    )
    return Translator(**config).fit(PAIRS, verbose=0)


def test_3_learns_a_tiny_corpus_by_heart(learned):
    sources = [s for s, _ in PAIRS]
    expected = [t.lower() for _, t in PAIRS]
    assert learned.translate(sources) == expected
    assert learned.translate(sources, beam=1) == learned.translate(sources)
    assert learned.translate(sources, beam=3) == expected
    # (BLEU needs 4-grams: these 3-token sentences have none, chrF scores them)
    assert learned.evaluate({s: [t] for s, t in PAIRS})["chrf"] > 99
    assert learned.history_.history["loss"][-1] < learned.history_.history["loss"][0] / 10


def test_4_save_load_round_trip(learned, tmp_path):
    learned.save(tmp_path / "tr")
    loaded = Translator.load(tmp_path / "tr")
    assert loaded.translate("We swim.") == learned.translate("We swim.") == "nous nageons."
    assert loaded.config == learned.config
    with pytest.raises(ValueError, match=r"Translator\.load: `path` expected a saved translator"):
        Translator.load(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        learned.save(tmp_path / "mine")


def test_5_bad_input(learned):
    with pytest.raises(
        ValueError, match=r"Translator.translate: `texts\[1\]` expected a non-empty sentence"
    ):
        learned.translate(["I run.", "  "])
    with pytest.raises(RuntimeError, match="the translator is not trained"):
        Translator().translate("x")
    with pytest.raises(
        ValueError, match=r"Translator.fit: `pairs\[0\]` expected a \(source, target\) pair"
    ):
        Translator(epochs=1).fit([("only one",)], verbose=0)
    # words never seen: unknown tokens, still a translation of the stated length at most
    out = learned.translate("Zebras fly.", max_len=4)
    assert isinstance(out, str) and len(out.split()) <= 4


# a batch as Translator._batches makes it: target = [START, *t, END] padded with 0
SOURCE = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0], [9, 0, 0, 0]])
TARGET = torch.tensor([[1, 4, 5, 2], [1, 6, 2, 0], [1, 2, 0, 0]])
TARGET_IN, TARGET_OUT = TARGET[:, :-1], TARGET[:, 1:]


def _twins(attention):
    config = TranslateConfig(units=6, embedding_dim=5, dropout=0.0, attention=attention)
    torch.manual_seed(2)
    a, b = seq2seq.build(config, 11, 13), seq2seq.build(config, 11, 13)
    b.model.load_state_dict(a.model.state_dict())
    return a, b


def _previous_loss(net):
    """The loss as the translator computed it before the fused output layer."""
    logits = net.model([SOURCE, TARGET_IN])  # (N, T, V)
    return F.cross_entropy(logits.transpose(1, 2), TARGET_OUT, ignore_index=0)


@pytest.mark.parametrize("attention", ["luong", "none"])
def test_6_fused_loss_equals_cross_entropy_over_the_logits(attention):
    a, b = _twins(attention)
    loss_a = seq2seq.loss(a, SOURCE, TARGET_IN, TARGET_OUT)
    loss_b = _previous_loss(b)
    torch.testing.assert_close(loss_a, loss_b, atol=1e-6, rtol=1e-6)
    loss_a.backward()
    loss_b.backward()
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-5, msg=name)


def test_7_train_step_equals_the_previous_step():
    from rnnkit.tasks.translate.translator import make_optimizer, train_step

    a, b = _twins("luong")
    pa, pb = list(a.model.parameters()), list(b.model.parameters())
    opt_a = make_optimizer(pa, 1e-3)
    assert opt_a.defaults["fused"]  # rnnkit's tuned runtime: PyTorch's single-pass Adam
    opt_b = torch.optim.Adam(pb, lr=1e-3)
    for _ in range(2):
        loss_a = train_step(a, opt_a, pa, 0.5, SOURCE, TARGET_IN, TARGET_OUT)
        loss_b = _previous_loss(b)
        opt_b.zero_grad(set_to_none=True)
        loss_b.backward()
        torch.nn.utils.clip_grad_norm_(pb, 0.5)
        opt_b.step()
        torch.testing.assert_close(torch.tensor(loss_a), loss_b.detach(), atol=1e-6, rtol=1e-6)
    for (name, p), q in zip(a.model.named_parameters(), pb):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-6, msg=name)


def test_8_fit_tunes_the_allocator(monkeypatch):
    from rnnkit import runtime

    calls = []
    monkeypatch.setattr(runtime, "tune_allocator", lambda: calls.append(1) or True)
    Translator(units=4, embedding_dim=3, epochs=1, min_count=1).fit(PAIRS[:2], verbose=0)
    assert calls == [1]
