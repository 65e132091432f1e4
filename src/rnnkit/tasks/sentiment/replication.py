"""Target replication (Lipton et al. 2015) for a classifier that reads a recurrent layer's last
output: during training the same output layer also reads the layer's output after every word,
each step is given the review's label, and the loss mixes the two::

    loss = alpha * mean over the words t of BCE(y, Dense(h_t)) + (1 - alpha) * BCE(y, Dense(h_T))

(each review's mean over its own words, padding left out, then the mean over the batch; ``h_T``
the output after the review's last word). The layers are unchanged: prediction, evaluation and
the validation loss read the last word only, and a saved model is the plain network.

:func:`target_replication` installs it on a compiled ``Sequential`` for the time of a ``fit``.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor

from ... import _validation as V
from ...layers import RNN, Dense
from ...models.losses import BinaryCrossentropy


class TargetReplicationLoss(BinaryCrossentropy):
    """Binary cross-entropy of the last step, mixed with the mean over every step of the
    training forward that just ran (:attr:`steps`, set by :func:`target_replication`'s forward;
    consumed by the call). Without steps (validation, evaluation) it is the plain loss."""

    def __init__(self, alpha: float):
        super().__init__(name="target_replication")
        self.alpha = float(alpha)
        self.steps: tuple[Tensor, Tensor] | None = None  # logits (N, T), valid steps (N, T)

    def __call__(self, y_true, y_pred, sample_weight=None, from_logits=None):
        last = super().__call__(y_true, y_pred, sample_weight, from_logits)
        steps, self.steps = self.steps, None
        if steps is None:
            return last
        logits, valid = steps  # (N, T), (N, T)
        y = torch.as_tensor(y_true).reshape(-1, 1).to(logits.dtype).expand_as(logits)  # (N, T)
        per_step = F.binary_cross_entropy_with_logits(logits, y, reduction="none")  # (N, T)
        w = valid.to(logits.dtype)
        per_review = (per_step * w).sum(1) / w.sum(1).clamp(min=1.0)  # (N,)
        if sample_weight is not None:
            per_review = per_review * torch.as_tensor(sample_weight).reshape(-1).to(logits)
        replicated = per_review.mean()
        return self.alpha * replicated + (1.0 - self.alpha) * last


def _last_valid(valid: Tensor) -> Tensor:
    """Index of each row's last True of ``valid`` (N, T) (T - 1 for a row without any)."""
    T = valid.shape[1]
    from_end = valid.flip(1).to(torch.int8).argmax(1)  # (N,) steps after the last True
    return torch.where(valid.any(1), T - 1 - from_end, T - 1)


@contextlib.contextmanager
def target_replication(model, alpha: float):
    """While the block runs, a training call of ``model`` (Embedding -> ... -> recurrent layer
    returning its last output -> Dropout -> Dense(1, sigmoid), compiled with
    binary_crossentropy) computes every step's output once, returns the last one as usual and
    leaves the others to the loss, a :class:`TargetReplicationLoss` (yielded). Inference calls
    are untouched. Everything is restored afterwards, also if the block raises."""
    owner = "target_replication"
    rnns = [layer for layer in model.layers if isinstance(layer, RNN)]
    dense = model.layers[-1]
    if not rnns or rnns[-1].return_sequences or not isinstance(dense, Dense):
        V.fail(
            owner,
            "model",
            "a Sequential whose last recurrent layer returns its last output and whose last "
            "layer is Dense",
            model,
            TypeError,
        )
    rnn = rnns[-1]
    loss = TargetReplicationLoss(alpha)
    compiled = (model.loss_name, model.loss_fn)
    plain_forward = type(model).forward

    def forward(x, mask=None, logits=False):
        if not model.training:
            return plain_forward(model, x, mask, logits)
        rnn.return_sequences = True
        try:
            out = plain_forward(model, x, mask, logits=True)  # (N, T, 1): every step's logit
        finally:
            rnn.return_sequences = False
        steps = out[..., 0]  # (N, T)
        keras_mask = getattr(out, "_keras_mask", None)
        if keras_mask is not None:  # mask_zero: the real words; the last one is read
            valid = keras_mask.bool()
            last = _last_valid(valid)
        else:  # no mask: the model reads the last column; padding ids (0) get no target
            ids = x if isinstance(x, Tensor) and not x.dtype.is_floating_point else None
            valid = ids != 0 if ids is not None else torch.ones_like(steps, dtype=torch.bool)
            last = torch.full((len(steps),), steps.shape[1] - 1, device=steps.device)
        loss.steps = (steps, valid)
        z = steps.gather(1, last.reshape(-1, 1))  # (N, 1) the last word's logit
        return z if logits else torch.sigmoid(z)

    model.loss_name = model.loss_fn = loss
    model.forward = forward
    try:
        yield loss
    finally:
        del model.forward
        model.loss_name, model.loss_fn = compiled
