"""Seconds per IMDb epoch of the seed model: fixed padding against length-aware training.

The seed model (Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), Adam(1e-3), batch 64)
trains one epoch over Keras's IMDb training arrays (``rnnkit.datasets.imdb.load_data``,
``pad_sequences(maxlen)``) in each of these configurations, each in a fresh process, in turn:

``fixed``
    Every batch runs all ``maxlen`` steps through PyTorch's fused LSTM (rnnkit's padding
    shortcut and embedding lookup off): what a plain padded training loop computes.
``trim``
    rnnkit's defaults without its compiled kernel: all-padding columns of a batch are skipped
    exactly (:mod:`rnnkit.models.padding`), the LSTM is PyTorch's fused operator.
``bucketing``
    ``trim`` plus ``fit(bucketing=True)``: batches of similar length, so far fewer padded steps.
``lookup``
    ``bucketing`` plus rnnkit's embedding lookup and compiled LSTM kernel
    (``runtime.embedding_lookup``, the default where the kernel builds).
``lookup-fixed``
    The lookup and kernel without bucketing (rnnkit's defaults with ``fit()`` as Keras calls it).

With the lookup, the kernel also runs each row only from its first real token (the padding in
front of the rows is computed once, on one row), and the step count says so.

For each it prints the epoch's seconds, the recurrent steps computed (sum over batches of the
columns run, times the batch rows) relative to fixed padding, and the training loss. Run from
the repository root on a quiet machine::

    .venv/bin/python benchmarks/bench_epoch.py                      # maxlen 200 and 500
    .venv/bin/python benchmarks/bench_epoch.py --maxlen 200 --configs fixed lookup
    .venv/bin/python benchmarks/bench_epoch.py --quick              # 3,000 reviews

Writes ``benchmarks/results/bench_epoch.json`` (``bench_epoch_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers as P

CONFIGS = {
    "fixed": dict(trim=False, lookup=False, bucketing=False),
    "trim": dict(trim=True, lookup=False, bucketing=False),
    "bucketing": dict(trim=True, lookup=False, bucketing=True),
    "lookup": dict(trim=True, lookup=True, bucketing=True),
    "lookup-fixed": dict(trim=True, lookup=True, bucketing=False),
}


def child(spec: dict) -> dict:
    """One epoch in this process; returns its measurements."""
    import torch

    torch.set_num_threads(spec["threads"])
    from rnnkit import runtime
    from rnnkit.datasets import imdb
    from rnnkit.layers import LSTM, Dense, Embedding
    from rnnkit.models import Sequential, execution, padding
    from rnnkit.text import pad_sequences
    from rnnkit.utils import set_random_seed

    cfg = CONFIGS[spec["config"]]
    runtime.configure(trim_padding=cfg["trim"], embedding_lookup=cfg["lookup"])
    (x, y), _ = imdb.load_data(num_words=10000, data_dir=spec["data_dir"])
    x = torch.from_numpy(pad_sequences(x, maxlen=spec["maxlen"]))
    y = torch.from_numpy(y).float()
    if spec["limit"]:
        x, y = x[: spec["limit"]], y[: spec["limit"]]
    set_random_seed(0)
    model = Sequential([Embedding(10000, 128), LSTM(128), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.build((None, spec["maxlen"]))
    lookup_used = model.layers[1].takes_ids_from(model.layers[0])
    widths = []

    # count the columns each batch runs: its width once all-padding margins are cut
    original_forward = execution.forward_without_padding

    def counting(model_, ids, logits):
        if model_.training and lookup_used:
            # the kernel runs each row from its first real token, and the shared padding in
            # front once, on one row (the longest padding)
            real = ids != 0
            T = ids.shape[1]
            lead = torch.where(real.any(1), real.int().argmax(1), T)
            widths.append(int((T - lead).sum()) + int(lead.max()))
        elif model_.training:
            lead = padding.leading_padding(ids) if cfg["trim"] else 0
            widths.append((ids.shape[1] - lead) * ids.shape[0])
        return original_forward(model_, ids, logits)

    execution.forward_without_padding = counting
    if not cfg["trim"]:
        original_run = execution.run_layers

        def counting_run(model_, ids, mask=None, logits=False, start=0):
            if model_.training and start == 0:
                widths.append(ids.shape[1] * ids.shape[0])
            return original_run(model_, ids, mask, logits, start)

        execution.run_layers = counting_run
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=64, epochs=1, verbose=0, bucketing=cfg["bucketing"])
    seconds = time.perf_counter() - start
    return {
        "config": spec["config"],
        "maxlen": spec["maxlen"],
        "epoch_s": seconds,
        "n": len(x),
        "steps_computed": sum(widths),
        "steps_fixed": len(x) * spec["maxlen"],
        "loss": history.history["loss"][0],
        "accuracy": history.history["accuracy"][0],
        "lookup_used": lookup_used,
        "max_rss_mib": P.max_rss_mib(),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--maxlen",
        type=int,
        nargs="+",
        default=[200, 500],
        help="pad / truncate length(s) to measure",
    )
    p.add_argument(
        "--configs",
        nargs="+",
        choices=list(CONFIGS),
        default=list(CONFIGS),
        help="configurations, each one epoch in its own process",
    )
    p.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    p.add_argument(
        "--data-dir",
        default=None,
        help="IMDb folder (default: $RNNKIT_DATA_DIR/imdb or ../shared/data/imdb)",
    )
    p.add_argument("--quick", action="store_true", help="3,000 reviews: checks the script runs")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/...)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def data_dir(arg):
    return arg or P.imdb_dir()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    results = []
    for maxlen in args.maxlen:
        for name in args.configs:
            spec = {
                "config": name,
                "maxlen": maxlen,
                "threads": args.threads,
                "data_dir": data_dir(args.data_dir),
                "limit": 3000 if args.quick else None,
            }
            env = P.child_env(args.threads)
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                env=env,
                capture_output=True,
                text=True,
                timeout=3600,
            )
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not line:
                print(f"{name} maxlen {maxlen} failed:\n{proc.stderr[-2000:]}")
                results.append({"config": name, "maxlen": maxlen, "error": proc.stderr[-2000:]})
                continue
            r = json.loads(line[0][7:])
            results.append(r)
            print(
                f"maxlen {maxlen:>3} {name:<13} {r['epoch_s']:7.1f} s/epoch  steps "
                f"{r['steps_computed'] / r['steps_fixed']:.3f} of fixed  loss {r['loss']:.4f}"
                f"  lookup {r['lookup_used']}",
                flush=True,
            )
    rows = []
    for r in results:
        if "error" in r:
            continue
        base = next(
            (
                b
                for b in results
                if b.get("config") == "fixed"
                and b.get("maxlen") == r["maxlen"]
                and "error" not in b
            ),
            None,
        )
        rows.append(
            [
                r["maxlen"],
                r["config"],
                f"{r['epoch_s']:.1f}",
                f"{base['epoch_s'] / r['epoch_s']:.2f}x" if base else "-",
                f"{r['steps_fixed'] / max(r['steps_computed'], 1):.2f}x",
                f"{r['max_rss_mib']:.0f}",
            ]
        )
    print()
    print(
        P.table(
            ["maxlen", "config", "s/epoch", "speed-up vs fixed", "fewer steps", "peak RSS MiB"],
            rows,
        )
    )
    out = (
        Path(args.out)
        if args.out
        else (
            P.REPO_ROOT
            / "benchmarks"
            / "results"
            / ("bench_epoch_quick.json" if args.quick else "bench_epoch.json")
        )
    )
    P.write_json(
        out,
        {
            "benchmark": "bench_epoch",
            "quick": args.quick,
            "machine": P.machine_info(),
            "threads": args.threads,
            "results": results,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
