"""Spend no compute on padding, with results equal to the padded computation.

A batch of token ids padded to ``maxlen`` often has columns that are padding in every row: the
front of a batch of short reviews padded ``'pre'`` (Keras's default), or the back of one padded
``'post'``. Two exact shortcuts drop them:

* **Masked models** (``Embedding(mask_zero=True)``): a masked step carries the state forward
  unchanged, so all-padding columns at either end change nothing and are simply cut.

Both apply only to models whose output has no time axis (one prediction per sequence).
* **Unmasked models** (the seed's): the padding *is* computed, but every row sees the same
  padding token from the same zero state, so the state after ``k`` leading padding steps is the
  same for every row. It is computed once, on a single row, and handed to the batch, cut of its
  first ``k`` columns, as its initial state. Gradients flow through that single row, so the
  gradients equal the padded computation's too.

The second shortcut needs a stack where that argument holds: an ``Embedding`` without mask,
then forward (not ``go_backwards``, not bidirectional) recurrent layers without dropout in
training, the last one returning only its final output, then layers that act on each sample
alone (``Dense``, ``Dropout``). Anything else runs the full padded batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..layers import RNN, Dense, Dropout, Embedding


def leading_padding(ids: Tensor) -> int:
    """Number of leading columns of ``ids`` (N, T) that are padding (id 0) in every row."""
    real = (ids != 0).any(dim=0)  # (T,)
    first = int(real.to(torch.int8).argmax()) if bool(real.any()) else ids.shape[1]
    return first


def trailing_padding(ids: Tensor) -> int:
    """Number of trailing columns of ``ids`` (N, T) that are padding in every row."""
    return leading_padding(ids.flip(1))


def spans(ids: Tensor) -> Tensor:
    """Per row of ``ids`` (N, T), the number of columns from its first to its last real
    (non-zero) id: the width the row needs once padding at either end is cut (0 if empty)."""
    real = ids != 0
    T = ids.shape[1]
    first = real.to(torch.int8).argmax(dim=1)
    last = T - 1 - real.flip(1).to(torch.int8).argmax(dim=1)
    return torch.where(real.any(dim=1), last - first + 1, 0)


def length_batches(
    ids: Tensor, batch_size: int, pool: int = 50, generator: torch.Generator | None = None
) -> list[Tensor]:
    """Index batches of rows of similar length, for an epoch over ``ids`` (N, T).

    The rows are shuffled, cut into pools of ``pool`` batches, sorted by :func:`spans`
    within each pool and cut into batches of ``batch_size`` (only the last may be smaller);
    the order of the batches is shuffled again. A batch of short rows then has long all-padding
    margins, which :func:`forward_without_padding` skips exactly.
    """
    N = ids.shape[0]
    order = torch.randperm(N, generator=generator)
    width = spans(ids)
    pools = []
    for start in range(0, N, batch_size * pool):
        chunk = order[start : start + batch_size * pool]
        pools.append(chunk[torch.argsort(width[chunk], stable=True)])
    batches = list(torch.cat(pools).split(batch_size))
    return [batches[k] for k in torch.randperm(len(batches), generator=generator).tolist()]


def _recurrent_stack(layers) -> list[RNN] | None:
    """The recurrent layers if ``layers`` is a stack the prefix shortcut is exact for."""
    if not layers or not isinstance(layers[0], Embedding) or layers[0].mask_zero:
        return None
    rnns, k = [], 1
    while k < len(layers) and isinstance(layers[k], RNN):
        rnns.append(layers[k])
        k += 1
    if not rnns or any(r.go_backwards or r.return_state or r.stochastic for r in rnns):
        return None
    if any(not r.return_sequences for r in rnns[:-1]) or rnns[-1].return_sequences:
        return None
    if not all(isinstance(layer, (Dense, Dropout)) for layer in layers[k:]):
        return None
    return rnns


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
        lead, trail = leading_padding(ids), trailing_padding(ids)
        if lead + trail == 0 or lead == T:
            return None
        return model.run_layers(ids[:, lead : T - trail], None, logits)
    rnns = _recurrent_stack(layers)
    lead = leading_padding(ids)
    if rnns is None or lead == 0 or lead == T:
        return None
    if len(rnns) == 1 and rnns[0].shares_padding(embedding, ids):
        return None  # the layer runs every row's own padding in front once, itself
    embedding.check_ids(ids)

    # The state after `lead` padding steps, once, on one row: (1, lead) -> each layer's state.
    def finals(ids_part, initial_states=None):
        """The final states of each layer of the stack on ``ids_part``."""
        x, states = rnns[0].sequence_ids(
            embedding, ids_part, None, initial_states and initial_states[0], sequences=len(rnns) > 1
        )
        out = [states]
        for k, rnn in enumerate(rnns[1:], start=1):
            x, states = rnn.sequence(x, None, initial_states and initial_states[k])
            out.append(states)
        return out

    prefix_states = finals(ids.new_zeros(1, lead))
    N = ids.shape[0]
    x = finals(ids[:, lead:], [[s.expand(N, -1) for s in states] for states in prefix_states])[-1][
        0
    ]
    return model.run_layers(x, None, logits, start=1 + len(rnns))
