"""The lean path of ``predict`` for one batch of token ids through Embedding -> LSTM -> Dense.

``model.predict(x)`` on a few rows (a review, a request of a web page) spends most of its time
in Python around the compiled loop: input conversion, batching, the model's mode, the layers'
dispatch, padding rules, output shapes (a cProfile of batch-1 calls of the seed model, commit
6e12719: 0.81 ms of 1.43 ms). This module runs the same computation for the common case in
one short function, :func:`predict`, and returns None where it does not apply (the caller
then runs the general path, :func:`rnnkit.models.training.predict`).

What it keeps from the general path, so that the outputs are the same numbers (bit for bit):
the vocabulary table of :class:`rnnkit.kernels.dispatch.VocabularyTable` (same rent-or-buy
counting, same exact weight comparison), the autotuner's lookup-or-fused decision for the
call's class (:meth:`rnnkit.layers.LSTM.takes_ids_from`; where it says "fused", or where the
general path would cut padding in front by another route, this path steps aside), the
embedding's id checks and their error messages, and the layers after the LSTM, called as
the general path calls them. What it drops: everything that cannot change the result for
these inputs (batching and reordering of one batch, shape bookkeeping, mask plumbing), and it
runs under ``torch.inference_mode``.

Where it applies (:func:`plan`): a :class:`~rnnkit.models.Sequential` of ``Embedding``
(no ``mask_zero``, no activity penalty) -> Dropout layers -> ``LSTM`` (final output only: not
``return_sequences`` / ``return_state`` / ``stateful`` / ``go_backwards``, no gradient hook or
activity penalty, ``impl`` 'auto' or 'kernel') -> ``Dense`` / ``Dropout`` layers, built, no
forward hooks on the model; inputs a 2-D integer tensor or array with at most ``batch_size``
rows on the model's device; ``verbose=0``, no ``steps``. The plan (which layers play which
part) is kept per model and checked against the model's layers at every call.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
from torch import Tensor
from torch.nn.modules import module as _torch_module

from .. import _tracing, runtime
from ..kernels import dispatch
from ..layers import LSTM, Dense, Dropout, Embedding
from . import data as data_module
from . import padding

MEMO_SIZE = 4096
"""Most lookup decisions a plan remembers (then it starts afresh)."""

_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> Plan


class Plan:
    """Which layers of a model play the Embedding, the LSTM and the layers after it."""

    __slots__ = ("after", "decisions", "embedding", "layers", "lstm", "modules")

    def __init__(self, layers: tuple, lstm_at: int):
        self.layers = layers  # the model's layers when the plan was made (identity checked)
        self.embedding: Embedding = layers[0]
        self.lstm: LSTM = layers[lstm_at]
        self.after = layers[lstm_at + 1 :]
        self.modules: tuple = ()  # every module of the model, for the mode check
        self.decisions: dict = {}  # call class -> the lookup decision (see _decided)

    def applies(self) -> bool:
        """Whether the layers' settings still allow the lean path (they may change)."""
        emb, lstm = self.embedding, self.lstm
        return (
            not emb.mask_zero
            and emb.activity_regularizer is None
            and not lstm.return_sequences
            and not lstm.return_state
            and not lstm.stateful
            and not lstm.go_backwards
            and lstm.grad_hook is None
            and lstm.activity_regularizer is None
            and lstm.impl in ("auto", "kernel")
            and not dispatch.runs_bf16(lstm.precision, lstm.impl)
            and all(getattr(la, "activity_regularizer", None) is None for la in self.after)
        )


def plan(model) -> Plan | None:
    """The model's plan (made once, checked at every call), or None where the lean path does
    not apply to the model's layers."""
    if not type(model).__dict__.get("lean_predict", False):
        return None  # a Sequential itself (its subclasses may change the call)
    layers = tuple(model.layers)
    kept = _plans.get(model)
    if kept is None or kept.layers != layers:
        kept = _make(layers)
        if kept is not None:
            kept.modules = tuple(model.modules())
        _plans[model] = kept
    return kept if kept is not None and kept.applies() else None


