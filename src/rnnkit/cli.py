"""The ``rnnkit`` command.

    rnnkit summary                         the seed model's summary (Keras's table)
    rnnkit sentiment train [options]       train on IMDb, report test metrics, save the model
    rnnkit sentiment evaluate MODEL        the same metrics for a saved model
    rnnkit sentiment predict MODEL [TEXT]  label and probability of reviews (--explain: per word)

Run ``rnnkit COMMAND --help`` for every option. The options come from config dataclasses
(:mod:`rnnkit.config`): the task's settings (:class:`~rnnkit.tasks.sentiment.SentimentConfig`)
and the run's (:class:`TrainRun`, :class:`EvaluateRun`, ...), each default written once.

Every option is checked before any data is read: values (argparse's "argument --limit:
expected a positive integer, received 0"), and every output location (writable, of the right
kind, holding nothing rnnkit did not write unless ``--overwrite``), so that no error is left to
be found after training.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, _files
from .config import Config, option
from .reporting import print_metrics
from .tasks.sentiment.config import SentimentConfig

MAX_INPUT_BYTES = 64 * 2**20  # --file / standard input of `predict`: 64 MiB of reviews


def max_threads() -> int:
    """The most CPU threads ``--threads`` accepts: 4 per core (more only slows PyTorch down,
    and 100,000 crashes it)."""
    return 4 * (os.cpu_count() or 1)


# -- the run options of each command (the task's own settings are its config) ----------------
@dataclass
class Runtime(Config):
    threads: int | None = option(
        None, "CPU threads for PyTorch; omit for all cores", low=1, high=max_threads
    )


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


# -- checks of output locations, made before any data is read ---------------------------------
def _kind(path: Path) -> str:
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    return "a special file (device, pipe or socket)"


def _writable(parser, flag: str, path: Path, expected: str) -> None:
    """``path`` (which may not exist yet) can be created: its nearest existing ancestor is a
    folder in which a file can be made (tried, then removed: permissions alone mislead root)."""
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor != path and not ancestor.is_dir():
        parser.error(
            f"argument {flag}: expected {expected}, received {str(path)!r}, "
            f"inside {str(ancestor)!r}, which is {_kind(ancestor)}"
        )
    probe_dir = ancestor if ancestor.is_dir() else ancestor.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".rnnkit-probe-", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        parser.error(
            f"argument {flag}: expected {expected} in a writable place, received "
            f"{str(path)!r} ({e.strerror.lower()} in {str(probe_dir)!r})"
        )


def check_output_dir(parser, flag: str, value: str) -> Path:
    """A folder that exists, or can be created."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        parser.error(f"argument {flag}: expected a folder, received {value!r}, {_kind(path)}")
    _writable(parser, flag, path, "a folder")
    return path


def check_output_file(parser, flag: str, value: str) -> Path:
    """A regular file (replaced) or a new one in a folder that exists or can be created."""
    path = Path(value)
    if path.exists() and not path.is_file():
        parser.error(f"argument {flag}: expected a file, received {value!r}, {_kind(path)}")
    _writable(parser, flag, path, "a file")
    return path


def foreign_outputs(out: Path) -> list[str]:
    """What under ``out`` would be replaced by ``rnnkit sentiment train`` and was not written by
    it: entries of ``model/`` other than a saved classifier's, a ``metrics.json`` without its
    report, a ``training.png`` not drawn by matplotlib."""
    from .tasks.sentiment import SAVED_NAMES, TASK_FILE

    foreign = []
    model = out / "model"
    if model.is_dir():
        for entry in sorted(model.iterdir()):
            if entry.name not in SAVED_NAMES:
                foreign.append(f"model/{entry.name}")
        task = model / TASK_FILE
        if task.exists():
            try:
                ours = json.loads(task.read_text(encoding="utf-8")).get("task") == "sentiment"
            except (OSError, ValueError, AttributeError):
                ours = False
            if not ours:
                foreign.append(f"model/{TASK_FILE}")
    elif model.exists() or model.is_symlink():
        foreign.append("model")
    report = out / "metrics.json"
    if report.exists() or report.is_symlink():
        try:
            data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
        except (OSError, ValueError):
            data = None
        if not (isinstance(data, dict) and {"config", "test"} <= set(data)):
            foreign.append("metrics.json")
    png = out / "training.png"
    if png.exists() or png.is_symlink():
        head = b""
        if png.is_file():
            with open(png, "rb") as f:
                head = f.read(512)
        if not (head.startswith(b"\x89PNG") and b"matplotlib" in head.lower()):
            foreign.append("training.png")
    return foreign


