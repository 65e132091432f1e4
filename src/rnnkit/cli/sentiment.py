"""``rnnkit sentiment train | evaluate | predict``: the IMDb task's command (the example a new
task's command copies: run options as config dataclasses, outputs checked before any data is
read, then the task's API)."""

from __future__ import annotations

import sys
import textwrap
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _files
from ..config import Config, option
from ..reporting import print_metrics
from ..tasks.sentiment.config import SentimentConfig
from ._common import (
    Runtime,
    add_export,
    add_placement,
    check_output_dir,
    check_output_file,
    place,
    read_input,
    spawn,
    subparser,
    threads,
)
from ._common import foreign_outputs as _common_foreign_outputs


@dataclass
class ImdbData(Config):
    data_dir: str | None = option(
        None,
        "local IMDb copy: a folder holding aclImdb/ or the tarball (or a folder with imdb/ "
        "inside); default: $RNNKIT_DATA_DIR, the cache, a download, then the bundled sample",
        metavar="DIR",
    )


@dataclass
class TrainRun(Config):
    out: str = option(
        "runs/sentiment", "folder for model/, metrics.json and training.png", metavar="DIR"
    )
    overwrite: bool = option(
        False,
        "replace model/, metrics.json and training.png under --out even where they hold "
        "files rnnkit did not write (refused otherwise)",
    )
    limit: int | None = option(
        None, "train on a random subset of this many reviews (quick runs); omit for all", low=1
    )
    test_limit: int | None = option(
        None, "test on a random subset of this many reviews (quick runs); omit for all", low=1
    )
    baseline: bool = option(
        False,
        "also train the bag-of-words logistic regressions on the same split "
        "(binary words, TF-IDF 1-2-grams, NB-weighted 1-2-grams)",
    )
    verbose: int = option(
        1, "0 quiet, 1 a progress bar per epoch, 2 a line per epoch", choices=(0, 1, 2)
    )


@dataclass
class EvaluateRun(Config):
    test_limit: int | None = option(
        None, "test on a random subset of this many reviews; omit for all", low=1
    )
    json: str | None = option(None, "also write the metrics to this JSON file", metavar="FILE")


@dataclass
class PredictRun(Config):
    file: str | None = option(
        None,
        "UTF-8 file with one review per line (lines end at \\n only; at most 64 MiB); "
        "- for standard input",
        metavar="FILE",
    )
    explain: bool = option(
        False, "show the running prediction after each word, as text and as a PNG"
    )
    explain_dir: str = option(".", "folder for the --explain PNGs", metavar="DIR")


def foreign_outputs(out: Path) -> list[str]:
    """What under ``out`` would be replaced by ``rnnkit sentiment train`` and was not written by
    it (:func:`._common.foreign_outputs` for a saved classifier)."""
    from ..tasks.sentiment import SAVED_NAMES, TASK_FILE

    return _common_foreign_outputs(out, "sentiment", TASK_FILE, SAVED_NAMES)


# -- shared steps -----------------------------------------------------------------------------
def _load_reviews(data_dir):
    from ..datasets import imdb
    from ..datasets.imdb import SampleDataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SampleDataWarning)
        reviews = imdb.load_texts(data_dir)
    for w in caught:
        print(f"NOTE: {w.message}", file=sys.stderr)
    return reviews


def _limit(split, n: int | None, seed: int = 0):
    """All reviews of ``split`` (``n`` None or at least their number), or ``n`` at random."""
    if n is None or n >= len(split.texts):
        return list(split.texts), np.asarray(split.labels)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.permutation(len(split.texts))[:n])
    return [split.texts[i] for i in idx], np.asarray(split.labels)[idx]


def _model_dir(args) -> Path:
    """The ``model`` argument, refused with a hint when it is the run folder of `rnnkit
    sentiment train` (the model is its ``model/``); checked before any data is read."""
    from ..tasks.sentiment import TASK_FILE

    path = Path(args.model)
    if not (path / TASK_FILE).is_file() and (path / "model" / TASK_FILE).is_file():
        args.parser.error(
            f"argument model: expected a saved model, received {args.model!r}, the folder of a "
            f"training run; its model is {str(path / 'model')!r}"
        )
    return path


def _print_metrics(title: str, metrics: dict) -> None:
    print_metrics(title, metrics, count="reviews")


def network_against_baselines(accuracy: float, baselines: list[dict]) -> str:
    """One line: the network's test accuracy against the best baseline's, in points."""
    best = max(baselines, key=lambda b: b["accuracy"])
    gap = 100 * (accuracy - best["accuracy"])
    if gap >= 0:
        where = f"above the best baseline, {best['model']} ({best['accuracy']:.4f}), by"
    else:
        where = f"below the best baseline, {best['model']} ({best['accuracy']:.4f}), by"
    return f"The network's test accuracy {accuracy:.4f} is {where} {abs(gap):.2f} points."


