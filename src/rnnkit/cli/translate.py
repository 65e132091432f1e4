"""``rnnkit translate train | evaluate | translate``: English -> French with an encoder-decoder
(:mod:`rnnkit.tasks.translate`)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from .. import _files
from ..config import Config, option
from ..reporting import print_metrics
from ..tasks.translate.config import TranslateConfig
from ._common import (
    Runtime,
    add_export,
    add_placement,
    check_output_dir,
    check_output_file,
    foreign_outputs,
    place,
    spawn,
    subparser,
    threads,
)

ENCODER_FILE, DECODER_FILE = "encoder.onnx", "decoder_step.onnx"


@dataclass
class PairsData(Config):
    data_dir: str | None = option(
        None,
        "fra-eng.zip, a folder holding it (or translation/fra-eng.zip), or any UTF-8 file of "
        "source<TAB>target lines; default: $RNNKIT_DATA_DIR, the cache, then a download",
        metavar="PATH",
    )
    max_source_words: int = option(10, "keep pairs whose source has at most this many words", low=1)
    split_seed: int = option(0, "seed of the split by distinct source sentence", low=0)


@dataclass
class TranslateTrainRun(Config):
    out: str = option(
        "runs/translate", "folder for model/, metrics.json, training.png", metavar="DIR"
    )
    overwrite: bool = option(
        False, "replace what is under --out even where rnnkit did not write it"
    )
    minutes: float | None = option(
        None,
        "stop after the epoch that crosses this many minutes of training",
        low=0,
        low_open=True,
    )
    limit: int | None = option(None, "train on this many pairs (quick runs); omit for all", low=1)
    validation_sentences: int = option(
        500,
        "validation sentences (a seeded random sample) scored with BLEU after each epoch "
        "(the best epoch is kept)",
        low=1,
    )
    test_limit: int | None = option(
        None, "score this many test sentences (a seeded random sample); omit for all", low=1
    )
    beam: int = option(1, "beam width of the test translations (1: greedy)", low=1)
    baseline: bool = option(
        True, "also score the copy and word-by-word dictionary baselines on the same split"
    )
    verbose: int = option(1, "0 quiet, 1 progress bars, 2 a line per epoch", choices=(0, 1, 2))


@dataclass
class TranslateEvaluateRun(Config):
    beam: int = option(1, "beam width (1: greedy)", low=1)
    test_limit: int | None = option(
        None, "score this many test sentences (a seeded random sample); omit for all", low=1
    )
    json: str | None = option(None, "also write the figures to this JSON file", metavar="FILE")


@dataclass
class TranslateTextRun(Config):
    beam: int = option(5, "beam width (1: greedy)", low=1)
    max_len: int | None = option(None, "most output tokens (default 1.5x the source + 5)", low=1)
    plot_attention: str | None = option(
        None, "write the attention map of the (first) sentence to this PNG", metavar="FILE"
    )


def _splits(args, data: PairsData):
    from ..datasets import translation

    pairs = translation.load_pairs(data.data_dir)
    splits = translation.split_by_source(
        pairs.pairs, seed=data.split_seed, max_source_words=data.max_source_words
    )
    print(
        f"{len(pairs.pairs):,} pairs from {pairs.location} ({pairs.verified}); split by "
        f"distinct source: {len(splits.train):,} train, {len(splits.validation):,} validation, "
        f"{len(splits.test):,} test pairs"
    )
    return splits


def _sample(refs: dict, n: int | None, seed: int = 0) -> dict:
    """``n`` of ``refs``'s sources drawn at random with ``seed`` (in their order in ``refs``),
    or all of them. Not the first ``n``: Tatoeba's file runs from the shortest sentences to
    the longest, and its first sources are the easiest to translate (scoring the first 500
    validation sentences read ~11 BLEU points above the test set)."""
    if n is None or n >= len(refs):
        return refs
    keep = set(random.Random(seed).sample(range(len(refs)), n))
    return {k: v for i, (k, v) in enumerate(refs.items()) if i in keep}


def cmd_train(args) -> int:
    from ..reporting import plot_history
    from ..tasks.translate import (
        SAVED_NAMES,
        TASK_FILE,
        CopyBaseline,
        DictionaryBaseline,
        Translator,
        score,
    )

    parser = args.parser
    try:
        config = TranslateConfig.from_args(args).validate()
    except ValueError as e:
        parser.error(str(e))
    run, data = TranslateTrainRun.from_args(args), PairsData.from_args(args)
    out = check_output_dir(parser, "--out", run.out)
    foreign = foreign_outputs(out, "translate", TASK_FILE, SAVED_NAMES)
    if foreign and not run.overwrite:
        parser.error(
            f"argument --out: expected a new folder or one written by `rnnkit translate "
            f"train`, received {run.out!r}, where rnnkit would replace what it did not write: "
            f"{', '.join(foreign)}; pass --overwrite to replace them, or choose another --out"
        )
    status = spawn(args)  # --nproc N: N processes run this command, then the status
    if status is not None:
        return status
    where = place(args)
    threads(args)
    splits = _splits(args, data)
    train = splits.train[: run.limit] if run.limit else splits.train
    validation = _sample(splits.references("validation"), run.validation_sentences)
    test = _sample(splits.references("test"), run.test_limit)
    translator = Translator(config)
    start = time.perf_counter()
    translator.fit(
        train,
        validation=validation,
        minutes=run.minutes,
        verbose=run.verbose,
        device=where.device,
        distributed=where.distributed,
    )
    train_seconds = time.perf_counter() - start
    if not where.writes:  # another process of --nproc: rank 0 tests and writes
        return 0
    metrics = translator.evaluate(test, beam=run.beam)
    print_metrics(
        f"Test set ({len(test):,} distinct sentences, all their translations as references):",
        metrics,
        keys=("bleu", "chrf"),
        count="sentences",
    )
    report = {
        "dataset": {"train": len(train), "test_sentences": len(test)},
        "config": config.to_dict(),
        "test": metrics,
        "history": translator.history_.history,
        "seconds": {"train": round(train_seconds, 1)},
    }
    if run.baseline:
        sources = list(test)
        refs = [test[s] for s in sources]
        for name, model in (
            ("copy", CopyBaseline()),
            ("dictionary", DictionaryBaseline().fit(train)),
        ):
            base = score(model.translate(sources), refs)
            print(f"Baseline {name}: BLEU {base['bleu']:.2f}, chrF {base['chrf']:.2f}")
            report.setdefault("baselines", {})[name] = base
    translator.save(out / "model", overwrite=run.overwrite)
    plot_history(translator.history_, out / "training.png", keys=["loss", "val_bleu"])
    _files.write_json(out / "metrics.json", report)
    print(
        f"\nTrained in {train_seconds / 60:.1f} min. Wrote {out / 'model'}, {out / 'metrics.json'}"
    )
    return 0


def cmd_evaluate(args) -> int:
    from ..tasks.translate import Translator

    run, data = TranslateEvaluateRun.from_args(args), PairsData.from_args(args)
    json_path = check_output_file(args.parser, "--json", run.json) if run.json else None
    threads(args)
    translator = Translator.load(args.model).to(place(args).device)
    test = _sample(_splits(args, data).references("test"), run.test_limit)
    metrics = translator.evaluate(test, beam=run.beam)
    print_metrics(
        f"Test set ({len(test):,} sentences):", metrics, keys=("bleu", "chrf"), count="sentences"
    )
    if json_path is not None:
        _files.write_json(json_path, {"test": metrics})
    return 0


def cmd_translate(args) -> int:
    from ..tasks.translate import Translator, plot_attention

    run = TranslateTextRun.from_args(args)
    png = (
        check_output_file(args.parser, "--plot-attention", run.plot_attention)
        if run.plot_attention
        else None
    )
    if not args.texts or not all(t.strip() for t in args.texts):
        args.parser.error("expected one or more non-empty sentences to translate")
    threads(args)
    translator = Translator.load(args.model).to(place(args).device)
    for text, out in zip(
        args.texts, translator.translate(args.texts, beam=run.beam, max_len=run.max_len)
    ):
        print(f"{text}\t{out}")
    if png is not None:
        source, output, weights = translator.attention_map(args.texts[0])
        plot_attention(source, output, weights, png, title=f"{args.texts[0]} -> {' '.join(output)}")
        print(f"attention map: {png}")
    return 0


def cmd_export(args) -> int:
    import torch

    from .. import export
    from ..tasks.translate import Translator
    from ..tasks.translate.vocab import END, START

    out = check_output_dir(args.parser, "OUT", args.out)
    threads(args)
    translator = Translator.load(args.model)
    encoder, step = export.Encoder(translator), export.DecoderStep(translator)
    source = torch.ones(2, 7, dtype=torch.long)
    with torch.no_grad():
        enc, mask, *state = encoder(source)
    states = ["h", "c"][: len(state)]
    out.mkdir(parents=True, exist_ok=True)
    export.onnx(
        encoder,
        out / ENCODER_FILE,
        source,
        input_names=["source"],
        output_names=["enc", "mask", *states],
    )
    export.onnx(
        step,
        out / DECODER_FILE,
        (torch.ones(2, dtype=torch.long), enc, mask, *state),
        input_names=["prev", "enc", "mask", *states],
        output_names=["logp", *[f"{name}_out" for name in states]],
    )
    print(
        f"wrote {out / ENCODER_FILE}: input `source` int64 (batch, length), word ids padded "
        f"with 0 at the end; outputs `enc`, `mask` and the states {', '.join(states)}.\n"
        f"wrote {out / DECODER_FILE}: one decoder step: inputs `prev` int64 (batch,) (the "
        f"start id {START} first; {END} ends a sentence), `enc`, `mask` and the states; outputs `logp` (batch, target "
        "vocabulary) log-probabilities and the new states (*_out), to feed back"
    )
    return 0


def register(sub) -> None:
    """Add ``rnnkit translate train | evaluate | translate``."""
    s = sub.add_parser(
        "translate",
        help="English -> French translation: train, evaluate, translate",
        description="English -> French translation with an encoder-decoder and attention "
        "(Tatoeba pairs, BLEU against every reference)",
    )
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = subparser(
        ssub, "train", "train on the pairs' training split, score BLEU on its test split", cmd_train
    )
    PairsData.add_arguments(t, title="data")
    group = t.add_argument_group("run")
    TranslateTrainRun.add_arguments(group)
    Runtime.add_arguments(group)
    add_placement(group, train=True)
    TranslateConfig.add_arguments(t, title="model and training (TranslateConfig)")
    e = subparser(
        ssub, "evaluate", "BLEU and chrF of a saved model on the test split", cmd_evaluate
    )
    e.add_argument("model", help="folder written by `rnnkit translate train` (its model/)")
    PairsData.add_arguments(e, title="data")
    TranslateEvaluateRun.add_arguments(e)
    Runtime.add_arguments(e)
    add_placement(e, train=False)
    q = subparser(ssub, "translate", "translate sentences with a saved model", cmd_translate)
    q.add_argument("model", help="folder written by `rnnkit translate train` (its model/)")
    q.add_argument("texts", nargs="*", help="English sentences")
    TranslateTextRun.add_arguments(q)
    Runtime.add_arguments(q)
    add_placement(q, train=False)
    add_export(
        ssub,
        cmd_export,
        "folder written by `rnnkit translate train` (its model/)",
        help="write a saved model's encoder and decoder step to files",
        out_help=f"the folder for {ENCODER_FILE} and {DECODER_FILE} (replaced if they exist)",
    )
