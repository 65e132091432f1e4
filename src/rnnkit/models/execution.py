"""How a :class:`~rnnkit.models.Sequential` runs its layers on an input: the model-level plan.

Each layer's own path (native / kernel / reference, the embedding lookup) and every exactness
rule are decided in :mod:`rnnkit.kernels.dispatch`; this module applies them to a stack of
layers, in three ways, each giving exactly the plain computation's result:

* **Embedding into a recurrent layer**: the pair runs as one call,
  :meth:`rnnkit.layers.RNN.sequence_ids`, so that an LSTM can look its input projection up
  (past Dropout layers that are identity at that moment).
* **No compute on padding** (:func:`forward_without_padding`): columns of token ids that are
  padding in every row are cut where that is exact: at either end under a mask
  (``Embedding(mask_zero=True)``: a masked step carries the state), and in front of an unmasked
  stack whose recurrent layers obey dispatch's shared-padding rule (their state after the
  padding is computed once, on one row, and handed to the batch as its initial state). Only
  for models whose output has no time axis.
* **Vocabulary table** (:func:`vocabulary_table`): predict / evaluate may run an LSTM fed by
  the first Embedding on a table ``E @ W_x + b`` of the whole vocabulary
  (:class:`rnnkit.kernels.dispatch.VocabularyTable`), batches put in order of length
  (:func:`inference_batches`) so that short ones skip their padding.
"""

from __future__ import annotations

import contextlib
import threading

import torch
from torch import Tensor

from .. import _tracing, runtime
from ..kernels import dispatch
from ..layers import (
    RNN,
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    LeakyReLU,
)
from . import padding

_active = threading.local()  # .tables: {id(layer): vocabulary table} during a predict/evaluate


def forward(model, x: Tensor, mask: Tensor | None = None, logits: bool = False) -> Tensor:
    """``model(x)``: the layers in order, each one's mask passed to the next (as Keras), with
    all-padding columns skipped where exact (:func:`forward_without_padding`)."""
    if not len(model.layers):
        raise ValueError("Sequential: the model has no layers; add some with `add`.")
    activity = any(getattr(la, "activity_regularizer", None) for la in model.layers)
    trim = runtime.settings.trim_padding and not _tracing.active()  # not in export mode
    if mask is None and trim and not activity:  # each layer's output
        y = forward_without_padding(model, x, logits)
        if y is not None:
            return y
    return run_layers(model, x, mask, logits)


def run_layers(
    model, x: Tensor, mask: Tensor | None = None, logits: bool = False, start: int = 0
) -> Tensor:
    """Run layers ``start, start + 1, ...`` of ``model`` on ``x`` (the plain computation).
    With ``logits=True`` a final ``Dense`` returns its pre-activation."""
    layers = model.layers
    last = len(layers) - 1
    k = start
    while k <= last:
        layer = layers[k]
        j = rnn_after_embedding(layers, k)
        if j is not None and isinstance(x, Tensor) and x.dim() == 2:
            x, mask = _embedding_into_rnn(layer, layers[j], x, mask)
            k = j + 1
            continue
        inputs = x
        if logits and k == last and isinstance(layer, Dense):
            x = layer.logits(x)
        elif layer.supports_masking:
            x = layer(x, mask=mask)
        else:
            x = layer(x)
        mask = layer.compute_mask(inputs, mask)
        k += 1
    if mask is not None and isinstance(x, Tensor):
        x._keras_mask = mask  # the output's mask, as Keras: fit leaves masked steps out
    return x


def transparent(layer) -> bool:
    """Whether ``layer`` is a Dropout that is the identity at this moment (inference, or rate
    0): an Embedding may feed a recurrent layer past it."""
    return isinstance(layer, Dropout) and (not layer.training or layer.rate == 0)


def rnn_after_embedding(layers, k: int) -> int | None:
    """If ``layers[k]`` is an Embedding whose output goes straight into a recurrent layer
    (past Dropout layers that are identity now), that layer's index; else None."""
    if not isinstance(layers[k], Embedding) or layers[k].activity_regularizer is not None:
        return None  # (an activity penalty needs the Embedding's output)
    j = k + 1
    while j < len(layers) and transparent(layers[j]):
        j += 1
    if j < len(layers) and isinstance(layers[j], RNN) and layers[j].activity_regularizer is None:
        return j
    return None


