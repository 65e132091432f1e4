"""Long-dependency tasks: data where the answer depends on something far back in the sequence.

* :func:`adding_problem` (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015): two
  input channels, a random number in [0, 1) and a marker; exactly two steps are marked, one in
  each half; the target is the sum of the two marked numbers. Answering 1 always (the mean)
  gives MSE = Var(U + U') = 1/6 = 0.167, the baseline to beat.
* :func:`recall`: remember the first token (one of ``keys`` symbols), read ``length - 2``
  distractor tokens from another alphabet, and name the first token when the last step (a
  query symbol) asks for it: "Paris ... fluent ___". Token ids, for an Embedding; chance is
  ``1 / keys``.
* :func:`imdb_distance`: an IMDb review's first ``review_len`` words followed by ``distance``
  neutral filler tokens (one reserved id): the sentiment is ``distance`` steps back from the
  answer.

Every generator takes a ``torch.Generator`` (or a seed), so a run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .. import _validation as V


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def adding_problem(
    n: int, length: int, seed: int | torch.Generator | None = 0
) -> tuple[Tensor, Tensor]:
    """``n`` sequences of the adding problem of ``length`` steps.

    Returns ``x`` (n, length, 2) float32: channel 0 the numbers, uniform in [0, 1); channel 1
    the markers, 1.0 at one step of ``[0, length // 2)`` and one of ``[length // 2, length)``,
    else 0; and ``y`` (n, 1): the sum of the two marked numbers.
    """
    V.positive_int("adding_problem", "n", n)
    if not isinstance(length, int) or length < 2:
        V.fail("adding_problem", "length", "an integer >= 2", length)
    g = _generator(seed)
    half = length // 2
    values = torch.rand(n, length, generator=g)  # (n, T)
    first = torch.randint(0, half, (n,), generator=g)  # a step in the first half
    second = torch.randint(half, length, (n,), generator=g)  # a step in the second half
    marks = torch.zeros(n, length)
    rows = torch.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = torch.stack((values, marks), dim=2)  # (n, T, 2)
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)  # (n, 1)
    return x, y


@dataclass(frozen=True)
class RecallAlphabet:
    """The recall task's one-hot layout: ``keys`` symbols to remember (ids ``[0, keys)``),
    ``distractors`` noise symbols (ids ``[keys, keys + distractors)``) and the query (the last
    id)."""

    keys: int = 8
    distractors: int = 8

    @property
    def size(self) -> int:
        return self.keys + self.distractors + 1

    @property
    def query(self) -> int:
        return self.size - 1


def recall(
    n: int,
    length: int,
    seed: int | torch.Generator | None = 0,
    alphabet: RecallAlphabet = RecallAlphabet(),
) -> tuple[Tensor, Tensor]:
    """``n`` sequences of the recall task of ``length`` steps, as token ids (for an Embedding).

    Returns ``x`` (n, length) int64: step 0 a key (``[0, keys)``), steps ``1 .. length-2``
    distractors, the last step the query; and ``y`` (n,) int64: the key (the class to name).
    """
    V.positive_int("recall", "n", n)
    if not isinstance(length, int) or length < 2:
        V.fail("recall", "length", "an integer >= 2", length)
    g = _generator(seed)
    keys = torch.randint(0, alphabet.keys, (n,), generator=g)  # (n,)
    low, high = alphabet.keys, alphabet.keys + alphabet.distractors
    x = torch.randint(low, high, (n, length), generator=g)  # (n, T): distractors
    x[:, 0] = keys
    x[:, -1] = alphabet.query
    return x, keys


def with_filler(ids: list[int], review_len: int, distance: int, filler: int) -> list[int]:
    """One imdb-distance sequence: the first ``review_len`` ids of a review (left-padded with 0
    when shorter), then ``distance`` filler ids."""
    head = list(ids[:review_len])
    return [0] * (review_len - len(head)) + head + [filler] * distance


def imdb_distance(
    distance: int,
    *,
    review_len: int = 50,
    num_words: int = 5000,
    n_train: int | None = None,
    n_test: int | None = None,
    data_dir=None,
    seed: int = 0,
    allow_sample: bool = True,
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor], int]:
    """IMDb reviews, each cut to its first ``review_len`` words and followed by ``distance``
    neutral filler tokens (id ``num_words``, a token no review uses), through
    :func:`rnnkit.datasets.imdb.load_data` (``data_dir``, ``$RNNKIT_DATA_DIR``, the cache, a
    download, or the bundled sample where ``allow_sample``).

    Returns ``(x_train, y_train), (x_test, y_test), vocabulary``: ids int64 (n, review_len +
    distance), labels float32 (n, 1), and the size of the id space (``num_words + 1``) for an
    Embedding. ``n_train`` / ``n_test`` keep the first reviews of each split (shuffled by
    ``seed``).
    """
    from ..datasets import imdb

    if not isinstance(distance, int) or distance < 0:
        V.fail("imdb_distance", "distance", "a non-negative integer", distance)
    (xa, ya), (xb, yb) = imdb.load_data(
        num_words=num_words, seed=113 + seed, data_dir=data_dir, allow_sample=allow_sample
    )
    filler = num_words

    def build(xs, ys, keep):
        keep = len(xs) if keep is None else min(keep, len(xs))
        rows = [with_filler(list(r), review_len, distance, filler) for r in xs[:keep]]
        x = torch.tensor(rows, dtype=torch.int64).view(keep, review_len + distance)
        y = torch.as_tensor(ys[:keep], dtype=torch.float32).view(keep, 1)
        return x, y

    return build(xa, ya, n_train), build(xb, yb, n_test), num_words + 1
