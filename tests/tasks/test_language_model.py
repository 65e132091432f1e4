"""The language-model task: truncated BPTT with carried state, perplexity against a plain
cross-entropy oracle, reproducible sampling, next tokens, persistence, the fast LSTM path, and
the bad inputs (clear errors, nothing written)."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from rnnkit.kernels import dispatch
from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig, LanguageModelNet
from rnnkit.tasks.language_model.model import detach

TINY = dict(embedding_dim=16, units=24, layers=2, batch_size=8, seq_len=20, epochs=1)


@pytest.fixture(scope="module")
def shakespeare(shared_data):
    text = (shared_data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    return text[:6_000], text[6_000:7_000]


@pytest.fixture(scope="module")
def ptb_slice(shared_data):
    text = (shared_data / "ptb" / "ptb.train.txt").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    return "".join(lines[:250]), "".join(lines[250:300])


@pytest.fixture(scope="module")
def char_lm(shakespeare):
    train, valid = shakespeare
    torch.manual_seed(0)
    return LanguageModel(LanguageModelConfig(level="char", **TINY)).fit(train, valid, verbose=0)


@pytest.fixture(scope="module")
def word_lm(ptb_slice):
    train, valid = ptb_slice
    return LanguageModel(LanguageModelConfig(level="word", **TINY)).fit(train, valid, verbose=0)


def test_1_carried_state_equals_running_the_concatenated_sequence():
    config = LanguageModelConfig(embedding_dim=8, units=12, layers=2)
    net = LanguageModelNet(config, 30).eval()
    ids = torch.randint(0, 30, (9, 17))
    with torch.no_grad():
        whole, final = net(ids)
        first, state = net(ids[:, :7])
        second, state = net(ids[:, 7:], detach(state))
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-5, atol=1e-6)
    for (h, c), (h2, c2) in zip(state, final):
        torch.testing.assert_close(h, h2, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(c, c2, rtol=1e-5, atol=1e-6)


def test_2_network_equals_torch_nn_lstm_oracle():
    config = LanguageModelConfig(embedding_dim=8, units=12, layers=1)
    net = LanguageModelNet(config, 30).eval()
    ref = torch.nn.LSTM(8, 12, batch_first=True)
    lstm = net.lstms[0]
    with torch.no_grad():
        # rnnkit packs W_x (D, 4H) as [i | f | g | o]; torch's weight_ih is (4H, D), same order
        ref.weight_ih_l0.copy_(lstm.W_x.T)
        ref.weight_hh_l0.copy_(lstm.W_h.T)
        ref.bias_ih_l0.copy_(lstm.b)
        ref.bias_hh_l0.zero_()
        ids = torch.randint(0, 30, (9, 11))
        h0, c0 = torch.randn(1, 9, 12), torch.randn(1, 9, 12)
        y, _ = ref(net.embedding.E[ids], (h0, c0))
        expected = y @ net.dense.W + net.dense.b
        logits, _ = net(ids, [(h0[0], c0[0])])
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


def test_3_fast_paths_with_sequences_and_initial_state(monkeypatch):
    config = LanguageModelConfig(embedding_dim=8, units=12, layers=2)
    net = LanguageModelNet(config, 30)
    if not dispatch.compiled():
        pytest.skip("rnnkit's compiled loops are not available here")
    calls = []
    real_ids, real_resolve = dispatch.lstm_ids, dispatch.resolve

    def lookup(*args, **kwargs):
        calls.append("lookup")
        return real_ids(*args, **kwargs)

    def resolve(*args, **kwargs):
        calls.append(real_resolve(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(dispatch, "lstm_ids", lookup)
    monkeypatch.setattr(dispatch, "resolve", resolve)
    ids = torch.randint(0, 30, (dispatch.LOOKUP_MIN_ROWS, 10))
    state = [(torch.randn(8, 12), torch.randn(8, 12))] * 2
    net.train()
    logits, _ = net(ids, state)
    logits.sum().backward()
    assert calls == ["lookup", "native"]  # no reference loop, initial state included


def test_4_dropout_is_zaremba_and_turns_the_lookup_off_only_while_training():
    net = LanguageModelNet(LanguageModelConfig(embedding_dim=8, units=12, dropout=0.5), 30)
    ids = torch.randint(0, 30, (16, 5))
    net.train()
    assert not net.first_layer_looks_up(ids)  # a dropped-out input is no row of E @ W_x
    net.eval()
    assert net.first_layer_looks_up(ids) == dispatch.compiled()
    with torch.no_grad():
        a, _ = net(ids)
        b, _ = net(ids)
    torch.testing.assert_close(a, b)  # no dropout at inference


def test_5_perplexity_equals_cross_entropy_of_one_stream(char_lm, shakespeare):
    text = shakespeare[1][:300]
    ids = torch.tensor([char_lm._context_id(), *char_lm.vocab_.encode(text)])
    with torch.no_grad():
        logits, _ = char_lm.net_(ids[None, :-1])
        ce = torch.nn.functional.cross_entropy(logits[0], ids[1:]).item()
    got = char_lm._perplexity_ids(ids[1:], streams=1)
    assert got["cross_entropy"] == pytest.approx(ce, rel=1e-5)
    assert got["perplexity"] == pytest.approx(math.exp(ce), rel=1e-5)
    assert got["bits_per_char"] == pytest.approx(ce / math.log(2), rel=1e-5)
    # ten streams: every token still predicted once
    assert char_lm.perplexity(text)["tokens"] == len(text)


def test_6_training_lowers_validation_perplexity(char_lm):
    h = char_lm.history_
    assert len(h) == 1 and h[0]["valid_perplexity"] < char_lm.vocab_.size  # better than uniform


def test_7_generation_is_reproducible_with_a_seed(char_lm):
    a = char_lm.generate("ROMEO:", 40, temperature=0.8, top_k=10, seed=1)
    b = char_lm.generate("ROMEO:", 40, temperature=0.8, top_k=10, seed=1)
    c = char_lm.generate("ROMEO:", 40, temperature=0.8, top_k=10, seed=2)
    assert a == b and len(a) == 40 and a != c


def test_8_generation_reads_the_prompt_once_and_feeds_one_token_at_a_time(char_lm, monkeypatch):
    # (since the lean path, batch1: the prompt goes through last_logits, each token through
    # step; before, both went through forward, which this test recorded)
    widths = []
    cls = type(char_lm.net_)
    last_logits, step = cls.last_logits, cls.step
    monkeypatch.setattr(
        cls,
        "last_logits",
        lambda self, ids, state=None: widths.append(ids.shape[1]) or last_logits(self, ids, state),
    )
    monkeypatch.setattr(
        cls,
        "step",
        lambda self, ids, state: (
            widths.append(("step", tuple(ids.shape))) or step(self, ids, state)
        ),
    )
    char_lm.generate("ROMEO:", 5, seed=0)
    # context + 6 prompt characters once, then one step of one token per new token (the last
    # token drawn is not fed)
    assert widths == [7] + [("step", (1,))] * 4


def test_9_greedy_top_k_1_follows_next_words(char_lm):
    first = char_lm.next_words("ROMEO:\nWhat", 1)[0][0]
    assert char_lm.generate("ROMEO:\nWhat", 1, top_k=1, seed=5) == first
    assert char_lm.generate("ROMEO:\nWhat", 1, top_p=1e-9, seed=5) == first


def test_9b_stream_yields_generate_token_by_token(char_lm, word_lm):
    # joined, the pieces are generate's text for the same arguments; one piece per token
    for lm, prompt in ((char_lm, "ROMEO:"), (word_lm, "the company")):
        pieces = list(lm.stream(prompt, 12, temperature=0.9, top_k=20, seed=4))
        assert len(pieces) == 12
        assert "".join(pieces) == lm.generate(prompt, 12, temperature=0.9, top_k=20, seed=4)
    # the arguments are checked when stream is called, before any token is drawn
    with pytest.raises(
        ValueError,
        match=re.escape("LanguageModel.stream: `temperature` expected a number > 0, received 0"),
    ):
        word_lm.stream("the", 3, temperature=0)


def test_10_next_words_are_probabilities_in_falling_order(word_lm):
    ranked = word_lm.next_words("I grew up in Tokyo . therefore i speak fluent", 5)
    probs = [q for _, q in ranked]
    assert len(ranked) == 5 and probs == sorted(probs, reverse=True)
    assert all(0 < q < 1 for q in probs) and "<unk>" not in [t for t, _ in ranked]
    everything = word_lm.next_words("the", word_lm.vocab_.size, include_unk=True)
    assert sum(q for _, q in everything) == pytest.approx(1.0, abs=1e-9)


def test_11_save_load_round_trip(word_lm, tmp_path):
    word_lm.save(tmp_path / "m")
    again = LanguageModel.load(tmp_path / "m")
    assert again.vocab_ == word_lm.vocab_ and again.config == word_lm.config
    text = "the company said N shares"
    assert again.perplexity(text) == word_lm.perplexity(text)
    assert again.generate("the", 10, seed=3) == word_lm.generate("the", 10, seed=3)
    (tmp_path / "m" / "notes.txt").write_text("mine")
    word_lm.save(tmp_path / "m")  # replaced, the user's file kept
    assert (tmp_path / "m" / "notes.txt").read_text() == "mine"


def test_12_save_never_overwrites_a_foreign_folder(word_lm, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "thesis.tex").write_text("x")
    with pytest.raises(FileExistsError, match="a folder that rnnkit did not write"):
        word_lm.save(tmp_path / "other")
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["thesis.tex"]
    with pytest.raises(
        ValueError, match=re.escape("LanguageModel.load: `path` expected a saved language model")
    ):
        LanguageModel.load(tmp_path / "other")


def test_13_tied_weights_share_the_embedding():
    net = LanguageModelNet(LanguageModelConfig(embedding_dim=12, units=12, tie_weights=True), 30)
    assert net.dense is None and "embedding.E" in net.tensors() and "dense.W" not in net.tensors()
    with pytest.raises(
        ValueError,
        match=re.escape("LanguageModelConfig: `tie_weights` expected embedding_dim == units"),
    ):
        LanguageModelConfig(embedding_dim=8, units=12, tie_weights=True).validate()


def test_14_bad_inputs_are_named(word_lm):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "LanguageModel.fit: `corpus` expected a non-empty training text, received an empty one."
        ),
    ):
        LanguageModel(LanguageModelConfig(**TINY)).fit("  \n")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "LanguageModel.fit: `corpus` expected a training text of at least one sequence per stream, batch_size x seq_len + 1 = 161 word tokens, received 4"
        ),
    ):
        LanguageModel(LanguageModelConfig(**TINY)).fit("a b c\n")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "LanguageModel.next_words: `text` expected at least one word of the model's vocabulary ("
        ),
    ):
        word_lm.next_words("zyxxy qwertz", 3)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "LanguageModel.next_words: `text` expected at least one word, received an empty text."
        ),
    ):
        word_lm.next_words("", 3)
    with pytest.raises(
        ValueError,
        match=re.escape("LanguageModel.generate: `temperature` expected a number > 0, received 0"),
    ):
        word_lm.generate("the", 3, temperature=0)
    with pytest.raises(RuntimeError, match="the model is not trained"):
        LanguageModel().next_words("the")


# -- the lean generation path (batch1): equal to the full forward ------------------------------
def _old_sample(lm, prompt, length, temperature, top_k, seed):
    """The generation loop as it was before the lean path: the whole network's forward on
    the prompt, then on each token (logits of every position, the last one used)."""
    import math

    gen = torch.Generator()
    gen.manual_seed(seed)
    ids = lm._prompt("generate", prompt, allow_empty=True)
    tokens = []
    with torch.no_grad():
        logits, state = lm.net_(ids)
        for _ in range(length):
            z = lm._mask_unk(logits[0, -1]).double() / temperature
            if top_k is not None:
                kth = torch.topk(z, top_k).values[-1]
                z = torch.where(z < kth, -math.inf, z)
            token = int(torch.multinomial(torch.softmax(z, dim=-1), 1, generator=gen))
            tokens.append(token)
            logits, state = lm.net_(torch.tensor([[token]]), state)
    return tokens


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("rows", [1, 3])
def test_15_last_logits_equal_the_forward_at_the_last_position(tied, rows):
    config = LanguageModelConfig(embedding_dim=12, units=12, layers=2, tie_weights=tied)
    torch.manual_seed(1)
    net = LanguageModelNet(config, 40).eval()
    ids = torch.randint(0, 40, (rows, 9))
    with torch.no_grad():
        logits, state = net(ids)
        last, lean_state = net.last_logits(ids)
        # from a carried state too
        logits2, state2 = net(ids[:, :4], state)
        last2, lean_state2 = net.last_logits(ids[:, :4], state)
    torch.testing.assert_close(last, logits[:, -1], rtol=0, atol=1e-6)
    torch.testing.assert_close(last2, logits2[:, -1], rtol=0, atol=1e-6)
    for a, b in zip([*state, *state2], [*lean_state, *lean_state2]):
        torch.testing.assert_close(a[0], b[0], rtol=0, atol=1e-6)
        torch.testing.assert_close(a[1], b[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("impl", ["auto", "kernel", "reference"])
@pytest.mark.parametrize("rows", [1, 4])
def test_16_step_equals_the_forward_on_one_token(impl, rows):
    # every path of dispatch.lstm_step (the layer's impl: auto -> the autotuner's choice,
    # kernel -> the compiled loop, anything else -> the plain ops), batch 1 and > 1
    config = LanguageModelConfig(embedding_dim=10, units=14, layers=3)
    torch.manual_seed(2)
    net = LanguageModelNet(config, 30).eval()
    for lstm in net.lstms:
        lstm.impl = impl
    ids = torch.randint(0, 30, (rows, 5))
    tokens = torch.randint(0, 30, (rows,))
    with torch.no_grad():
        _, state = net(ids)
        logits, new_state = net(tokens[:, None], state)
        lean, lean_state = net.step(tokens, state)
    torch.testing.assert_close(lean, logits[:, 0], rtol=0, atol=1e-6)
    for (h, c), (h2, c2) in zip(new_state, lean_state):
        torch.testing.assert_close(h2, h, rtol=0, atol=1e-6)
        torch.testing.assert_close(c2, c, rtol=0, atol=1e-6)


def test_17_generation_equals_the_path_before_the_lean_one(char_lm, word_lm):
    for lm, prompt in ((char_lm, "ROMEO:"), (word_lm, "the company said")):
        text = lm.generate(prompt, 30, temperature=0.9, top_k=15, seed=11)
        tokens = _old_sample(lm, prompt, 30, 0.9, 15, 11)
        assert text == "".join(
            lm.vocab_.decode([p, t])[len(lm.vocab_.decode([p])) :]
            if p is not None
            else lm.vocab_.decode([t])
            for p, t in zip([None, *tokens[:-1]], tokens)
        )


def test_18_next_words_equal_the_full_forward(word_lm):
    text = "the company said it"
    ids = word_lm._prompt("next_words", text)
    with torch.no_grad():
        logits, _ = word_lm.net_(ids)
    proba = torch.softmax(logits[0, -1].double(), -1)
    proba[word_lm.vocab_.unk_id] = -1.0
    p, idx = torch.topk(proba, 5)
    ranked = word_lm.next_words(text, 5)
    assert [t for t, _ in ranked] == [word_lm.vocab_.tokens[int(i)] for i in idx]
    for (_, q), q_old in zip(ranked, p.tolist()):
        assert abs(q - q_old) <= 1e-6


@pytest.mark.parametrize("tied", [False, True])
def test_19_training_loss_equals_cross_entropy_of_the_logits(tied):
    """LanguageModelNet.loss (output layer fused with the softmax cross-entropy) against
    F.cross_entropy over forward's logits: the same value, state and gradients, dropout on
    (the same random masks drawn in the same order)."""
    config = LanguageModelConfig(embedding_dim=12, units=12, layers=2, tie_weights=tied)
    torch.manual_seed(0)
    a, b = LanguageModelNet(config, 30), LanguageModelNet(config, 30)
    b.load_state_dict(a.state_dict())
    ids, targets = torch.randint(0, 30, (5, 9)), torch.randint(0, 30, (5, 9))
    torch.manual_seed(1)
    loss_a, state_a = a.loss(ids, targets)
    torch.manual_seed(1)
    logits, state_b = b(ids)
    loss_b = torch.nn.functional.cross_entropy(logits.reshape(-1, 30), targets.reshape(-1))
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-6, atol=1e-6)
    for (h, c), (h2, c2) in zip(state_a, state_b):
        torch.testing.assert_close(h, h2)
        torch.testing.assert_close(c, c2)
    loss_a.backward()
    loss_b.backward()
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize(
    "settings, clip",
    [({}, 0.25), ({"optimizer": "sgd"}, 5.0), ({"clipnorm": 1.5}, 1.5)],
)
def test_20_gradient_clip_defaults_by_optimizer(shakespeare, monkeypatch, settings, clip):
    """fit clips the global gradient norm at 0.25 with Adam (at Zaremba's 5.0, Adam 0.002
    diverged in the second epoch of a 2 x 200 model on a Penn Treebank slice: training
    perplexity 788, validation 884,043),
    at 5.0 with SGD, and at --clipnorm when given."""
    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        seen.append(max_norm)
        return real(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    train, _ = shakespeare
    config = LanguageModelConfig(level="char", **{**TINY, **settings})
    LanguageModel(config).fit(train[:2_000], verbose=0)
    assert seen and set(seen) == {clip}


@pytest.mark.parametrize(
    "settings",
    [
        {"schedule": "cosine", "warmup": 0.2, "epochs": 3},
        {"schedule": "plateau", "warmup": 0.5, "epochs": 2},
        {"schedule": "cosine", "optimizer": "sgd", "epochs": 2},
    ],
)
def test_21_learning_rate_follows_warmup_and_schedule_step_by_step(shakespeare, settings):
    """Every optimizer step runs at config.lr_at(steps taken / all steps): a linear warmup
    from 0, then (cosine) half a cosine down to 0 or (plateau, no validation text) the
    starting rate; the hand-computed values of lr_at pin the curve itself."""
    c = LanguageModelConfig(schedule="cosine", warmup=0.1)
    assert [c.lr_at(p, 2.0) for p in (0.0, 0.05, 0.1, 0.55, 1.0)] == pytest.approx(
        [0.0, 1.0, 2.0, 1.0, 0.0]
    )
    assert c.lr_at(0.1 + 0.9 / 3, 2.0) == pytest.approx(1.0 + math.cos(math.pi / 3))
    assert LanguageModelConfig(warmup=0.5).lr_at(0.75, 2.0) == 2.0  # plateau: flat after
    seen = []
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"])
    )
    try:
        train, _ = shakespeare
        config = LanguageModelConfig(level="char", **{**TINY, **settings})
        LanguageModel(config).fit(train[:3_000], verbose=0)
    finally:
        hook.remove()
    per_epoch = len(range(0, (3_000 - 1) // TINY["batch_size"], TINY["seq_len"]))
    total = per_epoch * config.epochs
    assert len(seen) == total
    assert seen == pytest.approx([config.lr_at(k / total, config.lr) for k in range(total)])
    if config.schedule == "cosine":
        assert seen[-1] < 0.01 * config.lr  # annealed to (almost) 0 at the last step


def test_22_cosine_schedule_follows_the_minutes_budget(shakespeare, monkeypatch):
    """With --minutes, the schedule's progress is the larger of the steps' and the clock's
    fraction: under a clock that moves 1 s per reading and a 30 s budget, training stops on
    the budget long before its 100 epochs, the rate having fallen monotonically to near 0."""
    from rnnkit.tasks.language_model import language_model as module

    clock = iter(range(10**6))
    monkeypatch.setattr(module.time, "perf_counter", lambda: float(next(clock)))
    seen = []
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"])
    )
    try:
        train, _ = shakespeare
        config = LanguageModelConfig(
            level="char", **{**TINY, "epochs": 100, "minutes": 0.5, "schedule": "cosine"}
        )
        lm = LanguageModel(config).fit(train[:3_000], verbose=0)
    finally:
        hook.remove()
    assert 5 < len(seen) < 30  # stopped by the budget (100 epochs would be 900 steps)
    assert all(a >= b for a, b in itertools.pairwise(seen))
    assert seen[0] == pytest.approx(config.lr, rel=0.05) and seen[-1] < 0.05 * config.lr
    assert lm.history_[-1]["learning_rate"] == seen[-1]


@pytest.mark.parametrize("reset_every", [None, 1, 3])
def test_23_reset_every_restarts_the_carried_state_from_zeros(shakespeare, reset_every):
    """Every epoch's first batch starts from zeros; with reset_every=N so does every N-th
    batch, and the others start from the state the batch before left (detached)."""
    starts = []
    real = LanguageModelNet.loss

    def spy(self, x, y, state=None):
        starts.append(state is None)
        return real(self, x, y, state)

    train, _ = shakespeare
    config = LanguageModelConfig(level="char", reset_every=reset_every, **{**TINY, "epochs": 2})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LanguageModelNet, "loss", spy)
        LanguageModel(config).fit(train[:3_000], verbose=0)
    per_epoch = len(range(0, (3_000 - 1) // TINY["batch_size"], TINY["seq_len"]))
    every = reset_every or per_epoch
    assert starts == [k % per_epoch % every == 0 for k in range(2 * per_epoch)]
