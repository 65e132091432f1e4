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

Loss objects, as ``keras.losses`` (:class:`Loss`): :class:`MeanSquaredError`,
:class:`MeanAbsoluteError`, :class:`Huber`, :class:`BinaryCrossentropy`,
:class:`CategoricalCrossentropy`, :class:`SparseCategoricalCrossentropy` (``from_logits``,
``ignore_class``). ``loss(y_true, y_pred, sample_weight=None)`` is Keras's
``"sum_over_batch_size"`` reduction of the per-sample values (:meth:`Loss.call`), with the mask
of ``y_pred`` (its ``_keras_mask``, set by a model whose output keeps a mask, e.g. after
``Embedding(mask_zero=True)`` and ``return_sequences=True``) leaving masked steps out:
``sum(loss_i * w_i * mask_i) / count(mask)`` (:func:`reduce`).
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


def reduce(values: Tensor, sample_weight: Tensor | None = None, mask: Tensor | None = None):
    """Keras's ``"sum_over_batch_size"`` of per-sample ``values`` (N, ...), weighted and masked.

    Without a mask: ``sum(w_i * loss_i) / numel`` (:func:`weighted`). With a boolean ``mask`` of
    ``values``' shape (True where the step counts), the masked values weigh
    ``numel / count(mask)`` and the others 0, as Keras's ``apply_mask``; the result is
    ``sum(w_i * loss_i over the kept steps) / count(mask)`` (0 when nothing is kept).
    """
    if values.dim() == 0:
        return values
    if mask is not None and tuple(mask.shape) == tuple(values.shape):
        valid = mask.to(values.dtype)
        kept = valid.sum()
        scale = torch.where(kept > 0, values.numel() / kept.clamp(min=1), 0.0)
        w = valid * scale
        if sample_weight is not None:
            sw = sample_weight.to(values.dtype)
            w = w * sw.reshape(sw.shape + (1,) * (values.dim() - sw.dim()))
        return (values * w).sum() / values.numel()
    if sample_weight is not None:
        return weighted(values, sample_weight)
    return values.mean()


def _mask_of(y_pred) -> Tensor | None:
    return getattr(y_pred, "_keras_mask", None)


class Loss:
    """A loss object, as ``keras.losses.Loss``: ``loss(y_true, y_pred, sample_weight=None)``.

    Subclasses define :meth:`call`, the per-sample values (the last axis reduced, shape
    ``y_pred.shape[:-1]``); ``__call__`` reduces them as Keras (:func:`reduce`), leaving out the
    steps masked in ``y_pred``'s ``_keras_mask``. ``name`` is Keras's default (the snake-case
    class name); ``fn_name`` is the loss function it computes (a key of :data:`LOSSES`).
    """

    fn_name = ""
    from_logits = False

    def __init__(self, name: str | None = None, reduction: str = "sum_over_batch_size"):
        V.choice(type(self).__name__, "reduction", reduction, ("sum_over_batch_size",))
        self.name = name or self.fn_name
        self.reduction = reduction

    def call(self, y_true: Tensor, y_pred: Tensor, from_logits: bool | None = None) -> Tensor:
        raise NotImplementedError  # pragma: no cover - abstract

    def values(self, y_true, y_pred, from_logits: bool | None = None) -> tuple[Tensor, Tensor]:
        """``(per-sample values, mask)``: the mask of what counts (None: everything)."""
        return self.call(y_true, y_pred, from_logits), None

    def __call__(self, y_true, y_pred, sample_weight=None, from_logits: bool | None = None):
        y_true = torch.as_tensor(y_true)
        y_pred = torch.as_tensor(y_pred)
        values, own = self.values(y_true, y_pred, from_logits)
        mask = _mask_of(y_pred)
        if own is not None:
            mask = own if mask is None else (own & mask.reshape(own.shape).bool())
        if sample_weight is not None:
            sample_weight = torch.as_tensor(sample_weight, dtype=values.dtype)
        return reduce(values, sample_weight, mask)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true) ** 2, axis=-1)`` per sample."""

    fn_name = "mean_squared_error"

    def call(self, y_true, y_pred, from_logits=None):
        return per_sample("mse", y_true, y_pred)


class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|, axis=-1)`` per sample."""

    fn_name = "mean_absolute_error"

    def call(self, y_true, y_pred, from_logits=None):
        return per_sample("mae", y_true, y_pred)


