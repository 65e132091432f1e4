"""Rough forward + backward timing of rnnkit's kernels against the reference loop and torch.nn.

    .venv/bin/python benchmarks/kernels_quick.py [--cell lstm|gru|simple_rnn] [--threads 1 2]
                                                 [--tuned-malloc]

Prints milliseconds per forward + backward (the best of a few runs, the runners interleaved so
a busy machine slows them alike) and the ratio to torch.nn measured in the same run. Shapes
default to N=64, T=200, D=128, H=128. ``--tuned-malloc`` applies rnnkit's allocator tuning
(:func:`rnnkit.runtime.tune_allocator`, what training with rnnkit does) first.
"""

from __future__ import annotations

import argparse
import time

import torch

from rnnkit import functional as F
from rnnkit.kernels.gru import gru as gru_kernel
from rnnkit.kernels.lstm import lstm as lstm_kernel
from rnnkit.kernels.simple_rnn import simple_rnn as simple_rnn_kernel

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def make(cell: str, N: int, T: int, D: int, H: int):
    """Random inputs, rnnkit weights, and a torch.nn module holding the same weights."""
    G = GATES[cell]
    x = torch.randn(N, T, D, requires_grad=True)
    h0 = torch.zeros(N, H, requires_grad=True)
    W_x = (torch.randn(D, G * H) / D ** 0.5).requires_grad_()
    W_h = (torch.randn(H, G * H) / H ** 0.5).requires_grad_()
    b = torch.zeros(G * H, requires_grad=True)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}[cell](
        D, H, batch_first=True)
    with torch.no_grad():
        W_ih, W_hh = W_x.t(), W_h.t()
        if cell == "gru":  # Keras [z | r | n] -> PyTorch [r | z | n]
            W_ih, W_hh = (torch.cat([w[H:2 * H], w[:H], w[2 * H:]]) for w in (W_ih, W_hh))
        module.weight_ih_l0.copy_(W_ih)
        module.weight_hh_l0.copy_(W_hh)
        module.bias_ih_l0.zero_()
        module.bias_hh_l0.zero_()
    return x, h0, W_x, W_h, b, module


def runners(cell: str, x, h0, W_x, W_h, b, module):
    c0 = torch.zeros_like(h0, requires_grad=True)
    if cell == "lstm":
        kernel = lambda: lstm_kernel(x, h0, c0, W_x, W_h, b)
        reference = lambda: F.lstm(x, h0, c0, W_x, W_h, b)
        native = lambda: module(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    elif cell == "gru":
        kernel = lambda: gru_kernel(x, h0, W_x, W_h, b, b)
        reference = lambda: F.gru(x, h0, W_x, W_h, b, b)
        native = lambda: module(x, h0.unsqueeze(0))
    else:
        kernel = lambda: simple_rnn_kernel(x, h0, W_x, W_h, b)
        reference = lambda: F.simple_rnn(x, h0, W_x, W_h, b)
        native = lambda: module(x, h0.unsqueeze(0))
    return {"kernel": kernel, "reference": reference, "torch.nn": native}


def time_ms(runs: dict, dy, repeats: int, clock=time.perf_counter) -> dict[str, float]:
    """Best time in ms of forward + backward for each runner, interleaved over repeats."""
    def once(run):
        start = clock()
        y, _ = run()
        y.backward(dy)
        return clock() - start

    for run in runs.values():
        once(run)  # warm up
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], once(run))
    return {name: 1e3 * t for name, t in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=sorted(GATES), default="lstm")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--shape", type=int, nargs=4, default=[64, 200, 128, 128],
                        metavar=("N", "T", "D", "H"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip", nargs="*", default=[], help="runners to skip, e.g. reference")
    parser.add_argument("--cpu-time", action="store_true",
                        help="with one thread, time the thread's CPU time (steadier on a busy "
                             "machine) instead of wall time")
    parser.add_argument("--tuned-malloc", action="store_true",
                        help="apply rnnkit.runtime.tune_allocator() first")
    args = parser.parse_args()
    if args.tuned_malloc:
        from rnnkit.runtime import tune_allocator
        tune_allocator()
    N, T, D, H = args.shape
    torch.manual_seed(0)
    tensors = make(args.cell, N, T, D, H)
    dy = torch.randn(N, T, H)
    for threads in args.threads:
        torch.set_num_threads(threads)
        runs = {name: run for name, run in runners(args.cell, *tensors).items()
                if name not in args.skip}
        cpu_time = args.cpu_time and threads == 1
        clock = time.thread_time if cpu_time else time.perf_counter
        results = time_ms(runs, dy, args.repeats, clock)
        line = ", ".join(f"{name} {ms:7.1f} ms" for name, ms in results.items())
        ratio = (f"  (kernel / torch.nn = {results['kernel'] / results['torch.nn']:.2f})"
                 if "kernel" in results and "torch.nn" in results else "")
        malloc = "tuned" if args.tuned_malloc else "default"
        print(f"{args.cell} N={N} T={T} D={D} H={H} threads={threads} malloc={malloc} "
              f"{'cpu' if cpu_time else 'wall'}: {line}{ratio}")


if __name__ == "__main__":
    main()
