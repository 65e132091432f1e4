"""Metrics accumulated over an epoch; each reads probabilities (after the last activation).

Each is Keras's metric of the same name, streamed the same way: ``update`` once per batch,
``result`` over everything seen since ``reset`` (so several batches give the value of one pass):

* ``BinaryAccuracy``: ``y_true == (y_pred > threshold)`` (strictly greater, threshold 0.5),
  averaged over every element.
* ``CategoricalAccuracy`` / ``SparseCategoricalAccuracy``: ``argmax`` of ``y_pred`` (the first
  of tied maxima) against the one-hot ``argmax`` / the class id, averaged over rows.
* ``Precision`` / ``Recall``: ``tp / (tp + fp)`` / ``tp / (tp + fn)`` with a prediction positive
  when ``y_pred > 0.5`` and a label positive when ``y_true > 0.5``; 0.0 when the denominator is
  0 (no positive prediction / no positive label), as Keras's ``divide_no_nan``.
* ``MeanAbsoluteError`` / ``MeanSquaredError``: mean over every element.

In ``History`` a metric is logged under the name it was given to ``compile`` ('acc' as 'acc',
'mean_absolute_error' as 'mean_absolute_error'), as Keras; a ``Metric`` object under its
``name``, Keras's default unless given (``SparseCategoricalAccuracy()`` as
'sparse_categorical_accuracy', ``MeanAbsoluteError()`` as 'mean_absolute_error').

Masked steps (a ``mask`` passed to ``update``, the model's output mask) are left out, as
Keras's mean metrics: the result is the mean over the kept steps of every batch seen.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from .. import _validation as V


class Metric:
    """Running mean of a per-sample score: ``update`` per batch, ``result`` at the end."""

    name = "metric"

    def __init__(self, name: str | None = None):
        if name is not None:
            self.name = name
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def scores(self, y_true: Tensor, y_pred: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, y_true: Tensor, y_pred: Tensor, mask: Tensor | None = None) -> None:
        s = self.scores(y_true, y_pred)
        if mask is not None and s.numel() % max(mask.numel(), 1) == 0 and mask.numel():
            s = s.reshape(*mask.shape, -1).mean(dim=-1)  # one score per step, as the mask
            kept = mask.to(s.dtype)
            self.total += float((s * kept).sum(dtype=torch.float64))
            self.count += float(kept.sum(dtype=torch.float64))
            return
        self.total += float(s.sum(dtype=torch.float64))  # batches add up to one pass
        self.count += s.numel()

    def result(self) -> float:
        return self.total / max(self.count, 1)


def _flat(y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor]:
    return y_true.reshape(-1).to(y_pred.dtype), y_pred.reshape(-1)


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = threshold
        super().__init__(name)

    def scores(self, y_true, y_pred):
        t, p = _flat(y_true, y_pred)
        return ((p > self.threshold).to(t.dtype) == t).float()


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def scores(self, y_true, y_pred):
        return (y_pred.argmax(-1) == y_true.argmax(-1)).float()


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def scores(self, y_true, y_pred):
        return (y_pred.argmax(-1) == y_true.reshape(y_pred.shape[:-1]).long()).float()


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def scores(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape).to(y_pred.dtype)).abs()


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def scores(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape).to(y_pred.dtype)).pow(2)


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt`` of the mean squared error over everything seen."""

    name = "root_mean_squared_error"

    def result(self) -> float:
        return super().result() ** 0.5


class _Counts(Metric):
    """Binary precision / recall from true-positive counts (threshold 0.5)."""

    def reset(self) -> None:
        self.tp, self.denominator = 0, 0

    def update(self, y_true, y_pred, mask=None):  # Keras's counts take no mask either
        t, p = _flat(y_true, y_pred)
        pred = p > 0.5
        self.tp += int((pred & (t > 0.5)).sum())
        self.denominator += int(self._denominator(t > 0.5, pred).sum())

    def result(self) -> float:
        return self.tp / self.denominator if self.denominator else 0.0


class Precision(_Counts):
    name = "precision"

    def _denominator(self, truth, pred):
        return pred


class Recall(_Counts):
    name = "recall"

    def _denominator(self, truth, pred):
        return truth


_ACCURACY_FOR_LOSS = {
    "binary_crossentropy": BinaryAccuracy,
    "categorical_crossentropy": CategoricalAccuracy,
    "sparse_categorical_crossentropy": SparseCategoricalAccuracy,
}

_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "precision": Precision,
    "recall": Recall,
    "root_mean_squared_error": RootMeanSquaredError,
}


def get(metric, loss_name: str) -> Metric:
    """A fresh metric, named as given, for a name or a ``Metric`` ('accuracy' / 'acc' pick the
    kind of accuracy that suits the loss, binary by default).

    A ``Metric`` object is copied and reset, so each epoch and each evaluation starts from zero
    and validation never adds to the training figures.
    """
    if isinstance(metric, Metric):
        fresh = copy.deepcopy(metric)
        fresh.reset()
        return fresh
    if not isinstance(metric, str):
        V.fail("compile", "metrics", "metric names or Metric objects", metric, TypeError)
    V.choice("compile", "metrics", metric, ["accuracy", "acc", *_BY_NAME])
    if metric in ("accuracy", "acc"):
        kind = getattr(loss_name, "fn_name", loss_name)  # a loss object's function
        m = _ACCURACY_FOR_LOSS.get(kind, BinaryAccuracy)()
    else:
        m = _BY_NAME[metric]()
    m.name = metric
    return m
