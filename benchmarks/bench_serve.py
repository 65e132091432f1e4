"""Load test of ``rnnkit serve`` on loopback: requests per second and latency percentiles for
100-word reviews from many concurrent clients, with and without dynamic batching.

The served model has the seed's size (Embedding(10000, 128) -> LSTM(128) -> Dense(1)); its
weights are those of a short training run on a slice of IMDb (the speed of a forward pass does
not depend on how well the weights were trained; the JSON says which model was served).

    .venv/bin/python benchmarks/bench_serve.py                       # 32 clients, 20 s per mode
    .venv/bin/python benchmarks/bench_serve.py --clients 8 --seconds 5 --quick
    .venv/bin/python benchmarks/bench_serve.py --server-src /tmp/old/src   # another checkout

Each mode starts its own server process (``rnnkit serve --batch-window-ms W [--threads T]``),
waits for /healthz, then the clients send one review per request for ``--seconds`` after a
warm-up of 2 s. The clients share the server's cores, so they are kept light: one process, raw
asyncio sockets, one keep-alive HTTP/1.1 connection per client, each request's bytes built
once before the run, the answer's status line and Content-Length read and its body skipped.
(The first version used httpx, whose per-request work ran on the server's cores.) ``--server-src`` serves from another checkout's ``src`` folder, to measure a before
and an after under the same load. Results: benchmarks/results/bench_serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def request_bytes(port: int, text: str) -> bytes:
    body = json.dumps({"texts": [text]}).encode()
    head = (
        f"POST /api/sentiment HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """The status of one HTTP/1.1 response (its body read and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(port: int, texts: list[str], clients: int, seconds: float, pid: int) -> dict:
    requests = [request_bytes(port, t) for t in texts]
    latencies, errors = [], 0
    stop = time.perf_counter() + seconds
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()

    async def client(k: int):
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        try:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                writer.write(requests[i % len(requests)])
                status = await read_response(reader)
                latencies.append(time.perf_counter() - start)
                errors += status != 200
                i += clients
        finally:
            writer.close()

    begin = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - begin
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
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
        # CPU time per request: what the server and the load generator cost, less sensitive
        # than the rates to other work on a shared machine
        "server_cpu_ms_per_request": 1000 * server_cpu / max(len(latencies), 1),
        "client_cpu_ms_per_request": 1000 * client_cpu / max(len(latencies), 1),
    }


def serve(models: Path, port: int, window_ms: float, threads: int | None, src: str | None):
    argv = [sys.executable, "-m", "rnnkit.cli", "serve", "--models", str(models)]
    argv += ["--port", str(port), "--batch-window-ms", str(window_ms)]
    argv += [] if threads is None else ["--threads", str(threads)]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    from urllib.error import URLError
    from urllib.request import urlopen

    while time.time() < deadline:
        try:
            with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except (URLError, OSError):
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-2000:]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds per mode")
    ap.add_argument("--words", type=int, default=100, help="words per review")
    ap.add_argument(
        "--threads", type=int, default=None, help="server model threads (default: serve's)"
    )
    ap.add_argument("--windows", default="5,0", help="batch windows (ms) to compare")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--quick", action="store_true", help="a small model training run")
    ap.add_argument(
        "--server-src",
        default=None,
        help="serve from this src folder (another checkout), to compare a before and an after",
    )
    ap.add_argument("--out", default=None, help="the JSON file to write (default: results/)")
    ap.add_argument(
        "--models", default=None, help="serve this folder of saved models instead of training one"
    )
    args = ap.parse_args(argv)
    texts = reviews_of(args.words, 500)
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        if args.models:
            folder, model_note = Path(args.models), f"the models under {args.models}"
        else:
            folder, model_note = Path(tmp), make_model(Path(tmp), args.quick)
        for window in [float(w) for w in args.windows.split(",")]:
            proc = serve(folder, args.port, window, args.threads, args.server_src)
            try:
                asyncio.run(load(args.port, texts, args.clients, 2.0, proc.pid))
                r = asyncio.run(load(args.port, texts, args.clients, args.seconds, proc.pid))
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
                    f"{r['server_cpu_ms_per_request']:.2f}",
                    f"{r['client_cpu_ms_per_request']:.2f}",
                    str(r["errors"]),
                ]
            )
    print(
        f"rnnkit serve, {args.clients} clients, {args.words}-word reviews, "
        f"{args.threads or 'default'} model threads, {args.seconds:g} s per mode"
        + (f", server from {args.server_src}" if args.server_src else "")
    )
    headers = ["batch window", "req/s", "p50 ms", "p99 ms", "server CPU ms/req"]
    print(table([*headers, "client CPU ms/req", "errors"], rows))
    default = RESULTS / ("bench_serve_quick.json" if args.quick else "bench_serve.json")
    out = write_json(
        Path(args.out) if args.out else default,
        {"machine": machine_info(), "args": vars(args), "model": model_note, "results": results},
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