def _make(layers: tuple) -> Plan | None:
    if len(layers) < 2 or type(layers[0]) is not Embedding:
        return None
    k = 1
    while k < len(layers) and type(layers[k]) is Dropout:
        k += 1
    if k == len(layers) or type(layers[k]) is not LSTM:
        return None
    if not all(type(la) in (Dense, Dropout) for la in layers[k + 1 :]):
        return None
    return Plan(layers, k)


def _hooked(model) -> bool:
    """Whether forward hooks (the model's own or global ones) watch ``model(x)``."""
    return bool(
        model._forward_hooks
        or model._forward_pre_hooks
        or _torch_module._global_forward_hooks
        or _torch_module._global_forward_pre_hooks
    )


def predict(model, x, batch_size: int) -> np.ndarray | None:
    """``model.predict(x, batch_size)``'s array on the lean path, or None where the lean
    path does not apply (see the module's docstring): the caller then runs the general one.
    Errors on bad token ids are the general path's (the same checks, the same messages)."""
    p = plan(model)
    if p is None or _hooked(model) or _tracing.active() or model.input_shape_hint is None:
        return None
    if not isinstance(x, Tensor):
        if not isinstance(x, np.ndarray) or x.dtype.kind not in "iu":
            return None
        x = data_module.to_tensor(x, "x", "predict")
    if x.dim() != 2 or x.dtype != torch.int64 or not 0 < x.shape[0] <= batch_size:
        return None
    emb, lstm = p.embedding, p.lstm
    E = emb.E
    if E is None or getattr(lstm, "W_h", None) is None or x.device != E.device:
        return None
    if any(m.training for m in p.modules):
        model.eval()  # as the general path: predict runs in inference mode
    with torch.inference_mode():
        return _run(p, x, emb, lstm, E)


def _run(p: Plan, ids: Tensor, emb: Embedding, lstm: LSTM, E: Tensor) -> np.ndarray | None:
    W_x, W_h, b = lstm.W_x, lstm.W_h, getattr(lstm, "b", None)
    state = dispatch.tuning_state()
    if not _decided(p, ("any",), state, lambda: lstm.takes_ids_from(emb)):
        return None  # no vocabulary table, no lookup: the general path
    table = dispatch.VocabularyTable.hold(lstm, E, W_x, b, ids, 1)
    emb.check_ids(ids)  # (the general path's check and message, after hold as there)
    N, T = ids.shape
    repeats = dispatch.recurrence(ids)
    if (
        runtime.settings.trim_padding
        and padding.leading_padding(ids) not in (0, T)
        and not _decided(p, (N, T, repeats, False), state, lambda: lstm.takes_ids_from(emb, ids))
    ):
        return None  # the general path would cut the padding in front by another route
    tabled = table is not None
    if not _decided(
        p, (N, T, repeats, tabled), state, lambda: lstm.takes_ids_from(emb, ids, table)
    ):
        return None  # the autotuner chose the fused operator for this class
    if N == 1 and tabled:
        h = dispatch.lstm_table_final(table, ids, W_h)  # the same compiled call, directly
    else:
        zeros = E.new_zeros(N, W_h.shape[0])
        _, (h, _) = dispatch.lstm_ids(
            E, ids, zeros, zeros, W_x, W_h, b, shared_padding=True, sequences=False, table=table
        )
    y = h
    for layer in p.after:
        y = layer(y)  # as run_layers calls them (Dropout is the identity in inference)
    out = y.numpy()
    if not np.isfinite(out).all():
        return None  # the general path computes it again and warns as it does
    return out


def _decided(p: Plan, key: tuple, state: tuple, decide) -> bool:
    """The lookup decision ``decide()`` (:meth:`rnnkit.layers.LSTM.takes_ids_from`) for the
    call class ``key`` (batch, length, how often ids recur, a vocabulary table or not: what
    the autotuner's class holds, exactly, not rounded) under the tuning ``state``
    (:func:`rnnkit.kernels.dispatch.tuning_state`), asked once and remembered by the plan:
    the autotuner gives the same answer for a class for the life of its decisions."""
    full = (*key, p.lstm.impl, p.embedding.E.dtype, state)
    known = p.decisions.get(full)
    if known is None:
        if len(p.decisions) >= MEMO_SIZE:
            p.decisions.clear()
        known = p.decisions[full] = bool(decide())
    return known