# -- rnnkit sentiment -------------------------------------------------------------------------
def cmd_sentiment_train(args) -> int:
    from ..tasks.sentiment import SentimentClassifier, bag_of_words_baseline, plot_history

    parser = args.parser
    try:
        config = SentimentConfig.from_args(args)
        config.check_checkpoint()
        config.check_pretrained_lm()  # --pretrained-lm fits the network (before any data)
    except ValueError as e:
        parser.error(str(e))
    run = TrainRun.from_args(args)
    out = check_output_dir(parser, "--out", run.out)
    foreign = foreign_outputs(out)
    if foreign and not run.overwrite:
        parser.error(
            f"argument --out: expected a new folder or one written by `rnnkit sentiment "
            f"train`, received {run.out!r}, where rnnkit would replace what it did not write: "
            f"{', '.join(foreign)}; pass --overwrite to replace them, or choose another --out"
        )
    status = spawn(args)  # --nproc N: N processes run this command, then the status
    if status is not None:
        return status
    where = place(args)
    threads(args)
    reviews = _load_reviews(args.data_dir)
    train_texts, train_labels = _limit(reviews.train, run.limit, config.seed)
    test_texts, test_labels = _limit(reviews.test, run.test_limit, config.seed)
    print(
        f"IMDb ({reviews.source}, {reviews.location}): {len(train_texts):,} training and "
        f"{len(test_texts):,} test reviews; maxlen {config.maxlen}, "
        f"{config.num_words:,} words"
    )
    clf = SentimentClassifier(config)
    start = time.perf_counter()
    from ..models import Callback

    class Summary(Callback):
        def on_train_begin(self, logs=None):
            if where.writes:  # (present on every rank: a backup's fingerprint lists it)
                self.model.summary()
                if clf.pretrained_ is not None:  # what --pretrained-lm filled
                    from ..tasks.sentiment.pretrained import describe

                    print(describe(clf.pretrained_), flush=True)

    clf.fit(
        train_texts,
        train_labels,
        callbacks=[Summary()],
        verbose=run.verbose,
        device=where.device,
        distributed=where.distributed,
    )
    train_seconds = time.perf_counter() - start
    if not where.writes:  # another process of --nproc: rank 0 tests and writes
        return 0
    start = time.perf_counter()
    metrics = clf.evaluate(test_texts, test_labels)
    predict_seconds = time.perf_counter() - start
    _print_metrics(f"Test set ({len(test_texts):,} reviews):", metrics)
    clf.save(out / "model", overwrite=run.overwrite)
    plot_history(clf.history_, out / "training.png", test=metrics, kept_epoch=clf.kept_epoch_)
    report = {
        "dataset": {"source": reviews.source, "train": len(train_texts), "test": len(test_texts)},
        "config": config.to_dict(),
        "test": metrics,
        "history": clf.history_.history,
        "seconds": {"train": round(train_seconds, 2), "predict_test": round(predict_seconds, 2)},
    }
    if clf.pretrained_ is not None:
        report["pretrained"] = clf.pretrained_
    if run.baseline:
        for kind in ("counts", "tfidf", "nb"):
            start = time.perf_counter()
            base = bag_of_words_baseline(
                train_texts, train_labels, test_texts, test_labels, kind=kind
            )
            base["seconds"] = round(time.perf_counter() - start, 2)
            _print_metrics(f"Baseline {base['model']} (same split):", base)
            report.setdefault("baselines", []).append(base)
        print("\n" + network_against_baselines(metrics["accuracy"], report["baselines"]))
    _files.write_json(out / "metrics.json", report)
    print(
        f"\nTrained in {train_seconds:.1f} s. Wrote {out / 'model'}, {out / 'metrics.json'}, "
        f"{out / 'training.png'}"
    )
    return 0


def cmd_sentiment_evaluate(args) -> int:
    from ..tasks.sentiment import SentimentClassifier

    run = EvaluateRun.from_args(args)
    json_path = check_output_file(args.parser, "--json", run.json) if run.json else None
    model_dir = _model_dir(args)
    threads(args)
    clf = SentimentClassifier.load(model_dir).to(place(args).device)
    reviews = _load_reviews(args.data_dir)
    texts, labels = _limit(reviews.test, run.test_limit)
    metrics = clf.evaluate(texts, labels)
    _print_metrics(f"Test set ({len(texts):,} reviews):", metrics)
    if json_path is not None:
        _files.write_json(json_path, {"test": metrics})
    return 0


def _read_reviews(args) -> list[str]:
    texts = list(args.texts)
    if args.file:
        texts += read_input(args.parser, "--file", args.file)
    elif not texts and not sys.stdin.isatty():
        texts = read_input(args.parser, "standard input", "-")
    if not texts:
        args.parser.error(
            "no review given: pass reviews as arguments, with --file FILE (one per line), "
            "or on standard input"
        )
    return texts