class Huber(Loss):
    """Keras's Huber loss: with ``e = y_pred - y_true``, ``0.5 e**2`` where ``|e| <= delta``,
    ``delta |e| - 0.5 delta**2`` elsewhere, averaged over the last axis."""

    fn_name = "huber_loss"

    def __init__(self, delta: float = 1.0, name: str | None = None, **kwargs):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta <= 0:
            V.fail("Huber", "delta", "a positive number", delta)
        super().__init__(name=name, **kwargs)
        self.delta = float(delta)

    def call(self, y_true, y_pred, from_logits=None):
        error = y_pred - _match("huber", y_true, y_pred)
        small = error.abs() <= self.delta
        quadratic = 0.5 * error.pow(2)
        linear = self.delta * error.abs() - 0.5 * self.delta**2
        return torch.where(small, quadratic, linear).mean(dim=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "delta": self.delta}


class _CrossEntropy(Loss):
    def __init__(self, from_logits: bool = False, name: str | None = None, **kwargs):
        V.boolean(type(self).__name__, "from_logits", from_logits)
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits

    def call(self, y_true, y_pred, from_logits=None):
        logits = self.from_logits if from_logits is None else from_logits
        return per_sample(self.fn_name, y_true, y_pred, from_logits=logits)

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits}


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy per sample (mean over the last axis); ``from_logits`` for logits."""

    fn_name = "binary_crossentropy"


class CategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy of one-hot (or soft) rows; ``from_logits`` for logits."""

    fn_name = "categorical_crossentropy"


class SparseCategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy of integer class ids ``y_true`` (shape ``y_pred.shape[:-1]``, e.g.
    ``(N, T)`` against ``(N, T, V)``); ``from_logits`` for logits.

    ``ignore_class``: the ids equal to it are left out of the loss, as Keras: their values are
    0 and they are masked, so the loss is the mean over the other ids.
    """

    fn_name = "sparse_categorical_crossentropy"

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        name: str | None = None,
        **kwargs,
    ):
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, int)
        ):
            V.fail(type(self).__name__, "ignore_class", "None or an integer", ignore_class)
        super().__init__(from_logits=from_logits, name=name, **kwargs)
        self.ignore_class = ignore_class

    def values(self, y_true, y_pred, from_logits=None):
        if self.ignore_class is None:
            return self.call(y_true, y_pred, from_logits), None
        rows = y_pred.shape[:-1]
        if y_true.numel() != rows.numel():
            V.fail(self.fn_name, "y_true", f"class ids of shape {tuple(rows)}", y_true)
        valid = (y_true.reshape(rows) != self.ignore_class).to(y_pred.device)  # rows
        ids = torch.where(valid, y_true.reshape(rows).to(valid.device), 0)
        values = self.call(ids, y_pred, from_logits)
        return torch.where(valid, values, 0.0), valid

    def get_config(self) -> dict:
        return {**super().get_config(), "ignore_class": self.ignore_class}


class FunctionLoss(Loss):
    """A plain function ``f(y_true, y_pred)`` as a loss: its result, reduced as Keras when it is
    per-sample (masked steps left out), used as it is when it is a scalar."""

    def __init__(self, fn: Callable):
        super().__init__(name=getattr(fn, "__name__", type(fn).__name__))
        self.fn = fn

    def call(self, y_true, y_pred, from_logits=None):
        return self.fn(y_true, y_pred)


OBJECTS = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def as_object(loss_name, loss_fn) -> Loss:
    """The :class:`Loss` object for what ``compile`` stored: a Loss as it is, a name as its
    default object, a plain function wrapped (:class:`FunctionLoss`)."""
    if isinstance(loss_fn, Loss):
        return loss_fn
    if isinstance(loss_name, str) and loss_name in OBJECTS:
        return OBJECTS[loss_name]()
    return FunctionLoss(loss_fn)


def kind(loss_name) -> str | None:
    """The loss function computed, as a key of :data:`LOSSES`: the name itself, or a Loss
    object's ``fn_name``; None for a plain callable."""
    if isinstance(loss_name, Loss):
        return loss_name.fn_name if loss_name.fn_name in LOSSES else None
    return loss_name if isinstance(loss_name, str) and loss_name in LOSSES else None


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
    """``(name, function)`` for a loss given by name or as a callable ``f(y_true, y_pred)``;
    a :class:`Loss` object is its own name (``(loss, loss)``), so that its settings stay."""
    if isinstance(loss, Loss):
        return loss, loss
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    if not isinstance(loss, str):
        V.fail("compile", "loss", "a loss name or a callable f(y_true, y_pred)", loss, TypeError)
    V.choice("compile", "loss", loss, LOSSES)
    return loss, LOSSES[loss]
