"""Language models: perplexity against minutes of training, training speed against a plain
PyTorch loop, and generation latency.

How to run (from the repository root)::

    .venv/bin/python benchmarks/bench_textgen.py curve --corpus ptb --minutes 60
    .venv/bin/python benchmarks/bench_textgen.py curve --corpus shakespeare --minutes 30
    .venv/bin/python benchmarks/bench_textgen.py speed                 # tokens/s, both sizes
    .venv/bin/python benchmarks/bench_textgen.py generate              # per-token latency
    .venv/bin/python benchmarks/bench_textgen.py all --quick           # a few minutes in all

``curve`` trains :class:`rnnkit.tasks.language_model.LanguageModel` for ``--minutes`` (its
``minutes`` budget) with a validation every ``--every`` minutes, then reports the test
perplexity of the best weights beside the Kneser-Ney 5-gram on the same vocabulary (PTB,
word level) or the validation nats per character (Tiny Shakespeare, character level). Data from
``--data-dir``, ``$RNNKIT_DATA_DIR`` or ``../shared/data``.

``speed`` times one training step (forward, full-softmax cross-entropy, backward, clipping,
Adam) of the same network in separate processes:

* ``rnnkit``        :class:`~rnnkit.tasks.language_model.LanguageModelNet` (rnnkit's Embedding,
                    LSTM layers and Dense; state carried and detached), its training loss
                    ``LanguageModelNet.loss`` (the output layer fused with the softmax
                    cross-entropy, as ``LanguageModel.fit``), fused Adam, rnnkit's tuned
                    runtime (its default).
* ``torch-tuned``   ``nn.Embedding -> nn.LSTM(num_layers) -> nn.Linear``, the same loss and
                    state handling, ``Adam(fused=True)``, glibc's allocator thresholds in the
                    environment (what an expert sets; tcmalloc's effect).

``gemms`` (a third process) times the step's matrix products, each alone as a ``torch.mm`` of
its shape, and counts their floating-point operations: printed beside them, the GFLOP/s each
peer's step reaches and the rate a step 1.5x faster than ``torch-tuned`` would need.

Sizes: ``ptb-medium`` (2 x 650 units, 10,000 words, batch 20, 35 steps: Zaremba et al.'s medium
model) and ``char`` (2 x 512 units, 65 characters, batch 64, 100 steps). Each process warms up,
then times ``--steps`` steps in ``--chunks`` chunks (median). The rnnkit child also splits its
step into the LSTM forward, the output layer with its softmax cross-entropy, the backward pass
and the optimizer, to show where the time goes.

``generate`` times one token at batch 1 (feed the last token with the carried state, logits,
softmax) for rnnkit's network (its lean single-step path, ``LanguageModelNet.step``, which
``generate`` / ``stream`` / ``next_words`` use; and, for reference, the whole network's
forward on the token, as generation ran before) and for an ``nn.LSTM`` stepped token by token,
a whole ``generate`` call per token, and one ``next_words`` call on a PTB-medium-sized model
(untrained weights: the time does not depend on them).

Output: tables on stdout and ``benchmarks/results/bench_textgen[_quick].json`` (every number,
the machine). The machine may be shared: run with ``nice``, read the JSON's ``load_average``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers

SIZES = {
    "ptb-medium": dict(vocab=10_000, embedding_dim=650, units=650, layers=2, batch=20, seq=35),
    "char": dict(vocab=65, embedding_dim=128, units=512, layers=2, batch=64, seq=100),
}
CURVE_CONFIGS = {
    # PTB: a 2 x 256 model with Zaremba-style dropout; Adam, because on a CPU only a few epochs
    # fit in an hour and Adam gets furthest in the first epochs (see the README's figures)
    "ptb": dict(
        level="word",
        embedding_dim=256,
        units=256,
        layers=2,
        dropout=0.3,
        batch_size=32,
        seq_len=35,
        epochs=40,
        optimizer="adam",
        learning_rate=0.002,
        clipnorm=0.25,
    ),
    "shakespeare": dict(
        level="char",
        embedding_dim=64,
        units=256,
        layers=2,
        dropout=0.1,
        batch_size=32,
        seq_len=100,
        epochs=40,
        optimizer="adam",
        learning_rate=0.003,
        clipnorm=5.0,
    ),
}


def data_dir() -> str:
    env = os.environ.get("RNNKIT_DATA_DIR")
    return env or str(_peers.REPO_ROOT.parent / "shared" / "data")


# -- children ---------------------------------------------------------------------------------
def child_curve(spec: dict) -> dict:
    import torch

    from rnnkit.datasets.text_corpora import load_corpus
    from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig

    torch.set_num_threads(spec["threads"])
    corpus = load_corpus(spec["corpus"], spec["data_dir"])
    settings = {**CURVE_CONFIGS[spec["corpus"]], **spec.get("set", {})}
    config = LanguageModelConfig(
        **settings, minutes=spec["minutes"], validate_every=spec["every"]
    ).validate()
    # each validation also on stderr, which the parent echoes as it comes
    lm = LanguageModel(config).fit(
        corpus, verbose=2, on_epoch=lambda entry: print(entry, file=sys.stderr, flush=True)
    )
    out = {"config": config.to_dict(), "history": lm.history_}
    out["test"] = lm.perplexity(corpus.test)
    start = time.perf_counter()
    lm.fit_baseline(corpus.train, order=5)
    out["kn5_test"] = lm.baseline_perplexity(corpus.test)
    out["kn5_valid"] = lm.baseline_perplexity(corpus.valid)
    out["kn5_seconds"] = time.perf_counter() - start
    return out


def _torch_net(size: dict):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(size["vocab"], size["embedding_dim"])
            self.lstm = nn.LSTM(
                size["embedding_dim"], size["units"], size["layers"], batch_first=True
            )
            self.out = nn.Linear(size["units"], size["vocab"])

        def forward(self, ids, state=None):
            y, state = self.lstm(self.emb(ids), state)
            return self.out(y), state

    return Net(), torch


def child_speed(spec: dict) -> dict:
    import torch
    from torch import nn

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    size = SIZES[spec["size"]]
    B, T, V = size["batch"], size["seq"], size["vocab"]
    data = torch.randint(0, V, (B, (spec["steps"] * (spec["chunks"] + 1) + 2) * T + 1))
    if spec["peer"] in ("rnnkit", "rnnkit-fused"):
        from rnnkit import runtime
        from rnnkit.models.optimizers import _fused_ok
        from rnnkit.runtime import tune_allocator
        from rnnkit.tasks.language_model import LanguageModelConfig, LanguageModelNet
        from rnnkit.tasks.language_model.model import detach

        if spec["peer"] == "rnnkit-fused":  # every layer on PyTorch's fused LSTM
            runtime.configure(embedding_lookup=False)
        tune_allocator()
        config = LanguageModelConfig(
            embedding_dim=size["embedding_dim"], units=size["units"], layers=size["layers"]
        )
        net = LanguageModelNet(config, V)
        params = list(net.parameters())
        opt = torch.optim.Adam(params, lr=1e-3, fused=_fused_ok(params) or None)

        def carry(state):
            return detach(state)
    else:
        net, _ = _torch_net(size)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)

        def carry(state):
            return tuple(s.detach() for s in state)

    net.train()
    loss_fn = nn.CrossEntropyLoss()
    pos = [0]
    state = [None]
    ours = spec["peer"] != "torch-tuned"

    def step():
        i = pos[0]
        x, y = data[:, i : i + T], data[:, i + 1 : i + 1 + T]
        pos[0] += T
        if ours:  # what LanguageModel.fit runs: the output layer fused with the loss
            loss, st = net.loss(x, y, state[0])
        else:
            logits, st = net(x, state[0])
            loss = loss_fn(logits.reshape(-1, V), y.reshape(-1))
        state[0] = carry(st)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()

    for _ in range(2):
        step()
    chunks = []
    for _ in range(spec["chunks"]):
        start = time.perf_counter()
        for _ in range(spec["steps"]):
            step()
        chunks.append((time.perf_counter() - start) / spec["steps"])
    s = statistics.median(chunks)
    out = {"step_s": s, "chunks_s": chunks, "tokens_per_s": B * T / s}
    if spec["peer"] != "torch-tuned":
        out["breakdown_s"] = _breakdown(net, opt, data, B, T, V, loss_fn, spec["steps"])
        x = data[:, :T]
        out["first_layer_lookup"] = bool(net.first_layer_looks_up(x))
    return out


def child_gemms(spec: dict) -> dict:
    """One training step's matrix products, each timed alone as a ``torch.mm`` of its shape
    (PyTorch's GEMM, the library both peers call), and their floating-point operations: the
    rate (GFLOP/s) a step must reach to take a given time. (Not a strict floor: a step that
    keeps its operands in cache between products can beat the sum, as rnnkit's does.)

    Per LSTM layer (input width ``D``: the embedding's, then ``H``): forward, the input
    projection ``(B*T, D) @ (D, 4H)`` and ``T`` recurrent products ``(B, H) @ (H, 4H)``;
    backward, ``T`` products ``(B, 4H) @ (4H, H)`` for ``dh_prev``, ``dW_h`` as one
    ``(H, B*T) @ (B*T, 4H)``, ``dX`` ``(B*T, 4H) @ (4H, D)`` (the first layer's feeds the
    embedding's gradient) and ``dW_x`` ``(D, B*T) @ (B*T, 4H)``. Output layer: the logits
    ``(B*T, H) @ (H, V)``, then ``dH`` ``(B*T, V) @ (V, H)`` and ``dW`` ``(V, B*T) @ (B*T, H)``.
    The gate nonlinearities, the softmax, the embedding and Adam are left out."""
    import torch

    torch.set_num_threads(spec["threads"])
    size = SIZES[spec["size"]]
    B, T, V = size["batch"], size["seq"], size["vocab"]
    E, H, L = size["embedding_dim"], size["units"], size["layers"]
    N = B * T
    shapes = {}  # name: (m, k, n, times per step)
    for layer in range(L):
        D = E if layer == 0 else H
        shapes[f"lstm{layer}_input_forward"] = (N, D, 4 * H, 1)
        shapes[f"lstm{layer}_recurrent_forward"] = (B, H, 4 * H, T)
        shapes[f"lstm{layer}_recurrent_backward_dh"] = (B, 4 * H, H, T)
        shapes[f"lstm{layer}_dW_h"] = (H, N, 4 * H, 1)
        shapes[f"lstm{layer}_dX"] = (N, 4 * H, D, 1)
        shapes[f"lstm{layer}_dW_x"] = (D, N, 4 * H, 1)
    shapes["output_logits"] = (N, H, V, 1)
    shapes["output_dH"] = (N, V, H, 1)
    shapes["output_dW"] = (V, N, H, 1)
    reps = max(spec["steps"], 3)
    parts = {}
    for name, (m, k, n, times) in shapes.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        out = torch.empty(m, n)
        for _ in range(3):
            torch.mm(a, b, out=out)
        runs = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(times):
                torch.mm(a, b, out=out)
            runs.append(time.perf_counter() - start)
        parts[name] = statistics.median(runs)
    flops = sum(2 * m * k * n * times for m, k, n, times in shapes.values())
    s = sum(parts.values())
    return {
        "step_s": s,
        "tokens_per_s": N / s,
        "parts_s": parts,
        "gflop_per_step": flops / 1e9,
        "gflop_per_s": flops / s / 1e9,
    }


def _breakdown(net, opt, data, B, T, V, loss_fn, steps) -> dict:
    """Median seconds of the parts of one step (LSTM forward, output layer + loss forward,
    backward, clipping + optimizer)."""
    from torch import nn

    from rnnkit.functional import dense_cross_entropy

    parts = {"lstm_forward": [], "output_and_loss_forward": [], "backward": [], "optimizer": []}
    lstm_backward = []
    for k in range(max(steps, 3)):
        x, y = data[:, k * T : (k + 1) * T], data[:, k * T + 1 : (k + 1) * T + 1]
        t0 = time.perf_counter()
        h = net.embedding(x) if not net.first_layer_looks_up(x) else None
        first = net.lstms[0]
        if h is None:
            out, _ = first.sequence_ids(net.embedding, x)
        else:
            out, _ = first.sequence(h)
        for lstm in net.lstms[1:]:
            out, _ = lstm.sequence(out)
        t1 = time.perf_counter()
        loss = dense_cross_entropy(out, *net.output_weights(), y)  # as net.loss
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        t4 = time.perf_counter()
        parts["lstm_forward"].append(t1 - t0)
        parts["output_and_loss_forward"].append(t2 - t1)
        parts["backward"].append(t3 - t2)
        parts["optimizer"].append(t4 - t3)
        # the backward of the LSTMs alone (a loss on their output)
        out2 = first.sequence_ids(net.embedding, x)[0]
        for lstm in net.lstms[1:]:
            out2, _ = lstm.sequence(out2)
        t5 = time.perf_counter()
        out2.sum().backward()
        lstm_backward.append(time.perf_counter() - t5)
        opt.zero_grad(set_to_none=True)
    result = {k: statistics.median(v) for k, v in parts.items()}
    result["lstm_backward_alone"] = statistics.median(lstm_backward)
    return result


def child_generate(spec: dict) -> dict:
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    size = SIZES["ptb-medium"]
    V = size["vocab"]
    n = spec["tokens"]
    if spec["peer"] == "rnnkit":
        from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig
        from rnnkit.tasks.language_model.model import LanguageModelNet
        from rnnkit.text import TokenVocabulary

        config = LanguageModelConfig(
            embedding_dim=size["embedding_dim"], units=size["units"], layers=size["layers"]
        )
        net = LanguageModelNet(config, V).eval()
        tok = torch.tensor([[3]])
        with torch.inference_mode():
            # the lean single-step path generate / stream use (LanguageModelNet.step)
            logits, state = net.last_logits(torch.tensor([[1, 5, 7]]))
            for _ in range(5):
                logits, state = net.step(tok[0], state)
            start = time.perf_counter()
            for _ in range(n):
                logits, state = net.step(tok[0], state)
                p = torch.softmax(logits[0], -1)
            per_token = (time.perf_counter() - start) / n
            # the whole network's forward on one token, as generation ran before the lean path
            logits, state = net(torch.tensor([[1, 5, 7]]))
            for _ in range(3):
                logits, state = net(tok, state)
            start = time.perf_counter()
            for _ in range(max(5, n // 2)):
                logits, state = net(tok, state)
                p = torch.softmax(logits[0, -1], -1)
            per_token_forward = (time.perf_counter() - start) / max(5, n // 2)
        lm = LanguageModel(config)
        lm.vocab_ = TokenVocabulary(["<unk>", "<eos>"] + [f"w{i}" for i in range(V - 2)])
        lm.net_ = net
        prompt = " ".join(f"w{i}" for i in range(9))
        lm.generate(prompt, 3, seed=0)
        start = time.perf_counter()
        lm.generate(prompt, n, seed=0)  # sampling and decoding included, prompt read once
        generate_per_token = (time.perf_counter() - start) / n
        lm.next_words(prompt, 5)
        times = []
        for _ in range(max(5, n // 20)):
            start = time.perf_counter()
            lm.next_words(prompt, 5)
            times.append(time.perf_counter() - start)
        from rnnkit.kernels import dispatch

        return {
            "per_token_s": per_token,
            "per_token_forward_s": per_token_forward,
            "generate_per_token_s": generate_per_token,
            "next_words_s": statistics.median(times),
            "autotune": dispatch.autotune_report(),
        }
    net, _ = _torch_net(size)
    net.eval()
    with torch.inference_mode():
        logits, state = net(torch.tensor([[1, 5, 7]]))
        tok = torch.tensor([[3]])
        for _ in range(5):
            logits, state = net(tok, state)
        start = time.perf_counter()
        for _ in range(n):
            logits, state = net(tok, state)
            p = torch.softmax(logits[0, -1], -1)
        per_token = (time.perf_counter() - start) / n
    del p
    return {"per_token_s": per_token}


CHILDREN = {
    "gemms": child_gemms,
    "curve": child_curve,
    "speed": child_speed,
    "generate": child_generate,
}


# -- parent -----------------------------------------------------------------------------------
def run(kind: str, spec: dict, threads: int, tuned_malloc: bool, timeout: float, echo=False):
    env = _peers.child_env(threads, tuned_malloc=tuned_malloc)
    argv = [sys.executable, __file__, "--child", json.dumps({"kind": kind, **spec})]
    return _peers.run_child(argv, env, timeout, f"{kind} {spec}", echo=echo)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", nargs="?", default="all", choices=("curve", "speed", "generate", "all"))
    p.add_argument("--corpus", choices=("ptb", "shakespeare", "both"), default="both")
    p.add_argument("--minutes", type=float, default=None, help="training minutes per corpus")
    p.add_argument("--every", type=float, default=None, help="minutes between validations")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--steps", type=int, default=None, help="timed steps per chunk")
    p.add_argument("--chunks", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="a short run (minutes, not hours)")
    p.add_argument("--data-dir", default=None)
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="curve: change LanguageModelConfig fields (e.g. optimizer=sgd learning_rate=1)",
    )
    p.add_argument("--tag", default="", help="added to the JSON file's name")
    p.add_argument(
        "--peers",
        nargs="+",
        default=["rnnkit", "torch-tuned", "gemms"],
        choices=("rnnkit", "rnnkit-fused", "torch-tuned", "gemms"),
        help="speed: rnnkit-fused is rnnkit with the embedding lookup off (all layers fused); "
        "gemms times the step's matrix products one by one (torch.mm at each shape) and "
        "counts their FLOPs: the GFLOP/s a 1.5x step would need",
    )
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        spec = json.loads(args.child)
        _peers.emit_result(CHILDREN[spec.pop("kind")](spec))
        return 0

    quick = args.quick
    results = {"machine": _peers.machine_info(), "quick": quick, "load_average": os.getloadavg()}
    what = ("curve", "speed", "generate") if args.what == "all" else (args.what,)
    overrides = _peers.overrides(args.set)
    if overrides:
        results["set"] = overrides
    if "curve" in what:
        corpora = ("ptb", "shakespeare") if args.corpus == "both" else (args.corpus,)
        for corpus in corpora:
            minutes = args.minutes or (2.0 if quick else (60.0 if corpus == "ptb" else 30.0))
            every = args.every or max(minutes / 6, 0.25)
            spec = {
                "corpus": corpus,
                "minutes": minutes,
                "every": every,
                "threads": args.threads,
                "data_dir": args.data_dir or data_dir(),
                "set": overrides,
            }
            r = run("curve", spec, args.threads, False, minutes * 60 * 3 + 600, echo=True)
            results[f"curve_{corpus}"] = r
            best = min(
                (h for h in r["history"] if "valid_perplexity" in h),
                key=lambda h: h["valid_perplexity"],
                default=None,
            )
            print(f"\n{corpus}: {minutes:g} min, {len(r['history'])} validations")
            print(
                _peers.table(
                    ["minutes", "epoch", "train ppl", "valid ppl", "valid nats/token"],
                    [
                        [
                            h["minutes"],
                            h["epoch"],
                            f"{h['train_perplexity']:.1f}",
                            f"{h.get('valid_perplexity', math.nan):.2f}",
                            f"{h.get('valid_cross_entropy', math.nan):.3f}",
                        ]
                        for h in r["history"]
                    ],
                )
            )
            t, kn = r["test"], r["kn5_test"]
            print(
                f"test: LSTM perplexity {t['perplexity']:.1f} ({t['cross_entropy']:.3f} nats) | "
                f"Kneser-Ney 5-gram {kn['perplexity']:.1f} ({kn['cross_entropy']:.3f} nats); "
                f"best validation {best and round(best['valid_perplexity'], 2)}"
            )
    if "speed" in what:
        steps = args.steps or (3 if quick else 20)
        rows = []
        for size in args.sizes:
            row = {}
            for peer in args.peers:
                spec = {
                    "peer": peer,
                    "size": size,
                    "steps": steps,
                    "chunks": args.chunks,
                    "threads": args.threads,
                }
                kind = "gemms" if peer == "gemms" else "speed"
                row[peer] = run(kind, spec, args.threads, peer == "torch-tuned", 1800)
                print(f"{size} {peer}: {row[peer]['tokens_per_s']:.0f} tokens/s", flush=True)
            results[f"speed_{size}"] = row
            if not {"rnnkit", "torch-tuned"} <= set(row):
                continue
            ratio = row["rnnkit"]["tokens_per_s"] / row["torch-tuned"]["tokens_per_s"]
            rows.append(
                [
                    size,
                    f"{row['rnnkit']['tokens_per_s']:.0f}",
                    f"{row['torch-tuned']['tokens_per_s']:.0f}",
                    f"{ratio:.2f}x",
                ]
            )
            bd = row["rnnkit"]["breakdown_s"]
            print(
                f"{size}: rnnkit step parts (ms): "
                + ", ".join(f"{k} {v * 1000:.0f}" for k, v in bd.items())
            )
            if "gemms" in row:
                g = row["gemms"]
                flop = g["gflop_per_step"]
                print(
                    f"{size}: {flop:.1f} GFLOP of matrix products a step; timed one by one "
                    f"(torch.mm) {g['step_s'] * 1000:.0f} ms = {g['gflop_per_s']:.0f} GFLOP/s; "
                    f"rnnkit's whole step {flop / row['rnnkit']['step_s']:.0f} GFLOP/s, "
                    f"torch-tuned's {flop / row['torch-tuned']['step_s']:.0f}; a step 1.5x "
                    f"torch-tuned's needs {1.5 * flop / row['torch-tuned']['step_s']:.0f} GFLOP/s"
                )
        print(
            _peers.table(
                ["size", "rnnkit tokens/s", "torch-tuned tokens/s", "rnnkit / torch"], rows
            )
        )
    if "generate" in what:
        n = 50 if quick else 500
        row = {
            peer: run(
                "generate",
                {"peer": peer, "tokens": n, "threads": args.threads},
                args.threads,
                peer == "torch-tuned",
                1800,
            )
            for peer in ("rnnkit", "torch-tuned")
        }
        results["generate"] = row
        ratio = row["torch-tuned"]["per_token_s"] / row["rnnkit"]["per_token_s"]
        print(
            f"generation, PTB-medium size, batch 1: rnnkit {row['rnnkit']['per_token_s'] * 1000:.2f} "
            f"ms/token (lean step), nn.LSTM stepped {row['torch-tuned']['per_token_s'] * 1000:.2f} "
            f"ms/token ({ratio:.2f}x); rnnkit's full forward per token "
            f"{row['rnnkit']['per_token_forward_s'] * 1000:.2f} ms; generate "
            f"{row['rnnkit']['generate_per_token_s'] * 1000:.2f} ms/token; next_words "
            f"{row['rnnkit']['next_words_s'] * 1000:.1f} ms; load average {os.getloadavg()[0]:.1f}"
        )
    name = "bench_textgen_quick.json" if quick else "bench_textgen.json"
    if args.what != "all":
        name = name.replace(".json", f"_{args.what}.json")
    if args.tag:
        name = name.replace(".json", f"_{args.tag}.json")
    path = _peers.write_json(_peers.RESULTS_DIR / name, results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
