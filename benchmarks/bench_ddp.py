"""Epoch time of data-parallel training: 2 processes x 1 thread against 1 process x 2 threads.

The seed model (Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), Adam, global batch 64)
trains one epoch over synthetic reviews (token ids with 'pre' padding, lengths drawn uniformly
up to ``maxlen``), with rnnkit's defaults, in two configurations, each in fresh processes:

``1x2``
    one process, ``torch.set_num_threads(2)``, ``fit(batch_size=64)``.
``2x1``
    two processes on loopback (gloo), one thread each, ``fit(batch_size=64, distributed=True)``
    (:mod:`rnnkit.distributed`): each takes 32 rows of every batch.

Prints each configuration's seconds for the epoch (the fit call only, after one warm-up
batch) and the ratio; writes ``benchmarks/results/bench_ddp.json`` (``bench_ddp_quick.json``
with ``--quick``). Run from the repository root on a quiet machine::

    .venv/bin/python benchmarks/bench_ddp.py               # 25,000 reviews, maxlen 200
    .venv/bin/python benchmarks/bench_ddp.py --quick       # 1,024 reviews, maxlen 100
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

RESULTS = Path(__file__).resolve().parent / "results"


def reviews(samples: int, maxlen: int, vocab: int = 10000):
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(10, maxlen + 1, (samples,), generator=g)
    x = torch.randint(1, vocab, (samples, maxlen), generator=g)
    x[torch.arange(maxlen) < (maxlen - lengths)[:, None]] = 0  # 'pre' padding
    y = torch.randint(0, 2, (samples, 1), generator=g).float()
    return x, y


def seed_model():
    from rnnkit.layers import LSTM, Dense, Embedding
    from rnnkit.models import Sequential

    torch.manual_seed(0)
    model = Sequential([Embedding(10000, 128), LSTM(128), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def epoch(spec: dict, distributed: bool) -> float:
    x, y = reviews(spec["samples"], spec["maxlen"])
    model = seed_model()
    model.fit(x[:64], y[:64], batch_size=64, epochs=1, verbose=0, distributed=distributed)
    if distributed:
        dist.barrier()
    start = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, distributed=distributed)
    if distributed:
        dist.barrier()
    return time.perf_counter() - start


def worker(rank: int, port: int, spec: dict, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        seconds = epoch(spec, distributed=True)
        if rank == 0:
            out.put(seconds)
    finally:
        dist.destroy_process_group()


def one_process(spec: dict, out):
    torch.set_num_threads(2)
    out.put(epoch(spec, distributed=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=25000)
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="1,024 reviews of up to 100 steps")
    args = parser.parse_args()
    spec = {"samples": args.samples, "maxlen": args.maxlen}
    if args.quick:
        spec = {"samples": 1024, "maxlen": 100}
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    p = ctx.Process(target=one_process, args=(spec, out))
    p.start()
    single = out.get()
    p.join()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(port, spec, out), nprocs=2, join=True)
    double = out.get()
    result = {
        **spec,
        "batch_size": 64,
        "seconds_1proc_2threads": round(single, 3),
        "seconds_2proc_1thread": round(double, 3),
        "ratio_2x1_over_1x2": round(double / single, 3),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    name = "bench_ddp_quick.json" if args.quick else "bench_ddp.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
