"""``fit(..., distributed=True)``: two processes on loopback (gloo, one thread each) end with
the weights and the history of one process trained on the same global batches, to 1e-6.
Oracle: the single-process fit."""

from __future__ import annotations

import datetime
import re
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rnnkit.layers import LSTM, Dense, Input
from rnnkit.models import Sequential
from rnnkit.models.callbacks import BackupAndRestore, Callback, CSVLogger

WORLD = 2


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(22, 6, 3)).astype(np.float32)  # 22 = 8 + 8 + 6: a short last batch
    y = (x[:, :, 0].sum(1, keepdims=True) > 0).astype(np.float32)
    return x, y


def build(seed: int) -> Sequential:
    torch.manual_seed(seed)
    model = Sequential([Input((None, 3)), LSTM(5), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train(model, folder, rank: int | None):
    x, y = data()
    logger = CSVLogger(str(folder / f"log{0 if rank is None else rank}.csv"))
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        shuffle=True,
        verbose=0,
        callbacks=[logger],
        distributed=rank is not None,
    )
    return history.history


def worker(rank: int, port: int, folder):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        torch.manual_seed(0)
        model = build(seed=rank)  # rank 1 starts from other weights: fit broadcasts rank 0's
        torch.manual_seed(0 if rank == 0 else 123)  # and shuffles as rank 0
        history = train(model, folder, rank)
        torch.save({"state": model.state_dict(), "history": history}, folder / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_1_two_processes_equal_one(tmp_path):
    mp.spawn(worker, args=(free_port(), tmp_path), nprocs=WORLD, join=True)
    torch.manual_seed(0)
    model = build(seed=0)
    one = tmp_path / "one"
    one.mkdir()
    torch.manual_seed(0)
    history = train(model, one, None)
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for name, value in model.state_dict().items():
            torch.testing.assert_close(got["state"][name], value, rtol=0, atol=1e-6, msg=name)
        for key in ("loss", "accuracy"):
            np.testing.assert_allclose(got["history"][key], history[key], rtol=0, atol=1e-6)
    # only rank 0 writes: its log is the single process's, rank 1 wrote none
    assert (tmp_path / "log0.csv").read_text().splitlines()[0] == (
        one / "log0.csv"
    ).read_text().splitlines()[0]
    assert not (tmp_path / "log1.csv").exists()


def test_2_without_a_process_group():
    model = build(seed=0)
    x, y = data()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "fit: `distributed` expected a torch.distributed process group (launch with "
            "torchrun, or call torch.distributed.init_process_group first), received none."
        ),
    ):
        model.fit(x, y, distributed=True, verbose=0)


class Interrupt(Exception):
    pass


class StopAt(Callback):
    """Raises :class:`Interrupt` after the ``at``-th training step of the fit (a crash)."""

    def __init__(self, at: int | None):
        self.at, self.done = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.at:
            raise Interrupt


def resumed_worker(rank: int, port: int, folder):
    """Train 3 epochs of 3 steps, interrupted after step 5 (mid-epoch 2, a backup after
    every step), then resumed by a fresh model from the backup rank 0 wrote."""
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),  # a rank that does not resume fails, not hangs
    )
    try:
        x, y = data()
        backup = folder / "backup"
        model = build(seed=rank)  # fit broadcasts rank 0's weights
        torch.manual_seed(0 if rank == 0 else 123)  # and generator
        with pytest.raises(Interrupt):
            model.fit(
                x, y, batch_size=8, epochs=3, verbose=0, distributed=True,
                callbacks=[BackupAndRestore(backup, save_freq=1), StopAt(5)],
            )  # fmt: skip
        assert any(backup.iterdir())  # rank 0's backup after step 5
        dist.barrier()
        model = build(seed=10 + rank)  # other weights, other generator: the backup decides
        torch.manual_seed(99 + rank)
        history = model.fit(
            x, y, batch_size=8, epochs=3, verbose=0, distributed=True,
            callbacks=[BackupAndRestore(backup, save_freq=1), StopAt(None)],
        )  # fmt: skip
        torch.save(
            {"state": model.state_dict(), "history": history.history}, folder / f"res{rank}.pt"
        )
    finally:
        dist.destroy_process_group()


def test_3_resume_under_ddp_equals_one_uninterrupted_process(tmp_path):
    """Fails before the fix: rank 1 dropped BackupAndRestore (a writer), so it started again
    from epoch 0 while rank 0 resumed; their collectives no longer matched."""
    mp.spawn(resumed_worker, args=(free_port(), tmp_path), nprocs=WORLD, join=True)
    torch.manual_seed(0)
    model = build(seed=0)
    torch.manual_seed(0)
    x, y = data()
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0).history
    assert not (tmp_path / "backup").exists()  # deleted by rank 0 at the end
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"res{rank}.pt")
        for name, value in model.state_dict().items():
            torch.testing.assert_close(got["state"][name], value, rtol=0, atol=1e-6, msg=name)
        for key in ("loss", "accuracy"):
            np.testing.assert_allclose(got["history"][key], history[key], rtol=0, atol=1e-6)
