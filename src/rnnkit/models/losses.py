"""Losses, called Keras's way round: ``loss(y_true, y_pred)`` -> scalar mean over the batch.

The cross-entropies also take ``from_logits=True``; :class:`~rnnkit.models.Sequential` uses it
when the last layer is a ``Dense`` with a sigmoid / softmax, for exact, stable gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from .. import _validation as V

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _match(y_true: Tensor, y_pred: Tensor) -> Tensor:
    y_true = y_true.to(y_pred.dtype)
    if y_true.shape != y_pred.shape and y_true.numel() == y_pred.numel():
        y_true = y_true.reshape(y_pred.shape)
    return y_true


def binary_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    y_true = _match(y_true, y_pred)
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true)
    p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
    return -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log()).mean()


def categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    y_true = _match(y_true, y_pred)
    if from_logits:
        log_p = torch.log_softmax(y_pred, dim=-1)
    else:
        p = y_pred / y_pred.sum(dim=-1, keepdim=True)
        log_p = p.clamp(EPSILON, 1.0 - EPSILON).log()
    return -(y_true * log_p).sum(dim=-1).mean()


def sparse_categorical_crossentropy(
    y_true: Tensor, y_pred: Tensor, from_logits: bool = False
) -> Tensor:
    C = y_pred.shape[-1]
    labels = y_true.reshape(-1).long()  # (N*T,)
    if from_logits:
        return F.cross_entropy(y_pred.reshape(-1, C), labels)
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    log_p = p.clamp(EPSILON, 1.0 - EPSILON).log().reshape(-1, C)  # (N*T, C)
    return F.nll_loss(log_p, labels)


def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return (y_pred - _match(y_true, y_pred)).pow(2).mean()


def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return (y_pred - _match(y_true, y_pred)).abs().mean()


LOSSES: dict[str, Callable] = {
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
}

# The activation whose logits each cross-entropy can take directly.
LOGIT_ACTIVATION = {
    "binary_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
}


def get(loss) -> tuple[str, Callable]:
    """``(name, function)`` for a loss given by name or as a callable ``f(y_true, y_pred)``."""
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    if not isinstance(loss, str):
        V.fail("compile", "loss", "a loss name or a callable f(y_true, y_pred)", loss, TypeError)
    V.choice("compile", "loss", loss, LOSSES)
    return loss, LOSSES[loss]
