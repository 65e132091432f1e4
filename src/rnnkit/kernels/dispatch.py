"""Which path runs a recurrent layer: the one place where rnnkit decides, with every threshold
and exactness rule stated once.

Layers hold parameters and call the entry points here (:func:`lstm`, :func:`gru`,
:func:`simple_rnn`, and :func:`lstm_ids` for an LSTM fed token ids by an Embedding); models
(:mod:`rnnkit.models.execution`) ask the rules here before they cut padding or keep a
vocabulary table. Nothing outside :mod:`rnnkit.kernels` imports a kernel module.

The paths, ``impl='auto' | 'native' | 'kernel' | 'reference'``
    * ``'reference'``: the readable time loop of :mod:`rnnkit.functional` (autograd backward).
    * ``'kernel'``: rnnkit's whole-sequence kernels with hand-written BPTT
      (:mod:`rnnkit.kernels.lstm`, ``.gru``, ``.simple_rnn``): compiled C++ step loops where
      they are built (:mod:`rnnkit.kernels._ext`), their Python loops otherwise. They serve
      every option: masks, recurrent dropout, every activation.
    * ``'native'``: PyTorch's fused operators (oneDNN / cuDNN), where the options allow
      (:func:`rnnkit.kernels.native.supports`).
    * ``'auto'``: the fastest path that computes exactly the same thing: rnnkit's kernel for the
      GRU when its compiled loops are available (measured faster than PyTorch's fused GRU,
      ``benchmarks/kernels_quick.py``); otherwise native where it applies, else the kernel.
      An LSTM fed by an Embedding takes the lookup path (:func:`lookup_applies`).

    Asking for ``'native'`` where it cannot apply raises an error that says why and what to
    use. ``grad_hook(t, dh_t)`` (how gradients vanish over time) is read from the kernel's own
    backward loop; asking for it selects the kernel.

The embedding lookup (an LSTM fed token ids by an Embedding)
    ``x_t @ W_x + b`` is then a row of ``E @ W_x + b``: the LSTM computes it once per distinct
    token of the batch (or reads it from a table of the whole vocabulary kept by predict and
    evaluate, :class:`VocabularyTable`) instead of once per step and row. Exact: the same
    rows, summed in the same order.

Shared padding (the one exactness rule, used by the lookup kernel and by models)
    Padding in front of a row (token 0, ``'pre'`` padding as Keras's ``pad_sequences``) read
    from an initial state that every row shares gives every row the same states until its
    first real token: they may be computed once, on one row, with each row joining from the
    shared state at its own first token, outputs and gradients unchanged. That holds when
    (:func:`shares_padding`): the padding is not masked (``mask_zero`` off: a masked step
    would carry the state instead), time runs forward (not ``go_backwards``), no per-row
    random mask enters the recurrence (no recurrent dropout in training) and the initial
    states are equal across rows (zeros, by default).
"""

from __future__ import annotations

import threading
import weakref
from typing import ClassVar

import torch
from torch import Tensor

from .. import _tracing, runtime
from .. import functional as F
from . import _ext, native, traceable
from . import gru as gru_kernel
from . import lstm as lstm_kernel
from . import simple_rnn as simple_rnn_kernel

IMPLS = ("auto", "native", "kernel", "reference")

LOOKUP_MIN_ROWS = 8
"""Training batches below this many rows run PyTorch's fused LSTM, which beats rnnkit's kernel
there (the kernel's backward pays a BLAS call per step). Without gradients the lookup runs at
every batch size: its inference loop multiplies a few rows by ``W_h`` itself and is faster than
the fused LSTM from one row on."""

TABLE_BYTES = 64 << 20
"""Largest vocabulary table ``E @ W_x + b`` that predict / evaluate keep (bytes)."""


