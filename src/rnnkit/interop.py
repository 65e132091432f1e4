"""Weights to and from PyTorch's own recurrent modules: the one place where rnnkit's weight
layout meets ``torch.nn.LSTM`` / ``GRU`` / ``RNN``'s.

    from rnnkit import interop

    model = interop.from_torch(torch_lstm)      # rnnkit Sequential, same outputs
    torch_lstm = interop.to_torch(model)        # nn.LSTM(batch_first=True), same outputs

The layouts (rnnkit's are Keras's, see README "Cells"):

==============  ==============================  ======================================
                rnnkit                          PyTorch (layer k, direction ``_reverse``)
==============  ==============================  ======================================
input weights   ``W_x`` (D, G*H)                ``weight_ih_lk`` (G*H, D) = ``W_x.T``
recurrent       ``W_h`` (H, G*H)                ``weight_hh_lk`` (G*H, H) = ``W_h.T``
LSTM bias       ``b`` (4H,)                     ``bias_ih_lk + bias_hh_lk``
SimpleRNN bias  ``b`` (H,)                      ``bias_ih_lk + bias_hh_lk``
GRU biases      ``b_x``, ``b_h`` (3H,)          ``bias_ih_lk``, ``bias_hh_lk``
==============  ==============================  ======================================

Gate blocks: the LSTM's are ``[i | f | g | o]`` in both. The GRU's are ``[z | r | n]`` in rnnkit
(Keras's order) and ``[r | z | n]`` in PyTorch, so the first two blocks swap; only rnnkit's
``reset_after=True`` GRU (the default) computes what ``nn.GRU`` does (``r`` applied after
the recurrent product, with its own bias). Going to PyTorch, an LSTM's or SimpleRNN's bias is
written to ``bias_ih`` and ``bias_hh`` is zero.

A multi-layer or bidirectional module becomes a :class:`~rnnkit.models.Sequential` of layers
with ``return_sequences=True`` (wrapped in :class:`~rnnkit.layers.Bidirectional`, merge
``"concat"``, for two directions), with :class:`~rnnkit.layers.Dropout` between layers when the
module has ``dropout``: called on ``(N, T, D)`` it returns PyTorch's ``output`` (batch first).
rnnkit is batch-first; a module with ``batch_first=False`` converts the same way and its inputs
are transposed by the caller (``x.transpose(0, 1)``).
"""

from __future__ import annotations

import torch
from torch import nn

from . import _validation as V
from .layers import GRU, LSTM, Bidirectional, Dropout, SimpleRNN
from .models import Sequential

_GATES = {LSTM: 4, GRU: 3, SimpleRNN: 1}


def _gru_swap(w: torch.Tensor) -> torch.Tensor:
    """``[r | z | n]`` <-> ``[z | r | n]`` along the first axis (the same swap both ways)."""
    H = w.shape[0] // 3
    return torch.cat([w[H : 2 * H], w[:H], w[2 * H :]])


def _rnnkit_class(module: nn.RNNBase):
    if isinstance(module, nn.LSTM):
        return LSTM, {}
    if isinstance(module, nn.GRU):
        return GRU, {"reset_after": True}
    if isinstance(module, nn.RNN):
        return SimpleRNN, {"activation": module.nonlinearity}
    V.fail("from_torch", "module", "a torch.nn.LSTM, GRU or RNN", module, TypeError)


def _copy_in(layer, module: nn.RNNBase, suffix: str) -> None:
    """Set ``layer``'s weights from ``module``'s parameters named ``*_l{k}{suffix}``."""
    W_ih = getattr(module, f"weight_ih{suffix}").detach()
    W_hh = getattr(module, f"weight_hh{suffix}").detach()
    if isinstance(layer, GRU):
        W_ih, W_hh = _gru_swap(W_ih), _gru_swap(W_hh)
    weights = [W_ih.T, W_hh.T]
    if module.bias:
        b_ih = getattr(module, f"bias_ih{suffix}").detach()
        b_hh = getattr(module, f"bias_hh{suffix}").detach()
        if isinstance(layer, GRU):
            weights.append(torch.stack([_gru_swap(b_ih), _gru_swap(b_hh)]))  # Keras's (2, 3H)
        else:
            weights.append(b_ih + b_hh)
    layer.set_weights(weights)


