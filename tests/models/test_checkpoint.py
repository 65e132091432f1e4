"""BackupAndRestore and rnnkit.models.checkpoint: an interrupted fit resumes exactly; backups
are replaced atomically; only rnnkit's own files are ever deleted."""

import json
import re

import numpy as np
import pytest
import torch

from rnnkit.layers import LSTM, Dense, Dropout, Embedding
from rnnkit.models import checkpoint
from rnnkit.models.callbacks import (
    BackupAndRestore,
    Callback,
    EarlyStopping,
    ReduceLROnPlateau,
)
from rnnkit.models.optimizers import Adam
from rnnkit.models.sequential import Sequential
from rnnkit.utils import get_rng_state, set_random_seed, set_rng_state


class Interrupted(Exception):
    pass


class Interrupt(Callback):
    """Raise after batch ``at[1]`` of epoch ``at[0]`` (a crash mid-epoch); count the batches."""

    def __init__(self, at=None):
        self.at, self.batches = at, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.at == (self.epoch, batch):
            raise Interrupted


def data(n=100, T=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 30, size=(n, T))
    x[: n // 2, : T // 2] = 0  # padding in front, so that bucketing has lengths to sort
    return x, (x == 7).any(axis=1).astype("float32")


def train(backup_dir, at=None, bucketing=False, save_freq=3, epochs=3, validation=True, **kw):
    """A fresh model, the same seed each time: (weights, history, batches trained, model)."""
    set_random_seed(0)
    x, y = data()
    model = Sequential([Embedding(30, 8), LSTM(8), Dropout(0.3), Dense(1, activation="sigmoid")])
    model.compile(Adam(learning_rate=0.01), "binary_crossentropy", ["accuracy"])
    stop = Interrupt(at)
    callbacks = [
        stop,
        EarlyStopping(monitor="val_loss" if validation else "loss", patience=5),
        ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0),
        BackupAndRestore(backup_dir, save_freq=save_freq, **kw),
    ]
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=epochs,
        validation_split=0.2 if validation else 0.0,
        callbacks=callbacks,
        bucketing=bucketing,
        verbose=0,
    )
    weights = [p.detach().clone() for p in model.parameters()]
    return weights, history, stop.batches, model


def same(a, b):
    return len(a) == len(b) and all(torch.equal(p, q) for p, q in zip(a, b))


# 1. A fit interrupted mid-epoch resumes where its last backup was made and ends with exactly
#    the weights, history and learning rate of an uninterrupted run (dropout, shuffling,
#    Adam's moments, ReduceLROnPlateau's cuts and EarlyStopping's counts included).
@pytest.mark.parametrize("bucketing", [False, True])
def test_interrupted_fit_resumes_exactly(tmp_path, bucketing):
    ref_weights, ref_history, ref_batches, ref_model = train(tmp_path / "ref", bucketing=bucketing)
    assert ref_batches == 15  # 3 epochs of 5 batches (80 training samples)
    assert not (tmp_path / "ref").exists()  # deleted at the end (delete_checkpoint)
    with pytest.raises(Interrupted):  # epoch 2 (0-based 1), after batch 4 of 5; backup at 3
        train(tmp_path / "run", at=(1, 3), bucketing=bucketing)
    pointer = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert (pointer["epoch"], pointer["step"]) == (1, 3)
    weights, history, batches, model = train(tmp_path / "run", bucketing=bucketing)
    assert batches == 15 - 8  # resumed after batch 3 of epoch 1: 2 + 5 batches left
    assert same(weights, ref_weights)
    assert history.history == ref_history.history and history.epoch == [0, 1, 2]
    lr = model.optimizer.param_groups[0]["lr"]
    assert lr == ref_model.optimizer.param_groups[0]["lr"] and lr == 0.01 * 0.5**2
    assert not (tmp_path / "run").exists()


# 2. An interruption right after an epoch's backup resumes at the next epoch.
def test_resume_at_an_epoch_boundary(tmp_path):
    ref_weights, ref_history, _, _ = train(tmp_path / "ref", save_freq="epoch", validation=False)
    with pytest.raises(Interrupted):
        train(tmp_path / "run", at=(2, 1), save_freq="epoch", validation=False)
    weights, history, batches, _ = train(tmp_path / "run", save_freq="epoch", validation=False)
    assert batches == 7 and same(weights, ref_weights)  # epoch 2 again, all 7 batches
    assert history.history == ref_history.history


