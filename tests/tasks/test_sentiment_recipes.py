"""#19: the sentiment recipes (seed / default / best), target replication, the time budget.

Each test fails on the code before #19 item 1: SentimentConfig had no `recipe`,
`target_replication`, `minutes` or `pooling`, and its defaults were the seed's.
"""

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit import cli
from rnnkit.models import Callback, training
from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig, build_model
from rnnkit.tasks.sentiment.classifier import TimeBudget
from rnnkit.tasks.sentiment.config import RECIPE_TABLE, RECIPES
from rnnkit.tasks.sentiment.replication import target_replication

TEXTS = [
    "a great wonderful film",
    "awful boring terrible film",
    "great fun and a wonderful cast",
    "boring and awful mess of a film really",
] * 10
LABELS = [1, 0, 1, 0] * 10
TINY = dict(num_words=50, maxlen=16, embedding_dim=6, units=5, batch_size=8)

SEED = dict(
    num_words=10000, maxlen=200, embedding_dim=128, cell="lstm", units=128, layers=1,
    bidirectional=False, pooling="last", dropout=0.0, word_dropout=0.0, recurrent_dropout=0.0,
    mask_zero=False, target_replication=0.0, epochs=3, minutes=None, batch_size=64,
    learning_rate=1e-3, clipnorm=None, validation_split=0.0, patience=None, reduce_lr=None,
    bucketing=False, ngrams=0,
)  # fmt: skip
"""The lecture's recipe, as SentimentConfig's defaults were before #19."""


# -- the recipes ------------------------------------------------------------------------------
def test_1_seed_recipe_is_the_lecture_recipe():
    config = SentimentConfig(recipe="seed").validate()
    assert {name: getattr(config, name) for name in SEED} == SEED
    assert set(RECIPE_TABLE) == set(SEED)  # one table holds every bundled field


def test_2_default_recipe_keeps_the_seed_layers():
    """The default differs from the seed in training only: the parameters of each layer are
    the seed's 1,280,000 / 131,584 / 129."""
    config = SentimentConfig().validate()
    assert config.recipe == "default"
    assert {name: getattr(config, name) for name in RECIPE_TABLE} == RECIPES["default"]
    for name in ("num_words", "embedding_dim", "cell", "units", "layers", "bidirectional"):
        assert getattr(config, name) == SEED[name], name
    assert config.pooling == "last" and config.minutes == 6.0
    model = build_model(config)
    counts = [layer.count_params() for layer in model.layers if layer.count_params()]
    assert counts == [1_280_000, 131_584, 129]


def test_3_explicit_fields_override_the_recipe():
    config = SentimentConfig(recipe="seed", epochs=5, mask_zero=True)
    assert (config.epochs, config.mask_zero, config.maxlen) == (5, True, 200)
    # a field given with the recipe's own value stays given when the recipe changes
    mine = SentimentConfig(maxlen=500)
    assert mine.replace(recipe="seed").maxlen == 500
    assert mine.replace(recipe="seed").epochs == 3
    # scikit-learn's set_params re-fills what was not given; clone keeps every value
    from sklearn.base import clone

    clf = SentimentClassifier(maxlen=300).set_params(recipe="seed")
    assert (clf.config.maxlen, clf.config.dropout, clf.config.recipe) == (300, 0.0, "seed")
    assert clone(clf).config == clf.config
    assert SentimentConfig.from_dict(clf.config.to_dict()) == clf.config


def test_4_cli_recipe_and_overrides():
    parser = cli.build_parser()
    args = parser.parse_args(["sentiment", "train", "--recipe", "seed", "--epochs", "5"])
    assert SentimentConfig.from_args(args) == SentimentConfig(recipe="seed", epochs=5)
    args = parser.parse_args(["sentiment", "train", "--no-mask-zero", "--minutes", "1.5"])
    config = SentimentConfig.from_args(args)
    assert (config.recipe, config.mask_zero, config.minutes, config.maxlen) == (
        "default",
        False,
        1.5,
        500,
    )
    args = parser.parse_args(["sentiment", "train", "--recipe", "best"])
    assert SentimentConfig.from_args(args) == SentimentConfig(recipe="best")


