"""``rnnkit bench``: the seed model's training step and inference on this machine, rnnkit
against PyTorch's ``nn.LSTM`` with default and expert-tuned settings (:mod:`rnnkit.bench`)."""

from __future__ import annotations

import argparse

from ._common import check_output_file, max_threads, subparser

TOKENS = ("imdb", "synthetic", "uniform")  # rnnkit.bench.seed.TOKENS (not imported: light CLI)
PRECISIONS = ("float32", "bf16")  # rnnkit.runtime.PRECISIONS

DESCRIPTION = """\
Time the seed model, Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid) with Adam and
batch 64, on this machine: a training step (forward, backward, Adam), inference on a batch of
64 and on a batch of 1, for rnnkit and for PyTorch's nn.LSTM as a user writes it (default
settings) and as an expert tunes it (fused Adam, inference_mode, glibc allocator variables).
Every peer runs in its own process; each time is the median over the rounds. The table gives
the ratios peer / rnnkit (above 1: rnnkit is faster), the CPU as /proc/cpuinfo names it with
its vector extensions, and the path rnnkit's autotuner chose (RNNKIT_AUTOTUNE=0: the fixed
rules). Numbers from a machine running other jobs are noise: the load average is shown.
--precision bf16 runs rnnkit's LSTM with its GEMMs in bfloat16 beside float32 PyTorch; on a
CPU without avx512_bf16 / amx_bf16 they are emulated in float32 (no bf16 speed), and the
table says so.
"""


def _int_in(low: int, high) -> callable:
    """argparse's ``type=``: an integer in [low, high] (``high`` may be a callable), with the
    "argument --x: expected ..., received ..." message."""

    def parse(text: str) -> int:
        top = high() if callable(high) else high
        expected = f"an integer in [{low}, {top}]" if top is not None else "a positive integer"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}") from None
        if value < low or (top is not None and value > top):
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text}")
        return value

    parse.__name__ = "int"
    return parse


def _one_of(choices: tuple[str, ...]) -> callable:
    """argparse's ``type=``: one of ``choices``, with the "expected ..., received ..." message."""

    def parse(text: str) -> str:
        if text not in choices:
            expected = "one of " + ", ".join(repr(c) for c in choices)
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
        return text

    parse.__name__ = "str"
    return parse


def cmd_bench(args) -> int:
    from ..bench import runner

    defaults = runner.quick() if args.quick else runner.Settings()
    chosen = {
        name: getattr(args, name)
        for name in ("threads", "seq_len", "repeats", "steps", "tokens", "data_dir", "precision")
        if getattr(args, name) is not None
    }
    if "threads" in chosen:
        chosen["threads"] = tuple(dict.fromkeys(chosen["threads"]))  # once each, in order
    settings = runner.Settings(**(runner.dataclasses.asdict(defaults) | chosen))
    json_path = check_output_file(args.parser, "--json", args.json) if args.json else None
    data = runner.run(settings)
    if json_path is not None:
        from .._files import write_json

        write_json(json_path, data)
        print(f"wrote {json_path}")
    return 1 if data["errors"] else 0


def register(sub) -> None:
    """Add ``rnnkit bench``."""
    p = subparser(
        sub,
        "bench",
        "time the seed model's training and inference against PyTorch on this machine",
        cmd_bench,
    )
    p.description = DESCRIPTION
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument(
        "--threads",
        type=_int_in(1, max_threads),
        nargs="+",
        default=None,
        metavar="N",
        help="CPU thread counts to measure, each in its own processes (default: 1 2; --quick: 1)",
    )
    p.add_argument(
        "--seq-len",
        type=_int_in(1, 10_000),
        default=None,
        metavar="T",
        help="sequence length: reviews padded or cut to T tokens in front "
        "(default: 200, the seed's maxlen; --quick: 32)",
    )
    p.add_argument(
        "--repeats",
        type=_int_in(1, 100),
        default=None,
        metavar="R",
        help="rounds; every peer runs once per round and thread count, the median is shown "
        "(default: 3; --quick: 1)",
    )
    p.add_argument(
        "--steps",
        type=_int_in(1, 10_000),
        default=None,
        metavar="S",
        help="training steps per epoch; each process runs a warm-up epoch, then 2 timed ones "
        "(default: 20; --quick: 2)",
    )
    p.add_argument(
        "--tokens",
        type=_one_of(TOKENS),
        default=None,
        metavar="{imdb,synthetic,uniform}",
        help="token ids fed to every peer: 'imdb' the first IMDb training reviews from a "
        "local copy (falls back to 'synthetic' with a note when none is found), 'synthetic' "
        "IMDb-shaped lengths with Zipf-distributed words, 'uniform' ids drawn uniformly from "
        "1..9999 with no padding (the hard case for rnnkit's embedding lookup) "
        "(default: imdb)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="folder holding IMDb for --tokens imdb (default: $RNNKIT_DATA_DIR, then "
        "rnnkit's dataset cache; never downloads)",
    )
    p.add_argument(
        "--precision",
        type=_one_of(PRECISIONS),
        default=None,
        metavar="{float32,bf16}",
        help="rnnkit's LSTM precision: bf16 runs its GEMMs in bfloat16 (float32 cell state, "
        "weights and gradients) against float32 PyTorch; emulated (no bf16 speed) on a CPU without "
        "avx512_bf16 / amx_bf16, as the table then says (default: float32)",
    )
    p.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="also write the report (machine, settings, every round's times, ratios, "
        "autotuning's choices) to this JSON file, atomically",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a seconds-long smoke run: T=32, 1 thread, 1 round, 2 steps, short inference "
        "timings (options given explicitly still apply)",
    )