def from_torch(module: nn.RNNBase) -> Sequential:
    """An rnnkit model computing what ``module`` (``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``)
    computes, with its weights copied (see the module documentation for the layouts).

    Returns a :class:`~rnnkit.models.Sequential` whose output is ``module``'s ``output`` for
    batch-first input; its layers sit in ``model.layers`` (one per PyTorch layer).
    """
    cls, options = _rnnkit_class(module)
    if getattr(module, "proj_size", 0):
        V.fail("from_torch", "module", "an LSTM without proj_size", module.proj_size)
    H, dirs = module.hidden_size, 2 if module.bidirectional else 1
    layers = []
    for k in range(module.num_layers):
        if k and module.dropout:
            layers.append(Dropout(module.dropout))
        D = module.input_size if k == 0 else H * dirs
        layer = cls(H, return_sequences=True, use_bias=module.bias, **options)
        layer.build((None, None, D))
        if dirs == 2:
            wrapper = Bidirectional(layer, merge_mode="concat")
            wrapper.build((None, None, D))
            _copy_in(wrapper.forward_layer, module, f"_l{k}")
            _copy_in(wrapper.backward_layer, module, f"_l{k}_reverse")
            layers.append(wrapper)
        else:
            _copy_in(layer, module, f"_l{k}")
            layers.append(layer)
    model = Sequential(layers)
    p = next(module.parameters())
    return model.to(device=p.device, dtype=p.dtype)


def _recurrent_layers(model) -> tuple[list, float]:
    """The recurrent layers of ``model`` (a layer, a Bidirectional or a Sequential of them
    with Dropout between) as ``[(forward, backward or None)]``, and the dropout rate."""
    items = list(model.layers) if isinstance(model, Sequential) else [model]
    pairs, rates = [], set()
    for item in items:
        if isinstance(item, Dropout):
            rates.add(item.rate)
        elif isinstance(item, Bidirectional):
            if item.merge_mode != "concat":
                V.fail("to_torch", "model", "Bidirectional(merge_mode='concat')", item.merge_mode)
            pairs.append((item.forward_layer, item.backward_layer))
        elif isinstance(item, tuple(_GATES)):
            pairs.append((item, None))
        else:
            V.fail(
                "to_torch",
                "model",
                "LSTM / GRU / SimpleRNN layers (optionally Bidirectional, Dropout between)",
                item,
                TypeError,
            )
    if not pairs:
        V.fail("to_torch", "model", "at least one recurrent layer", model)
    if len(rates) > 1:
        V.fail("to_torch", "model", "the same Dropout rate between every layer", sorted(rates))
    return pairs, rates.pop() if rates else 0.0


def to_torch(model) -> nn.RNNBase:
    """The ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (``batch_first=True``) computing what ``model``
    computes: an rnnkit recurrent layer, a Bidirectional of one, or a Sequential of them as
    :func:`from_torch` returns. Every layer must be of one class with one size, built, with
    ``return_sequences=True`` between layers; a GRU needs ``reset_after=True``."""
    pairs, dropout = _recurrent_layers(model)
    first = pairs[0][0]
    cls, H = type(first), first.units
    for fw, bw in pairs:
        for layer in (fw, bw):
            if layer is None:
                continue
            if type(layer) is not cls or layer.units != H or not layer.built:
                V.fail("to_torch", "model", f"built {cls.__name__}({H}) layers only", layer)
            if cls is GRU and not layer.reset_after:
                V.fail("to_torch", "model", "a GRU with reset_after=True", "reset_after=False")
            if getattr(layer, "go_backwards", False) and bw is None:
                V.fail("to_torch", "model", "layers with go_backwards=False", layer)
    if len({bw is None for _, bw in pairs}) > 1:
        V.fail("to_torch", "model", "all layers bidirectional or none", model)
    kwargs = {
        "input_size": first.input_size,
        "hidden_size": H,
        "num_layers": len(pairs),
        "bias": first.use_bias,
        "batch_first": True,
        "dropout": dropout,
        "bidirectional": pairs[0][1] is not None,
    }
    if cls is SimpleRNN:
        if first.activation not in ("tanh", "relu"):
            V.fail("to_torch", "model", "a SimpleRNN with tanh or relu", first.activation)
        module = nn.RNN(nonlinearity=first.activation, **kwargs)
    else:
        module = {LSTM: nn.LSTM, GRU: nn.GRU}[cls](**kwargs)
    module = module.to(device=first.W_x.device, dtype=first.W_x.dtype)
    with torch.no_grad():
        for k, (fw, bw) in enumerate(pairs):
            for layer, suffix in ((fw, f"_l{k}"), (bw, f"_l{k}_reverse")):
                if layer is None:
                    continue
                W_x, W_h = layer.W_x, layer.W_h
                if cls is GRU:
                    W_x, W_h = _gru_swap(W_x.T).T, _gru_swap(W_h.T).T
                getattr(module, f"weight_ih{suffix}").copy_(W_x.T)
                getattr(module, f"weight_hh{suffix}").copy_(W_h.T)
                if not layer.use_bias:
                    continue
                if cls is GRU:
                    getattr(module, f"bias_ih{suffix}").copy_(_gru_swap(layer.b_x))
                    getattr(module, f"bias_hh{suffix}").copy_(_gru_swap(layer.b_h))
                else:
                    getattr(module, f"bias_ih{suffix}").copy_(layer.b)
                    getattr(module, f"bias_hh{suffix}").zero_()
    return module