def test_5_a_model_saved_before_recipes_loads_as_the_seed(tmp_path):
    clf = SentimentClassifier(SentimentConfig(recipe="seed", epochs=1, **TINY))
    clf.fit(TEXTS, LABELS, verbose=0).save(tmp_path / "m")
    task = json.loads((tmp_path / "m" / "sentiment.json").read_text())
    for name in ("recipe", "pooling", "target_replication", "minutes"):
        del task["config"][name]  # as written before #19
    (tmp_path / "m" / "sentiment.json").write_text(json.dumps(task))
    loaded = SentimentClassifier.load(tmp_path / "m")
    assert loaded.config == clf.config
    assert np.array_equal(loaded.positive_probability(TEXTS), clf.positive_probability(TEXTS))


# -- target replication -----------------------------------------------------------------------
def _reference_loss(model, x, y, alpha, mask_zero):
    """The target-replication loss by autograd on a hand-written LSTM (torch ops only): each
    review read word by word (only its real words under mask_zero), Dense on every step's h,
    the mean BCE over the real words mixed with the last word's BCE."""
    emb, lstm, dense = model.layers[0], model.layers[1], model.layers[-1]
    leaves = [t.detach().clone().requires_grad_() for t in (emb.E, lstm.W_x, lstm.W_h, lstm.b)]
    leaves += [dense.W.detach().clone().requires_grad_(), dense.b.detach().clone().requires_grad_()]
    E, W_x, W_h, b, W, b_out = leaves
    H = W_h.shape[0]
    total = 0.0
    for row, label in zip(x, y):
        ids = row[row != 0] if mask_zero else row
        h, c = torch.zeros(1, H), torch.zeros(1, H)
        outs = []
        for t in range(len(ids)):
            z = E[ids[t]][None] @ W_x + h @ W_h + b  # (1, 4H) [i | f | g | o]
            i, f, g, o = z.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        logits = (torch.cat(outs) @ W + b_out)[:, 0]  # (T,)
        bce = F.binary_cross_entropy_with_logits(logits, label.expand_as(logits), reduction="none")
        real = ids != 0  # without a mask the padding steps are read but get no target
        total = total + alpha * bce[real].mean() + (1 - alpha) * bce[-1]
    return total / len(x), leaves


@pytest.mark.parametrize("mask_zero", [True, False])
def test_6_target_replication_gradients_match_autograd(mask_zero):
    torch.manual_seed(0)
    config = SentimentConfig(
        recipe="seed", num_words=20, embedding_dim=5, units=4, mask_zero=mask_zero
    )
    model = build_model(config)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = torch.tensor([[0, 0, 1, 5, 7, 3], [1, 4, 9, 2, 11, 6], [0, 0, 0, 0, 1, 8]])
    y = torch.tensor([1.0, 0.0, 1.0])
    model(x)  # build
    with target_replication(model, 0.3):
        model.train()
        loss, _, _ = training.batch_loss(model, x, y.reshape(-1, 1))  # fit's own loss
        model.eval()
    model.zero_grad()
    loss.backward()
    expected, leaves = _reference_loss(model, x, y, 0.3, mask_zero)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    emb, lstm, dense = model.layers[0], model.layers[1], model.layers[-1]
    for param, leaf in zip((emb.E, lstm.W_x, lstm.W_h, lstm.b, dense.W, dense.b), leaves):
        torch.testing.assert_close(param.grad, leaf.grad, atol=1e-6, rtol=1e-5)


def test_7_target_replication_leaves_inference_and_the_model_unchanged():
    torch.manual_seed(1)
    model = build_model(SentimentConfig(recipe="seed", mask_zero=True, **TINY))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = torch.tensor([[0, 1, 5, 7], [1, 4, 9, 2]])
    y = torch.tensor([[1.0], [0.0]])
    before = model(x)
    plain = training.batch_loss(model, x, y)[0]
    with target_replication(model, 0.5) as loss:
        assert torch.equal(model(x), before)  # inference reads the last word only
        assert torch.equal(training.batch_loss(model, x, y)[0], plain)  # the validation loss
        assert loss.steps is None
    assert "forward" not in vars(model)
    assert model.loss_name == "binary_crossentropy"
    assert model.layers[1].return_sequences is False