# -- native / kernel / reference ---------------------------------------------------------------
def compiled(dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> bool:
    """Whether rnnkit's compiled step loops serve tensors of ``dtype`` on ``device``
    (built, or buildable, here)."""
    if torch.device(device).type != "cpu" or (dtype is not None and dtype not in _ext.DTYPES):
        return False
    return _ext.load() is not None


def resolve(cell: str, impl: str, owner: str, grad_hook=None, **options) -> str:
    """The path (``'native'``, ``'kernel'`` or ``'reference'``) that runs ``cell`` for
    ``impl`` and the call's ``options`` (``mask``, ``recurrent_mask``, ``activation``,
    ``reset_after``)."""
    if grad_hook is not None:
        if impl not in ("auto", "kernel"):
            raise ValueError(
                f"{owner}: `grad_hook` is read from rnnkit's kernel only, received "
                f"impl={impl!r}. Use impl='auto' or 'kernel'."
            )
        return "kernel"
    if impl in ("reference", "kernel"):
        return impl
    if impl == "native":
        if not native.supports(cell, **options):
            why = _native_refusal(cell, **options)
            raise ValueError(
                f"{owner}: `impl` 'native' cannot run this layer: {why}. "
                "Use impl='auto' (or 'kernel') to let rnnkit's own kernel run it."
            )
        return impl
    if cell == "gru" and compiled():
        return "kernel"  # the compiled GRU loop beats PyTorch's fused GRU (benchmarks/)
    return "native" if native.supports(cell, **options) else "kernel"


def _native_refusal(
    cell, *, mask=None, recurrent_mask=None, activation="tanh", reset_after=True
) -> str:
    if mask is not None:
        return "PyTorch's fused operator takes no mask"
    if recurrent_mask is not None:
        return "PyTorch's fused operator has no recurrent dropout"
    if cell == "simple_rnn":
        return f"PyTorch's fused operator has no {activation!r} activation (only 'tanh', 'relu')"
    return "PyTorch's fused GRU only has reset_after=True"


def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "LSTM",
    grad_hook=None,
):
    options = dict(mask=mask, go_backwards=go_backwards, recurrent_mask=recurrent_mask)
    if _tracing.active():  # export mode: plain ops only (rnnkit._tracing)
        return traceable.lstm(x, h0, c0, W_x, W_h, b, **options)
    path = resolve("lstm", impl, owner, grad_hook, mask=mask, recurrent_mask=recurrent_mask)
    if path == "native":
        return native.lstm(x, h0, c0, W_x, W_h, b, go_backwards)
    if path == "reference":
        return F.lstm(x, h0, c0, W_x, W_h, b, **options)
    return lstm_kernel.lstm(x, h0, c0, W_x, W_h, b, **options, grad_hook=grad_hook)


def gru(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None,
    b_h: Tensor | None,
    *,
    reset_after: bool = True,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "GRU",
    grad_hook=None,
):
    if _tracing.active():  # export mode: plain ops only (rnnkit._tracing)
        return traceable.gru(
            x, h0, W_x, W_h, b_x, b_h, reset_after=reset_after, mask=mask,
            go_backwards=go_backwards, recurrent_mask=recurrent_mask,
        )  # fmt: skip
    path = resolve(
        "gru",
        impl,
        owner,
        grad_hook,
        mask=mask,
        recurrent_mask=recurrent_mask,
        reset_after=reset_after,
    )
    if path == "native":
        return native.gru(x, h0, W_x, W_h, b_x, b_h, go_backwards)
    options = dict(
        reset_after=reset_after,
        mask=mask,
        go_backwards=go_backwards,
        recurrent_mask=recurrent_mask,
    )
    if path == "reference":
        return F.gru(x, h0, W_x, W_h, b_x, b_h, **options)
    return gru_kernel.gru(x, h0, W_x, W_h, b_x, b_h, **options, grad_hook=grad_hook)


def simple_rnn(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    activation: str = "tanh",
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "SimpleRNN",
    grad_hook=None,
):
    if _tracing.active():  # export mode: plain ops only (rnnkit._tracing)
        return traceable.simple_rnn(
            x, h0, W_x, W_h, b, activation=activation, mask=mask, go_backwards=go_backwards,
            recurrent_mask=recurrent_mask,
        )  # fmt: skip
    path = resolve(
        "simple_rnn",
        impl,
        owner,
        grad_hook,
        mask=mask,
        recurrent_mask=recurrent_mask,
        activation=activation,
    )
    if path == "native":
        return native.simple_rnn(x, h0, W_x, W_h, b, activation, go_backwards)
    options = dict(
        activation=activation,
        mask=mask,
        go_backwards=go_backwards,
        recurrent_mask=recurrent_mask,
    )
    if path == "reference":
        return F.simple_rnn(x, h0, W_x, W_h, b, **options)
    return simple_rnn_kernel.simple_rnn(x, h0, W_x, W_h, b, **options, grad_hook=grad_hook)


# -- token ids: the embedding lookup -----------------------------------------------------------
def lookup_applies(
    *, cell: str, impl: str, input_dropout: bool, E: Tensor, ids: Tensor | None = None
) -> bool:
    """Whether a ``cell`` layer fed by an Embedding's table ``E`` runs the lookup path.

    Only the LSTM, with ``impl`` 'auto' or 'kernel', the embedding lookup switched on
    (:func:`rnnkit.runtime.configure`), no input dropout this call (``x * keep`` is not a row
    of ``E @ W_x``), and the compiled loops serving ``E``'s dtype on the CPU. With ``ids``
    (N, T), also not a training batch of fewer than :data:`LOOKUP_MIN_ROWS` rows.
    """
    if cell != "lstm" or impl not in ("auto", "kernel") or input_dropout:
        return False
    if _tracing.active():  # export mode: no lookup (rnnkit._tracing)
        return False
    if not runtime.settings.embedding_lookup or not compiled(E.dtype, E.device):
        return False
    if ids is not None:
        small = ids.shape[0] < LOOKUP_MIN_ROWS and torch.is_grad_enabled()
        return ids.dim() == 2 and not small
    return True