def embedding_into_rnn(embedding, rnn, ids, mask, initial_state=None):
    """``rnn(embedding(ids), initial_state=...)`` as one call (:meth:`RNN.sequence_ids`);
    returns the output (with the states for ``return_state``) and the mask after both. A
    functional model's graph uses it too, for an Embedding node feeding a recurrent node."""
    mask = embedding.compute_mask(ids, mask)
    table = active_table(rnn)
    y, final = rnn.sequence_ids(
        embedding, ids, mask, initial_state, sequences=rnn.return_sequences, table=table
    )
    out = y if rnn.return_sequences else final[0]
    if rnn.return_state:
        out = [out, *final]
    return out, (mask if rnn.return_sequences else None)


_embedding_into_rnn = embedding_into_rnn  # the old private name


def stack_of(model) -> list:
    """The layers the rules of this module apply to: a Sequential's ``layers``; for a
    functional model, its layers when its graph is a linear chain (``execution_layers``),
    else ``[]`` (its graph applies the Embedding-into-RNN rule node by node)."""
    layers = getattr(model, "execution_layers", None)
    return list(model.layers) if layers is None else layers


# -- padding -------------------------------------------------------------------------------------
def _recurrent_stack(layers) -> list[RNN] | None:
    """The recurrent layers if ``layers`` is a stack whose padding in front may run once: an
    unmasked Embedding, recurrent layers obeying dispatch's shared-padding rule (no
    ``go_backwards``, no dropout drawn this call), each but the last returning sequences and
    the last only its final output, then layers acting on each sample alone."""
    if not layers or not isinstance(layers[0], Embedding) or layers[0].mask_zero:
        return None
    rnns, k = [], 1
    while k < len(layers) and isinstance(layers[k], RNN):
        rnns.append(layers[k])
        k += 1
    if not rnns or any(r.return_state or r.stateful or not r.fused for r in rnns):
        return None  # stateful: rows start from their own states; a user's cell: unknown
    exact = all(
        dispatch.shares_padding(
            mask_zero=False, go_backwards=r.go_backwards, recurrent_dropout=r.stochastic
        )
        for r in rnns
    )
    if not exact or any(not r.return_sequences for r in rnns[:-1]) or rnns[-1].return_sequences:
        return None
    if not all(isinstance(layer, (Dense, Dropout)) for layer in layers[k:]):
        return None
    return rnns


def _reads_the_mask(layers) -> bool:
    """Whether cutting masked columns after an ``Embedding(mask_zero=True)`` leaves ``layers``'
    output unchanged: recurrent layers and Dropout carry the mask up to a layer that reduces
    time while honouring it (a recurrent layer returning its final output, or
    GlobalAveragePooling1D), then only layers acting on each sample alone. Layers that
    ignore the mask (GlobalMaxPooling1D, Flatten, ...) see every column, as in Keras."""

    def recurrent(layer):  # a recurrent layer, or one wrapped by Bidirectional
        return layer.forward_layer if isinstance(layer, Bidirectional) else layer

    k = 0
    while k < len(layers) and (
        isinstance(layers[k], Dropout)
        or (isinstance(recurrent(layers[k]), RNN) and recurrent(layers[k]).return_sequences)
    ):
        k += 1
    if k == len(layers):
        return False
    reducer = recurrent(layers[k])
    if isinstance(reducer, RNN):
        if reducer.return_state:
            return False
    elif not isinstance(reducer, GlobalAveragePooling1D):
        return False
    return all(
        isinstance(layer, (Dense, Dropout, Activation, LeakyReLU)) for layer in layers[k + 1 :]
    )


