"""English -> French: BLEU against minutes of training, the training step against the same model
in plain PyTorch, and decoding speed.

    .venv/bin/python benchmarks/bench_translate.py speed              # step and decoding, ~3 min
    .venv/bin/python benchmarks/bench_translate.py bleu --minutes 60  # the issue's target run
    .venv/bin/python benchmarks/bench_translate.py bleu --minutes 60 --attention none

``speed``: the default Translator (LSTM 256, embeddings 128, Luong attention, vocabularies of
8,000 / 12,000) on batches of 64 real training pairs (<= 10 English words), against the same
model written in plain PyTorch (nn.Embedding, nn.LSTM with packed source, torch.bmm
attention, nn.Linear, cross-entropy, Adam(fused=True)) with tuned allocator settings; each in
its own process, alternated over ``--repeats`` rounds, median step time. The rnnkit side runs
what ``Translator.fit`` runs (``translator.train_step``: rnnkit's tuned runtime, its fused output
layer + softmax cross-entropy on the target's non-padding steps only); the PyTorch side computes
the output layer on every step, padding included, as a plain model does. Decoding: greedy and
beam 5 sentences per second on 512 test sentences, batch 64 (the untrained and trained models
decode at the same speed up to their output lengths, so the speed run uses a model after one
epoch of 2,000 pairs).

``bleu``: ``rnnkit translate train`` on the full split for ``--minutes``, validation BLEU after
each epoch (BLEU vs minutes), test BLEU (greedy and beam 5) beside the baselines.
Results: benchmarks/results/bench_translate_{speed,bleu}.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import child_env, machine_info, table, write_json

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def batches(n_batches: int, batch: int = 64):
    """Real training pairs, encoded with the Translator's own vocabularies."""
    from rnnkit.datasets import translation
    from rnnkit.tasks.translate import Translator
    from rnnkit.tasks.translate.translator import _pad
    from rnnkit.tasks.translate.vocab import END, START

    pairs = translation.load_pairs(DATA if DATA.is_dir() else None).pairs
    splits = translation.split_by_source(pairs, seed=0, max_source_words=10)
    tr = Translator()
    import numpy as np

    from rnnkit.tasks.translate.translator import _tokens
    from rnnkit.tasks.translate.vocab import TokenVocab

    tok = [(_tokens(s, "word"), _tokens(t, "word")) for s, t in splits.train]
    tr.source_vocab_ = TokenVocab.build([s for s, _ in tok], 8000, 2)
    tr.target_vocab_ = TokenVocab.build([t for _, t in tok], 12000, 2)
    src, tgt = tr._encode_pairs(splits.train, "bench")
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_batches):
        idx = rng.choice(len(src), batch, replace=False)
        s = _pad([src[i] for i in idx])
        t = _pad([[START, *tgt[i], END] for i in idx])
        out.append((s, t[:, :-1], t[:, 1:]))
    return out, len(tr.source_vocab_), len(tr.target_vocab_)