BAR_WORDS = 40  # up to this many words: one line each with a bar; more: wrapped lines


def _explain_lines(words: list[str], proba) -> list[str]:
    """The running prediction as text: a line per word with a bar of 20 ``#`` for a short
    review, else the words wrapped into lines of at most 100 characters, each followed by
    its probability (``film(.62)``)."""
    if len(words) <= BAR_WORDS:
        return [f"    {q:.3f} {'#' * round(q * 20):<20} {w}" for w, q in zip(words, proba)]
    items = [f"{w}({q:.2f})" for w, q in zip(words, proba)]
    return textwrap.wrap(
        " ".join(items),
        width=100,
        initial_indent="    ",
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def cmd_sentiment_predict(args) -> int:
    from ..tasks.sentiment import SentimentClassifier, plot_trajectory

    run = PredictRun.from_args(args)
    explain_dir = check_output_dir(args.parser, "--explain-dir", run.explain_dir)
    model_dir = _model_dir(args)
    texts = _read_reviews(args)
    threads(args)
    clf = SentimentClassifier.load(model_dir).to(place(args).device)
    proba = clf.positive_probability(texts)
    unknown = clf.unknown_fraction(texts)
    for k, (text, p) in enumerate(zip(texts, proba)):
        label = "positive" if p > 0.5 else "negative"
        preview = text if len(text) <= 70 else text[:67] + "..."
        print(f"{label}\t{p:.4f}\t{preview}")
        if unknown[k] > 0.5:
            print(
                f"WARNING: review {k + 1}: {unknown[k]:.0%} of its words are unknown to the "
                f"model (outside its {clf.config.num_words:,} words); the prediction says little",
                file=sys.stderr,
            )
        if run.explain:
            words, traj = clf.trajectory(text)
            total = len(clf.vocab_.tokenizer(text))
            cut = total - len(words)
            note = (
                f" (the last {len(words)} of {total} words: the model reads at most {len(words)})"
            )
            print(f"  word-by-word P(positive){note if cut else ''}:")
            for line in _explain_lines(words, traj):
                print(line)
            png = explain_dir / f"trajectory_{k}.png"
            start = " ".join(text.split())
            start = start if len(start) <= 60 else start[:57] + "..."
            title = f'review {k + 1} "{start}": {label} ({p:.3f})'
            plot_trajectory(words, traj, png, title=title, total_words=total)
            print(f"  plot: {png}")
    return 0


def cmd_sentiment_export(args) -> int:
    import torch

    from .. import export
    from ..tasks.sentiment import SentimentClassifier

    out = check_output_file(args.parser, "OUT", args.out)
    model_dir = _model_dir(args)
    threads(args)
    clf = SentimentClassifier.load(model_dir)
    example = torch.ones(2, 8, dtype=torch.long)  # any ids: the file takes any batch, length
    export.onnx(clf.model_, out, example, input_names=["ids"], output_names=["probability"])
    print(
        f"wrote {out}: input `ids` int64 (batch, length), token ids as "
        "SentimentClassifier.encode gives them ('pre' padding with 0); output `probability` "
        "(batch, 1), P(positive) of the recurrent network (an --ngrams hybrid's n-gram blend is "
        "not in the file)"
    )
    return 0


# -- argument parsing -------------------------------------------------------------------------
def register(sub) -> None:
    """Add ``rnnkit sentiment train | evaluate | predict | export``."""
    s = sub.add_parser(
        "sentiment",
        help="IMDb sentiment analysis: train, evaluate, predict",
        description="IMDb sentiment analysis: train, evaluate, predict",
    )
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")

    t = subparser(
        ssub,
        "train",
        "train on the 25,000 training reviews, test on the 25,000 test reviews",
        cmd_sentiment_train,
    )
    ImdbData.add_arguments(t, title="data")
    group = t.add_argument_group("run")
    TrainRun.add_arguments(group)
    Runtime.add_arguments(group)
    add_placement(group, train=True)
    SentimentConfig.add_arguments(t, title="model and training (SentimentConfig)")

    e = subparser(ssub, "evaluate", "test metrics of a saved model", cmd_sentiment_evaluate)
    e.add_argument("model", help="folder written by `rnnkit sentiment train` (its model/)")
    ImdbData.add_arguments(e)
    EvaluateRun.add_arguments(e)
    Runtime.add_arguments(e)
    add_placement(e, train=False)

    q = subparser(ssub, "predict", "label and probability of reviews", cmd_sentiment_predict)
    q.add_argument("model", help="folder written by `rnnkit sentiment train` (its model/)")
    q.add_argument("texts", nargs="*", help="reviews to classify (or use --file / stdin)")
    PredictRun.add_arguments(q)
    Runtime.add_arguments(q)
    add_placement(q, train=False)

    add_export(
        ssub, cmd_sentiment_export, "folder written by `rnnkit sentiment train` (its model/)"
    )
