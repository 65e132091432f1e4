"""What every ``rnnkit`` command shares: the runtime options, checks of output locations made
before any data is read, reading UTF-8 input files, and the sub-command scaffolding.

A task's command lives in its own module (``cli/sentiment.py`` is the example to copy) with a
``register(sub)`` function that adds its parser; ``cli/__init__.py`` lists the modules.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, option

MAX_INPUT_BYTES = 64 * 2**20  # --file / standard input: 64 MiB of text


def max_threads() -> int:
    """The most CPU threads ``--threads`` accepts: 4 per core (more only slows PyTorch down,
    and 100,000 crashes it)."""
    return 4 * (os.cpu_count() or 1)


@dataclass
class Runtime(Config):
    threads: int | None = option(
        None, "CPU threads for PyTorch; omit for all cores", low=1, high=max_threads
    )


DEVICE_HELP = (
    "where the networks run: cpu, cuda or cuda:N (on CUDA, PyTorch's fused cuDNN operators "
    "where they compute the same thing; rnnkit's compiled loops are CPU-only)"
)


@dataclass
class Placement(Config):
    """``--device`` (every command that trains or predicts) and ``--nproc`` (those that
    train): one definition, added to each command by :func:`add_placement`."""

    device: str = option("cpu", DEVICE_HELP, metavar="DEVICE")
    nproc: int = option(
        1,
        "processes training data-parallel on this machine (torch.distributed: gloo on the "
        "CPU, NCCL on CUDA, one GPU each); each global batch is split between them and the "
        "result is one process's; each takes --threads (default: the cores shared out)",
        low=1,
        high=max_threads,
    )


def device_type(text: str):
    """argparse's ``type=`` of ``--device``: a CPU or an available CUDA device."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, received {text!r}")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError(
                f"expected an available device, received {text!r} (no CUDA device here: "
                "torch.cuda.is_available() is False)"
            )
        if device.index is not None and device.index >= count:
            raise argparse.ArgumentTypeError(
                f"expected an available device, received {text!r} ({count} CUDA device"
                f"{'s' if count > 1 else ''} here: cuda:0 to cuda:{count - 1})"
            )
    return text


def add_placement(parser, train: bool) -> None:
    """Add ``--device`` (and ``--nproc`` where ``train``) to a command's parser or group."""
    Placement.add_arguments(parser, include=("device", "nproc") if train else ("device",))
    for action in parser._actions:  # (an argument group shares its parser's list)
        if action.dest == "device":
            action.type = device_type


@dataclass(frozen=True)
class Place:
    """Where this process trains or predicts: ``device`` (a torch.device), ``distributed``
    (part of a process group), ``writes`` (rank 0, or the only process: prints and writes)."""

    device: object
    distributed: bool = False
    writes: bool = True


WORKER = "RNNKIT_CLI_WORKER"  # set in the processes --nproc starts


def place(args) -> Place:
    """The :class:`Place` of this process for ``args`` (after :func:`spawn`): the device
    (``cuda`` becomes ``cuda:RANK`` under several processes), the process group."""
    import torch
    import torch.distributed as dist

    device = torch.device(getattr(args, "device", None) or "cpu")
    if dist.is_available() and dist.is_initialized():
        rank = dist.get_rank()
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        return Place(device, True, rank == 0)
    if _torchrun():
        return Place(device, True, int(os.environ["RANK"]) == 0)
    return Place(device)


