"""The ``rnnkit`` command.

    rnnkit summary                         the seed model's summary (Keras's table)
    rnnkit sentiment train [options]       train on IMDb, report test metrics, save the model
    rnnkit sentiment evaluate MODEL        the same metrics for a saved model
    rnnkit sentiment predict MODEL [TEXT]  label and probability of reviews (--explain: per word)
    rnnkit lab gradients [options]         how |dLoss/dh_t| fades with distance, per cell
    rnnkit lab memory --task TASK          long-dependency tasks: each cell at each length
    rnnkit textgen train|next|generate|evaluate  language models (PTB, Tiny Shakespeare, text)
    rnnkit forecast --series NAME | --csv FILE  backtest beside baselines, forecast, plot
    rnnkit translate train|evaluate|translate    English -> French with attention, BLEU
    rnnkit serve --models DIR              a page and an HTTP API for saved models
    rnnkit bench [--quick]                 the seed model's speed against PyTorch, here

Run ``rnnkit COMMAND --help`` for every option. The options come from config dataclasses
(:mod:`rnnkit.config`): the task's settings (:class:`~rnnkit.tasks.sentiment.SentimentConfig`)
and the run's (:class:`TrainRun`, :class:`EvaluateRun`, ...), each default written once.

Every option is checked before any data is read: values (argparse's "argument --limit:
expected a positive integer, received 0"), and every output location (writable, of the right
kind, holding nothing rnnkit did not write unless ``--overwrite``), so that no error is left to
be found after training.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile  # noqa: F401  (tests patch tempfile through here)

from .. import __version__
from ..tasks.sentiment.config import SentimentConfig
from . import bench, forecast, lab, sentiment, serve, textgen, translate
from ._common import max_threads, split_lines, subparser
from .sentiment import EvaluateRun, ImdbData, PredictRun, TrainRun, foreign_outputs

__all__ = [
    "EvaluateRun",
    "ImdbData",
    "PredictRun",
    "TrainRun",
    "build_parser",
    "foreign_outputs",
    "main",
    "max_threads",
    "split_lines",
]

# the task commands, each a module with register(sub): add one line for a new task
COMMANDS = (sentiment, textgen, translate, forecast, lab, serve, bench)


# -- rnnkit summary ---------------------------------------------------------------------------
def cmd_summary(args) -> int:
    from ..layers import LSTM, Dense, Embedding
    from ..models import Sequential

    config = SentimentConfig.from_args(args)
    model = Sequential()
    model.add(Embedding(input_dim=config.num_words, output_dim=config.embedding_dim))
    model.add(LSTM(units=config.units))
    model.add(Dense(units=1, activation="sigmoid"))
    model.summary()
    return 0


# -- rnnkit build-kernels ----------------------------------------------------------------------
def cmd_build_kernels(args) -> int:
    from ..kernels import build

    return build.main()


# -- argument parsing -------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks (SimpleRNN, LSTM, GRU) on "
        "sequential data. Start with `rnnkit sentiment train`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"rnnkit {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = subparser(sub, "summary", "print the seed model's summary (as Keras's)", cmd_summary)
    SentimentConfig.add_arguments(p, include=("num_words", "embedding_dim", "units"))

    subparser(
        sub,
        "build-kernels",
        "build the compiled LSTM/GRU step loops now (once per install; otherwise on first use)",
        cmd_build_kernels,
    )
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # (what --nproc's processes run)
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader stopped (`| head`): no message, as other commands
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's status for it
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