def test_8_target_replication_needs_a_last_output_network():
    message = (
        "SentimentConfig: `target_replication` expected 0 for a bidirectional network or "
        "pooling over time (the output layer must read one direction's output after each "
        "word), received 0.5 (float)."
    )
    with pytest.raises(ValueError) as info:
        SentimentConfig(recipe="best", target_replication=0.5).validate()
    assert str(info.value) == message
    with pytest.raises(ValueError) as info:
        SentimentConfig(pooling="max_mean", target_replication=0.5).validate()
    assert str(info.value) == message
    # the recipe's value (0 today) is never an error where it cannot apply
    assert SentimentConfig(bidirectional=True).validate().target_replication == 0.0
    assert SentimentConfig(pooling="max_mean").validate().target_replication == 0.0


def test_9_default_recipe_trains_with_target_replication_given():
    config = SentimentConfig(epochs=2, validation_split=0.25, target_replication=0.5, **TINY)
    assert config.target_replication == 0.5
    clf = SentimentClassifier(config).fit(TEXTS, LABELS, verbose=0)
    assert len(clf.history_.history["loss"]) == 2
    assert "forward" not in vars(clf.model_)
    proba = clf.positive_probability(TEXTS)
    assert proba.shape == (40,) and np.isfinite(proba).all()


# -- the time budget --------------------------------------------------------------------------
class _Model:
    stop_training = False


def test_10_time_budget_stops_before_an_epoch_that_would_end_past_it():
    now = [0.0]
    budget = TimeBudget(1.0, clock=lambda: now[0])  # 60 s
    budget.model = _Model()
    budget.on_train_begin()
    for epoch, seconds in enumerate([20.0, 25.0]):
        budget.on_epoch_begin(epoch)
        now[0] += seconds
        budget.on_train_batch_end(0)
        budget.on_epoch_end(epoch)
    # 45 s done, the longest epoch 25 s: a third would end at 70 s > 60 s
    assert budget.model.stop_training and budget.stopped

    now[0] = 0.0
    budget.model = _Model()
    budget.on_train_begin()
    budget.on_epoch_begin(0)
    now[0] = 59.0
    budget.on_train_batch_end(0)
    assert not budget.model.stop_training
    now[0] = 60.0
    budget.on_train_batch_end(1)  # the batch that reaches the budget ends training
    assert budget.model.stop_training


def test_11_time_budget_keeps_the_best_epoch():
    """With `minutes`, the epoch of the best validation accuracy is kept even when training
    ends by the epoch count (before #19 the last epoch's weights were kept)."""

    class Steer(Callback):  # runs before the classifier's callbacks: epoch 1 is made the best
        def __init__(self):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            logs["val_accuracy"] = [0.9, 0.5, 0.6][epoch]
            self.weights.append(copy.deepcopy(self.model.state_dict()))

    steer = Steer()
    config = SentimentConfig(
        recipe="seed", epochs=3, minutes=60.0, validation_split=0.25, learning_rate=0.05, **TINY
    )
    clf = SentimentClassifier(config).fit(TEXTS, LABELS, callbacks=[steer], verbose=0)
    assert clf.kept_epoch_ == 1
    for name, value in clf.model_.state_dict().items():
        assert torch.equal(value, steer.weights[0][name]), name
    assert not torch.equal(steer.weights[0]["layers.2.W"], steer.weights[2]["layers.2.W"])


