"""Metrics accumulated over an epoch; each reads probabilities (after the last activation)."""

from __future__ import annotations

from torch import Tensor

from .. import _validation as V


class Metric:
    """Running mean of a per-sample score: ``update`` per batch, ``result`` at the end."""

    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def scores(self, y_true: Tensor, y_pred: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, y_true: Tensor, y_pred: Tensor) -> None:
        s = self.scores(y_true, y_pred)
        self.total += float(s.sum())
        self.count += s.numel()

    def result(self) -> float:
        return self.total / max(self.count, 1)


def _flat(y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor]:
    return y_true.reshape(-1).to(y_pred.dtype), y_pred.reshape(-1)


class BinaryAccuracy(Metric):
    name = "accuracy"

    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__()

    def scores(self, y_true, y_pred):
        t, p = _flat(y_true, y_pred)
        return ((p > self.threshold).to(t.dtype) == t).float()


class CategoricalAccuracy(Metric):
    name = "accuracy"

    def scores(self, y_true, y_pred):
        return (y_pred.argmax(-1) == y_true.argmax(-1)).float()


class SparseCategoricalAccuracy(Metric):
    name = "accuracy"

    def scores(self, y_true, y_pred):
        return (y_pred.argmax(-1) == y_true.reshape(y_pred.shape[:-1]).long()).float()


class MeanAbsoluteError(Metric):
    name = "mae"

    def scores(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape).to(y_pred.dtype)).abs()


class MeanSquaredError(Metric):
    name = "mse"

    def scores(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape).to(y_pred.dtype)).pow(2)


class _Counts(Metric):
    """Binary precision / recall from true-positive counts (threshold 0.5)."""

    def reset(self) -> None:
        self.tp, self.denominator = 0, 0

    def update(self, y_true, y_pred):
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
}


def get(metric, loss_name: str) -> Metric:
    """A fresh metric for a name ('accuracy' picks the right kind for the loss, as Keras)."""
    if isinstance(metric, Metric):
        return metric
    if not isinstance(metric, str):
        V.fail("compile", "metrics", "metric names or Metric objects", metric, TypeError)
    if metric in ("accuracy", "acc"):
        cls = _ACCURACY_FOR_LOSS.get(loss_name, BinaryAccuracy)
        return cls()
    V.choice("compile", "metrics", metric, ["accuracy", *_BY_NAME])
    m = _BY_NAME[metric]()
    m.name = metric if metric not in ("mean_absolute_error", "mean_squared_error") else m.name
    return m
