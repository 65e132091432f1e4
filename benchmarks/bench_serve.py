"""Load test of ``rnnkit serve`` on loopback: requests per second and latency percentiles for
100-word reviews from many concurrent clients, with and without dynamic batching.

The served model has the seed's size (Embedding(10000, 128) -> LSTM(128) -> Dense(1)); its
weights are those of a short training run on a slice of IMDb (the speed of a forward pass does
not depend on how well the weights were trained; the JSON says which model was served).

    .venv/bin/python benchmarks/bench_serve.py                       # 32 clients, 20 s per mode
    .venv/bin/python benchmarks/bench_serve.py --clients 8 --seconds 5 --quick

Each mode starts its own server process (``rnnkit serve --batch-window-ms W --threads T``),
waits for /healthz, then the clients (asyncio + httpx, one process) send one review per
request for ``--seconds`` after a warm-up of 2 s. Results: benchmarks/results/bench_serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import imdb_dir, machine_info, table, write_json

RESULTS = Path(__file__).resolve().parent / "results"


def make_model(folder: Path, quick: bool) -> str:
    from rnnkit.datasets import imdb
    from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig

    reviews = imdb.load_texts(imdb_dir())
    n = 500 if quick else 2000
    texts, labels = list(reviews.train.texts[:n]), reviews.train.labels[:n]
    clf = SentimentClassifier(SentimentConfig(epochs=1)).fit(texts, labels, verbose=0)
    clf.save(folder / "seed" / "model")
    return f"seed-size model, 1 epoch on {n} IMDb training reviews"


def reviews_of(words: int, count: int) -> list[str]:
    from rnnkit.datasets import imdb

    texts = imdb.load_texts(imdb_dir()).test.texts
    out = []
    for text in texts:
        w = text.split()
        if len(w) >= words:
            out.append(" ".join(w[:words]))
        if len(out) == count:
            break
    return out


async def load(url: str, texts: list[str], clients: int, seconds: float) -> dict:
    latencies, errors = [], 0
    stop = time.perf_counter() + seconds

    async def client(k: int, c: httpx.AsyncClient):
        nonlocal errors
        i = k
        while time.perf_counter() < stop:
            start = time.perf_counter()
            r = await c.post(f"{url}/api/sentiment", json={"texts": [texts[i % len(texts)]]})
            latencies.append(time.perf_counter() - start)
            errors += r.status_code != 200
            i += clients

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as c:
        begin = time.perf_counter()
        await asyncio.gather(*(client(k, c) for k in range(clients)))
        elapsed = time.perf_counter() - begin
    latencies.sort()
    q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))] * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": q(0.50),
        "p90_ms": q(0.90),
        "p99_ms": q(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


def serve(models: Path, port: int, window_ms: float, threads: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "rnnkit.cli", "serve", "--models", str(models)]
    argv += ["--port", str(port), "--batch-window-ms", str(window_ms), "--threads", str(threads)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-2000:]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds per mode")
    ap.add_argument("--words", type=int, default=100, help="words per review")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="server threads")
    ap.add_argument("--windows", default="5,0", help="batch windows (ms) to compare")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--quick", action="store_true", help="a small model training run")
    args = ap.parse_args(argv)
    texts = reviews_of(args.words, 500)
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        model_note = make_model(Path(tmp), args.quick)
        for window in [float(w) for w in args.windows.split(",")]:
            proc = serve(Path(tmp), args.port, window, args.threads)
            try:
                asyncio.run(load(f"http://127.0.0.1:{args.port}", texts, args.clients, 2.0))
                r = asyncio.run(
                    load(f"http://127.0.0.1:{args.port}", texts, args.clients, args.seconds)
                )
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            r["batch_window_ms"] = window
            results.append(r)
            rows.append(
                [
                    f"{window:g} ms",
                    f"{r['requests_per_s']:.0f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    str(r["errors"]),
                ]
            )
    print(
        f"rnnkit serve, {args.clients} clients, {args.words}-word reviews, "
        f"{args.threads} server threads, {args.seconds:g} s per mode"
    )
    print(table(["batch window", "req/s", "p50 ms", "p99 ms", "errors"], rows))
    out = write_json(
        RESULTS / ("bench_serve_quick.json" if args.quick else "bench_serve.json"),
        {"machine": machine_info(), "args": vars(args), "model": model_note, "results": results},
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
