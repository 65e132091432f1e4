"""Rough timing of rnnkit's kernels against the reference loop and PyTorch's fused operator.

    .venv/bin/python benchmarks/kernels_quick.py [--cell lstm|gru|simple_rnn] [--threads 1 2]
                                                 [--mode train infer] [--cpu-time]
                                                 [--tuned-malloc] [--skip reference ...]

Prints milliseconds per call (the best of a few runs, the runners interleaved so a busy machine
slows them alike) and each runner's ratio to ``torch.nn`` measured in the same run. Shapes
default to N=64, T=200, D=128, H=128. Modes: ``train`` is forward + backward (``y.backward``),
``infer`` the forward alone under ``torch.no_grad``.

Runners (the LSTM has them all; GRU and simple RNN the first, ``reference`` and ``torch.nn``):

* ``kernel``: rnnkit's kernel as it runs by default (the compiled step loops where they build).
* ``kernel-py``: the same kernel with its Python step loops (``_ext.enabled = False``).
* ``projected``: :func:`rnnkit.kernels.lstm.lstm_projected` with ``z_x = x @ W_x + b``
  computed under autograd in the timed call (train); in ``infer``, ``z_x`` given, as a caller
  that looks rows up in a projected embedding table has it.
* ``reference``: the readable time loop of :mod:`rnnkit.functional`.
* ``native``: ``torch.lstm`` behind rnnkit's layout (:mod:`rnnkit.kernels.native`).
* ``torch.nn``: ``torch.nn.LSTM`` (the same fused operator) holding the same weights.

``--tuned-malloc`` applies rnnkit's allocator tuning (:func:`rnnkit.runtime.tune_allocator`,
what training with rnnkit does) first. ``--cpu-time`` times the thread's CPU time with one
thread (steadier on a busy machine); two-thread numbers are wall time and are only meaningful
on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import torch

from rnnkit import functional as F
from rnnkit.kernels import _ext, native
from rnnkit.kernels.gru import gru as gru_kernel
from rnnkit.kernels.lstm import lstm as lstm_kernel
from rnnkit.kernels.lstm import lstm_projected
from rnnkit.kernels.simple_rnn import simple_rnn as simple_rnn_kernel

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def make(cell: str, N: int, T: int, D: int, H: int):
    """Random inputs, rnnkit weights, and a torch.nn module holding the same weights."""
    G = GATES[cell]
    x = torch.randn(N, T, D, requires_grad=True)
    h0 = torch.zeros(N, H, requires_grad=True)
    W_x = (torch.randn(D, G * H) / D**0.5).requires_grad_()
    W_h = (torch.randn(H, G * H) / H**0.5).requires_grad_()
    b = torch.zeros(G * H, requires_grad=True)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}[cell](
        D, H, batch_first=True
    )
    with torch.no_grad():
        W_ih, W_hh = W_x.t(), W_h.t()
        if cell == "gru":  # Keras [z | r | n] -> PyTorch [r | z | n]
            W_ih, W_hh = (torch.cat([w[H : 2 * H], w[:H], w[2 * H :]]) for w in (W_ih, W_hh))
        module.weight_ih_l0.copy_(W_ih)
        module.weight_hh_l0.copy_(W_hh)
        module.bias_ih_l0.zero_()
        module.bias_hh_l0.zero_()
    return x, h0, W_x, W_h, b, module


def with_loops(compiled: bool, fn):
    """``fn`` run with the kernel's compiled step loops switched on or off."""

    def run():
        _ext.enabled = compiled
        try:
            return fn()
        finally:
            _ext.enabled = _ext._mode() != "0"

    return run