# -- shared steps -----------------------------------------------------------------------------
def _threads(args) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _load_reviews(data_dir):
    from .datasets import imdb
    from .datasets.imdb import SampleDataWarning

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


def _print_metrics(title: str, metrics: dict) -> None:
    print_metrics(title, metrics, count="reviews")


# -- rnnkit summary ---------------------------------------------------------------------------
def cmd_summary(args) -> int:
    from .layers import LSTM, Dense, Embedding
    from .models import Sequential

    config = SentimentConfig.from_args(args)
    model = Sequential()
    model.add(Embedding(input_dim=config.num_words, output_dim=config.embedding_dim))
    model.add(LSTM(units=config.units))
    model.add(Dense(units=1, activation="sigmoid"))
    model.summary()
    return 0


# -- rnnkit sentiment -------------------------------------------------------------------------
def cmd_sentiment_train(args) -> int:
    from .tasks.sentiment import SentimentClassifier, bag_of_words_baseline, plot_history

    parser = args.parser
    try:
        config = SentimentConfig.from_args(args)
        config.check_checkpoint()
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
    _threads(args)
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
    from .models import Callback

    class Summary(Callback):
        def on_train_begin(self, logs=None):
            self.model.summary()

    clf.fit(train_texts, train_labels, callbacks=[Summary()], verbose=run.verbose)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = clf.evaluate(test_texts, test_labels)
    predict_seconds = time.perf_counter() - start
    _print_metrics(f"Test set ({len(test_texts):,} reviews):", metrics)
    clf.save(out / "model", overwrite=run.overwrite)
    plot_history(clf.history_, out / "training.png")
    report = {
        "dataset": {"source": reviews.source, "train": len(train_texts), "test": len(test_texts)},
        "config": config.to_dict(),
        "test": metrics,
        "history": clf.history_.history,
        "seconds": {"train": round(train_seconds, 2), "predict_test": round(predict_seconds, 2)},
    }
    if run.baseline:
        for kind in ("counts", "tfidf", "nb"):
            start = time.perf_counter()
            base = bag_of_words_baseline(
                train_texts, train_labels, test_texts, test_labels, kind=kind
            )
            base["seconds"] = round(time.perf_counter() - start, 2)
            _print_metrics(f"Baseline {base['model']} (same split):", base)
            report.setdefault("baselines", []).append(base)
    _files.write_json(out / "metrics.json", report)
    print(
        f"\nTrained in {train_seconds:.1f} s. Wrote {out / 'model'}, {out / 'metrics.json'}, "
        f"{out / 'training.png'}"
    )
    return 0


def cmd_sentiment_evaluate(args) -> int:
    from .tasks.sentiment import SentimentClassifier

    run = EvaluateRun.from_args(args)
    json_path = check_output_file(args.parser, "--json", run.json) if run.json else None
    _threads(args)
    clf = SentimentClassifier.load(args.model)
    reviews = _load_reviews(args.data_dir)
    texts, labels = _limit(reviews.test, run.test_limit)
    metrics = clf.evaluate(texts, labels)
    _print_metrics(f"Test set ({len(texts):,} reviews):", metrics)
    if json_path is not None:
        _files.write_json(json_path, {"test": metrics})
    return 0


def split_reviews(raw: bytes) -> list[str]:
    """UTF-8 ``raw`` as one review per line: lines end at ``\\n`` only (a ``\\r`` before it is
    dropped; CR, U+2028 and U+0085 inside a review stay), blank lines are skipped."""
    text = raw.decode("utf-8")
    lines = (line[:-1] if line.endswith("\r") else line for line in text.split("\n"))
    return [line for line in lines if line.strip()]


