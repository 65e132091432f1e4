"""The lab's targets (issue 14), measured on this CPU:

    .venv/bin/python benchmarks/bench_lab.py [--minutes 5] [--only readout init adding recall]
                                             [--threads 1] [--json benchmarks/results/lab.json]

* ``readout``: the cost of the gradient readout, a training step (forward, backward, Adam)
  with :func:`rnnkit.lab.record_gradients` over the same step without it, per cell
  (N=32, T=200, D=2, H=64; CPU time, one thread, the two interleaved, the median of
  ``--repeats``). Target: <= 1.5x.
* ``init``: at initialisation, how many times more |dLoss/dh| falls over 100 steps for the tanh
  simple RNN than for the LSTM (:func:`rnnkit.lab.gradient_profiles`, T=200, H=32). Target in
  the issue: >= 1e3; reported whatever it is.
* ``adding``: the adding problem at T=100 and T=200, LSTM and tanh SimpleRNN, ``--minutes``
  each (:func:`rnnkit.lab.memory_experiment`). Targets: LSTM test MSE < 0.01, tanh RNN > 0.1
  (the "always 1" baseline is 0.167).
* ``recall``: recall at T=200, LSTM and GRU (target >= 95 % accuracy) with each of
  ``--gate-init`` (default ``keras,chrono``: Keras's biases, then Tallec & Ollivier's chrono
  initialisation), and the simple RNN at T = 10, 25, 50, 100, 200: the first length where it
  is at chance (accuracy < 1.5 / keys). ``--only recall-gated`` runs the gated cells alone.

Prints each figure with its target and writes them all as JSON. The full run takes about
``6 * minutes + 7 * minutes`` plus a minute; ``--minutes 0.5`` is a shortened run (say so when
reporting its figures).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from rnnkit import _files
from rnnkit.kernels import _ext
from rnnkit.lab import CellSpec, gradient_profiles, memory_experiment, record_gradients
from rnnkit.lab.tasks import adding_problem

CELLS = [CellSpec("rnn", "tanh"), CellSpec("rnn", "relu"), CellSpec("rnn", "sigmoid")]
CELLS += [CellSpec("lstm"), CellSpec("gru")]


def _step_seconds(model, layer, x, y, optimizer, record: bool) -> float:
    start = time.process_time()
    optimizer.zero_grad(set_to_none=True)
    if record:
        with record_gradients(layer):
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
    else:
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
    optimizer.step()
    return time.process_time() - start


def bench_readout(repeats: int) -> dict:
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential

    x, y = adding_problem(32, 200, seed=0)
    out = {}
    for spec in CELLS:
        torch.manual_seed(0)
        layer = spec.layer(64, input_shape=(None, 2))
        model = Sequential([layer, Dense(1)])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        for record in (False, True):  # warm up both paths
            _step_seconds(model, layer, x, y, optimizer, record)
        plain, recorded = [], []
        for _ in range(repeats):  # interleaved, so a busy machine slows both alike
            plain.append(_step_seconds(model, layer, x, y, optimizer, False))
            recorded.append(_step_seconds(model, layer, x, y, optimizer, True))
        p, r = statistics.median(plain), statistics.median(recorded)
        out[spec.name] = {"plain_ms": 1e3 * p, "readout_ms": 1e3 * r, "ratio": r / p}
        line = (
            f"readout {spec.name:<12} plain {1e3 * p:7.1f} ms  with readout {1e3 * r:7.1f} ms"
            f"  ratio {r / p:.2f}  (target <= 1.5)"
        )
        if spec.cell in ("lstm", "gru") and _ext.load() is not None:
            # before the compiled loops wrote the readout, a hook sent the call to the Python
            # loops: the same step with them
            _ext.enabled = False
            try:
                _step_seconds(model, layer, x, y, optimizer, True)
                python = statistics.median(
                    _step_seconds(model, layer, x, y, optimizer, True) for _ in range(repeats)
                )
            finally:
                _ext.enabled = True
            out[spec.name]["python_loop_readout_ms"] = 1e3 * python
            line += f"; with the Python loops {python / p:.2f}"
        print(line, flush=True)
    return out


def bench_init() -> dict:
    report = gradient_profiles("rnn,lstm", "tanh", seq_len=200, units=32, train_steps=0)
    rnn, lstm = report.fall("rnn-tanh", 100), report.fall("lstm", 100)
    ratio = rnn / lstm
    print(
        f"init: over 100 steps |dLoss/dh| falls {rnn:.3g}x (rnn-tanh) and {lstm:.3g}x (lstm): "
        f"ratio {ratio:.3g} (issue's target >= 1e3)",
        flush=True,
    )
    return {"fall_rnn_tanh": rnn, "fall_lstm": lstm, "ratio": ratio}


def bench_adding(minutes: float) -> dict:
    report = memory_experiment(
        "adding", [100, 200], "rnn,lstm", "tanh", minutes_per_run=minutes, progress=print
    )
    out = {f"{r.cell}@{r.length}": {"mse": r.metric, "steps": r.steps} for r in report.runs}
    for r in report.runs:
        target = "< 0.01" if r.cell == "lstm" else "> 0.1"
        print(f"adding T={r.length} {r.cell}: test MSE {r.metric:.4f} (target {target})")
    return out


def bench_recall(minutes: float, gate_init: str, simple_rnn: bool = True) -> dict:
    gated = memory_experiment(
        "recall", [200], "lstm,gru", gate_init=gate_init, minutes_per_run=minutes, progress=print
    )
    out = {f"{r.cell}@{r.length}": r.metric for r in gated.runs}
    for r in gated.runs:
        print(f"recall T=200 {r.cell}: accuracy {r.metric:.3f} after {r.steps} steps (>= 0.95)")
    if not simple_rnn:
        return out
    simple = memory_experiment(
        "recall", [10, 25, 50, 100, 200], "rnn", "tanh", minutes_per_run=minutes, progress=print
    )
    chance = 1 / simple.settings["keys"]
    at_chance = [r.length for r in simple.runs if r.metric < 1.5 * chance]
    out.update({f"{r.cell}@{r.length}": r.metric for r in simple.runs})
    out["rnn_at_chance_from"] = at_chance[0] if at_chance else None
    print(f"recall: tanh RNN at chance from length {out['rnn_at_chance_from']}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per run")
    parser.add_argument("--repeats", type=int, default=9, help="timed steps per path (readout)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads")
    parser.add_argument(
        "--only", nargs="+", default=["readout", "init", "adding", "recall"], help="parts to run"
    )
    parser.add_argument(
        "--gate-init", default="keras,chrono", help="recall: the gated cells' bias inits"
    )
    parser.add_argument("--json", default="benchmarks/results/bench_lab.json", help="output")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {"settings": vars(args), "machine": {"torch": torch.__version__}}
    if "readout" in args.only:
        results["readout"] = bench_readout(args.repeats)
    if "init" in args.only:
        results["init"] = bench_init()
    if "adding" in args.only:
        results["adding"] = bench_adding(args.minutes)
    if "recall" in args.only or "recall-gated" in args.only:
        results["recall"] = bench_recall(args.minutes, args.gate_init, "recall" in args.only)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    _files.write_json(path, results)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
