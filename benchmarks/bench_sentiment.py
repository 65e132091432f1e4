"""End-to-end IMDb benchmark: the seed model trained by rnnkit and by Keras on the same arrays.

What it measures, on the full IMDb split (25,000 training and 25,000 test reviews):

a. rnnkit: the seed recipe (the 10,000 most frequent words, reviews padded / truncated to 200
   ids, Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), Adam(1e-3), batch 64,
   2 threads). After each epoch: the epoch's wall time, then the accuracy on all test reviews
   (timed apart: evaluation is not training time). "Time to 86%" is the cumulative training
   time up to the first epoch whose test accuracy reaches 86% (``--target``).
b. Keras 3 on TensorFlow (if ``benchmarks/.venv-keras`` exists): the same arrays (handed over
   in an .npz), the same model and recipe, timed the same way.
c. rnnkit inference: reviews/s of ``model.predict`` on the whole test set (with the fastest of a
   few batch sizes, reported), and the latency of one review from raw text,
   ``SentimentClassifier.positive_probability([text])`` (median and 90th percentile of 50 calls),
   with the trained model and the vocabulary of Keras's word index that produced its ids. As a
   check, the accuracy of that raw-text pipeline on the test reviews is printed too.
d. Peak resident memory (``ru_maxrss``) of the rnnkit and Keras training processes.
e. The bag-of-words baselines of :func:`rnnkit.tasks.sentiment.bag_of_words_baseline`
   (binary counts and TF-IDF of words and word pairs, logistic regression) on the same split.

Input is exactly Keras's: ``rnnkit.datasets.imdb.load_data(num_words=10000)`` (the same arrays
as ``keras.datasets.imdb.load_data``) and ``rnnkit.text.pad_sequences(maxlen=200)``. rnnkit and
Keras each train in their own child process, one after the other, so neither competes with
the other for the CPU; the baselines run last, in this process.

How to run (from the repository root; the data from ``--data-dir``, else ``$RNNKIT_DATA_DIR``,
else ``../shared/data`` if present, else rnnkit's cache / download)::

    .venv/bin/python benchmarks/bench_sentiment.py                  # full: 3 epochs, ~15-30 min
    .venv/bin/python benchmarks/bench_sentiment.py --quick          # smoke test: 2000/1000 reviews, 1 epoch
    .venv/bin/python benchmarks/bench_sentiment.py --epochs 5 --skip-keras --skip-baseline

How to read the output: a per-epoch table (training seconds, test accuracy, evaluation
seconds) for each framework, then the summary: time to the target accuracy and the ratio
Keras / rnnkit (above 1: rnnkit got there faster), mean epoch time and its ratio, inference
throughput and latency, peak memory, and the baselines' accuracy. The JSON
(``benchmarks/results/bench_sentiment.json``, ``bench_sentiment_quick.json`` with ``--quick``)
holds all of it with the machine's description. ``--quick`` numbers are for checking that the
script runs, not for quoting: 2,000 reviews for one epoch reach no useful accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers as P

NUM_WORDS, MAXLEN, EMBED, UNITS, LR = 10000, 200, 128, 128, 1e-3
QUICK_TRAIN, QUICK_TEST = 2000, 1000


def default_data_dir() -> str | None:
    """Where the IMDb archive is: ``$RNNKIT_DATA_DIR/imdb`` or ``../shared/data/imdb``."""
    return P.imdb_dir()


# == the rnnkit child =========================================================================
def child_rnnkit(spec: dict) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(spec["threads"])
    from rnnkit.datasets import imdb
    from rnnkit.layers import LSTM, Dense, Embedding
    from rnnkit.models import Sequential
    from rnnkit.models.optimizers import Adam
    from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig
    from rnnkit.text import Vocabulary
    from rnnkit.utils import set_random_seed

    data = np.load(spec["data"])
    x_train, y_train = data["x_train"], data["y_train"].astype("float32")
    x_test, y_test = data["x_test"], data["y_test"].astype("float32")

    set_random_seed(0)
    model = Sequential()
    model.add(Embedding(input_dim=NUM_WORDS, output_dim=EMBED))
    model.add(LSTM(units=UNITS))
    model.add(Dense(units=1, activation="sigmoid"))
    model.compile(
        optimizer=Adam(learning_rate=LR), loss="binary_crossentropy", metrics=["accuracy"]
    )
    epochs = []
    for epoch in range(spec["epochs"]):
        start = time.perf_counter()
        hist = model.fit(
            x_train,
            y_train,
            batch_size=spec["batch_size"],
            epochs=epoch + 1,
            initial_epoch=epoch,
            verbose=0,
        )
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        loss, acc = model.evaluate(x_test, y_test, batch_size=spec["eval_batch_size"], verbose=0)
        eval_s = time.perf_counter() - start
        epochs.append(
            {
                "epoch": epoch + 1,
                "train_s": train_s,
                "eval_s": eval_s,
                "train_loss": float(hist.history["loss"][-1]),
                "train_accuracy": float(hist.history["accuracy"][-1]),
                "test_loss": float(loss),
                "test_accuracy": float(acc),
            }
        )
        print(
            f"rnnkit epoch {epoch + 1}: {train_s:.1f} s, test accuracy {acc:.4f}",
            file=sys.stderr,
            flush=True,
        )
    train_rss = P.max_rss_mib()

    # -- predict throughput: pick the fastest batch on a slice, then the whole test set -------
    probe = x_test[:2048]
    by_batch = {}
    for batch in spec["predict_batches"]:
        model.predict(probe[:batch], batch_size=batch)  # warm-up
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            model.predict(probe, batch_size=batch)
            best = min(best, time.perf_counter() - start)
        by_batch[batch] = len(probe) / best
    batch = max(by_batch, key=by_batch.get)
    start = time.perf_counter()
    model.predict(x_test, batch_size=batch)
    predict_s = time.perf_counter() - start
    predict = {
        "batch_size": batch,
        "n": len(x_test),
        "s": predict_s,
        "reviews_per_s": len(x_test) / predict_s,
        "probe_reviews_per_s_by_batch": {str(k): v for k, v in by_batch.items()},
    }

    # -- one review from raw text: the classifier with this model and Keras's vocabulary -------
    reviews = imdb.load_texts(spec["data_dir"], seed=113, allow_sample=False).test
    texts, labels = list(reviews.texts[: spec["n_test"]]), reviews.labels[: spec["n_test"]]
    clf = SentimentClassifier(SentimentConfig(num_words=NUM_WORDS, maxlen=MAXLEN))
    clf.vocab_ = Vocabulary.from_keras_word_index(
        imdb.get_word_index(spec["data_dir"]), num_words=NUM_WORDS
    )
    clf.model_ = model
    start = time.perf_counter()
    proba = clf.positive_probability(texts)
    raw_s = time.perf_counter() - start
    raw = {
        "n": len(texts),
        "s": raw_s,
        "reviews_per_s": len(texts) / raw_s,
        "accuracy": float(((proba > 0.5) == (labels == 1)).mean()),
    }
    calls = spec["latency_calls"]
    for k in range(5):  # warm-up
        clf.positive_probability([texts[k % len(texts)]])
    lat = []
    for k in range(calls):
        text = texts[k % len(texts)]
        start = time.perf_counter()
        clf.positive_probability([text])
        lat.append(time.perf_counter() - start)
    lat.sort()
    latency = {
        "calls": calls,
        "median_ms": statistics.median(lat) * 1e3,
        "p90_ms": lat[min(len(lat) - 1, int(0.9 * len(lat)))] * 1e3,
        "min_ms": lat[0] * 1e3,
        "words_per_review_median": statistics.median(len(t.split()) for t in texts[:calls]),
    }
    return {
        "epochs": epochs,
        "train_rss_mib": train_rss,
        "predict": predict,
        "raw_text": raw,
        "latency": latency,
        "versions": {"torch": torch.__version__, "torch_threads": torch.get_num_threads()},
    }


# == the parent ================================================================================
def load_arrays(data_dir, quick: bool) -> dict:
    import numpy as np

    from rnnkit.datasets import imdb
    from rnnkit.text import pad_sequences

    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = imdb.load_data(
        num_words=NUM_WORDS, data_dir=data_dir, allow_sample=False
    )
    if quick:
        x_train, y_train = x_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
        x_test, y_test = x_test[:QUICK_TEST], y_test[:QUICK_TEST]
    arrays = {
        "x_train": pad_sequences(x_train, maxlen=MAXLEN),
        "y_train": np.asarray(y_train, dtype="int64"),
        "x_test": pad_sequences(x_test, maxlen=MAXLEN),
        "y_test": np.asarray(y_test, dtype="int64"),
    }
    return {"arrays": arrays, "load_s": time.perf_counter() - start}


def time_to_target(epochs: list[dict], target: float) -> dict:
    total = 0.0
    for e in epochs:
        total += e["train_s"]
        if e["test_accuracy"] >= target:
            return {"reached": True, "epoch": e["epoch"], "train_s": total}
    return {
        "reached": False,
        "epoch": None,
        "train_s": None,
        "best_test_accuracy": max((e["test_accuracy"] for e in epochs), default=None),
    }


def run_baselines(data_dir, n_train: int | None, n_test: int | None) -> list[dict]:
    from rnnkit.datasets import imdb
    from rnnkit.tasks.sentiment import bag_of_words_baseline

    reviews = imdb.load_texts(data_dir, seed=113, allow_sample=False)
    train_t, train_y = list(reviews.train.texts[:n_train]), reviews.train.labels[:n_train]
    test_t, test_y = list(reviews.test.texts[:n_test]), reviews.test.labels[:n_test]
    out = []
    for kind in ("counts", "tfidf", "nb"):
        start = time.perf_counter()
        r = bag_of_words_baseline(train_t, train_y, test_t, test_y, kind=kind)
        r["s"] = time.perf_counter() - start
        r["kind"] = kind
        out.append(r)
        print(f"  baseline {r['model']}: accuracy {r['accuracy']:.4f} ({r['s']:.0f} s)")
    return out


# == the recipe mode: a recipe over several seeds, and SST-2 ===================================
def _subset(texts, labels, n: int | None, seed: int = 0):
    """All of ``texts`` / ``labels``, or ``n`` of them at random (fixed by ``seed``)."""
    import numpy as np

    labels = np.asarray(labels)
    if n is None or n >= len(texts):
        return list(texts), labels
    idx = np.sort(np.random.default_rng(seed).permutation(len(texts))[:n])
    return [texts[i] for i in idx], labels[idx]


def _train_network(config, train, tests: dict) -> dict:
    """Train a SentimentClassifier with ``config`` on ``train`` (texts, labels) and score it on
    each of ``tests`` ({name: (texts, labels)})."""
    from rnnkit.tasks.sentiment import SentimentClassifier

    start = time.perf_counter()
    clf = SentimentClassifier(config).fit(*train, verbose=0)
    minutes = (time.perf_counter() - start) / 60
    scores = {name: clf.evaluate(*data) for name, data in tests.items()}
    return {
        "train_minutes": minutes,
        "epochs_run": len(clf.history_.epoch),
        "kept_epoch": clf.kept_epoch_,
        "val_accuracy": clf.history_.history.get("val_accuracy"),
        **{f"{name}_accuracy": m["accuracy"] for name, m in scores.items()},
        "metrics": scores,
    }


def _baselines(train, tests: dict, kinds=("counts", "tfidf", "nb")) -> list[dict]:
    """Each bag-of-words baseline trained on ``train`` and scored on each of ``tests``."""
    from rnnkit.reporting import classification_metrics
    from rnnkit.tasks.sentiment import BagOfWords

    out = []
    for kind in kinds:
        start = time.perf_counter()
        model = BagOfWords(kind=kind).fit(*train)
        row = {"model": model.name, "train_minutes": (time.perf_counter() - start) / 60}
        for name, (texts, labels) in tests.items():
            row[f"{name}_accuracy"] = classification_metrics(labels, model.predict_proba(texts))[
                "accuracy"
            ]
        out.append(row)
    return out


def _spread(values: list[float]) -> dict:
    return {
        "mean": statistics.mean(values),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def run_recipe(args) -> int:
    """``--recipe NAME``: the recipe trained with each of ``--seeds`` on IMDb (test accuracy
    and training minutes: mean / min / max), then with ``--sst2`` SST-2's report: (a) trained on
    IMDb, scored on SST-2 dev; (b) trained on SST-2 train, scored on its dev; for the network
    and the bag-of-words baselines."""
    import torch

    from rnnkit.datasets import imdb, sst2
    from rnnkit.tasks.sentiment import SentimentConfig

    torch.set_num_threads(args.threads)
    machine = P.machine_info()
    machine["versions"] = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    fields = P.overrides(args.set)
    configs = {
        seed: SentimentConfig(recipe=args.recipe, **{**fields, "seed": seed}).validate()
        for seed in args.seeds
    }
    print(
        f"bench_sentiment --recipe {args.recipe}: {machine['cpu']}, {args.threads} thread(s), "
        f"load average {machine['load_average_at_start']}, commit "
        f"{(machine['git_commit'] or '?')[:10]}; seeds {args.seeds}; overrides {fields or '-'}",
        flush=True,
    )
    reviews = imdb.load_texts(args.data_dir, allow_sample=False)
    train = _subset(reviews.train.texts, reviews.train.labels, args.limit)
    test = _subset(reviews.test.texts, reviews.test.labels, args.test_limit)
    tests = {"imdb_test": test}
    sst = None
    if args.sst2:
        sst = sst2.load_texts(args.sst2_dir)
        tests["sst2_dev"] = (list(sst.dev.texts), sst.dev.labels)
    print(f"IMDb: {len(train[0]):,} training / {len(test[0]):,} test reviews", flush=True)
    runs = []
    for seed, config in configs.items():
        r = _train_network(config, train, tests)
        r["seed"] = seed
        runs.append(r)
        line = f"  seed {seed}: IMDb test {r['imdb_test_accuracy']:.4f}"
        if sst is not None:
            line += f", SST-2 dev {r['sst2_dev_accuracy']:.4f}"
        print(f"{line}; {r['train_minutes']:.1f} min, kept epoch {r['kept_epoch']}", flush=True)
    summary = {
        "imdb_test_accuracy": _spread([r["imdb_test_accuracy"] for r in runs]),
        "train_minutes": _spread([r["train_minutes"] for r in runs]),
    }
    acc, mins = summary["imdb_test_accuracy"], summary["train_minutes"]
    print(
        f"IMDb test accuracy over {len(runs)} seed(s): mean {acc['mean']:.4f} (min "
        f"{acc['min']:.4f}, max {acc['max']:.4f}); training minutes mean {mins['mean']:.1f} "
        f"(min {mins['min']:.1f}, max {mins['max']:.1f})",
        flush=True,
    )
    report = {"imdb_trained": {"network": runs}}
    if not args.skip_baseline:
        report["imdb_trained"]["baselines"] = _baselines(train, tests)
        for b in report["imdb_trained"]["baselines"]:
            extra = f", SST-2 dev {b['sst2_dev_accuracy']:.4f}" if sst is not None else ""
            print(f"  baseline {b['model']}: IMDb test {b['imdb_test_accuracy']:.4f}{extra}")
    if sst is not None:  # (b) trained on SST-2's phrases, scored on its dev sentences
        sst_train = _subset(sst.train.texts, sst.train.labels, args.sst2_limit)
        dev = {"sst2_dev": tests["sst2_dev"]}
        print(f"SST-2: {len(sst_train[0]):,} training phrases, {len(dev['sst2_dev'][0])} dev")
        seed = args.seeds[0]
        r = _train_network(configs[seed], sst_train, dev)
        r["seed"] = seed
        print(f"  network (seed {seed}): SST-2 dev {r['sst2_dev_accuracy']:.4f}", flush=True)
        report["sst2_trained"] = {"network": [r]}
        if not args.skip_baseline:
            report["sst2_trained"]["baselines"] = _baselines(sst_train, dev)
            for b in report["sst2_trained"]["baselines"]:
                print(f"  baseline {b['model']}: SST-2 dev {b['sst2_dev_accuracy']:.4f}")
    payload = {
        "benchmark": "bench_sentiment --recipe",
        "recipe": args.recipe,
        "overrides": fields,
        "config": configs[args.seeds[0]].to_dict(),
        "seeds": args.seeds,
        "machine": machine,
        "data": {
            "imdb_train": len(train[0]),
            "imdb_test": len(test[0]),
            "sst2_train": None if sst is None else len(sst_train[0]),
            "sst2_dev": None if sst is None else len(sst.dev),
        },
        "summary": summary,
        **report,
    }
    path = args.out or P.RESULTS_DIR / f"bench_sentiment_recipe_{args.recipe}.json"
    P.write_json(path, payload)
    print(f"wrote {path}")
    return 0


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--epochs", type=int, default=None, help="default 3 (1 with --quick)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: first {QUICK_TRAIN} training / {QUICK_TEST} test reviews, 1 epoch",
    )
    ap.add_argument("--skip-keras", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--eval-batch-size", type=int, default=256)
    ap.add_argument(
        "--predict-batches",
        type=int,
        nargs="+",
        default=[64, 256, 1024],
        help="batch sizes tried for predict throughput (the fastest is used)",
    )
    ap.add_argument("--latency-calls", type=int, default=50)
    ap.add_argument("--target", type=float, default=0.86, help="test accuracy to reach")
    ap.add_argument(
        "--data-dir",
        default=None,
        help="folder with the IMDb archive (default: $RNNKIT_DATA_DIR/imdb or ../shared/data/imdb)",
    )
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per child")
    ap.add_argument("--out", type=Path, default=None, help="JSON output path")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    recipe = ap.add_argument_group(
        "recipe mode (--recipe): a recipe of `rnnkit sentiment train` over several seeds"
    )
    recipe.add_argument(
        "--recipe",
        choices=("seed", "default", "best"),
        help="run this SentimentConfig recipe on IMDb for each of --seeds instead of the "
        "Keras comparison: test accuracy and training minutes, mean / min / max",
    )
    recipe.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    recipe.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override config fields of the recipe (shortened runs: --set epochs=1 maxlen=100)",
    )
    recipe.add_argument("--limit", type=int, default=None, help="IMDb training reviews (all)")
    recipe.add_argument("--test-limit", type=int, default=None, help="IMDb test reviews (all)")
    recipe.add_argument(
        "--sst2",
        action="store_true",
        help="also SST-2: trained on IMDb -> scored on SST-2 dev; trained on SST-2 train -> its dev",
    )
    recipe.add_argument(
        "--sst2-dir",
        default=None,
        help="folder with sst2/ (default: $RNNKIT_DATA_DIR, ../shared/data, the cache)",
    )
    recipe.add_argument("--sst2-limit", type=int, default=None, help="SST-2 training phrases")
    args = ap.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    if args.data_dir is None:
        args.data_dir = default_data_dir()
    if args.sst2_dir is None:
        shared = P.REPO_ROOT.parent / "shared" / "data"
        args.sst2_dir = (
            None if os.environ.get("RNNKIT_DATA_DIR") or not shared.is_dir() else str(shared)
        )
    if args.out is None and args.recipe is None:
        name = "bench_sentiment_quick.json" if args.quick else "bench_sentiment.json"
        args.out = P.RESULTS_DIR / name
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        P.emit_result(child_rnnkit(json.loads(args.child)))
        return 0
    if args.recipe is not None:
        return run_recipe(args)
    import numpy as np

    machine = P.machine_info()
    print(
        f"bench_sentiment: {machine['cpu']} ({machine['logical_cpus']} logical CPUs), load "
        f"average {machine['load_average_at_start']}, commit {(machine['git_commit'] or '?')[:10]}"
    )
    started = time.perf_counter()
    loaded = load_arrays(args.data_dir, args.quick)
    arrays = loaded["arrays"]
    n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
    print(
        f"data: {n_train} training / {n_test} test reviews, ids < {NUM_WORDS}, padded to "
        f"{MAXLEN} (loaded in {loaded['load_s']:.1f} s from {args.data_dir or 'default'})"
    )
    errors = []
    with tempfile.TemporaryDirectory(prefix="bench_sentiment_") as tmp:
        npz = Path(tmp) / "imdb.npz"
        np.savez(npz, **arrays)
        spec = {
            "data": str(npz),
            "epochs": args.epochs,
            "threads": args.threads,
            "batch_size": args.batch_size,
            "eval_batch_size": args.eval_batch_size,
            "predict_batches": args.predict_batches,
            "latency_calls": args.latency_calls,
            "data_dir": args.data_dir,
            "n_test": n_test,
        }
        print(
            f"rnnkit: training {args.epochs} epoch(s) on {args.threads} thread(s) ...", flush=True
        )
        try:
            rnnkit = P.run_child(
                [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                P.child_env(args.threads),
                args.timeout,
                "rnnkit",
                echo=True,
            )
        except P.ChildError as e:
            print(f"  FAILED: {e}")
            errors.append({"peer": "rnnkit", "error": str(e)})
            rnnkit = None
        keras = None
        if args.skip_keras:
            print("keras: skipped (--skip-keras)")
        elif not P.keras_available():
            print(P.keras_missing_note())
        else:
            batch = rnnkit["predict"]["batch_size"] if rnnkit else 256
            kspec = {**spec, "predict_batch_size": batch}
            print(
                f"keras-tf: training {args.epochs} epoch(s) on {args.threads} thread(s) ...",
                flush=True,
            )
            try:
                keras = P.run_child(
                    [str(P.KERAS_PYTHON), str(P.KERAS_SIDE), "sentiment", json.dumps(kspec)],
                    P.child_env(args.threads, extra={"KERAS_BACKEND": "tensorflow"}),
                    args.timeout,
                    "keras-tf",
                    echo=True,
                )
            except P.ChildError as e:
                print(f"  FAILED: {e}")
                errors.append({"peer": "keras-tf", "error": str(e)})
    baselines = None
    if args.skip_baseline:
        print("baselines: skipped (--skip-baseline)")
    else:
        print("baselines (bag of words, logistic regression) ...", flush=True)
        baselines = run_baselines(
            args.data_dir, n_train if args.quick else None, n_test if args.quick else None
        )
    elapsed = time.perf_counter() - started

    # -- report ----------------------------------------------------------------------------------
    peers = {name: r for name, r in (("rnnkit", rnnkit), ("keras-tf", keras)) if r}
    for r in peers.values():
        r["time_to_target"] = time_to_target(r["epochs"], args.target)
        r["mean_epoch_s"] = statistics.mean(e["train_s"] for e in r["epochs"])
    print()
    headers = ["epoch"]
    for name in peers:
        headers += [f"{name} train s", "test acc", "eval s"]
    rows = []
    for k in range(args.epochs):
        row = [k + 1]
        for r in peers.values():
            e = r["epochs"][k] if k < len(r["epochs"]) else None
            row += (
                [f"{e['train_s']:.1f}", f"{e['test_accuracy']:.4f}", f"{e['eval_s']:.1f}"]
                if e
                else ["-", "-", "-"]
            )
        rows.append(row)
    print(P.table(headers, rows))
    print()

    def ttt(r):
        t = r["time_to_target"]
        return (
            f"{t['train_s']:.1f} s (epoch {t['epoch']})"
            if t["reached"]
            else f"not reached in {len(r['epochs'])} epoch(s) (best {t['best_test_accuracy']:.4f})"
        )

    summary = [
        [f"time to {args.target:.0%} test accuracy (training only)"]
        + [ttt(r) for r in peers.values()],
        ["mean epoch (s)"] + [f"{r['mean_epoch_s']:.1f}" for r in peers.values()],
        ["final test accuracy"]
        + [f"{r['epochs'][-1]['test_accuracy']:.4f}" for r in peers.values()],
        ["predict (reviews/s, batch)"]
        + [
            f"{r['predict']['reviews_per_s']:.0f} (batch {r['predict']['batch_size']})"
            for r in peers.values()
        ],
        ["peak RSS of the training process (MiB)"]
        + [f"{r['train_rss_mib']:.0f}" for r in peers.values()],
    ]
    print(P.table(["", *peers], summary, "l" + "r" * len(peers)))
    comparisons = {}
    if rnnkit and keras:
        comparisons["time_to_target_keras_over_rnnkit"] = (
            keras["time_to_target"]["train_s"] / rnnkit["time_to_target"]["train_s"]
            if rnnkit["time_to_target"]["reached"] and keras["time_to_target"]["reached"]
            else None
        )
        comparisons["mean_epoch_keras_over_rnnkit"] = keras["mean_epoch_s"] / rnnkit["mean_epoch_s"]
        comparisons["predict_throughput_rnnkit_over_keras"] = (
            rnnkit["predict"]["reviews_per_s"] / keras["predict"]["reviews_per_s"]
        )
        comparisons["peak_rss_keras_over_rnnkit"] = keras["train_rss_mib"] / rnnkit["train_rss_mib"]
        c = comparisons
        ratio = lambda v: "-" if v is None else f"{v:.2f}x"
        print(
            f"ratios, >1 means rnnkit is better: time to {args.target:.0%} Keras/rnnkit "
            f"{ratio(c['time_to_target_keras_over_rnnkit'])}; epoch time Keras/rnnkit "
            f"{ratio(c['mean_epoch_keras_over_rnnkit'])}; predict throughput rnnkit/Keras "
            f"{ratio(c['predict_throughput_rnnkit_over_keras'])}; peak RSS Keras/rnnkit "
            f"{ratio(c['peak_rss_keras_over_rnnkit'])}"
        )
    if rnnkit:
        lat, raw = rnnkit["latency"], rnnkit["raw_text"]
        print(
            f"rnnkit one review from raw text, SentimentClassifier.positive_probability([text]): "
            f"median {lat['median_ms']:.2f} ms, p90 {lat['p90_ms']:.2f} ms ({lat['calls']} calls)"
        )
        print(
            f"rnnkit raw-text pipeline on {raw['n']} test reviews: {raw['reviews_per_s']:.0f} "
            f"reviews/s, accuracy {raw['accuracy']:.4f}"
        )
    if baselines:
        print(
            "baselines on the same split: "
            + ", ".join(f"{b['model']} {b['accuracy']:.4f} ({b['s']:.0f} s)" for b in baselines)
        )
    if errors:
        print(f"{len(errors)} process(es) failed; see 'errors' in the JSON.")

    machine["versions"] = {name: r.get("versions") for name, r in peers.items()}
    payload = {
        "benchmark": "bench_sentiment",
        "quick": args.quick,
        "machine": machine,
        "settings": {
            "num_words": NUM_WORDS,
            "maxlen": MAXLEN,
            "model": "Embedding(10000,128) -> LSTM(128) -> Dense(1, sigmoid)",
            "optimizer": "Adam(lr=1e-3)",
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "threads": args.threads,
            "eval_batch_size": args.eval_batch_size,
            "target_accuracy": args.target,
            "data_dir": args.data_dir,
        },
        "data": {"n_train": n_train, "n_test": n_test, "load_s": loaded["load_s"]},
        "rnnkit": rnnkit,
        "keras_tf": keras,
        "comparisons": comparisons,
        "baselines": baselines,
        "errors": errors,
        "wall_s": elapsed,
    }
    path = P.write_json(args.out, payload)
    print(
        f"\nwrote {path.relative_to(P.REPO_ROOT) if path.is_relative_to(P.REPO_ROOT) else path}"
        f" ({elapsed:.0f} s)"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
