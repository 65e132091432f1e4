"""Losses, called Keras's way round: ``loss(y_true, y_pred)`` -> scalar mean over the batch.

What each one computes (Keras's formulas and reduction, ``"sum_over_batch_size"``):

* ``binary_crossentropy``: ``-(y log p + (1 - y) log(1 - p))`` averaged over every element,
  with ``p`` clipped to ``[eps, 1 - eps]`` (``eps = 1e-7``, rounded to ``y_pred``'s dtype), so a
  probability of exactly 0 or 1 costs at most ``-log(eps)`` and has a zero gradient, as Keras.
* ``categorical_crossentropy``: each row of ``y_pred`` divided by its sum, clipped as above,
  then ``-sum_c y_c log p_c`` over the last axis, averaged over the other axes.
* ``sparse_categorical_crossentropy``: the same with integer class ids ``y_true`` of shape
  ``y_pred.shape[:-1]`` (a trailing axis of 1, or a flat vector of as many ids, also accepted).
* ``mean_squared_error`` / ``mean_absolute_error``: mean over every element.

``y_true`` must have ``y_pred``'s shape, or as many values (``(N,)`` against ``(N, 1)``); any
other shape is an error rather than a silent broadcast.

The cross-entropies also take ``from_logits=True`` (no clipping: exact for any logit);
:class:`~rnnkit.models.Sequential` uses it when the last layer is a ``Dense`` with a sigmoid /
softmax, for exact, stable gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from .. import _validation as V

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _match(owner: str, y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``y_true`` in ``y_pred``'s dtype and shape; a different number of values is an error."""
    if y_true.numel() != y_pred.numel():
        V.fail(owner, "y_true", f"the shape of `y_pred` {tuple(y_pred.shape)}", y_true)
    return y_true.to(y_pred.dtype).reshape(y_pred.shape)


def binary_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    y_true = _match("binary_crossentropy", y_true, y_pred)
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true)
    p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
    return -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log()).mean()


def categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    y_true = _match("categorical_crossentropy", y_true, y_pred)
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
    if y_true.numel() * C != y_pred.numel():
        rows = tuple(y_pred.shape[:-1])
        V.fail("sparse_categorical_crossentropy", "y_true", f"class ids of shape {rows}", y_true)
    labels = y_true.reshape(-1).long()  # (N*T,)
    if from_logits:
        return F.cross_entropy(y_pred.reshape(-1, C), labels)
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    log_p = p.clamp(EPSILON, 1.0 - EPSILON).log().reshape(-1, C)  # (N*T, C)
    return F.nll_loss(log_p, labels)


def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return (y_pred - _match("mean_squared_error", y_true, y_pred)).pow(2).mean()


def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return (y_pred - _match("mean_absolute_error", y_true, y_pred)).abs().mean()


def per_sample(name: str, y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    """The loss of each sample (each time step of a sequence), before the batch reduction:
    shape ``y_pred.shape[:-1]`` (the last axis reduced, as Keras's loss functions do).

    ``per_sample(...).mean()`` is the loss ``LOSSES[name]`` returns; with sample weights ``w``
    Keras's ``"sum_over_batch_size"`` reduction is ``(w * per_sample(...)).sum() / numel``:
    divided by the number of values, not by the sum of the weights (see :func:`weighted`).
    """
    if name == "sparse_categorical_crossentropy":
        C = y_pred.shape[-1]
        if y_true.numel() * C != y_pred.numel():
            rows = tuple(y_pred.shape[:-1])
            V.fail(name, "y_true", f"class ids of shape {rows}", y_true)
        labels = y_true.reshape(-1).long()  # (N*T,)
        if from_logits:
            log_p = torch.log_softmax(y_pred.reshape(-1, C), dim=-1)  # (N*T, C)
        else:
            p = y_pred / y_pred.sum(dim=-1, keepdim=True)
            log_p = p.clamp(EPSILON, 1.0 - EPSILON).log().reshape(-1, C)  # (N*T, C)
        nll = F.nll_loss(log_p, labels, reduction="none")  # (N*T,)
        return nll.reshape(y_pred.shape[:-1])
    V.choice("per_sample", "name", name, LOSSES)
    y_true = _match(name, y_true, y_pred)
    if name == "binary_crossentropy":
        if from_logits:
            values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        else:
            p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
            values = -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log())
        return values.mean(dim=-1)
    if name == "categorical_crossentropy":
        if from_logits:
            log_p = torch.log_softmax(y_pred, dim=-1)
        else:
            p = y_pred / y_pred.sum(dim=-1, keepdim=True)
            log_p = p.clamp(EPSILON, 1.0 - EPSILON).log()
        return -(y_true * log_p).sum(dim=-1)
    if name in ("mse", "mean_squared_error"):
        return (y_pred - y_true).pow(2).mean(dim=-1)
    return (y_pred - y_true).abs().mean(dim=-1)  # mae


def weighted(values: Tensor, sample_weight: Tensor) -> Tensor:
    """Keras's ``"sum_over_batch_size"`` with weights: ``sum(w * loss_i) / numel(loss)``.

    ``values`` is :func:`per_sample`'s ``(N, ...)``; ``sample_weight`` is ``(N,)`` (one weight
    per sample, spread over its time steps) or of ``values``' shape.
    """
    w = sample_weight.to(values.dtype)
    if w.dim() < values.dim():
        w = w.reshape(w.shape + (1,) * (values.dim() - w.dim()))  # (N, 1, ...)
    return (values * w).sum() / max(values.numel(), 1)


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
