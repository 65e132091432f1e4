"""Training-step and inference time of the seed model: rnnkit against its peers, same machine.

The children that measure rnnkit and PyTorch, and the token ids they read, are
:mod:`rnnkit.bench.seed`'s, shared with the ``rnnkit bench`` command (the user-facing version
of this script: one T, the three peers rnnkit / PyTorch default / PyTorch tuned, the CPU's
vector extensions and autotuning's choices). This script adds several T, the GEMM probe,
the ``rnnkit-kernel`` peer and the Keras peers.

The seed model: Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), binary cross-entropy,
Adam(lr 1e-3), batch 64, sequences of T token ids.

Tokens (``--tokens``): ``imdb`` (default) feeds every peer the same real reviews, the seed's
data: the first IMDb training reviews (``imdb.load_data(num_words=10000)``, Keras's order),
padded or cut to T in front as the seed does, with their labels (data from ``--data-dir``,
``$RNNKIT_DATA_DIR`` or ``../shared/data``). A batch of 64 real reviews at T=200 holds about
2,200 distinct token ids. ``random`` draws ids uniformly from 1..9999 (about 7,200 distinct per
batch), the harder case for rnnkit's per-distinct-token lookup; the other peers do not care
(``rnnkit bench --tokens uniform``). Without a local IMDb copy the ids are
:func:`rnnkit.bench.seed.synthetic_reviews` (IMDb-shaped), and the output says so.

How to run (from the repository root)::

    .venv/bin/python benchmarks/bench_step.py                 # full: T 80/200/500, 1 and 2 threads, 3 rounds
    .venv/bin/python benchmarks/bench_step.py --quick         # smoke test: T=80, 1 round, few steps
    .venv/bin/python benchmarks/bench_step.py --threads 2 --seq-lens 200 --repeats 5 \\
        --peers rnnkit torch-tuned keras-tf
    .venv/bin/python benchmarks/bench_step.py --tokens random   # uniform random token ids

Peers (``--peers``, default all):

* ``rnnkit``        rnnkit's ``Sequential``, timed through ``model.fit`` (what a user runs), with
                    rnnkit's tuned runtime on (its default: mallopt allocator tuning, fused Adam).
* ``rnnkit-kernel`` the same with ``LSTM(impl='kernel')``: rnnkit's own whole-sequence kernel
                    instead of PyTorch's fused operator, to show what that path costs.
* ``torch``         a plain PyTorch loop with default settings: nn.Embedding + nn.LSTM +
                    nn.Linear, BCEWithLogitsLoss, torch.optim.Adam (not fused), glibc defaults.
* ``torch-tuned``   the same loop as a PyTorch expert would tune it: ``Adam(fused=True)``,
                    ``inference_mode`` for inference, and glibc's MALLOC_MMAP_THRESHOLD_ /
                    MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ in the environment at start.
* ``keras-tf``      Keras 3 on TensorFlow, ``model.fit`` / ``predict_on_batch``;
* ``keras-torch``   Keras 3 on PyTorch (slow: it runs a fifth of the steps);
                    both need ``benchmarks/.venv-keras`` (``bash benchmarks/setup_peers.sh``)
                    and are skipped with a note without it.

Method. Every (peer, T, threads) is a separate process, so allocator state, thread pools and
compiled graphs never carry over. One round runs every configuration once, peers alternated
innermost (A B C D, A B C D, ...) so a busy machine slows all peers of a row alike; the
reported number is the median over ``--repeats`` rounds. In each process: one warm-up epoch of
``--steps`` batches (excluded: first-call costs, graph tracing), then ``--chunks`` timed epochs;
the process's step time is the median of its epochs' mean step times. Threads are set in the
child (``torch.set_num_threads``, TensorFlow's intra- and inter-op pools) and through
OMP_NUM_THREADS / MKL_NUM_THREADS in its environment. Inference is a no-grad forward of one
batch of 64 and of 1 (rnnkit: ``model.predict``, Keras: ``predict_on_batch``), timed in chunks
of at least ``--infer-seconds``.

A GEMM probe in its own process per thread count times ``torch.mm`` of (64*200, 128) @
(128, 512) (the input projection of a T=200 batch) and (64, 128) @ (128, 512) (one recurrent
step), into preallocated outputs; each process keeps its best chunk, and the larger of the two
rates is "the GEMM peak" of that thread count.

How to read the output. Times are milliseconds per training step (forward, backward, Adam) or
per forward call. "GFLOP/s" counts the textbook LSTM work only, forward 2*N*T*(D+H)*4H and a
training step 3x that (embedding, dense layer and element-wise gate maths are not counted), and
"%peak" divides it by the large-GEMM rate at the same thread count: how much of the machine's
matrix-multiply speed the step turns into useful work. In the ratio tables each entry is
peer time / rnnkit time: above 1 rnnkit is faster, below 1 the peer is. The JSON
(``benchmarks/results/bench_step.json``, or ``bench_step_quick.json`` with ``--quick``) holds
every round's numbers, per-process memory peaks and the machine (CPU, versions, git commit).
Numbers from a machine with other jobs running are noise: check ``load_average_at_start``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers as P
from rnnkit.bench import seed

VOCAB, EMBED, UNITS, BATCH, LR = seed.VOCAB, seed.EMBED, seed.UNITS, seed.BATCH, seed.LR
TORCH_PEERS = ("rnnkit", "rnnkit-kernel", "torch", "torch-tuned")
KERAS_PEERS = ("keras-tf", "keras-torch")
ALL_PEERS = TORCH_PEERS + KERAS_PEERS
MODES = (
    ("train", "training step, batch 64"),
    ("infer64", "inference, batch 64"),
    ("infer1", "inference, batch 1"),
)


def lstm_flops(batch: int, T: int, D: int = EMBED, H: int = UNITS, train: bool = False) -> float:
    """Textbook multiply-add work of the LSTM: forward 2*N*T*(D+H)*4H, training 3x forward."""
    forward = 2.0 * batch * T * (D + H) * 4 * H
    return 3 * forward if train else forward


def mode_flops(mode: str, T: int) -> float:
    return {
        "train": lstm_flops(BATCH, T, train=True),
        "infer64": lstm_flops(BATCH, T),
        "infer1": lstm_flops(1, T),
    }[mode]


# == children ===================================================================================
# rnnkit's and PyTorch's children are rnnkit.bench.seed's (the one owner, shared with
# `rnnkit bench`); the GEMM probe is this script's own.
def write_tokens(args, seq_lens, folder: Path) -> dict[int, Path]:
    """Write the ids and labels of a run at each length T to ``folder`` (an .npz per T that
    all peers read, rnnkit.bench.seed.write_tokens); returns the paths by T."""
    tokens = "uniform" if args.tokens == "random" else args.tokens
    paths, args.token_source = seed.write_tokens(
        tokens, args.steps * BATCH, seq_lens, folder, args.data_dir
    )
    return paths


def child_gemm(spec: dict) -> dict:
    torch = seed._torch_setup(spec["threads"])
    out = {}
    for name, (M, K, N) in {
        "large": (BATCH * 200, EMBED, 4 * UNITS),
        "small": (BATCH, UNITS, 4 * UNITS),
    }.items():
        a, b = torch.randn(M, K), torch.randn(K, N)
        c = torch.empty(M, N)
        r = P.time_calls(lambda: torch.mm(a, b, out=c), spec["chunks"] + 3, spec["infer_seconds"])
        best = min(r["chunks_s"])  # a peak: the best chunk, not the typical one
        out[name] = {
            "shape": f"({M},{K})@({K},{N})",
            "s": best,
            "gflops": 2.0 * M * K * N / best / 1e9,
        }
    out["versions"] = seed._versions(torch)
    return out


def child_main(spec: dict) -> None:
    if spec["kind"] != "gemm":
        seed.child_main(spec)  # rnnkit or torch
        return
    P.emit_result(child_gemm(spec))


# == parent =====================================================================================
def child_command(peer: str, T: int, threads: int, args) -> tuple[list[str], dict, str]:
    """argv and environment of the process that measures ``peer`` at (T, threads)."""
    spec = {
        "T": T,
        "threads": threads,
        "steps": args.steps,
        "chunks": args.chunks,
        "infer_seconds": args.infer_seconds,
        "tokens": str(args.token_files.get(T, "")),
    }
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    if peer in ("rnnkit", "rnnkit-kernel"):
        spec.update(kind="rnnkit", impl="kernel" if peer == "rnnkit-kernel" else "auto")
        return me + [json.dumps(spec)], P.child_env(threads), peer
    if peer in ("torch", "torch-tuned"):
        tuned = peer == "torch-tuned"
        spec.update(kind="torch", tuned=tuned)
        return me + [json.dumps(spec)], P.child_env(threads, tuned_malloc=tuned), peer
    if peer == "gemm":
        spec.update(kind="gemm")
        return me + [json.dumps(spec)], P.child_env(threads), peer
    backend = {"keras-tf": "tensorflow", "keras-torch": "torch"}[peer]
    if backend == "torch":  # several times slower than the others: far fewer steps
        spec["steps"] = max(2, args.steps // 5)
        spec["chunks"] = min(args.chunks, 2)
    spec.update(backend=backend)
    env = P.child_env(threads, extra={"KERAS_BACKEND": backend})
    return [str(P.KERAS_PYTHON), str(P.KERAS_SIDE), "step", json.dumps(spec)], env, peer


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: T=80, 1 round, 4 steps, short inference chunks",
    )
    ap.add_argument("--threads", type=int, nargs="+", default=None, help="default: 1 2")
    ap.add_argument(
        "--seq-lens",
        type=int,
        nargs="+",
        default=None,
        help="sequence lengths T (default: 80 200 500)",
    )
    ap.add_argument("--repeats", type=int, default=None, help="rounds (default 3)")
    ap.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps per timed epoch (default 20; Keras-torch: a fifth)",
    )
    ap.add_argument(
        "--chunks",
        type=int,
        default=None,
        help="timed epochs per process after the warm-up one (default 2)",
    )
    ap.add_argument(
        "--infer-seconds",
        type=float,
        default=None,
        help="minimum length of one timed inference chunk (default 0.5)",
    )
    ap.add_argument(
        "--peers",
        nargs="+",
        default=None,
        choices=ALL_PEERS,
        help="peers to run (default: all; Keras ones only if .venv-keras exists)",
    )
    ap.add_argument(
        "--tokens",
        choices=("imdb", "random"),
        default="imdb",
        help="token ids fed to every peer: real IMDb reviews (default) or uniform random ids",
    )
    ap.add_argument(
        "--data-dir",
        default=None,
        help="IMDb folder for --tokens imdb (default: $RNNKIT_DATA_DIR/imdb or "
        "../shared/data/imdb, else rnnkit's download cache)",
    )
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per child process")
    ap.add_argument("--out", type=Path, default=None, help="JSON output path")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    defaults = {
        "threads": [1, 2],
        "seq_lens": [80] if quick else [80, 200, 500],
        "repeats": 1 if quick else 3,
        "steps": 4 if quick else 20,
        "chunks": 1 if quick else 2,
        "infer_seconds": 0.1 if quick else 0.5,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.out is None:
        args.out = P.RESULTS_DIR / ("bench_step_quick.json" if quick else "bench_step.json")
    if args.data_dir is None:
        args.data_dir = P.imdb_dir()
    args.token_files = {}
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return 0
    peers = list(args.peers or ALL_PEERS)
    if any(p in KERAS_PEERS for p in peers) and not P.keras_available():
        print(P.keras_missing_note())
        peers = [p for p in peers if p not in KERAS_PEERS]
    if "rnnkit" not in peers:
        peers.insert(0, "rnnkit")  # the reference of every ratio
    machine = P.machine_info()
    print(
        f"bench_step: {machine['cpu']} ({machine['logical_cpus']} logical CPUs), "
        f"load average {machine['load_average_at_start']}, commit "
        f"{(machine['git_commit'] or '?')[:10]}"
    )
    print(
        f"peers {' '.join(peers)}; T {args.seq_lens}; threads {args.threads}; "
        f"{args.repeats} round(s); {args.steps} steps x {args.chunks} timed epoch(s) per process"
    )

    tmp = tempfile.TemporaryDirectory(prefix="bench_step_")
    args.token_files = write_tokens(args, args.seq_lens, Path(tmp.name))
    print(f"tokens: {args.tokens}: {args.token_source}")
    runs: dict[tuple, list] = {}
    errors, versions = [], {}
    started = time.perf_counter()
    for rnd in range(args.repeats):
        for threads in args.threads:
            jobs = [("gemm", 0)] + [(peer, T) for T in args.seq_lens for peer in peers]
            for peer, T in jobs:
                argv, env, _label = child_command(peer, T or 200, threads, args)
                tag = (
                    f"[round {rnd + 1}/{args.repeats}] {peer:<13} T={T or '-':<4} threads={threads}"
                )
                print(tag, end=" ... ", flush=True)
                t0 = time.perf_counter()
                try:
                    res = P.run_child(argv, env, args.timeout, tag.strip())
                except P.ChildError as e:
                    print("FAILED")
                    print("    " + str(e).replace("\n", "\n    "))
                    errors.append(
                        {"peer": peer, "T": T, "threads": threads, "round": rnd, "error": str(e)}
                    )
                    continue
                took = time.perf_counter() - t0
                versions.setdefault(peer, res.get("versions"))
                runs.setdefault((peer, T, threads), []).append(res)
                if peer == "gemm":
                    print(
                        f"large {res['large']['gflops']:.1f} GFLOP/s, "
                        f"small {res['small']['gflops']:.1f} GFLOP/s ({took:.0f} s)"
                    )
                else:
                    print(
                        f"train {P.fmt_ms(res['train_s'])} ms, infer64 "
                        f"{P.fmt_ms(res['infer64_s'])} ms, infer1 {P.fmt_ms(res['infer1_s'])} ms"
                        f" ({took:.0f} s)"
                    )
    elapsed = time.perf_counter() - started

    # -- summary -------------------------------------------------------------------------------
    peak = {}
    gemm = {}
    for threads in args.threads:
        rs = runs.get(("gemm", 0, threads), [])
        if rs:
            gemm[threads] = {
                size: {
                    "shape": rs[0][size]["shape"],
                    "gflops_median": P.median([r[size]["gflops"] for r in rs]),
                    "gflops_rounds": [r[size]["gflops"] for r in rs],
                }
                for size in ("large", "small")
            }
            peak[threads] = max(g["gflops_median"] for g in gemm[threads].values())
    results = []
    for (peer, T, threads), rs in runs.items():
        if peer == "gemm":
            continue
        for mode, _ in MODES:
            s = P.median([r[f"{mode}_s"] for r in rs])
            gflops = mode_flops(mode, T) / s / 1e9 if s else None
            results.append(
                {
                    "peer": peer,
                    "mode": mode,
                    "T": T,
                    "threads": threads,
                    "batch": 1 if mode == "infer1" else BATCH,
                    "ms": s * 1e3 if s else None,
                    "ms_rounds": [r[f"{mode}_s"] * 1e3 for r in rs],
                    "gflops": gflops,
                    "fraction_of_gemm_peak": gflops / peak[threads]
                    if gflops and peak.get(threads)
                    else None,
                    "max_rss_mib": max(r.get("max_rss_mib", 0) for r in rs),
                    "steps_per_epoch": rs[0].get("steps"),
                    "runtime": rs[0].get("runtime"),
                }
            )
    index = {(r["peer"], r["mode"], r["T"], r["threads"]): r for r in results}

    print()
    print(
        f"GEMM probe, torch.mm into a preallocated output (GFLOP/s: best chunk of each "
        f"process, median of {args.repeats} round(s)):"
    )
    print(
        P.table(
            ["threads", "(64*200,128)@(128,512)", "(64,128)@(128,512)", "peak (the larger)"],
            [
                [
                    t,
                    f"{g['large']['gflops_median']:.1f}",
                    f"{g['small']['gflops_median']:.1f}",
                    f"{peak[t]:.1f}",
                ]
                for t, g in gemm.items()
            ],
        )
    )
    shown = [p for p in peers if any(k[0] == p for k in runs)]
    for mode, title in MODES:
        print()
        print(f"{title}: ms, median of {args.repeats} round(s) [GFLOP/s, % of GEMM peak]")
        rows = []
        for T in args.seq_lens:
            for threads in args.threads:
                row = [T, threads]
                for p in shown:
                    r = index.get((p, mode, T, threads))
                    if not r or r["ms"] is None:
                        row.append("-")
                        continue
                    frac = r["fraction_of_gemm_peak"]
                    row.append(
                        f"{r['ms']:.{1 if r['ms'] >= 10 else 2}f} [{r['gflops']:.1f}"
                        + (f", {100 * frac:.0f}%]" if frac is not None else "]")
                    )
                rows.append(row)
        print(P.table(["T", "thr", *shown], rows))
        others = [p for p in shown if p != "rnnkit"]
        if others:
            print("  peer time / rnnkit time (>1: rnnkit faster):")
            rows = []
            for T in args.seq_lens:
                for threads in args.threads:
                    base = index.get(("rnnkit", mode, T, threads))
                    rows.append(
                        [T, threads]
                        + [
                            P.fmt_ratio(
                                (index.get((p, mode, T, threads)) or {}).get("ms"),
                                base and base["ms"],
                            )
                            for p in others
                        ]
                    )
            print(P.table(["T", "thr", *others], rows))
    if errors:
        print(f"\n{len(errors)} process(es) failed; see 'errors' in the JSON.")

    ratios = {}
    for r in results:
        base = index.get(("rnnkit", r["mode"], r["T"], r["threads"]))
        if r["peer"] != "rnnkit" and base and base["ms"] and r["ms"]:
            ratios[f"{r['peer']}/{r['mode']}/T{r['T']}/thr{r['threads']}"] = r["ms"] / base["ms"]
    machine["versions"] = versions
    payload = {
        "benchmark": "bench_step",
        "quick": args.quick,
        "machine": machine,
        "settings": {
            "model": "Embedding(10000,128) -> LSTM(128) -> Dense(1, sigmoid)",
            "batch": BATCH,
            "optimizer": "Adam(lr=1e-3)",
            "seq_lens": args.seq_lens,
            "threads": args.threads,
            "repeats": args.repeats,
            "steps": args.steps,
            "keras_torch_steps": max(2, args.steps // 5),
            "chunks": args.chunks,
            "infer_seconds": args.infer_seconds,
            "peers": peers,
            "tokens": args.tokens,
            "token_source": args.token_source,
            "flops": "forward 2*N*T*(D+H)*4H, train 3x forward; D=H=128",
        },
        "gemm": gemm,
        "gemm_peak_gflops": peak,
        "results": results,
        "ratios_peer_over_rnnkit": ratios,
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