# -- the best recipe --------------------------------------------------------------------------
def test_12_best_recipe_builds_a_pooled_bidirectional_network(tmp_path):
    config = SentimentConfig(recipe="best")
    model = build_model(config)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == [
        "InputLayer", "Embedding", "Dropout", "Bidirectional", "GlobalMaxPooling1D",
        "GlobalAveragePooling1D", "Concatenate", "Dropout", "Dense",
    ]  # fmt: skip
    assert model.layers[3].forward_layer.return_sequences
    assert model.layers[1].mask_zero
    tiny = SentimentConfig(recipe="best", epochs=2, validation_split=0.25, **TINY)
    clf = SentimentClassifier(tiny).fit(TEXTS, LABELS, verbose=0)
    assert len(clf.history_.history["val_accuracy"]) == 2
    clf.save(tmp_path / "best")
    loaded = SentimentClassifier.load(tmp_path / "best")
    assert loaded.config == tiny
    assert np.array_equal(loaded.positive_probability(TEXTS), clf.positive_probability(TEXTS))
    words, traj = loaded.trajectory("a great film but awful")
    assert len(words) == 5 and traj[-1] == pytest.approx(
        float(loaded.positive_probability(["a great film but awful"])[0]), abs=1e-6
    )


# -- messages of `rnnkit sentiment` (#19 item 4) -----------------------------------------------
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A training run's folder: the model is its model/."""
    run = tmp_path_factory.mktemp("run")
    clf = SentimentClassifier(SentimentConfig(recipe="seed", epochs=1, **dict(TINY, maxlen=60)))
    clf.fit(TEXTS, LABELS, verbose=0).save(run / "model")
    return run


@pytest.mark.parametrize("action", ["evaluate", "predict"])
def test_13_cli_hints_at_the_model_of_a_run_folder(run_folder, action, capsys):
    """Old behaviour: the run folder gave "expected a saved sentiment model" from the loader,
    after the data was read (evaluate)."""
    argv = ["sentiment", action, str(run_folder)] + (["a good film"] if action == "predict" else [])
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"rnnkit sentiment {action}: error: argument model: expected a saved model, received "
        f"{str(run_folder)!r}, the folder of a training run; its model is "
        f"{str(run_folder / 'model')!r}"
    )


def test_14_cli_warns_when_most_words_are_unknown(run_folder, capsys):
    model = str(run_folder / "model")
    assert cli.main(["sentiment", "predict", model, "zxqv blorp", "a great film"]) == 0
    assert capsys.readouterr().err.strip().splitlines() == [
        "WARNING: review 1: 100% of its words are unknown to the model (outside its 50 "
        "words); the prediction says little"
    ]


def test_15_explain_text_of_a_long_review_is_wrapped(run_folder, tmp_path, capsys):
    """Old behaviour: one line per word (342 lines for a 342-word review)."""
    model = str(run_folder / "model")
    review = " ".join(["great", "film", "awful", "boring"] * 20)  # 80 words, maxlen 60
    argv = ["sentiment", "predict", model, review, "--explain", "--explain-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        "  word-by-word P(positive) (the last 59 of 80 words: the model reads at most 59):"
    )
    wrapped = [line for line in lines[2:] if not line.startswith("  plot:")]
    assert len(wrapped) == 8 and all(len(line) <= 100 for line in wrapped)
    assert [item.split("(")[0] for line in wrapped for item in line.split()] == (
        review.split()[-59:]
    )
    text = cli.sentiment._explain_lines(["w"] * 41, np.full(41, 0.5))
    assert text == ["    " + " ".join(["w(0.50)"] * 12)] * 3 + ["    " + " ".join(["w(0.50)"] * 5)]
    short = cli.sentiment._explain_lines(["good", "film"], np.array([0.25, 1.0]))
    assert short == ["    0.250 #####                good", "    1.000 #################### film"]


def test_16_train_says_how_the_network_compares_with_its_baselines():
    """Old behaviour (#19): the baselines were printed after the network, with no comparison."""
    bases = [
        {"model": "bow_logreg", "accuracy": 0.8826},
        {"model": "nb_1-2gram_logreg", "accuracy": 0.9144},
    ]
    assert cli.sentiment.network_against_baselines(0.8842, bases) == (
        "The network's test accuracy 0.8842 is below the best baseline, nb_1-2gram_logreg "
        "(0.9144), by 3.02 points."
    )
    assert cli.sentiment.network_against_baselines(0.92, bases) == (
        "The network's test accuracy 0.9200 is above the best baseline, nb_1-2gram_logreg "
        "(0.9144), by 0.56 points."
    )