def _torchrun() -> bool:
    """Launched by torchrun (or any launcher setting its variables) with several processes."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def spawn(args) -> int | None:
    """Under ``--nproc N`` (N > 1), start N processes on this machine that each run the same
    command in a process group (gloo over loopback on the CPU, NCCL on CUDA) and return the
    exit status once all have ended; else None: this process goes on (alone, or as one of
    those processes). Call it after the checks of the options, before any data is read."""
    nproc = getattr(args, "nproc", 1) or 1
    if nproc == 1 or os.environ.get(WORKER):
        return None
    parser = args.parser
    if _torchrun():
        parser.error(
            "argument --nproc: expected 1 under torchrun (its processes are the process "
            f"group: --nproc-per-node), received {nproc}"
        )
    import torch

    device = torch.device(args.device or "cpu")
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if device.index is not None:
            parser.error(
                f"argument --nproc: expected 1 with --device {args.device} (several processes "
                f"take a GPU each: pass --device cuda), received {nproc}"
            )
        if nproc > count:
            parser.error(
                f"argument --nproc: expected at most one process per CUDA device ({count} "
                f"here), received {nproc}"
            )
    import torch.multiprocessing as mp

    threads = args.threads or max(1, (os.cpu_count() or 1) // nproc)
    port = _free_port()
    try:
        mp.start_processes(
            _worker,
            args=(nproc, port, list(args.argv), threads, device.type),
            nprocs=nproc,
            join=True,
            start_method="spawn",
        )
    except mp.ProcessRaisedException as e:
        print(f"rnnkit: error: one of the {nproc} processes failed:\n{e}", file=sys.stderr)
        return 2
    except mp.ProcessExitedException as e:
        print(f"rnnkit: error: one of the {nproc} processes ended: {e}", file=sys.stderr)
        return e.exit_code if isinstance(e.exit_code, int) and e.exit_code > 0 else 2
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, nproc: int, port: int, argv: list[str], threads: int, kind: str):
    """One of :func:`spawn`'s processes: join the group, run the command; rank > 0 prints
    nothing (its output is rank 0's)."""
    import torch
    import torch.distributed as dist

    os.environ.update(
        {WORKER: "1", "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc)}
    )
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(threads)
    if rank:
        devnull = open(os.devnull, "w")
        sys.stdout = sys.stderr = devnull
    dist.init_process_group(
        "nccl" if kind == "cuda" else "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=nproc,
    )
    try:
        from . import main

        status = main(argv)
    finally:
        dist.destroy_process_group()
    if status:
        raise SystemExit(status)


# -- checks of output locations, made before any data is read ---------------------------------
def _kind(path: Path) -> str:
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    return "a special file (device, pipe or socket)"


def _writable(parser, flag: str, path: Path, expected: str) -> None:
    """``path`` (which may not exist yet) can be created: its nearest existing ancestor is a
    folder in which a file can be made (tried, then removed: permissions alone mislead root)."""
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor != path and not ancestor.is_dir():
        parser.error(
            f"argument {flag}: expected {expected}, received {str(path)!r}, "
            f"inside {str(ancestor)!r}, which is {_kind(ancestor)}"
        )
    probe_dir = ancestor if ancestor.is_dir() else ancestor.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".rnnkit-probe-", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        parser.error(
            f"argument {flag}: expected {expected} in a writable place, received "
            f"{str(path)!r} ({e.strerror.lower()} in {str(probe_dir)!r})"
        )


def check_output_dir(parser, flag: str, value: str) -> Path:
    """A folder that exists, or can be created."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        parser.error(f"argument {flag}: expected a folder, received {value!r}, {_kind(path)}")
    _writable(parser, flag, path, "a folder")
    return path


def check_output_file(parser, flag: str, value: str) -> Path:
    """A regular file (replaced) or a new one in a folder that exists or can be created."""
    path = Path(value)
    if path.exists() and not path.is_file():
        parser.error(f"argument {flag}: expected a file, received {value!r}, {_kind(path)}")
    _writable(parser, flag, path, "a file")
    return path


def threads(args) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def split_lines(raw: bytes) -> list[str]:
    """UTF-8 ``raw`` as one text per line: lines end at ``\\n`` only (a ``\\r`` before it is
    dropped; CR, U+2028 and U+0085 inside a review stay), blank lines are skipped."""
    text = raw.decode("utf-8")
    lines = (line[:-1] if line.endswith("\r") else line for line in text.split("\n"))
    return [line for line in lines if line.strip()]


def read_input(parser, flag: str, name: str) -> list[str]:
    """The reviews in the file ``name`` (``-``: standard input), checked: a regular file (or
    standard input), at most ``MAX_INPUT_BYTES``, UTF-8."""
    cap = f"{MAX_INPUT_BYTES // 2**20} MiB"
    where = f"argument {flag}" if flag.startswith("-") else flag
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        shown = "standard input"
    else:
        path = Path(name)
        try:
            kind = _kind(path)
        except OSError as e:
            parser.error(
                f"argument {flag}: expected a readable file, received {name!r} "
                f"({e.strerror.lower()})"
            )
        if kind != "a file":
            parser.error(f"argument {flag}: expected a file, received {name!r}, {kind}")
        if path.stat().st_size > MAX_INPUT_BYTES:
            parser.error(
                f"argument {flag}: expected a file of at most {cap}, received {name!r}, "
                f"{path.stat().st_size:,} bytes"
            )
        with open(path, "rb") as f:
            raw = f.read(MAX_INPUT_BYTES + 1)
        shown = repr(name)
    if len(raw) > MAX_INPUT_BYTES:
        parser.error(f"{where}: expected at most {cap} of reviews, received more")
    try:
        return split_lines(raw)
    except UnicodeDecodeError as e:
        parser.error(
            f"{where}: expected UTF-8 text, received {shown}, which is not UTF-8 "
            f"(byte {e.start}: {raw[e.start : e.start + 1]!r})"
        )


def foreign_outputs(
    out: Path, task: str, task_file: str, saved_names, extra=("metrics.json", "training.png")
) -> list[str]:
    """What under the run folder ``out`` a task's ``train`` command would replace and did not
    write: entries of ``model/`` other than the task's saved ``saved_names``, a ``model/`` whose
    ``task_file`` names another task, a ``metrics.json`` without rnnkit's report (``config`` and
    ``test``), a PNG not drawn by matplotlib (``extra`` lists the files checked)."""
    foreign = []
    model = out / "model"
    if model.is_dir():
        for entry in sorted(model.iterdir()):
            if entry.name not in saved_names:
                foreign.append(f"model/{entry.name}")
        marker = model / task_file
        if marker.exists():
            try:
                ours = json.loads(marker.read_text(encoding="utf-8")).get("task") == task
            except (OSError, ValueError, AttributeError):
                ours = False
            if not ours:
                foreign.append(f"model/{task_file}")
    elif model.exists() or model.is_symlink():
        foreign.append("model")
    for name in extra:
        path = out / name
        if not (path.exists() or path.is_symlink()):
            continue
        if name.endswith(".json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
            except (OSError, ValueError):
                data = None
            ours = isinstance(data, dict) and {"config", "test"} <= set(data)
        else:
            head = b""
            if path.is_file():
                with open(path, "rb") as f:
                    head = f.read(512)
            ours = head.startswith(b"\x89PNG") and b"matplotlib" in head.lower()
        if not ours:
            foreign.append(name)
    return foreign


# -- argument parsing -------------------------------------------------------------------------
def subparser(sub, name: str, help: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name, help=help, description=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.set_defaults(func=func, parser=p)
    return p


def add_export(
    sub,
    func,
    model_help: str,
    help: str = "write a saved model's network to a file",
    out_help: str = "the file to write (replaced if it exists)",
) -> argparse.ArgumentParser:
    """The ``export`` sub-command every task has: ``MODEL OUT [--format onnx]`` and the
    runtime options."""
    x = subparser(sub, "export", help, func)
    x.add_argument("model", help=model_help)
    x.add_argument("out", metavar="OUT", help=out_help)
    x.add_argument(
        "--format", choices=["onnx"], default="onnx", help="the file format (default: onnx)"
    )
    Runtime.add_arguments(x)
    return x