def _read_input(parser, flag: str, name: str) -> list[str]:
    """The reviews in the file ``name`` (``-``: standard input), checked: a regular file (or
    standard input), at most ``MAX_INPUT_BYTES``, UTF-8."""
    cap = f"{MAX_INPUT_BYTES // 2**20} MiB"
    where = f"argument {flag}" if flag.startswith("-") else flag
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        shown = "standard input"
    else:
        path = Path(name)
        try:
            kind = _kind(path)
        except OSError as e:
            parser.error(
                f"argument {flag}: expected a readable file, received {name!r} "
                f"({e.strerror.lower()})"
            )
        if kind != "a file":
            parser.error(f"argument {flag}: expected a file, received {name!r}, {kind}")
        if path.stat().st_size > MAX_INPUT_BYTES:
            parser.error(
                f"argument {flag}: expected a file of at most {cap}, received {name!r}, "
                f"{path.stat().st_size:,} bytes"
            )
        with open(path, "rb") as f:
            raw = f.read(MAX_INPUT_BYTES + 1)
        shown = repr(name)
    if len(raw) > MAX_INPUT_BYTES:
        parser.error(f"{where}: expected at most {cap} of reviews, received more")
    try:
        return split_reviews(raw)
    except UnicodeDecodeError as e:
        parser.error(
            f"{where}: expected UTF-8 text, received {shown}, which is not UTF-8 "
            f"(byte {e.start}: {raw[e.start : e.start + 1]!r})"
        )


def _read_reviews(args) -> list[str]:
    texts = list(args.texts)
    if args.file:
        texts += _read_input(args.parser, "--file", args.file)
    elif not texts and not sys.stdin.isatty():
        texts = _read_input(args.parser, "standard input", "-")
    if not texts:
        args.parser.error(
            "no review given: pass reviews as arguments, with --file FILE (one per line), "
            "or on standard input"
        )
    return texts


def cmd_sentiment_predict(args) -> int:
    from .tasks.sentiment import SentimentClassifier, plot_trajectory

    run = PredictRun.from_args(args)
    explain_dir = check_output_dir(args.parser, "--explain-dir", run.explain_dir)
    texts = _read_reviews(args)
    _threads(args)
    clf = SentimentClassifier.load(args.model)
    proba = clf.predict_proba(texts)
    for k, (text, p) in enumerate(zip(texts, proba)):
        label = "positive" if p > 0.5 else "negative"
        preview = text if len(text) <= 70 else text[:67] + "..."
        print(f"{label}\t{p:.4f}\t{preview}")
        if run.explain:
            words, traj = clf.trajectory(text)
            print("  word-by-word P(positive):")
            for word, q in zip(words, traj):
                bar = "#" * round(q * 20)
                print(f"    {q:.3f} {bar:<20} {word}")
            png = explain_dir / f"trajectory_{k}.png"
            plot_trajectory(words, traj, png, title=f"review {k}: {label} ({p:.3f})")
            print(f"  plot: {png}")
    return 0


# -- rnnkit build-kernels ----------------------------------------------------------------------
def cmd_build_kernels(args) -> int:
    from .kernels import build

    return build.main()


# -- argument parsing -------------------------------------------------------------------------
def _subparser(sub, name: str, help: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name, help=help, description=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.set_defaults(func=func, parser=p)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks (SimpleRNN, LSTM, GRU) on "
        "sequential data. Start with `rnnkit sentiment train`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"rnnkit {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _subparser(sub, "summary", "print the seed model's summary (as Keras's)", cmd_summary)
    SentimentConfig.add_arguments(p, include=("num_words", "embedding_dim", "units"))

    _subparser(
        sub,
        "build-kernels",
        "build the compiled LSTM/GRU step loops now (once per install; otherwise on first use)",
        cmd_build_kernels,
    )

    s = sub.add_parser(
        "sentiment",
        help="IMDb sentiment analysis: train, evaluate, predict",
        description="IMDb sentiment analysis: train, evaluate, predict",
    )
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")

    t = _subparser(
        ssub,
        "train",
        "train on the 25,000 training reviews, test on the 25,000 test reviews",
        cmd_sentiment_train,
    )
    ImdbData.add_arguments(t, title="data")
    group = t.add_argument_group("run")
    TrainRun.add_arguments(group)
    Runtime.add_arguments(group)
    SentimentConfig.add_arguments(t, title="model and training (SentimentConfig)")

    e = _subparser(ssub, "evaluate", "test metrics of a saved model", cmd_sentiment_evaluate)
    e.add_argument("model", help="folder written by `rnnkit sentiment train` (its model/)")
    ImdbData.add_arguments(e)
    EvaluateRun.add_arguments(e)
    Runtime.add_arguments(e)

    q = _subparser(ssub, "predict", "label and probability of reviews", cmd_sentiment_predict)
    q.add_argument("model", help="folder written by `rnnkit sentiment train` (its model/)")
    q.add_argument("texts", nargs="*", help="reviews to classify (or use --file / stdin)")
    PredictRun.add_arguments(q)
    Runtime.add_arguments(q)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader stopped (`| head`): no message, as other commands
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's status for it
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
