"""``rnnkit lab gradients | memory``: the vanishing gradient measured and shown, and where a simple
RNN forgets what an LSTM remembers (:mod:`rnnkit.lab`).

    rnnkit lab gradients --cells rnn,lstm,gru --activations tanh,relu,sigmoid --seq-len 200
    rnnkit lab memory --task adding --lengths 10,50,100,200,400 --cells rnn,lstm,gru

Each prints its table and writes a PNG and the same data as JSON under ``--out``
(``gradients.png`` / ``gradients.json``; ``memory-<task>.png`` / ``memory-<task>.json``), all
checked before any work starts and written atomically.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import _files
from ..config import Config, option
from ..lab.config import GradientsConfig, MemoryConfig
from ._common import Runtime, check_output_dir, subparser, threads


@dataclass
class LabRun(Config):
    out: str = option("runs/lab", "folder for the PNG and JSON files", metavar="DIR")
    overwrite: bool = option(
        False, "replace files under --out that rnnkit did not write (refused otherwise)"
    )


@dataclass
class LabData(Config):
    data_dir: str | None = option(
        None,
        "imdb-distance: local IMDb copy (default: $RNNKIT_DATA_DIR, the cache, a download, "
        "then the bundled sample)",
        metavar="DIR",
    )


def _ours(path: Path, kind: str) -> bool:
    """Whether ``path`` is a file this command wrote: a JSON report of ``kind`` or a PNG drawn
    by matplotlib."""
    if not path.is_file():
        return False
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("lab") == kind
        except (OSError, ValueError, AttributeError):
            return False
    with open(path, "rb") as f:
        head = f.read(512)
    return head.startswith(b"\x89PNG") and b"matplotlib" in head.lower()


def _outputs(parser, run: LabRun, kind: str, stem: str) -> tuple[Path, Path]:
    """The PNG and JSON paths under ``--out``, checked before any work: writable, and not
    holding a file rnnkit did not write (unless ``--overwrite``)."""
    out = check_output_dir(parser, "--out", run.out)
    paths = (out / f"{stem}.png", out / f"{stem}.json")
    foreign = [p.name for p in paths if (p.exists() or p.is_symlink()) and not _ours(p, kind)]
    if foreign and not run.overwrite:
        parser.error(
            f"argument --out: expected a folder where `rnnkit lab {kind}` writes only its own "
            f"files, received {run.out!r}, where it would replace {', '.join(foreign)}; pass "
            f"--overwrite to replace them, or choose another --out"
        )
    return paths


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_lab_gradients(args) -> int:
    from ..lab import gradient_profiles, plot_gradients
    from ..lab.gradients import format_table

    parser = args.parser
    try:
        config = GradientsConfig.from_args(args)
    except ValueError as e:
        parser.error(str(e))
    png, report_path = _outputs(parser, LabRun.from_args(args), "gradients", "gradients")
    threads(args)
    report = gradient_profiles(**config.to_dict(), progress=_say)
    print(format_table(report))
    # the plain cells first (not a remedy's variant), where they were measured
    init = sorted({p.cell for p in report.profiles if p.stage == "init"}, key=len)
    lstm = [c for c in init if c.startswith("lstm")]
    rnn = [c for c in init if c.startswith("rnn-tanh")]
    data = {"lab": "gradients", **report.to_dict()}
    if lstm and rnn and config.seq_len > 100:
        falls = {cell: report.fall(cell, 100) for cell in (rnn[0], lstm[0])}
        ratio = falls[rnn[0]] / falls[lstm[0]]
        data["init_fall_100"] = {**falls, "ratio": ratio}
        print(
            f"\nAt initialisation, over 100 steps |dLoss/dh| falls {falls[rnn[0]]:.3g}x for "
            f"{rnn[0]} and {falls[lstm[0]]:.3g}x for {lstm[0]}: ratio {ratio:.3g}."
        )
    plot_gradients(report, png)
    _files.write_json(report_path, data)
    print(f"\nWrote {png} and {report_path}")
    return 0


def cmd_lab_memory(args) -> int:
    from ..lab import memory_experiment, plot_memory
    from ..lab.memory import format_table

    parser = args.parser
    try:
        config = MemoryConfig.from_args(args)
    except ValueError as e:
        parser.error(str(e))
    stem = f"memory-{config.task}"
    png, report_path = _outputs(parser, LabRun.from_args(args), "memory", stem)
    threads(args)
    report = memory_experiment(**config.to_dict(), data_dir=args.data_dir, progress=_say)
    print(format_table(report))
    plot_memory(report, png)
    _files.write_json(report_path, {"lab": "memory", **report.to_dict()})
    print(f"\nWrote {png} and {report_path}")
    return 0


def register(sub) -> None:
    """Add ``rnnkit lab gradients | memory``."""
    s = sub.add_parser(
        "lab",
        help="the vanishing gradient measured, and long-dependency tasks per cell",
        description="the vanishing gradient measured, and long-dependency tasks per cell",
    )
    lsub = s.add_subparsers(dest="action", required=True, metavar="ACTION")

    g = subparser(
        lsub,
        "gradients",
        "|dLoss/dh_t| against the distance from the loss, per cell, at initialisation and "
        "after a short training; and the one-step Jacobian's spectral norm",
        cmd_lab_gradients,
    )
    GradientsConfig.add_arguments(g, title="measurement (GradientsConfig)")
    group = g.add_argument_group("run")
    LabRun.add_arguments(group)
    Runtime.add_arguments(group)

    m = subparser(
        lsub,
        "memory",
        "train each cell on a long-dependency task at each length within a time budget",
        cmd_lab_memory,
    )
    MemoryConfig.add_arguments(m, title="experiment (MemoryConfig)")
    LabData.add_arguments(m, title="data")
    group = m.add_argument_group("run")
    LabRun.add_arguments(group)
    Runtime.add_arguments(group)