def child_step(peer: str, steps: int) -> dict:
    import torch
    import torch.nn.functional as F

    data, Vs, Vt = batches(steps + 5)
    if peer == "rnnkit":  # what Translator.fit runs: its tuned runtime and its train_step
        from rnnkit import runtime
        from rnnkit.tasks.translate import TranslateConfig
        from rnnkit.tasks.translate import model as seq2seq
        from rnnkit.tasks.translate.translator import make_optimizer, train_step

        runtime.tune_allocator()
        net = seq2seq.build(TranslateConfig(), Vs, Vt)
        model = net.model
        params = list(model.parameters())
        opt = make_optimizer(params, 1e-3)

        def step(s, ti, to):
            train_step(net, opt, params, 1.0, s, ti, to)

    else:
        E, H = 128, 256

        class Plain(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.src_emb = torch.nn.Embedding(Vs, E, padding_idx=0)
                self.tgt_emb = torch.nn.Embedding(Vt, E, padding_idx=0)
                self.enc = torch.nn.LSTM(E, H, batch_first=True)
                self.dec = torch.nn.LSTM(E, H, batch_first=True)
                self.combine = torch.nn.Linear(2 * H, H)
                self.out = torch.nn.Linear(H, Vt)

            def forward(self, s, ti):
                mask = s != 0
                packed = torch.nn.utils.rnn.pack_padded_sequence(
                    self.src_emb(s), mask.sum(1), batch_first=True, enforce_sorted=False
                )
                enc, state = self.enc(packed)
                enc, _ = torch.nn.utils.rnn.pad_packed_sequence(
                    enc, batch_first=True, total_length=s.shape[1]
                )
                dec, _ = self.dec(self.tgt_emb(ti), state)
                scores = torch.bmm(dec, enc.transpose(1, 2)).masked_fill(~mask[:, None], -1e9)
                context = torch.bmm(torch.softmax(scores, -1), enc)
                return self.out(torch.tanh(self.combine(torch.cat([dec, context], -1))))

        model = Plain()
        params = list(model.parameters())
        opt = torch.optim.Adam(params, lr=1e-3, fused=True)

        def step(s, ti, to):
            loss = F.cross_entropy(model(s, ti).transpose(1, 2), to, ignore_index=0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()

    model.train()

    for s, ti, to in data[:5]:
        step(s, ti, to)
    times = []
    for s, ti, to in data[5:]:
        t = time.perf_counter()
        step(s, ti, to)
        times.append(time.perf_counter() - t)
    return {"step_ms": statistics.median(times) * 1000, "steps": len(times)}


def child_decode(n: int, model: str | None = None) -> dict:
    import random

    from rnnkit.datasets import translation
    from rnnkit.tasks.translate import Translator

    pairs = translation.load_pairs(DATA if DATA.is_dir() else None).pairs
    splits = translation.split_by_source(pairs, seed=0, max_source_words=10)
    if model:  # a trained model: translations of their real length
        tr = Translator.load(model)
    else:  # after one epoch on 2,000 pairs: short outputs, an upper bound of the speed
        tr = Translator(epochs=1).fit(splits.train[:2000], verbose=0)
    sources = list(splits.references("test"))
    random.Random(0).shuffle(sources)  # the file is ordered by length: a fair mix
    sources = sources[:n]
    tr.translate(sources[:64], beam=1, batch_size=64)  # warm-up
    out = {}
    for beam in (1, 5):
        t = time.perf_counter()
        tr.translate(sources, beam=beam, batch_size=64)
        out[f"beam{beam}_sentences_per_s"] = n / (time.perf_counter() - t)
    return out


def run_child(argv: list[str], threads: int, tuned: bool) -> dict:
    env = child_env(threads, tuned_malloc=tuned)
    proc = subprocess.run(
        [sys.executable, __file__, *argv], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def speed(args) -> int:
    rows, results = [], {"step": {"rnnkit": [], "torch-tuned": []}}
    for _ in range(0 if args.decode_only else args.repeats):
        for peer in ("rnnkit", "torch-tuned"):
            r = run_child(["_step", peer, str(args.steps)], args.threads, peer == "torch-tuned")
            results["step"][peer].append(r["step_ms"])
    if not args.decode_only:
        ours = statistics.median(results["step"]["rnnkit"])
        theirs = statistics.median(results["step"]["torch-tuned"])
        rows.append(
            [
                "training step, batch 64",
                f"{ours:.1f} ms",
                f"{theirs:.1f} ms",
                f"{theirs / ours:.2f}x",
            ]
        )
    dec = run_child(["_decode", str(args.decode_sentences), args.model or ""], args.threads, False)
    dec["model"] = args.model or "1 epoch on 2,000 pairs"
    results["decode"] = dec
    print(table(["", "rnnkit", "PyTorch tuned", "ratio"], rows))
    print(
        f"decoding, batch 64: greedy {dec['beam1_sentences_per_s']:.0f} sentences/s, "
        f"beam 5 {dec['beam5_sentences_per_s']:.0f} sentences/s"
    )
    path = write_json(
        RESULTS
        / ("bench_translate_decode.json" if args.decode_only else "bench_translate_speed.json"),
        {"machine": machine_info(), "args": vars(args), "results": results},
    )
    print(f"wrote {path}")
    return 0


def bleu(args) -> int:
    import tempfile

    from rnnkit import cli

    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.out or tmp  # --out keeps the run (model, metrics, plots)
        argv = ["translate", "train", "--out", tmp, "--minutes", str(args.minutes)]
        argv += ["--attention", args.attention, "--epochs", "1000", "--verbose", "2"]
        argv += ["--threads", str(args.threads)]
        if DATA.is_dir():
            argv += ["--data-dir", str(DATA)]
        cli.main(argv)
        report = json.loads((Path(tmp) / "metrics.json").read_text())
        from rnnkit.datasets import translation
        from rnnkit.tasks.translate import Translator

        tr = Translator.load(Path(tmp) / "model")
        pairs = translation.load_pairs(DATA if DATA.is_dir() else None).pairs
        test = translation.split_by_source(pairs, seed=0, max_source_words=10).references("test")
        report["test_beam5"] = tr.evaluate(test, beam=5)
    name = (
        "bench_translate_bleu.json"
        if args.attention == "luong"
        else f"bench_translate_bleu_{args.attention}.json"
    )
    path = write_json(RESULTS / name, {"machine": machine_info(), "args": vars(args), **report})
    print(
        f"test BLEU greedy {report['test']['bleu']:.2f}, beam 5 {report['test_beam5']['bleu']:.2f}"
    )
    print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_step":
        print(json.dumps(child_step(argv[1], int(argv[2]))))
        return 0
    if argv and argv[0] == "_decode":
        print(json.dumps(child_decode(int(argv[1]), (argv[2] if len(argv) > 2 else "") or None)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--steps", type=int, default=30)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--decode-sentences", type=int, default=512)
    s.add_argument("--model", default=None, help="decode with this trained model (a run's model/)")
    s.add_argument("--decode-only", action="store_true", help="skip the training step")
    b = sub.add_parser("bleu")
    b.add_argument("--minutes", type=float, default=60)
    b.add_argument(
        "--out", default=None, help="keep the run's folder here (default: a temporary one)"
    )
    b.add_argument("--attention", default="luong", choices=("luong", "bahdanau", "none"))
    b.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    return speed(args) if args.what == "speed" else bleu(args)


if __name__ == "__main__":
    sys.exit(main())