def forward_without_padding(model, ids: Tensor, logits: bool) -> Tensor | None:
    """``model(ids)`` computed without its all-padding columns, or None where that is not
    exact (the caller then runs the full batch)."""
    layers = list(model.layers)
    embedding = layers[0] if layers and isinstance(layers[0], Embedding) else None
    if embedding is None or ids.dim() != 2 or ids.dtype.is_floating_point:
        return None
    T = ids.shape[1]
    shape = model.output_shape
    if not isinstance(shape, tuple) or len(shape) != 2:
        return None  # outputs per step (or several outputs): every column is needed
    if embedding.mask_zero:
        if not _reads_the_mask(layers[1:]):
            return None
        lead, trail = padding.leading_padding(ids), padding.trailing_padding(ids)
        if lead + trail == 0 or lead == T:
            return None
        return run_layers(model, ids[:, lead : T - trail], None, logits)
    rnns = _recurrent_stack(layers)
    lead = padding.leading_padding(ids)
    if rnns is None or lead == 0 or lead == T:
        return None
    if len(rnns) == 1 and rnns[0].takes_ids_from(embedding, ids):
        return None  # the lookup kernel runs every row's own padding in front once, itself
    embedding.check_ids(ids)

    # The state after `lead` padding steps, once, on one row: (1, lead) -> each layer's state.
    def finals(ids_part, initial_states=None):
        """The final states of each layer of the stack on ``ids_part``."""
        x, states = rnns[0].sequence_ids(
            embedding,
            ids_part,
            None,
            initial_states and initial_states[0],
            sequences=len(rnns) > 1,
        )
        out = [states]
        for k, rnn in enumerate(rnns[1:], start=1):
            x, states = rnn.sequence(x, None, initial_states and initial_states[k])
            out.append(states)
        return out

    prefix_states = finals(ids.new_zeros(1, lead))
    N = ids.shape[0]
    shared = [[s.expand(N, -1) for s in states] for states in prefix_states]
    x = finals(ids[:, lead:], shared)[-1][0]
    return run_layers(model, x, None, logits, start=1 + len(rnns))


def stateful(model) -> bool:
    """Whether ``model`` has a stateful recurrent layer (also inside Bidirectional)."""
    if model is None:
        return False
    return any(getattr(m, "stateful", False) is True for m in model.modules())


# -- predict / evaluate --------------------------------------------------------------------------
@contextlib.contextmanager
def vocabulary_table(model, x: Tensor, batches: int):
    """While predict / evaluate run token ids ``x`` in ``batches`` batches, an LSTM fed by the
    first Embedding may look its input projection up in ``E @ W_x + b`` for the whole
    vocabulary (:class:`rnnkit.kernels.dispatch.VocabularyTable`: made once it pays, used by a
    later call only while the weights it reads are unchanged, compared exactly)."""
    layers = stack_of(model)
    j = rnn_after_embedding(layers, 0) if len(layers) else None
    table = None
    if j is not None and isinstance(x, Tensor) and x.dim() == 2 and not x.dtype.is_floating_point:
        embedding, rnn = layers[0], layers[j]
        if rnn.takes_ids_from(embedding):
            table = dispatch.VocabularyTable.hold(rnn, embedding.E, rnn.W_x, rnn.b, x, batches)
    if table is None:
        yield
        return
    tables = _active.__dict__.setdefault("tables", {})
    tables[id(rnn)] = table
    try:
        yield
    finally:
        tables.pop(id(rnn), None)


def active_table(layer) -> Tensor | None:
    """The vocabulary table ``layer`` reads in the current predict / evaluate call, if any."""
    return getattr(_active, "tables", {}).get(id(layer))


def inference_batches(x: Tensor, batch_size: int, model=None) -> list[Tensor]:
    """Row indices of each batch of evaluate / predict. Token ids go in order of length
    (when padding is skipped), so a batch of short rows skips its padding columns; the
    results are put back in the order of ``x``. A model with a stateful layer keeps the
    order of ``x`` (row k of each batch continues row k of the one before)."""
    if (
        not stateful(model)
        and runtime.settings.trim_padding
        and isinstance(x, Tensor)
        and x.dim() == 2
        and not x.dtype.is_floating_point
        and len(x) > batch_size
    ):
        return list(torch.argsort(padding.spans(x), stable=True).split(batch_size))
    return list(torch.arange(len(x)).split(batch_size))
