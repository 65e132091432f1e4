"""The ``rnnkit`` command.

    rnnkit summary                         the seed model's summary (Keras's table)
    rnnkit sentiment train [options]       train on IMDb, report test metrics, save the model
    rnnkit sentiment evaluate MODEL        the same metrics for a saved model
    rnnkit sentiment predict MODEL [TEXT]  label and probability of reviews (--explain: per word)

Run ``rnnkit COMMAND --help`` for every option.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np


def _atomic_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _threads(args) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


# -- rnnkit summary ---------------------------------------------------------------------------
def cmd_summary(args) -> int:
    from .layers import LSTM, Dense, Embedding
    from .models import Sequential

    model = Sequential()
    model.add(Embedding(input_dim=args.num_words, output_dim=args.embedding_dim))
    model.add(LSTM(units=args.units))
    model.add(Dense(units=1, activation="sigmoid"))
    model.summary()
    return 0


# -- rnnkit sentiment -------------------------------------------------------------------------
def _load_reviews(args):
    from .datasets import imdb
    from .datasets.imdb import SampleDataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SampleDataWarning)
        reviews = imdb.load_texts(args.data_dir)
    for w in caught:
        print(f"NOTE: {w.message}", file=sys.stderr)
    return reviews


def _limit(split, n, seed=0):
    if not n or n >= len(split.texts):
        return list(split.texts), np.asarray(split.labels)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.permutation(len(split.texts))[:n])
    return [split.texts[i] for i in idx], np.asarray(split.labels)[idx]


def _print_metrics(title: str, metrics: dict) -> None:
    print(f"\n{title}")
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        value = metrics.get(key)
        print(f"  {key:<10} {value:.4f}" if value is not None else f"  {key:<10} n/a")
    print(f"  {'reviews':<10} {metrics['n']:,}")


def cmd_sentiment_train(args) -> int:
    from .tasks.sentiment import (
        SentimentClassifier,
        SentimentConfig,
        bag_of_words_baseline,
        plot_history,
    )

    _threads(args)
    config = SentimentConfig(**{f.name: getattr(args, f.name) for f in fields(SentimentConfig)})
    config.validate()
    reviews = _load_reviews(args)
    train_texts, train_labels = _limit(reviews.train, args.limit, config.seed)
    test_texts, test_labels = _limit(reviews.test, args.test_limit, config.seed)
    print(
        f"IMDb ({reviews.source}, {reviews.location}): {len(train_texts):,} training and "
        f"{len(test_texts):,} test reviews; maxlen {config.maxlen}, "
        f"{config.num_words:,} words"
    )
    clf = SentimentClassifier(config)
    start = time.perf_counter()
    from .models import Callback

    class Summary(Callback):
        def on_train_begin(self, logs=None):
            self.model.summary()

    clf.fit(train_texts, train_labels, callbacks=[Summary()], verbose=args.verbose)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = clf.evaluate(test_texts, test_labels)
    predict_seconds = time.perf_counter() - start
    _print_metrics(f"Test set ({len(test_texts):,} reviews):", metrics)
    out = Path(args.out)
    clf.save(out / "model")
    plot_history(clf.history_, out / "training.png")
    report = {
        "dataset": {"source": reviews.source, "train": len(train_texts), "test": len(test_texts)},
        "config": asdict(config),
        "test": metrics,
        "history": clf.history_.history,
        "seconds": {"train": round(train_seconds, 2), "predict_test": round(predict_seconds, 2)},
    }
    if args.baseline:
        for kind in ("counts", "tfidf", "nb"):
            start = time.perf_counter()
            base = bag_of_words_baseline(
                train_texts, train_labels, test_texts, test_labels, kind=kind
            )
            base["seconds"] = round(time.perf_counter() - start, 2)
            _print_metrics(f"Baseline {base['model']} (same split):", base)
            report.setdefault("baselines", []).append(base)
    _atomic_json(out / "metrics.json", report)
    print(
        f"\nTrained in {train_seconds:.1f} s. Wrote {out / 'model'}, {out / 'metrics.json'}, "
        f"{out / 'training.png'}"
    )
    return 0


def cmd_sentiment_evaluate(args) -> int:
    from .tasks.sentiment import SentimentClassifier

    _threads(args)
    clf = SentimentClassifier.load(args.model)
    reviews = _load_reviews(args)
    texts, labels = _limit(reviews.test, args.test_limit)
    metrics = clf.evaluate(texts, labels)
    _print_metrics(f"Test set ({len(texts):,} reviews):", metrics)
    if args.json:
        _atomic_json(Path(args.json), {"test": metrics})
    return 0


def _read_reviews(args) -> list[str]:
    texts = list(args.texts)
    if args.file:
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
        with source:
            raw = source.read()
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SystemExit(
                f"rnnkit: error: --file {args.file!r} is not UTF-8 text "
                f"(byte {e.start}: {raw[e.start : e.start + 1]!r})."
            ) from None
        texts += [line for line in content.splitlines() if line.strip()]
    elif not texts and not sys.stdin.isatty():
        texts = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not texts:
        raise SystemExit(
            "rnnkit: error: no review given: pass reviews as arguments, with "
            "--file FILE (one per line), or on standard input."
        )
    return texts


def cmd_sentiment_predict(args) -> int:
    from .tasks.sentiment import SentimentClassifier, plot_trajectory

    _threads(args)
    clf = SentimentClassifier.load(args.model)
    texts = _read_reviews(args)
    try:
        proba = clf.predict_proba(texts)
    except ValueError as e:
        raise SystemExit(f"rnnkit: error: {e}") from None
    for k, (text, p) in enumerate(zip(texts, proba)):
        label = "positive" if p > 0.5 else "negative"
        preview = text if len(text) <= 70 else text[:67] + "..."
        print(f"{label}\t{p:.4f}\t{preview}")
        if args.explain:
            words, traj = clf.trajectory(text)
            print("  word-by-word P(positive):")
            for word, q in zip(words, traj):
                bar = "#" * round(q * 20)
                print(f"    {q:.3f} {bar:<20} {word}")
            png = Path(args.explain_dir) / f"trajectory_{k}.png"
            plot_trajectory(words, traj, png, title=f"review {k}: {label} ({p:.3f})")
            print(f"  plot: {png}")
    return 0


# -- argument parsing -------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks (SimpleRNN, LSTM, GRU) on "
        "sequential data. Start with `rnnkit sentiment train`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "summary",
        help="print the seed model's summary (as Keras's)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--num-words", type=int, default=10000, help="Embedding input_dim")
    p.add_argument("--embedding-dim", type=int, default=128, help="Embedding output_dim")
    p.add_argument("--units", type=int, default=128, help="LSTM units")
    p.set_defaults(func=cmd_summary)

    s = sub.add_parser("sentiment", help="IMDb sentiment analysis: train, evaluate, predict")
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")

    def data_options(q):
        q.add_argument(
            "--data-dir",
            default=None,
            help="local IMDb copy: a folder holding aclImdb/ or the tarball (or a "
            "folder with imdb/ inside); default: $RNNKIT_DATA_DIR, the cache, a "
            "download, then the bundled sample",
        )
        q.add_argument(
            "--threads", type=int, default=None, help="CPU threads for PyTorch; omit for all cores"
        )

    t = ssub.add_parser(
        "train",
        help="train on the 25,000 training reviews, test on the 25,000 test reviews",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data_options(t)
    t.add_argument(
        "--out", default="runs/sentiment", help="folder for model/, metrics.json and training.png"
    )
    t.add_argument("--maxlen", type=int, default=200, help="words kept per review (the last)")
    t.add_argument("--num-words", type=int, default=10000, help="vocabulary size")
    t.add_argument("--embedding-dim", type=int, default=128, help="word vector size")
    t.add_argument(
        "--cell", choices=["lstm", "gru", "simple_rnn"], default="lstm", help="recurrent cell"
    )
    t.add_argument("--units", type=int, default=128, help="hidden size of each recurrent layer")
    t.add_argument("--layers", type=int, default=1, help="stacked recurrent layers")
    t.add_argument("--bidirectional", action="store_true", help="read reviews both ways")
    t.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="dropout on recurrent inputs and before the output layer",
    )
    t.add_argument(
        "--word-dropout",
        type=float,
        default=0.0,
        help="fraction of whole word vectors dropped during training",
    )
    t.add_argument(
        "--recurrent-dropout",
        type=float,
        default=0.0,
        help="dropout on the recurrent state (disables the fused native path)",
    )
    t.add_argument(
        "--mask-zero",
        action="store_true",
        help="skip padding in the recurrent layers (the seed does not)",
    )
    t.add_argument("--epochs", type=int, default=3, help="passes over the training reviews")
    t.add_argument("--batch-size", type=int, default=64, help="reviews per gradient step")
    t.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate")
    t.add_argument(
        "--validation-split",
        type=float,
        default=0.0,
        help="fraction of training reviews held out for validation curves",
    )
    t.add_argument(
        "--clipnorm",
        type=float,
        default=None,
        help="clip each gradient to this norm (the seed does not clip)",
    )
    t.add_argument(
        "--patience",
        type=int,
        default=None,
        help="with --validation-split: stop after this many epochs without a better "
        "validation accuracy and keep the best epoch's weights",
    )
    t.add_argument(
        "--reduce-lr",
        type=float,
        default=None,
        metavar="FACTOR",
        help="with --validation-split: multiply the learning rate by FACTOR after "
        "each epoch whose validation loss is not the best so far",
    )
    t.add_argument(
        "--bucketing",
        action="store_true",
        help="batch reviews of similar length together: padding costs no compute",
    )
    t.add_argument(
        "--ngrams",
        type=int,
        default=0,
        metavar="N",
        help="with --validation-split: a hybrid model, the network blended with an "
        "NB-weighted logistic regression on words and word n-grams up to N "
        "(blend weights fitted on the validation reviews); 0: the network alone",
    )
    t.add_argument("--seed", type=int, default=0, help="random seed (same seed, same model)")
    t.add_argument(
        "--limit",
        type=int,
        default=None,
        help="train on a random subset of this many reviews (quick runs)",
    )
    t.add_argument(
        "--test-limit",
        type=int,
        default=None,
        help="test on a random subset of this many reviews (quick runs)",
    )
    t.add_argument(
        "--baseline",
        action="store_true",
        help="also train the bag-of-words logistic regressions on the same split "
        "(binary words, TF-IDF 1-2-grams, NB-weighted 1-2-grams)",
    )
    t.add_argument(
        "--verbose",
        type=int,
        choices=[0, 1, 2],
        default=1,
        help="0 quiet, 1 a progress bar per epoch, 2 a line per epoch",
    )
    t.set_defaults(func=cmd_sentiment_train)

    e = ssub.add_parser(
        "evaluate",
        help="test metrics of a saved model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    e.add_argument("model", help="folder written by `rnnkit sentiment train` (its model/)")
    data_options(e)
    e.add_argument("--test-limit", type=int, default=None, help="test on this many reviews")
    e.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    e.set_defaults(func=cmd_sentiment_evaluate)

    q = ssub.add_parser(
        "predict",
        help="label and probability of reviews",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    q.add_argument("model", help="folder written by `rnnkit sentiment train` (its model/)")
    q.add_argument("texts", nargs="*", help="reviews to classify (or use --file / stdin)")
    q.add_argument("--file", default=None, help="UTF-8 file with one review per line; - for stdin")
    q.add_argument(
        "--explain",
        action="store_true",
        help="show the running prediction after each word, as text and as a PNG",
    )
    q.add_argument("--explain-dir", default=".", help="folder for the --explain PNGs")
    q.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch")
    q.set_defaults(func=cmd_sentiment_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