def runners(cell: str, mode: str, x, h0, W_x, W_h, b, module):
    c0 = torch.zeros_like(h0, requires_grad=True)
    if cell == "lstm":
        with torch.no_grad():
            z_x = x @ W_x + b  # infer: a given projection (an embedding-table lookup's result)
        if mode == "train":
            projected = lambda: lstm_projected(x @ W_x + b, h0, c0, W_h)
        else:
            projected = lambda: lstm_projected(z_x, h0, c0, W_h)
        kernel = lambda: lstm_kernel(x, h0, c0, W_x, W_h, b)
        runs = {
            "kernel": kernel,
            "kernel-py": with_loops(False, kernel),
            "projected": projected,
            "reference": lambda: F.lstm(x, h0, c0, W_x, W_h, b),
            "native": lambda: native.lstm(x, h0, c0, W_x, W_h, b),
        }
        nn = lambda: module(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    elif cell == "gru":
        runs = {
            "kernel": lambda: gru_kernel(x, h0, W_x, W_h, b, b),
            "reference": lambda: F.gru(x, h0, W_x, W_h, b, b),
        }
        nn = lambda: module(x, h0.unsqueeze(0))
    else:
        runs = {
            "kernel": lambda: simple_rnn_kernel(x, h0, W_x, W_h, b),
            "reference": lambda: F.simple_rnn(x, h0, W_x, W_h, b),
        }
        nn = lambda: module(x, h0.unsqueeze(0))
    runs["torch.nn"] = nn
    return runs


def time_ms(runs: dict, dy, repeats: int, mode: str, clock=time.perf_counter) -> dict[str, float]:
    """Best time in ms of each runner (forward + backward, or forward under no_grad)."""

    def once(run):
        context = torch.no_grad() if mode == "infer" else contextlib.nullcontext()
        start = clock()
        with context:
            y, _ = run()
            if mode == "train":
                y.backward(dy)
        return clock() - start

    for run in runs.values():
        once(run)  # warm up (and build the C++ extension, the first time on this machine)
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], once(run))
    return {name: 1e3 * t for name, t in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=sorted(GATES), default="lstm")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mode", choices=["train", "infer"], nargs="+", default=["train", "infer"])
    parser.add_argument(
        "--shape", type=int, nargs=4, default=[64, 200, 128, 128], metavar=("N", "T", "D", "H")
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip", nargs="*", default=[], help="runners to skip, e.g. reference")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="with one thread, time the thread's CPU time (steadier on a busy "
        "machine) instead of wall time",
    )
    parser.add_argument(
        "--tuned-malloc", action="store_true", help="apply rnnkit.runtime.tune_allocator() first"
    )
    parser.add_argument(
        "--out", default=None, help="JSON path for the results (default: print only)"
    )
    args = parser.parse_args()
    if args.tuned_malloc:
        from rnnkit.runtime import tune_allocator

        tune_allocator()
    N, T, D, H = args.shape
    torch.manual_seed(0)
    tensors = make(args.cell, N, T, D, H)
    dy = torch.randn(N, T, H)
    if not _ext.enabled:
        loops = f"python ({_ext.ENV}=0)"
    else:
        loops = "compiled" if _ext.load() is not None else "python (compiled unavailable)"
    print(
        f"load average {os.getloadavg()[0]:.2f}; kernel step loops: {loops}; "
        f"extension build/load {_ext.build_seconds or 0.0:.1f} s"
    )
    rows = []
    for mode in args.mode:
        for threads in args.threads:
            torch.set_num_threads(threads)
            runs = {
                name: run
                for name, run in runners(args.cell, mode, *tensors).items()
                if name not in args.skip
            }
            cpu_time = args.cpu_time and threads == 1
            clock = time.thread_time if cpu_time else time.perf_counter
            results = time_ms(runs, dy, args.repeats, mode, clock)
            malloc = "tuned" if args.tuned_malloc else "default"
            print(
                f"{args.cell} {mode} N={N} T={T} D={D} H={H} threads={threads} "
                f"malloc={malloc} {'cpu' if cpu_time else 'wall'} (ms, ratio to torch.nn):"
            )
            base = results.get("torch.nn")
            for name, ms in results.items():
                ratio = f"  {ms / base:5.2f}" if base else ""
                print(f"    {name:10s} {ms:8.1f}{ratio}")
                rows.append(
                    {
                        "cell": args.cell,
                        "mode": mode,
                        "threads": threads,
                        "runner": name,
                        "ms": ms,
                        "ratio_to_torch_nn": ms / base if base else None,
                        "clock": "cpu" if cpu_time else "wall",
                    }
                )
    if args.out:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import _peers as P

        path = P.write_json(
            Path(args.out),
            {
                "benchmark": "kernels_quick",
                "machine": P.machine_info(),
                "settings": {
                    "cell": args.cell,
                    "shape_NTDH": args.shape,
                    "repeats": args.repeats,
                    "tuned_malloc": args.tuned_malloc,
                    "skip": args.skip,
                    "loops": loops,
                },
                "results": rows,
            },
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
