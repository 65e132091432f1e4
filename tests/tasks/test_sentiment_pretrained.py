"""`SentimentConfig.pretrained_lm`: the sentiment network started from a language model (Dai &
Le 2015): the embedding copied word by word, the LSTM layers giving the language model's hidden
states (oracle: the language model's own forward), the settings that do not fit refused with
their exact messages, the provenance saved, and the IMDb training reviews as a corpus."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig, LanguageModelNet
from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig, build_model
from rnnkit.tasks.sentiment.pretrained import (
    copy_embedding,
    describe,
    network_parts,
    start_from_language_model,
)
from rnnkit.text import Tokenizer, TokenVocabulary, Vocabulary

WORDS = ["the", "film", "was", "a", "great", "bad", "plot", "and", "acting", "dull"]


def language_model(
    words=WORDS, level="word", embedding_dim=6, units=5, layers=1, seed=0
) -> LanguageModel:
    """An untrained language model over ``words`` (random weights): enough to copy from."""
    config = LanguageModelConfig(
        level=level, embedding_dim=embedding_dim, units=units, layers=layers
    )
    lm = LanguageModel(config)
    specials = ["<unk>", "<eos>"] if level == "word" else ["<unk>"]
    lm.vocab_ = TokenVocabulary(specials + list(words), level=level)
    torch.manual_seed(seed)
    lm.net_ = LanguageModelNet(config, lm.vocab_.size).eval()
    return lm


@pytest.fixture(scope="module")
def saved_lms(tmp_path_factory):
    """Saved language models, one per way of not fitting the seed-sized test network."""
    root = tmp_path_factory.mktemp("lms")
    kinds = {
        "good": {},
        "two_layers": {"layers": 2},
        "char": {"level": "char", "words": list("abcdefg")},
        "narrow": {"embedding_dim": 4},
        "few_units": {"units": 3},
    }
    for name, kw in kinds.items():
        language_model(**kw).save(root / name)
    return root


NET = dict(recipe="seed", num_words=12, maxlen=10, embedding_dim=6, units=5, epochs=1)
TEXTS = ["the film was great", "the film was bad and dull", "great acting", "dull plot"] * 4
LABELS = [1, 0, 1, 0] * 4


def test_1_embedding_rows_are_copied_word_by_word():
    vocab = Vocabulary(["the", "film", "bad", "great"], num_words=7)  # ids 4, 5, 6; 'great' cut
    lm_vocab = TokenVocabulary(["<unk>", "<eos>", "film", "the", "great", "plot"])
    E_lm = torch.arange(18.0).view(6, 3)
    E = torch.full((7, 3), -1.0)
    report = copy_embedding(E, vocab, E_lm, lm_vocab)
    expected = torch.tensor(
        [
            [-1.0, -1.0, -1.0],  # 0 padding: its own
            [3.0, 4.0, 5.0],  # 1 start <- <eos> (lm id 1)
            [0.0, 1.0, 2.0],  # 2 unknown <- <unk> (lm id 0)
            [-1.0, -1.0, -1.0],  # 3 unused: its own
            [9.0, 10.0, 11.0],  # 4 'the' <- lm id 3
            [6.0, 7.0, 8.0],  # 5 'film' <- lm id 2
            [-1.0, -1.0, -1.0],  # 6 'bad': the language model lacks it
        ]
    )
    torch.testing.assert_close(E, expected, rtol=0, atol=0)
    assert report == {"rows": 4, "words": 2, "of": 7}


def test_2_a_lower_casing_language_model_is_looked_up_in_lower_case():
    vocab = Vocabulary(["film"], num_words=5)
    lm_vocab = TokenVocabulary(["<unk>", "<eos>", "film"], lower=True)
    E = torch.zeros(5, 2)
    copy_embedding(E, vocab, torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]), lm_vocab)
    assert E[4].tolist() == [3.0, 3.0]


def _words_to_ids(vocab, lm, rows):
    """The same reviews as the sentiment network reads them (start id first) and as the
    language model does (<eos> first, as before each review of --corpus imdb)."""
    x = torch.tensor([vocab.encode_tokens(r) for r in rows])  # (N, T + 1)
    x_lm = torch.tensor([[lm.vocab_.eos_id, *[lm.vocab_.token_to_id(w) for w in r]] for r in rows])
    return x, x_lm


@pytest.mark.parametrize(
    "layers, lm_layers, bidirectional",
    [(1, 1, False), (1, 2, False), (2, 2, False), (2, 3, False), (1, 1, True)],
)
def test_3_the_filled_network_computes_the_language_model_s_hidden_states(
    layers, lm_layers, bidirectional
):
    lm = language_model(layers=lm_layers)
    config = SentimentConfig(**NET, layers=layers, bidirectional=bidirectional)
    model = build_model(config).eval()
    vocab = Vocabulary(WORDS[:7], num_words=12)  # the LM knows every one
    report = start_from_language_model(model, vocab, lm, "lm")
    assert (report["lstm_layers"], report["lm_layers"]) == (layers, lm_layers)
    assert report["embedding_rows"] == 2 + 7 and report["backward_fresh"] is bidirectional
    g = torch.Generator().manual_seed(1)
    rows = [[WORDS[int(k)] for k in torch.randint(0, 7, (8,), generator=g)] for _ in range(5)]
    x, x_lm = _words_to_ids(vocab, lm, rows)
    with torch.no_grad():
        _, state = lm.net_(x_lm)  # the oracle: the language model's own forward
        embedding, lstms, _ = network_parts(model)
        y = embedding(x)  # (N, T, D)
        for k, lstm in enumerate(lstms):
            y = lstm.sequence(y)[0]  # (N, T, H)
            torch.testing.assert_close(y[:, -1], state[k][0], rtol=1e-5, atol=1e-6)
        if not bidirectional and layers == 1:  # the whole network: Dense(sigmoid) on h_T
            dense = model.layers[-1]
            want = torch.sigmoid(state[0][0] @ dense.W + dense.b)  # (N, 1)
            got = torch.as_tensor(model.predict(x.numpy()))
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_4_the_copy_differs_from_the_fresh_network_only_where_it_filled():
    lm = language_model(layers=1)
    config = SentimentConfig(**NET)
    torch.manual_seed(3)
    fresh = build_model(config)
    torch.manual_seed(3)
    filled = build_model(config)
    vocab = Vocabulary(["the", "film", "zebra"], num_words=12)  # 'zebra': not in the LM
    start_from_language_model(filled, vocab, lm, "lm")
    E0, E1 = fresh.layers[0].E, filled.layers[0].E
    same = [0, 3, 6, *range(7, 12)]  # padding, unused, 'zebra', ids without a word
    torch.testing.assert_close(E1[same], E0[same], rtol=0, atol=0)
    assert not torch.equal(E1[4], E0[4])
    torch.testing.assert_close(filled.layers[2].W, fresh.layers[2].W, rtol=0, atol=0)  # Dense
    for name in ("W_x", "W_h", "b"):
        torch.testing.assert_close(getattr(filled.layers[1], name), getattr(lm.net_.lstms[0], name))


def train_with(saved_lms, name, **changes):
    config = SentimentConfig(**{**NET, **changes}, pretrained_lm=str(saved_lms / name))
    return SentimentClassifier(config).fit(TEXTS, LABELS, verbose=0)


def test_5_fit_starts_from_the_language_model_and_the_generators_go_on_unchanged(saved_lms):
    clf = train_with(saved_lms, "two_layers")
    assert clf.pretrained_ == {
        "path": str(saved_lms / "two_layers"),
        "embedding_rows": 2 + 8,  # start, unknown and 8 words: the texts' 9 less 1 cut by
        "embedding_words": 8,  # num_words (ids 4-11), all known to the language model
        "embedding_size": 12,
        "lm_vocabulary": 12,
        "lstm_layers": 1,
        "lm_layers": 2,
        "backward_fresh": False,
    }
    assert describe(clf.pretrained_) == (
        f"Started from the language model '{saved_lms / 'two_layers'}': 10 of 12 embedding "
        "rows copied (8 words, start from <eos>, unknown from <unk>; 2 kept their fresh "
        "initialisation), LSTM layer 1 from its layer 1 (its layer 2 not used)."
    )
    state = torch.get_rng_state()
    clf._start_from_language_model(str(saved_lms / "good"))
    assert torch.equal(torch.get_rng_state(), state)  # loading the LM drew no random numbers


def test_6_saved_with_its_provenance_and_loaded_without_the_language_model(saved_lms, tmp_path):
    lms = tmp_path / "lms"
    shutil.copytree(saved_lms, lms)
    clf = train_with(lms, "good")
    clf.save(tmp_path / "clf")
    task = json.loads((tmp_path / "clf" / "sentiment.json").read_text())
    assert task["config"]["pretrained_lm"] is None and task["pretrained"] == clf.pretrained_
    shutil.rmtree(lms)  # the language model is gone: the classifier loads all the same
    back = SentimentClassifier.load(tmp_path / "clf")
    assert back.pretrained_ == clf.pretrained_
    np.testing.assert_allclose(back.positive_probability(TEXTS), clf.positive_probability(TEXTS))


@pytest.mark.parametrize(
    "name, changes, message",
    [
        ("missing", {}, "SentimentConfig: `pretrained_lm` expected a saved language model (a folder with language_model.json, as `rnnkit textgen train` writes in its model/), received '{lms}/missing'."),
        ("char", {}, "SentimentConfig: `pretrained_lm` expected a word-level language model (its words' rows fill the embedding), received '{lms}/char', a char-level model."),
        ("narrow", {}, "SentimentConfig: `pretrained_lm` expected a language model with embedding_dim 6 (the network's --embedding-dim), received '{lms}/narrow', whose embedding_dim is 4; pass --embedding-dim 4 or train the language model with --embedding-dim 6."),
        ("few_units", {}, "SentimentConfig: `pretrained_lm` expected a language model with units 5 (the network's --units), received '{lms}/few_units', whose units is 3; pass --units 3 or train the language model with --units 5."),
        ("good", {"layers": 2}, "SentimentConfig: `pretrained_lm` expected a language model with at least 2 LSTM layers (layer k of the network starts from the model's layer k; the model's layers above the network's are not used), received '{lms}/good', which has 1."),
        ("good", {"cell": "gru"}, "SentimentConfig: `cell` expected 'lstm' with pretrained_lm (the language model's LSTM layers fill the recurrent layers), received 'gru'."),
    ],
)  # fmt: skip
def test_7_what_does_not_fit_is_refused_before_any_work(saved_lms, name, changes, message):
    with pytest.raises(ValueError, match="^" + re.escape(message.format(lms=saved_lms)) + "$"):
        train_with(saved_lms, name, **changes)


def test_8_a_training_run_folder_is_refused_with_its_model_named(saved_lms, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(saved_lms / "good", run / "model")
    message = (
        "SentimentConfig: `pretrained_lm` expected a saved language model (a folder with "
        f"language_model.json, as `rnnkit textgen train` writes in its model/), received "
        f"'{run}', a training run's folder: its model is '{run / 'model'}'."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        SentimentConfig(**NET, pretrained_lm=str(run)).check_pretrained_lm()
    (run / "model" / "language_model.json").write_text('{"task": "language_model"}')
    message = (
        "SentimentConfig: `pretrained_lm` expected a saved language model, received "
        f"'{run / 'model'}': language_model.json: 'config'."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        SentimentConfig(**NET, pretrained_lm=str(run / "model")).check_pretrained_lm()


# -- the IMDb training reviews as a corpus -----------------------------------------------------
def test_9_imdb_corpus_is_the_training_reviews_in_the_sentiment_words(
    shared_data, tmp_path, monkeypatch
):
    from rnnkit.datasets import imdb, load_corpus
    from rnnkit.datasets.text_corpora import load_imdb_corpus

    tokenize = SentimentClassifier(SentimentConfig(**NET)).fit(TEXTS, LABELS, verbose=0)
    tokenize = tokenize.vocab_.tokenizer  # the classifier's words
    assert tokenize == Tokenizer()
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path))  # one parse of the reviews, cached there
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    folder = shared_data / "imdb"
    corpus = load_imdb_corpus(folder, limit=200)
    train = imdb.load_texts(folder, seed=113).train  # Keras's shuffled order
    lines = [" ".join(tokenize(t)) + "\n" for t in train.texts[:200]]
    assert corpus.train == "".join(lines[:190]) and corpus.valid == "".join(lines[190:])
    assert corpus.test == "" and (corpus.name, corpus.level) == ("imdb", "word")
    assert "no test review" in corpus.source
    whole = load_corpus("imdb", folder)
    assert whole.train.count("\n") == 23_750 and whole.valid.count("\n") == 1_250
    assert whole.train.startswith(corpus.train)
