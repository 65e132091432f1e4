"""Backups of a running ``fit``, written so that a ``kill -9`` at any moment leaves one intact.

The layout of a backup folder (:class:`~.callbacks.BackupAndRestore`'s ``backup_dir``)::

    backup_dir/
      checkpoint.json           the pointer: {"format": "rnnkit.backup", "folder": "backup-000007", ...}
      backup-000007/
        model.safetensors       the model's state_dict
        optimizer.pt            the optimizer's state_dict (torch.save; read with weights_only=True)
        training.pt             random generators, the epoch's batches, running metrics, callbacks
        training.json           epoch, step, running loss, and what the fit must match to resume

A backup is written in three moves, each of which leaves a readable backup if the process dies
during it: (1) every file into a hidden temporary folder, each flushed and fsync-ed; (2) that
folder renamed to ``backup-<n+1>``; (3) the pointer rewritten atomically
(:func:`rnnkit._files.write_json`) to name the new folder. Only then is the previous folder
deleted. A reader follows the pointer only, so it sees the old backup until step 3 is done and
the new one after. Leftovers of an interrupted write (the temporary folder, a folder the
pointer never named) are removed at the next write; nothing rnnkit did not write is touched.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .. import __version__
from .._files import TEMP_MARK, dir_mode, fsync_dir, write_bytes, write_json
from ..utils import get_rng_state, set_rng_state

FORMAT, FORMAT_VERSION = "rnnkit.backup", 1
POINTER = "checkpoint.json"
MODEL, OPTIMIZER, TRAINING, INFO = (
    "model.safetensors",
    "optimizer.pt",
    "training.pt",
    "training.json",
)
_FOLDER = re.compile(r"backup-\d{6,}")
_LEFTOVER = re.compile(rf"\.(backup-\d{{6,}}|{re.escape(POINTER)})\..*{re.escape(TEMP_MARK)}")


def _fail(backup_dir, what: str) -> ValueError:
    return ValueError(f"BackupAndRestore: `backup_dir` {str(backup_dir)!r}: {what}.")


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def read_pointer(backup_dir) -> dict | None:
    """The pointer of ``backup_dir``, or None where there is no backup."""
    path = Path(backup_dir) / POINTER
    if not path.is_file():
        return None
    try:
        pointer = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _fail(backup_dir, f"{POINTER} is not valid JSON ({e})") from None
    if (
        not isinstance(pointer, dict)
        or pointer.get("format") != FORMAT
        or not _FOLDER.fullmatch(str(pointer.get("folder")))
    ):
        raise _fail(backup_dir, f'{POINTER} is not an rnnkit backup pointer ("format": "{FORMAT}")')
    if pointer.get("format_version") != FORMAT_VERSION:
        raise _fail(
            backup_dir,
            f"format_version {pointer.get('format_version')!r} is not {FORMAT_VERSION}",
        )
    return pointer


def write_folder(backup_dir, files: dict[str, bytes], info: dict) -> Path:
    """Write ``files`` as the new current backup of ``backup_dir`` (see the module's text) and
    return its folder; ``info`` goes into the pointer."""
    backup_dir = Path(backup_dir)
    created = not backup_dir.exists()
    backup_dir.mkdir(parents=True, exist_ok=True)
    pointer = read_pointer(backup_dir)
    number = pointer["number"] + 1 if pointer else 1
    name = f"backup-{number:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=TEMP_MARK, dir=backup_dir))
    try:
        for file_name, data in files.items():
            write_bytes(tmp / file_name, data)
        os.chmod(tmp, dir_mode())
        fsync_dir(tmp)  # its entries, before it is renamed in
        final = backup_dir / name
        if final.exists():  # written by an interrupted save, never made current
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(backup_dir)
    made_dir = pointer.get("created_dir", False) if pointer else created
    _write_pointer(
        backup_dir,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rnnkit_version": __version__,
            "number": number,
            "folder": name,
            "created_dir": made_dir,
            **info,
        },
    )
    _clean(backup_dir, keep=name)
    return backup_dir / name


def _write_pointer(backup_dir: Path, pointer: dict) -> None:
    write_json(backup_dir / POINTER, pointer)


def _clean(backup_dir: Path, keep: str | None) -> None:
    """Remove the backup folders other than ``keep`` and the leftovers of interrupted writes."""
    for entry in backup_dir.iterdir():
        if entry.name == keep:
            continue
        if _FOLDER.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif _LEFTOVER.fullmatch(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def delete_backup(backup_dir) -> None:
    """Delete the backup in ``backup_dir`` (the pointer and rnnkit's folders), and the folder
    itself if rnnkit created it and nothing else is left in it."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return
    try:
        pointer = read_pointer(backup_dir)
    except ValueError:
        return  # not ours: leave it
    if pointer is None:
        return
    (backup_dir / POINTER).unlink(missing_ok=True)
    _clean(backup_dir, keep=None)
    if pointer.get("created_dir") and not any(backup_dir.iterdir()):
        backup_dir.rmdir()


# -- what a fit's backup holds ----------------------------------------------------------------


def save_backup(backup_dir, model, optimizer, state, callbacks, fingerprint: dict) -> Path:
    """Back up a fit at ``state`` (:class:`rnnkit.models.training.FitState`)."""
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    batches = None
    if state.batches is not None:
        batches = {
            "order": torch.cat(state.batches).cpu(),
            "sizes": [len(b) for b in state.batches],
        }
    training = {
        "rng": get_rng_state(),
        "batches": batches,
        "metrics": [
            {k: v for k, v in vars(m).items() if isinstance(v, (bool, int, float, str))}
            for m in state.metrics
        ],
        "callbacks": [cb.state_dict() for cb in callbacks],
    }
    info = {
        "epoch": state.epoch,
        "step": state.step,
        "loss_sum": state.loss_sum,
        "seen": state.seen,
        "finished": state.finished,
        "fingerprint": fingerprint,
    }
    files = {
        MODEL: save_safetensors(weights, metadata={"format": FORMAT}),
        OPTIMIZER: _torch_bytes(optimizer.state_dict()),
        TRAINING: _torch_bytes(training),
        INFO: (json.dumps(info, indent=2) + "\n").encode("utf-8"),
    }
    return write_folder(backup_dir, files, {"epoch": state.epoch, "step": state.step})


def restore_backup(backup_dir, model, optimizer, state, callbacks, fingerprint: dict) -> bool:
    """Load the current backup of ``backup_dir`` into the model, the optimizer, the random
    generators, ``state`` and ``callbacks``; False where there is none."""
    from . import metrics as metrics_module

    pointer = read_pointer(backup_dir)
    if pointer is None:
        return False
    folder = Path(backup_dir) / pointer["folder"]
    missing = [name for name in (MODEL, OPTIMIZER, TRAINING, INFO) if not (folder / name).is_file()]
    if missing:
        raise _fail(backup_dir, f"the backup {pointer['folder']} lacks {', '.join(missing)}")
    info = json.loads((folder / INFO).read_text(encoding="utf-8"))
    saved = info.get("fingerprint", {})
    differ = [
        f"{k}: {_short(saved.get(k))} then, {_short(fingerprint.get(k))} now"
        for k in sorted(set(saved) | set(fingerprint))
        if saved.get(k) != fingerprint.get(k)
    ]
    if differ:
        raise _fail(
            backup_dir,
            "the backup was made by a different fit ("
            + "; ".join(differ)
            + "); resume with the same data, model and settings, or delete the backup",
        )
    weights = load_safetensors((folder / MODEL).read_bytes())
    training = torch.load(io.BytesIO((folder / TRAINING).read_bytes()), weights_only=True)
    optimizer_state = torch.load(io.BytesIO((folder / OPTIMIZER).read_bytes()), weights_only=True)
    model.load_state_dict(weights)
    optimizer.load_state_dict(optimizer_state)
    for cb, cb_state in zip(callbacks, training["callbacks"]):
        cb.load_state_dict(cb_state)
    state.epoch, state.step = info["epoch"], info["step"]
    state.loss_sum, state.seen, state.finished = info["loss_sum"], info["seen"], info["finished"]
    state.batches = None
    if training["batches"] is not None:
        order = training["batches"]["order"]
        state.batches = list(order.split(training["batches"]["sizes"]))
    state.metrics = []
    for name, saved_metric in zip(model.metric_names, training["metrics"]):
        m = metrics_module.get(name, model.loss_name)
        for k, v in saved_metric.items():
            setattr(m, k, v)
        state.metrics.append(m)
    set_rng_state(training["rng"])
    return True


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
