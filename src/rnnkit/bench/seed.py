"""The seed model's measurements, one peer per process: rnnkit against ``nn.LSTM``.

The seed model: Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), binary
cross-entropy, Adam(lr 1e-3), batch 64, sequences of T token ids. Each child process
(:func:`child_main`, started as ``python -m rnnkit.bench.seed '<json spec>'``) builds one
peer, trains it for one warm-up epoch of ``steps`` batches (excluded: first-call costs,
autotuning) and ``chunks`` timed epochs, then times inference on a batch of 64 and of 1 in
chunks of at least ``infer_seconds``; it prints its result as one ``RESULT {json}`` line
(:mod:`rnnkit.bench._proc`).

Peers (the ``kind`` of a spec):

* ``rnnkit``: rnnkit's ``Sequential`` through ``model.fit`` / ``model.predict`` (what a user
  runs), its tuned runtime on (the default), ``LSTM(impl=spec['impl'])`` (default 'auto'),
  ``precision=spec['precision']`` (``rnnkit bench --precision bf16``; default float32).
* ``torch``: the seed model as a PyTorch user writes it: nn.Embedding + nn.LSTM + nn.Linear,
  BCEWithLogitsLoss, torch.optim.Adam; ``tuned`` adds what an expert does: ``Adam(fused=True)``,
  ``inference_mode`` for inference, and glibc's allocator variables in the environment the
  parent gives the process (:data:`rnnkit.bench._proc.TUNED_MALLOC_ENV`).

Token ids (:func:`write_tokens`, one ``.npz`` per length that every peer reads):

* ``imdb``: the first IMDb training reviews (``imdb.load_data(num_words=10000)``, Keras's
  order) found by :func:`rnnkit.datasets.imdb.load_data`'s locating chain (``data_dir``,
  else ``../shared/data`` when it holds ``imdb/``, ``$RNNKIT_DATA_DIR``, rnnkit's cache;
  never a download), padded or cut to T in front as the seed does, with their labels; where
  none is found, ``synthetic`` with a note saying why;
* ``synthetic``: a stand-in of IMDb's shape where the data is not found: review lengths drawn
  from a log-normal distribution with IMDb's median (178 tokens) and mean (239), words from
  a Zipf law (rank r with probability ~ 1/r, as word frequencies), ids as Keras numbers them
  (1 starts a review, rank r is id r + 3, ids past the vocabulary are 2), padded in front;
  labels 0/1 alternately;
* ``uniform``: every id uniform in 1..9999, no padding: the adversarial case of rnnkit's
  per-distinct-token lookup (about 7,200 distinct ids in a batch of 64 at T=200, against
  about 2,200 in real reviews).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from . import _proc as P

VOCAB, EMBED, UNITS, BATCH, LR = 10000, 128, 128, 64, 1e-3
TOKENS = ("imdb", "synthetic", "uniform")
IMDB_MEDIAN_LENGTH, IMDB_MEAN_LENGTH = 178, 239
INFER_WARMUP = {"infer64": 8, "infer1": 64}
"""Untimed inference calls before the timed ones, every peer alike: enough for rnnkit's
predict to reach its steady state (its vocabulary table is made once the calls have computed
as many rows as the vocabulary has, about 5 batches of 64 or 50 of 1 at T=200; its
autotuner decides on the first calls)."""


# -- token ids --------------------------------------------------------------------------------
def synthetic_reviews(n: int, seed: int = 1) -> list[list[int]]:
    """``n`` token-id sequences shaped like IMDb's (see the module's docstring)."""
    import numpy as np

    rng = np.random.RandomState(seed)
    sigma = (2 * np.log(IMDB_MEAN_LENGTH / IMDB_MEDIAN_LENGTH)) ** 0.5
    lengths = np.clip(rng.lognormal(np.log(IMDB_MEDIAN_LENGTH), sigma, size=n), 10, 2500)
    ranks = np.arange(1, 100_001)
    p = 1.0 / ranks
    p /= p.sum()
    lengths = lengths.astype(int)
    ids = rng.choice(ranks, size=int((lengths - 1).sum()), p=p) + 3  # every review's words
    ids[ids >= VOCAB] = 2
    ends = np.cumsum(lengths - 1)
    return [[1, *part.tolist()] for part in np.split(ids, ends[:-1])]


def default_data_dir() -> str | None:
    """``../shared/data`` (beside the working folder, or beside this checkout) when it holds
    ``imdb/`` and ``$RNNKIT_DATA_DIR`` is not set; else None (rnnkit's locating chain)."""
    if os.environ.get("RNNKIT_DATA_DIR"):
        return None
    for root in (Path.cwd().parent, P.SRC_DIR.parent.parent):
        folder = root / "shared" / "data"
        if (folder / "imdb").is_dir():
            return str(folder)
    return None


def imdb_reviews(n: int, data_dir: str | None) -> tuple[list, list, str]:
    """The first ``n`` IMDb training reviews, their labels and where they came from, found by
    :func:`rnnkit.datasets.imdb.load_data` in ``data_dir`` or its locating chain, never
    downloaded (the sample bundled with rnnkit is refused: too few reviews to stand for
    IMDb). Raises OSError / ValueError where none is found."""
    import warnings

    from ..datasets import imdb

    old = os.environ.get("RNNKIT_OFFLINE")
    os.environ["RNNKIT_OFFLINE"] = "1"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", imdb.SampleDataWarning)
            (x, y), _ = imdb.load_data(num_words=VOCAB, data_dir=data_dir, allow_sample=False)
    finally:
        if old is None:
            os.environ.pop("RNNKIT_OFFLINE", None)
        else:
            os.environ["RNNKIT_OFFLINE"] = old
    where = data_dir or os.environ.get("RNNKIT_DATA_DIR") or "rnnkit's dataset cache"
    return list(x[:n]), [int(v) for v in y[:n]], f"IMDb training reviews ({where})"


def write_tokens(
    tokens: str, n: int, seq_lens, folder: Path, data_dir: str | None = None
) -> tuple[dict[int, Path], str]:
    """Write the ``n`` rows of ids and labels of each length T to ``folder`` (an .npz per T
    that all peers read). Returns the paths by T and what the ids are, in words (``imdb``
    falls back to ``synthetic`` with a note when no local copy is found)."""
    import numpy as np

    from ..text import pad_sequences

    source = None
    if tokens == "imdb":
        try:
            reviews, labels, source = imdb_reviews(n, data_dir or default_data_dir())
        except (OSError, ValueError) as e:
            tokens = "synthetic"
            why = str(e).splitlines()[0][:160]
            source = f"synthetic: IMDb not found locally ({why}); see --data-dir"
    if tokens == "synthetic":
        reviews, labels = synthetic_reviews(n), [k % 2 for k in range(n)]
        source = source or "synthetic (IMDb-shaped lengths, Zipf-distributed words)"
    paths = {}
    for T in seq_lens:
        if tokens == "uniform":
            rng = np.random.RandomState(1)
            x = rng.randint(1, VOCAB, size=(n, T)).astype(np.int64)
            y = rng.randint(0, 2, size=(n,)).astype(np.float32)
            source = "uniform random ids in 1..9999"
        else:
            x = np.asarray(pad_sequences(reviews, maxlen=T), dtype=np.int64)
            y = np.asarray(labels, dtype=np.float32)
        paths[T] = Path(folder) / f"tokens_T{T}.npz"
        np.savez(paths[T], x=x, y=y)
    return paths, source


def _tokens(torch, spec: dict):
    import numpy as np

    data = np.load(spec["tokens"])
    return torch.from_numpy(data["x"]).long(), torch.from_numpy(data["y"]).float()


# -- children ---------------------------------------------------------------------------------
def _torch_setup(threads: int):
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set
        pass
    return torch


def _versions(torch) -> dict:
    return {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
    }


def _epoch_timer(base):
    """A fit callback recording each epoch's wall time (``base``: the framework's Callback)."""

    class EpochTimer(base):
        def __init__(self):
            super().__init__()
            self.times, self._start = [], None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer()


def child_rnnkit(spec: dict) -> dict:
    torch = _torch_setup(spec["threads"])
    from .. import runtime
    from ..kernels import dispatch
    from ..layers import LSTM, Dense, Embedding
    from ..models import Callback, Sequential
    from ..models.optimizers import Adam
    from ..utils import set_random_seed

    set_random_seed(0)
    steps, chunks = spec["steps"], spec["chunks"]
    model = Sequential()
    model.add(Embedding(input_dim=VOCAB, output_dim=EMBED))
    model.add(LSTM(units=UNITS, impl=spec.get("impl", "auto"), precision=spec.get("precision")))
    model.add(Dense(units=1, activation="sigmoid"))
    model.compile(
        optimizer=Adam(learning_rate=LR), loss="binary_crossentropy", metrics=["accuracy"]
    )
    x, y = _tokens(torch, spec)
    timer = _epoch_timer(Callback)
    model.fit(x, y, batch_size=BATCH, epochs=1 + chunks, verbose=0, callbacks=[timer])
    epochs = [t / steps for t in timer.times[1:]]
    out = {
        "train_s": P.median(epochs),
        "train_chunks_s": epochs,
        "steps": steps,
        "train_rss_mib": P.max_rss_mib(),
    }
    for mode, n in (("infer64", BATCH), ("infer1", 1)):
        xb = x[:n].clone()
        r = P.time_calls(
            lambda xb=xb, n=n: model.predict(xb, batch_size=n),
            spec["chunks"] + 1,
            spec["infer_seconds"],
            warmup=INFER_WARMUP[mode],
        )
        out[f"{mode}_s"], out[f"{mode}_chunks_s"] = r["s"], r["chunks_s"]
    out["runtime"] = {
        "malloc_tuned": runtime.tune_allocator(),  # True once fit tuned it
        "fused_adam": bool(model.optimizer.defaults.get("fused")),
        "lstm_impl": spec.get("impl", "auto"),
        "lstm_precision": spec.get("precision") or "float32",
    }
    out["autotune"] = dispatch.autotune_report()
    out["versions"] = _versions(torch)
    return out


def child_torch(spec: dict) -> dict:
    """The seed model as a PyTorch user writes it; ``tuned``: fused Adam, inference_mode (the
    allocator variables come from the environment the parent gave this process)."""
    torch = _torch_setup(spec["threads"])
    from torch import nn

    class Seed(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
            self.fc = nn.Linear(UNITS, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(self.embedding(x))
            return self.fc(h[-1]).squeeze(-1)  # logits

    tuned = spec["tuned"]
    torch.manual_seed(0)
    steps, chunks = spec["steps"], spec["chunks"]
    model = Seed()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=True if tuned else None)
    criterion = nn.BCEWithLogitsLoss()
    x, y = _tokens(torch, spec)

    def epoch():
        model.train()
        order = torch.randperm(len(x))
        for step in range(steps):
            idx = order[step * BATCH : (step + 1) * BATCH]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()

    times = []
    for _ in range(1 + chunks):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    epochs = [t / steps for t in times[1:]]
    out = {
        "train_s": P.median(epochs),
        "train_chunks_s": epochs,
        "steps": steps,
        "train_rss_mib": P.max_rss_mib(),
    }
    model.eval()
    grad_off = torch.inference_mode if tuned else torch.no_grad
    for mode, n in (("infer64", BATCH), ("infer1", 1)):
        xb = x[:n].clone()

        def forward(xb=xb):
            with grad_off():
                return torch.sigmoid(model(xb))

        r = P.time_calls(
            forward, spec["chunks"] + 1, spec["infer_seconds"], warmup=INFER_WARMUP[mode]
        )
        out[f"{mode}_s"], out[f"{mode}_chunks_s"] = r["s"], r["chunks_s"]
    out["runtime"] = {
        "fused_adam": bool(optimizer.defaults.get("fused")),
        "malloc_env": {k: os.environ.get(k) for k in P.TUNED_MALLOC_ENV},
    }
    out["versions"] = _versions(torch)
    return out


def child_main(spec: dict) -> None:
    """Run the measurement ``spec`` asks for and print its result (the child's last act)."""
    kind = spec["kind"]
    if kind == "rnnkit":
        result = child_rnnkit(spec)
    elif kind == "torch":
        result = child_torch(spec)
    else:
        raise ValueError(f"unknown child kind {kind!r}")
    P.emit_result(result)


def child_argv(spec: dict) -> list[str]:
    """The command line of a child process measuring ``spec``."""
    return [sys.executable, "-m", "rnnkit.bench.seed", json.dumps(spec)]


if __name__ == "__main__":
    child_main(json.loads(sys.argv[1]))
