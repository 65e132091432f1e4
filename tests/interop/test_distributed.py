"""``fit(..., distributed=True)``: two processes on loopback (gloo, one thread each) end with
the weights and the history of one process trained on the same global batches, to 1e-6.
Oracle: the single-process fit."""

from __future__ import annotations

import re
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rnnkit.layers import LSTM, Dense, Input
from rnnkit.models import Sequential
from rnnkit.models.callbacks import CSVLogger

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
