"""``rnnkit textgen train | next | generate | evaluate``: language models on Penn Treebank, Tiny
Shakespeare or any UTF-8 text (run options as config dataclasses, outputs checked before any
data is read, then :class:`rnnkit.tasks.language_model.LanguageModel`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .. import _files
from ..config import Config, option
from ..tasks.language_model.config import LanguageModelConfig
from ._common import (
    Runtime,
    add_export,
    add_placement,
    check_output_dir,
    check_output_file,
    place,
    spawn,
    subparser,
    threads,
)

DEFAULT_OUT = "runs/textgen"
MODEL_DIR, REPORT, PLOT = "model", "metrics.json", "perplexity.png"
NAMED_CORPORA = ("ptb", "shakespeare", "imdb")


@dataclass
class CorpusData(Config):
    corpus: str = option(
        "ptb",
        "ptb (Penn Treebank, Mikolov's split), shakespeare (Tiny Shakespeare), imdb (the IMDb "
        "training reviews, one per line in the sentiment task's words, the last 5% held out "
        "for validation, no test review: for `rnnkit sentiment train --pretrained-lm`) or the "
        "path of a UTF-8 text file or folder (split 90/5/5, or its "
        "train.txt/valid.txt/test.txt)",
        metavar="CORPUS",
    )
    data_dir: str | None = option(
        None,
        "folder holding the ptb/, tinyshakespeare/ or imdb/ files; default: $RNNKIT_DATA_DIR, "
        "the cache, then the official download",
        metavar="DIR",
    )


@dataclass
class TrainRun(Config):
    out: str = option(
        DEFAULT_OUT, "folder for model/, metrics.json and perplexity.png", metavar="DIR"
    )
    overwrite: bool = option(
        False,
        "replace model/, metrics.json and perplexity.png under --out even where they hold "
        "files rnnkit did not write (refused otherwise)",
    )
    kn_order: int = option(
        5, "order of the Kneser-Ney baseline printed beside the LSTM (0: none)", low=0, high=10
    )
    verbose: int = option(
        1, "0 quiet, 1 a progress bar per epoch, 2 a line per epoch", choices=(0, 1, 2)
    )


@dataclass
class ModelRun(Config):
    model: str = option(
        f"{DEFAULT_OUT}/{MODEL_DIR}",
        "folder written by `rnnkit textgen train` (its model/)",
        metavar="DIR",
    )
    level: str | None = option(
        None,
        "the level the model must have (refused if it has the other)",
        choices=("word", "char"),
    )


@dataclass
class NextRun(Config):
    top: int = option(5, "how many likeliest next tokens to show", low=1)


@dataclass
class GenerateRun(Config):
    length: int = option(200, "tokens to generate", low=1, high=1_000_000)
    temperature: float = option(
        1.0, "divide the logits by this (lower: safer text)", low=0, low_open=True
    )
    top_k: int | None = option(None, "sample among the K likeliest tokens only", low=1, metavar="K")
    top_p: float | None = option(
        None,
        "sample among the likeliest tokens whose probability reaches P (nucleus)",
        low=0,
        high=1,
        low_open=True,
        metavar="P",
    )
    seed: int | None = option(None, "random seed (same seed, same text)", low=0, high=2**63 - 1)


@dataclass
class EvaluateRun(Config):
    file: str | None = option(
        None,
        "a UTF-8 text file to evaluate on; default: the training corpus's test split",
        metavar="FILE",
    )
    data_dir: str | None = option(
        None, "folder holding the corpus's files (as for train)", metavar="DIR"
    )
    kn_order: int = option(
        5, "order of the Kneser-Ney baseline printed beside (0: none)", low=0, high=10
    )
    json: str | None = option(None, "also write the figures to this JSON file", metavar="FILE")


def foreign_outputs(out: Path) -> list[str]:
    """What under ``out`` ``train`` would replace and did not write."""
    from ..tasks.language_model.language_model import is_saved_model

    foreign = []
    model = out / MODEL_DIR
    if model.is_dir():
        if any(model.iterdir()) and not is_saved_model(model):
            foreign.append(f"{MODEL_DIR}/")
    elif model.exists() or model.is_symlink():
        foreign.append(MODEL_DIR)
    report = out / REPORT
    if report.exists() or report.is_symlink():
        try:
            data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
        except (OSError, ValueError):
            data = None
        if not (isinstance(data, dict) and data.get("task") == "textgen"):
            foreign.append(REPORT)
    png = out / PLOT
    if png.exists() or png.is_symlink():
        head = b""
        if png.is_file():
            with open(png, "rb") as f:
                head = f.read(512)
        if not (head.startswith(b"\x89PNG") and b"matplotlib" in head.lower()):
            foreign.append(PLOT)
    return foreign


def _fmt(result: dict) -> str:
    text = f"perplexity {result['perplexity']:.2f}"
    if "bits_per_char" in result:
        text += (
            f", {result['bits_per_char']:.3f} bits/char, {result['cross_entropy']:.3f} nats/char"
        )
    return text


def _baseline(lm, train: str, order: int, text: str) -> dict | None:
    if not order:
        return None
    start = time.perf_counter()
    lm.fit_baseline(train, order=order)
    out = lm.baseline_perplexity(text)
    out["order"] = order
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


# -- rnnkit textgen train ---------------------------------------------------------------------
def cmd_train(args) -> int:
    from ..datasets.text_corpora import load_corpus
    from ..tasks.language_model import LanguageModel, plot_perplexity

    parser = args.parser
    try:
        config = LanguageModelConfig.from_args(args)
    except ValueError as e:
        parser.error(str(e))
    run, data = TrainRun.from_args(args), CorpusData.from_args(args)
    out = check_output_dir(parser, "--out", run.out)
    foreign = foreign_outputs(out)
    if foreign and not run.overwrite:
        parser.error(
            f"argument --out: expected a new folder or one written by `rnnkit textgen train`, "
            f"received {run.out!r}, where rnnkit would replace what it did not write: "
            f"{', '.join(foreign)}; pass --overwrite to replace them, or choose another --out"
        )
    status = spawn(args)  # --nproc N: N processes run this command, then the status
    if status is not None:
        return status
    where = place(args)
    threads(args)
    corpus = load_corpus(data.corpus, data.data_dir)
    if corpus.level in ("word", "char") and corpus.level != config.level:
        print(
            f"NOTE: {corpus.name} is usually modelled at {corpus.level} level; training at {config.level} level."
        )
    print(
        f"Corpus {corpus.name}: {len(corpus.train):,} / {len(corpus.valid):,} / "
        f"{len(corpus.test):,} characters (train / valid / test); {corpus.source}"
    )
    lm = LanguageModel(config)
    start = time.perf_counter()
    lm.fit(corpus, verbose=run.verbose, device=where.device, distributed=where.distributed)
    train_seconds = time.perf_counter() - start
    if not where.writes:  # another process of --nproc: rank 0 evaluates and writes
        return 0
    print(
        f"Vocabulary: {lm.vocab_.size:,} {config.level} tokens; trained {train_seconds / 60:.1f} min"
    )
    report = {
        "task": "textgen",
        "corpus": {"name": corpus.name, "source": corpus.source},
        "config": config.to_dict(),
        "vocabulary": lm.vocab_.size,
        "history": lm.history_,
        "seconds": {"train": round(train_seconds, 2)},
    }
    for split in ("valid", "test"):
        text = corpus.split(split)
        if not text.strip():
            continue
        result = lm.perplexity(text)
        base = _baseline(lm, corpus.train, run.kn_order, text)
        line = f"{split:>5}: LSTM {_fmt(result)}"
        if base is not None:
            line += f" | Kneser-Ney {base['order']}-gram {_fmt(base)}"
            report.setdefault("baseline", {})[split] = base
        print(line)
        report[split] = result
    # the corpus as evaluate finds it again: its name, or the user's path made absolute
    named = corpus.name if data.corpus in NAMED_CORPORA else str(Path(data.corpus).resolve())
    data_dir = None if data.data_dir is None else str(Path(data.data_dir).resolve())
    lm.save(
        out / MODEL_DIR,
        overwrite=run.overwrite,
        extra={"corpus": named, "data_dir": data_dir},
    )
    kn = report.get("baseline", {}).get("valid", {}).get("perplexity")
    plot_perplexity(
        lm.history_, out / PLOT, baseline=kn, title=f"{corpus.name}, {config.level} level"
    )
    _files.write_json(out / REPORT, report)
    print(f"Wrote {out / MODEL_DIR}, {out / REPORT}, {out / PLOT}")
    return 0


def _load_model(args):
    from ..tasks.language_model import LanguageModel

    run = ModelRun.from_args(args)
    lm = LanguageModel.load(run.model).to(place(args).device)
    if run.level is not None and run.level != lm.vocab_.level:
        args.parser.error(
            f"argument --level: expected the model's level {lm.vocab_.level!r} "
            f"({run.model} is a {lm.vocab_.level}-level model), received {run.level!r}"
        )
    return lm


# -- rnnkit textgen next / generate -------------------------------------------------------------
def cmd_next(args) -> int:
    run = NextRun.from_args(args)
    threads(args)
    lm = _load_model(args)
    start = time.perf_counter()
    ranked = lm.next_words(args.text, run.top)
    ms = (time.perf_counter() - start) * 1000
    for token, p in ranked:
        shown = {"\n": "\\n", " ": "' '"}.get(token, token)
        print(f"{p:.4f}\t{shown}")
    print(f"({ms:.1f} ms)")
    return 0


def cmd_generate(args) -> int:
    run = GenerateRun.from_args(args)
    threads(args)
    lm = _load_model(args)
    text = lm.generate(args.prompt, run.length, run.temperature, run.top_k, run.top_p, run.seed)
    sep = " " if lm.vocab_.level == "word" and args.prompt and not text.startswith("\n") else ""
    print(args.prompt + sep + text)
    return 0


# -- rnnkit textgen evaluate --------------------------------------------------------------------
def cmd_evaluate(args) -> int:
    from ..datasets.text_corpora import load_corpus, read_utf8

    run = EvaluateRun.from_args(args)
    json_path = check_output_file(args.parser, "--json", run.json) if run.json else None
    if run.file is not None and not Path(run.file).is_file():
        args.parser.error(
            f"argument --file: expected a UTF-8 text file, received {run.file!r}, which is not a file"
        )
    threads(args)
    lm = _load_model(args)
    saved = getattr(lm, "saved_", {})
    corpus = None
    name = saved.get("corpus")
    if name is not None:
        try:
            corpus = load_corpus(name, run.data_dir or saved.get("data_dir"))
        except (OSError, ValueError) as e:
            if run.file is None:
                raise
            print(f"NOTE: the training corpus {name!r} is not available ({e}); no baseline.")
    if run.file is not None:
        text, what = read_utf8(run.file, "rnnkit textgen evaluate --file"), run.file
    elif corpus is not None and not corpus.test.strip():
        args.parser.error(
            f"no text to evaluate: the corpus {corpus.name!r} has no test split (the IMDb test "
            "reviews stay unseen by the language model); pass --file FILE"
        )
    elif corpus is not None:
        text, what = corpus.test, f"{corpus.name} test split"
    else:
        args.parser.error("no text to evaluate: the model names no corpus; pass --file FILE")
    if not text.strip():
        args.parser.error(
            f"argument --file: expected a non-empty text, received {run.file!r}, which holds no text"
        )
    result = lm.perplexity(text)
    line = f"{what}: LSTM {_fmt(result)} ({result['tokens']:,} tokens)"
    report = {"text": what, "lstm": result}
    if corpus is not None and run.kn_order:
        base = _baseline(lm, corpus.train, run.kn_order, text)
        line += f" | Kneser-Ney {base['order']}-gram {_fmt(base)}"
        report["baseline"] = base
    print(line)
    if json_path is not None:
        _files.write_json(json_path, report)
    return 0


# -- rnnkit textgen export ----------------------------------------------------------------------
def cmd_export(args) -> int:
    import torch

    from .. import export
    from ..tasks.language_model import LanguageModel

    out = check_output_file(args.parser, "OUT", args.out)
    threads(args)
    step = export.LanguageModelStep(LanguageModel.load(args.model))
    layers = len(step.net.lstms)
    states = [f"{kind}_{k + 1}" for k in range(layers) for kind in ("h", "c")]
    example = (torch.ones(2, 8, dtype=torch.long), *step.zero_state(2))
    export.onnx(
        step,
        out,
        example,
        input_names=["ids", *states],
        output_names=["logits", *[f"{name}_out" for name in states]],
    )
    print(
        f"wrote {out}: inputs `ids` int64 (batch, length) as LanguageModel's vocabulary "
        f"encodes them and the {layers} LSTM layer(s)' states {', '.join(states)} float32 "
        "(batch, units), zeros to start; outputs `logits` (batch, length, vocabulary) and the "
        "states after the last step (*_out), to feed back"
    )
    return 0


# -- argument parsing -------------------------------------------------------------------------
def register(sub) -> None:
    """Add ``rnnkit textgen train | next | generate | evaluate``."""
    s = sub.add_parser(
        "textgen",
        help="language models: train, next words, generate text, perplexity",
        description="language models: train, next words, generate text, perplexity",
    )
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")

    t = subparser(
        ssub, "train", "train an LSTM language model; print it beside Kneser-Ney", cmd_train
    )
    CorpusData.add_arguments(t, title="data")
    group = t.add_argument_group("run")
    TrainRun.add_arguments(group)
    Runtime.add_arguments(group)
    add_placement(group, train=True)
    LanguageModelConfig.add_arguments(t, title="model and training (LanguageModelConfig)")

    n = subparser(ssub, "next", "the likeliest next words (or characters) after a text", cmd_next)
    n.add_argument("text", help="the text read so far")
    ModelRun.add_arguments(n)
    NextRun.add_arguments(n)
    Runtime.add_arguments(n)
    add_placement(n, train=False)

    g = subparser(ssub, "generate", "sample text after a prompt", cmd_generate)
    g.add_argument("prompt", nargs="?", default="", help="the text to continue (may be empty)")
    ModelRun.add_arguments(g)
    GenerateRun.add_arguments(g)
    Runtime.add_arguments(g)
    add_placement(g, train=False)

    e = subparser(ssub, "evaluate", "perplexity on the test split or a text file", cmd_evaluate)
    e.add_argument("model", help="folder written by `rnnkit textgen train` (its model/)")
    e.add_argument(
        "--level",
        choices=("word", "char"),
        default=None,
        help="the level the model must have (refused if it has the other)",
    )
    EvaluateRun.add_arguments(e)
    Runtime.add_arguments(e)
    add_placement(e, train=False)

    add_export(ssub, cmd_export, "folder written by `rnnkit textgen train` (its model/)")