def shares_padding(
    *, mask_zero: bool, go_backwards: bool, recurrent_dropout: bool, states=()
) -> bool:
    """The shared-padding rule (module docstring): whether the padding in front of the rows
    may be computed once for all rows, exactly. ``states``: the initial states, if given."""
    if mask_zero or go_backwards or recurrent_dropout:
        return False
    return all(torch.equal(s, s[:1].expand_as(s)) for s in states)


def lstm_ids(
    E: Tensor,
    ids: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    shared_padding: bool = False,
    sequences: bool = True,
    table: Tensor | None = None,
) -> tuple[Tensor | None, tuple[Tensor, Tensor]]:
    """The LSTM over ``E[ids]`` with the input projection looked up (the lookup path).

    Args:
        E: the embedding (V, D); ``ids`` int (N, T), checked by the caller.
        h0, c0, W_x, W_h, b, mask, go_backwards, recurrent_mask: as :func:`lstm`.
        shared_padding: the padding in front (token 0) runs once (:func:`shares_padding`
            said so for this call).
        sequences: False when only the final states are wanted (``y`` may come back None).
        table: ``E @ W_x + b`` for the whole vocabulary (V, 4H), from
            :meth:`VocabularyTable.hold`; used only without gradients.
    """
    if table is not None and table.shape[0] == E.shape[0] and not torch.is_grad_enabled():
        where, pad_row = ids.long(), 0
    else:
        tokens, where = torch.unique(ids, return_inverse=True)  # the batch's distinct tokens
        table = E[tokens] @ W_x  # (U, 4H): x @ W_x for each distinct token
        if b is not None:
            table = table + b
        pad_row = 0 if tokens.numel() and int(tokens[0]) == 0 else None  # token 0 is row 0
    return lstm_kernel.lstm_lookup(
        table,
        where,
        h0,
        c0,
        W_h,
        mask,
        go_backwards,
        recurrent_mask,
        sequences=sequences,
        pad_row=pad_row if shared_padding else None,
    )


class VocabularyTable:
    """``E @ W_x + b`` for the whole vocabulary, kept for the calls of predict / evaluate that
    run token ids through an LSTM without changing its weights.

    A call uses the table only if ``W_x``, ``b`` and the rows of ``E`` of the call's tokens
    equal the copy it was made from, compared exactly (an optimizer may change weights in
    place without a version bump, as fused Adam does); else it is dropped. Until it is made,
    each batch computes the rows of its own distinct tokens; it is made once calls with
    unchanged weights would have computed as many rows as the table has, this call included,
    counted as ``batches`` times its distinct tokens, at most its ids (the rent-or-buy rule:
    by then the calls have spent what the table costs, so they never spend more than twice the
    best choice made in hindsight). Tables over :data:`TABLE_BYTES` are never made.
    """

    _kept: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()  # layer -> table
    _lock = threading.Lock()

    def __init__(self, E: Tensor, W_x: Tensor, b: Tensor | None):
        weights = (E, W_x, b)
        self.weights = tuple(None if w is None else w.detach().clone() for w in weights)
        self.rows = 0  # rows computed without the table, with these weights
        self.table: Tensor | None = None

    @classmethod
    def hold(
        cls, layer, E: Tensor, W_x: Tensor, b: Tensor | None, ids: Tensor, batches: int = 1
    ) -> Tensor | None:
        """The table for a call that runs ``ids`` through ``layer`` in ``batches`` batches, or
        None while it does not pay yet (or is too large)."""
        if ids.numel() == 0 or E.shape[0] * W_x.shape[1] * E.element_size() > TABLE_BYTES:
            return None
        lo, hi = (int(v) for v in torch.aminmax(ids))
        if lo < 0 or hi >= E.shape[0]:
            return None  # the call itself reports bad ids
        ids = ids.reshape(-1).long()
        with cls._lock:
            kept = cls._kept.get(layer)
            if kept is not None:
                E_, W_x_, b_ = kept.weights
                if not (_same(W_x, W_x_) and _same(b, b_) and _same(E, E_, ids)):
                    kept = None
            if kept is None:
                kept = cls._kept[layer] = cls(E, W_x, b)
            if kept.table is None:
                # rows this call computes without the table: each batch its own distinct tokens
                distinct = int(torch.bincount(ids, minlength=E.shape[0]).count_nonzero())
                kept.rows += min(ids.numel(), distinct * batches)
                if kept.rows < E.shape[0]:
                    return None
                E_, W_x_, b_ = kept.weights
                with torch.no_grad():
                    kept.table = E_ @ W_x_ if b_ is None else torch.addmm(b_, E_, W_x_)
            return kept.table


def _same(a: Tensor | None, b: Tensor | None, rows: Tensor | None = None) -> bool:
    """Whether two optional tensors are equal (bit for bit with the compiled ops, else element
    for element); with ``rows`` (int64 ids), only those rows of theirs."""
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    a = a.detach()
    if a.device.type == "cpu" and a.is_contiguous() and b.is_contiguous():
        ops = _ext.load()
        if ops is not None:
            return bool(ops.equal_rows(a, b, rows))
    if rows is not None:
        a, b = a.index_select(0, rows), b.index_select(0, rows)
    return torch.equal(a, b)
