"""Transfer from a language model to the sentiment network (Dai & Le 2015): does starting the
seed-sized network from a language model trained on the IMDb training reviews lift its test
accuracy? (Issue #12, item 8: target >= 90.0 % for the network alone, about 88 % without.)

What it does, in one process, in this order:

1. Trains a word-level language model on the IMDb *training* reviews
   (:func:`rnnkit.datasets.text_corpora.load_imdb_corpus`, the corpus of ``rnnkit textgen
   train --corpus imdb``: one review per line in the sentiment task's words, the last 5 % held
   out for validation; no test review) for ``--lm-minutes`` (its ``minutes`` budget, the best
   validation weights kept), sized for the sentiment network: 1 layer of 128 units, embedding
   128, the 10,000 most frequent words (``--lm-set`` changes any
   :class:`~rnnkit.tasks.language_model.LanguageModelConfig` field). Its validation perplexity
   is reported.
2. For each of ``--recipe`` (default ``seed``: the lecture's Embedding(10000, 128) ->
   LSTM(128) -> Dense(1), 200 words, 3 epochs; ``default``: the same layers over 500 words with
   dropout, at most 6 minutes, the best validation epoch kept) and each of ``--seeds``: trains
   the sentiment network twice with the same seed, once from scratch and once with
   ``pretrained_lm`` (the embedding copied word by word, the LSTM from the language model's
   layer; the random generators go on as without, so only the starting weights differ), and
   scores both on the IMDb test reviews.

Output: a table and ``benchmarks/results/bench_transfer[_TAG].json`` (the language model's
history and perplexity, each run's test metrics, history and minutes, the mean lift in points,
whether the 90 % target is met, the machine, the total time). ``--limit`` / ``--test-limit`` /
``--lm-limit`` shorten a run (the JSON says ``"shortened": true``): its figures are not the
benchmark's.

How to run (from the repository root; data from ``--data-dir``, ``$RNNKIT_DATA_DIR/imdb`` or
``../shared/data/imdb``)::

    .venv/bin/python benchmarks/bench_transfer.py                       # seed recipe: ~35 min
    .venv/bin/python benchmarks/bench_transfer.py --recipe seed default --seeds 0 1 2  # ~80 min
    .venv/bin/python benchmarks/bench_transfer.py --lm-minutes 3 --lm-limit 5000 \
        --limit 5000 --test-limit 5000 --tag short                      # shortened: minutes
    .venv/bin/python benchmarks/bench_transfer.py --pretrained-lm runs/lm/model  # reuse an LM

(Times on 2 quiet cores, estimated: ``--lm-minutes`` (30) plus about 2 minutes per seed for the
``seed`` recipe's two runs (its epoch is about 22 s, ``bench_sentiment.json``) and 13 for the
``default`` recipe's (its 6-minute budget twice); the total is printed at the end and saved.)

The machine may be shared: run with ``nice``; the JSON records the load average at start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers as P

TARGET = 0.90
LM_CONFIG = dict(
    level="word",
    max_vocab=10_000,  # the sentiment vocabulary's size: the same most frequent words
    embedding_dim=128,
    units=128,
    layers=1,
    batch_size=64,
    seq_len=35,
    epochs=50,  # the minutes budget ends training first
    optimizer="adam",
    learning_rate=0.002,
    schedule="cosine",  # to 0 at the end of --lm-minutes
    warmup=0.02,
)


def _subset(texts, labels, n: int | None, seed: int = 0):
    """All reviews, or ``n`` of them at random (fixed by ``seed``), as ``rnnkit sentiment
    train --limit`` takes them."""
    import numpy as np

    labels = np.asarray(labels)
    if n is None or n >= len(texts):
        return list(texts), labels
    idx = np.sort(np.random.default_rng(seed).permutation(len(texts))[:n])
    return [texts[i] for i in idx], labels[idx]


def train_language_model(args, folder: Path) -> dict:
    """Step 1: the language model on the IMDb training reviews, saved in ``folder``."""
    from rnnkit.datasets.text_corpora import load_imdb_corpus
    from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig

    start = time.perf_counter()
    corpus = load_imdb_corpus(args.data_dir, limit=args.lm_limit, allow_sample=False)
    load_s = time.perf_counter() - start
    fields = {**LM_CONFIG, "minutes": args.lm_minutes, **P.overrides(args.lm_set, "--lm-set")}
    config = LanguageModelConfig(**fields).validate()
    reviews = corpus.train.count("\n"), corpus.valid.count("\n")
    print(
        f"language model: {reviews[0]:,} training / {reviews[1]:,} validation reviews "
        f"({load_s:.0f} s to read); {config.layers} x {config.units} units, embedding "
        f"{config.embedding_dim}, at most {config.max_vocab:,} words, {args.lm_minutes:g} min",
        flush=True,
    )
    lm = LanguageModel(config)
    start = time.perf_counter()
    lm.fit(corpus, verbose=args.verbose)
    train_s = time.perf_counter() - start
    valid = lm.perplexity(corpus.valid)
    lm.save(folder)
    tokens = len(lm.vocab_.encode(corpus.train))
    epochs = lm.history_[-1]["epoch"] if lm.history_ else 0
    print(
        f"language model: validation perplexity {valid['perplexity']:.1f} after "
        f"{train_s / 60:.1f} min ({epochs:.2f} epochs of {tokens:,} tokens), vocabulary "
        f"{lm.vocab_.size:,}",
        flush=True,
    )
    return {
        "config": config.to_dict(),
        "reviews": {"train": reviews[0], "valid": reviews[1]},
        "train_tokens": tokens,
        "vocabulary": lm.vocab_.size,
        "history": lm.history_,
        "epochs": epochs,
        "valid": valid,
        "train_minutes": train_s / 60,
        "source": corpus.source,
    }


def train_sentiment(config, train, test, verbose: int) -> dict:
    """Step 2: one sentiment network, scored on the test reviews."""
    from rnnkit.tasks.sentiment import SentimentClassifier
    from rnnkit.tasks.sentiment.pretrained import describe

    start = time.perf_counter()
    clf = SentimentClassifier(config).fit(*train, verbose=verbose)
    train_s = time.perf_counter() - start
    if clf.pretrained_ is not None:
        print("  " + describe(clf.pretrained_), flush=True)
    start = time.perf_counter()
    metrics = clf.evaluate(*test)
    return {
        "pretrained": clf.pretrained_ is not None,
        "filled": clf.pretrained_,
        "test_accuracy": metrics["accuracy"],
        "metrics": metrics,
        "train_minutes": train_s / 60,
        "evaluate_s": time.perf_counter() - start,
        "epochs_run": len(clf.history_.epoch),
        "kept_epoch": clf.kept_epoch_,
        "history": clf.history_.history,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--lm-minutes", type=float, default=30.0, help="language-model training time budget"
    )
    p.add_argument(
        "--lm-set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="change LanguageModelConfig fields (default: 1 x 128, embedding 128, 10,000 words, "
        "Adam 0.002 with a cosine schedule over --lm-minutes)",
    )
    p.add_argument(
        "--pretrained-lm",
        default=None,
        metavar="MODEL",
        help="skip step 1: start from this saved language model (e.g. `rnnkit textgen train "
        "--corpus imdb`'s model/)",
    )
    p.add_argument(
        "--save-lm",
        default=None,
        metavar="DIR",
        help="keep the language model of step 1 in DIR (for --pretrained-lm or "
        "`rnnkit sentiment train --pretrained-lm DIR`); default: a temporary folder",
    )
    p.add_argument(
        "--recipe",
        nargs="+",
        choices=("seed", "default", "best"),
        default=["seed"],
        help="the sentiment recipe(s), each trained from scratch and from the one language model",
    )
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="change SentimentConfig fields of the recipe (both runs)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--limit", type=int, default=None, help="sentiment training reviews (all)")
    p.add_argument("--test-limit", type=int, default=None, help="test reviews (all 25,000)")
    p.add_argument("--lm-limit", type=int, default=None, help="reviews for the LM corpus (all)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--data-dir", default=None, help="the IMDb folder (default: see above)")
    p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))
    p.add_argument("--tag", default="", help="added to the JSON file's name")
    args = p.parse_args(argv)
    args.data_dir = args.data_dir or P.imdb_dir()

    import torch

    from rnnkit.datasets import imdb
    from rnnkit.tasks.sentiment import SentimentConfig

    t0 = time.perf_counter()
    torch.set_num_threads(args.threads)
    machine = P.machine_info()
    machine["versions"] = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    shortened = any(v is not None for v in (args.limit, args.test_limit, args.lm_limit))
    print(
        f"bench_transfer: {machine['cpu']}, {args.threads} thread(s), load average "
        f"{machine['load_average_at_start']}, commit {(machine['git_commit'] or '?')[:10]}"
        f"{'; SHORTENED (--limit / --test-limit / --lm-limit)' if shortened else ''}",
        flush=True,
    )
    payload = {
        "benchmark": "bench_transfer",
        "options": vars(args),
        "shortened": shortened,
        "machine": machine,
        "target": TARGET,
    }
    with tempfile.TemporaryDirectory() as tmp:
        lm_path = args.pretrained_lm
        if lm_path is None:
            lm_path = args.save_lm or str(Path(tmp) / "lm")
            payload["language_model"] = train_language_model(args, Path(lm_path))
        else:
            payload["language_model"] = {"path": lm_path}
        reviews = imdb.load_texts(args.data_dir, allow_sample=False)
        train = _subset(reviews.train.texts, reviews.train.labels, args.limit)
        test = _subset(reviews.test.texts, reviews.test.labels, args.test_limit)
        fields = P.overrides(args.set)
        print(
            f"sentiment: recipe(s) {' '.join(args.recipe)} {fields or ''}, {len(train[0]):,} "
            f"training / {len(test[0]):,} test reviews, seeds {args.seeds}",
            flush=True,
        )
        runs = []
        payload["configs"] = {
            recipe: SentimentConfig(recipe=recipe, **fields).to_dict() for recipe in args.recipe
        }
        for recipe in args.recipe:
            for seed in args.seeds:
                for start_from in (None, lm_path):
                    config = SentimentConfig(
                        recipe=recipe, **{**fields, "seed": seed, "pretrained_lm": start_from}
                    ).validate()
                    r = train_sentiment(config, train, test, args.verbose)
                    r["recipe"], r["seed"] = recipe, seed
                    runs.append(r)
                    print(
                        f"  {recipe}, seed {seed}, "
                        f"{'from the language model' if start_from else 'from scratch'}: test "
                        f"accuracy {r['test_accuracy']:.4f} ({r['train_minutes']:.1f} min, "
                        f"{r['epochs_run']} epochs, kept {r['kept_epoch']})",
                        flush=True,
                    )
        payload["data"] = {"train": len(train[0]), "test": len(test[0])}
    summary = {"by_recipe": {}}
    for recipe in args.recipe:
        mine = [r for r in runs if r["recipe"] == recipe]
        scratch = [r["test_accuracy"] for r in mine if not r["pretrained"]]
        started = [r["test_accuracy"] for r in mine if r["pretrained"]]
        lift = [b - a for a, b in zip(scratch, started)]
        summary["by_recipe"][recipe] = {
            "scratch_accuracy": statistics.mean(scratch),
            "pretrained_accuracy": statistics.mean(started),
            "lift_points": 100 * statistics.mean(lift),
            "lift_points_by_seed": [100 * x for x in lift],
            "target_met": statistics.mean(started) >= TARGET,
        }
    summary["total_minutes"] = (time.perf_counter() - t0) / 60
    payload["runs"] = runs
    payload["summary"] = summary
    lm = payload["language_model"]
    rows = [
        [
            r["recipe"],
            r["seed"],
            "language model" if r["pretrained"] else "scratch",
            f"{r['test_accuracy']:.4f}",
            f"{r['train_minutes']:.1f}",
            r["kept_epoch"],
        ]
        for r in runs
    ]
    print(P.table(["recipe", "seed", "start", "test accuracy", "train min", "epoch kept"], rows))
    ppl = lm.get("valid", {}).get("perplexity")
    if ppl:
        print(
            f"language model: validation perplexity {ppl:.1f} after {lm['train_minutes']:.1f} "
            f"min ({lm['epochs']:.2f} epochs)"
        )
    for recipe, s in summary["by_recipe"].items():
        print(
            f"{recipe}: mean test accuracy {s['scratch_accuracy']:.4f} from scratch, "
            f"{s['pretrained_accuracy']:.4f} from the language model: {s['lift_points']:+.2f} "
            f"points; target {TARGET:.0%} {'MET' if s['target_met'] else 'NOT MET'}"
            f"{' (SHORTENED run: not the benchmark figure)' if shortened else ''}"
        )
    print(f"total {summary['total_minutes']:.1f} min", flush=True)
    name = f"bench_transfer{'_' + args.tag if args.tag else ''}.json"
    path = P.write_json(P.RESULTS_DIR / name, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