# 3. A backup whose new pointer was never written (the process died after the new folder
#    was renamed into place) is ignored: the previous backup is used, the orphan removed.
def test_a_save_killed_before_the_pointer_leaves_the_previous_backup(tmp_path, monkeypatch):
    ref_weights, _, _, _ = train(tmp_path / "ref")
    calls = {"n": 0}
    real = checkpoint._write_pointer

    def dies_on_the_fifth(backup_dir, pointer):
        calls["n"] += 1
        if calls["n"] == 5:
            raise Interrupted
        real(backup_dir, pointer)

    monkeypatch.setattr(checkpoint, "_write_pointer", dies_on_the_fifth)
    with pytest.raises(Interrupted):
        train(tmp_path / "run")
    monkeypatch.setattr(checkpoint, "_write_pointer", real)
    run = tmp_path / "run"
    pointer = json.loads((run / "checkpoint.json").read_text())
    assert pointer["folder"] == "backup-000004"
    assert sorted(p.name for p in run.iterdir()) == [
        "backup-000004",
        "backup-000005",
        "checkpoint.json",
    ]
    weights, _, batches, _ = train(tmp_path / "run", delete_checkpoint=False)
    assert same(weights, ref_weights) and batches == 5
    assert sorted(p.name for p in run.iterdir()) == ["backup-000006", "checkpoint.json"]


# 4. A save that fails while writing its files leaves no temporary folder and the old backup.
def test_a_failed_write_leaves_the_old_backup(tmp_path, monkeypatch):
    backup = tmp_path / "b"
    checkpoint.write_folder(backup, {"a.bin": b"1"}, {})

    def broken(path, data):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "write_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.write_folder(backup, {"a.bin": b"2"}, {})
    assert sorted(p.name for p in backup.iterdir()) == ["backup-000001", "checkpoint.json"]
    assert (backup / "backup-000001" / "a.bin").read_bytes() == b"1"


# 5. Deleting touches only rnnkit's files; the folder goes only if rnnkit made it.
def test_delete_removes_only_what_rnnkit_wrote(tmp_path):
    mine = tmp_path / "made-by-rnnkit"
    checkpoint.write_folder(mine, {"a.bin": b"1"}, {})
    checkpoint.write_folder(mine, {"a.bin": b"2"}, {})
    checkpoint.delete_backup(mine)
    assert not mine.exists()
    theirs = tmp_path / "users"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep")
    (theirs / "backup-old").mkdir()  # not rnnkit's pattern
    checkpoint.write_folder(theirs, {"a.bin": b"1"}, {})
    checkpoint.delete_backup(theirs)
    assert sorted(p.name for p in theirs.iterdir()) == ["backup-old", "notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    checkpoint.write_folder(empty, {"a.bin": b"1"}, {})
    checkpoint.delete_backup(empty)
    assert empty.is_dir() and not any(empty.iterdir())  # the user's folder stays


# 6. A backup of a different fit is refused, saying what differs.
def test_a_backup_of_another_fit_is_refused(tmp_path):
    with pytest.raises(Interrupted):
        train(tmp_path / "run", at=(0, 3))
    set_random_seed(0)
    x, y = data()
    model = Sequential([Embedding(30, 8), LSTM(8), Dropout(0.3), Dense(1, activation="sigmoid")])
    model.compile(Adam(learning_rate=0.01), "binary_crossentropy", ["accuracy"])
    callbacks = [
        Interrupt(),
        EarlyStopping(monitor="val_loss", patience=5),
        ReduceLROnPlateau(monitor="loss"),
        BackupAndRestore(tmp_path / "run"),
    ]
    message = (
        f"BackupAndRestore: `backup_dir` {str(tmp_path / 'run')!r}: the backup was made by a "
        "different fit (batch_size: 16 then, 8 now); resume with the same data, model and "
        "settings, or delete the backup."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        model.fit(x, y, batch_size=8, validation_split=0.2, callbacks=callbacks, verbose=0)


# 7. Arguments.
def test_backup_and_restore_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError) as info:
        BackupAndRestore(tmp_path, save_freq=0)
    assert str(info.value) == (
        "BackupAndRestore: `save_freq` expected 'epoch' or a positive integer, received 0 (int)."
    )
    with pytest.raises(TypeError, match=r"^BackupAndRestore: `backup_dir` expected a folder path"):
        BackupAndRestore(None)
    (tmp_path / "checkpoint.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match=r"checkpoint.json is not an rnnkit backup pointer"):
        checkpoint.read_pointer(tmp_path)


# 8. The random generators come back exactly: the next draws are the same.
def test_rng_state_round_trip():
    import random

    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    state = get_rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(7), np.random.rand(2), random.random()
    set_rng_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and (first[1] == again[1]).all()
    assert first[2] == again[2]
