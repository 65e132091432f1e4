"""Attention layers, as Keras 3 has them: ``Attention`` (Luong's dot-product attention) and
``AdditiveAttention`` (Bahdanau's additive attention).

Both are called on ``[query, value]`` or ``[query, value, key]`` (``key`` defaults to
``value``): ``query`` (N, Tq, dim), ``value`` (N, Tv, dim_v), ``key`` (N, Tv, dim)::

    scores = score(query, key)                  # (N, Tq, Tv)
    scores = scores - 1e9 where a key is masked # value_mask (N, Tv) and / or the causal mask
    weights = softmax(scores, axis=-1)          # (N, Tq, Tv), dropout on them in training
    output = weights @ value                    # (N, Tq, dim_v), 0 where the query is masked

Scores: ``Attention`` ``score_mode='dot'``: ``query @ key^T`` (times the scalar ``scale`` with
``use_scale``); ``'concat'``: ``concat_score_weight * sum(tanh(scale * (q + k)), -1)``.
``AdditiveAttention``: ``sum(scale * tanh(q + k), -1)`` with ``scale`` (dim,) when
``use_scale``. Weights have Keras's names, shapes and initial values: ``scale`` () ones and
``concat_score_weight`` () ones (Attention), ``scale`` (dim,) glorot-uniform
(AdditiveAttention).

Call arguments: ``mask=[query_mask, value_mask]`` (a functional model passes the masks of its
inputs itself), ``return_attention_scores=True`` returns ``(output, weights)``,
``use_causal_mask=True`` lets query step i see key steps 0..i only, ``training=``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _validation as V
from .. import initializers as I
from .base import Layer
from .merging import _keras_only


class Attention(Layer):
    """Dot-product attention layer, a.k.a. Luong-style attention (Luong et al. 2015).

    Args:
        use_scale: learn a scalar ``scale`` that multiplies the scores (starts at 1).
        score_mode: 'dot' or 'concat' (see the module docstring).
        dropout: fraction of the attention weights dropped in training.
        seed: accepted for Keras's signature; dropout draws from PyTorch's generator
            (:func:`rnnkit.utils.set_random_seed`).

    >>> import torch
    >>> from rnnkit.layers import Attention
    >>> q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    >>> Attention()([q, v]).shape
    torch.Size([2, 3, 4])
    """

    supports_masking = True
    score_modes = ("dot", "concat")

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
        **kwargs,
    ):
        owner = type(self).__name__
        _keras_only(owner, kwargs)
        super().__init__(name=name)
        self.use_scale = V.boolean(owner, "use_scale", use_scale)
        self.score_mode = V.choice(owner, "score_mode", score_mode, self.score_modes)
        self.dropout = V.rate(owner, "dropout", dropout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            V.fail(owner, "seed", "an integer or None", seed, TypeError)
        self.seed = seed

    # -- weights --------------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        self._validate_inputs(input_shape)
        if self.use_scale:
            self.scale = self._param()
            I.fill_(self.scale, I.argument("Attention", "scale", "ones"), "Attention", "scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self._param()
            ones = I.argument("Attention", "concat_score_weight", "ones")
            I.fill_(self.concat_score_weight, ones, "Attention", "concat_score_weight")
        self.built = True

    # -- shapes, masks --------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        query_shape, value_shape = input_shape[0], input_shape[1]
        return (*query_shape[:-1], value_shape[-1])

    def compute_output_shape_of_call(self, input_shape, call_kwargs: dict):
        self._validate_inputs(input_shape, call_kwargs.get("mask"))
        out = self.compute_output_shape(input_shape)
        if call_kwargs.get("return_attention_scores"):
            key_shape = input_shape[2] if len(input_shape) > 2 else input_shape[1]
            return [out, (*input_shape[0][:-1], key_shape[-2])]
        return out

    def compute_mask(self, inputs, mask=None):
        self._validate_inputs(inputs, mask)
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def _validate_inputs(self, inputs, mask=None) -> None:
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{name} layer must be called on a list of inputs, namely [query, value] or "
                f"[query, value, key]. Received: inputs={inputs}."
            )
        if len(inputs) < 2 or len(inputs) > 3:
            raise ValueError(
                f"{name} layer accepts inputs list of length 2 or 3, namely [query, value] "
                f"or [query, value, key]. Received length: {len(inputs)}."
            )
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(
                    f"{name} layer mask must be a list, namely [query_mask, value_mask]. "
                    f"Received: mask={mask}."
                )
            if len(mask) < 2 or len(mask) > 3:
                raise ValueError(
                    f"{name} layer accepts mask list of length 2 or 3. "
                    f"Received: inputs={inputs}, mask={mask}."
                )

    # -- the call -------------------------------------------------------------------------------
    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        """Scores (N, Tq, Tv) of each query step against each key step."""
        if self.score_mode == "dot":
            scores = query @ key.transpose(-2, -1)  # (N, Tq, Tv)
            return scores * self.scale if self.use_scale else scores
        q = query.unsqueeze(-2)  # (N, Tq, 1, dim)
        k = key.unsqueeze(-3)  # (N, 1, Tv, dim)
        s = q + k if not self.use_scale else self.scale * (q + k)
        return self.concat_score_weight * torch.tanh(s).sum(-1)  # (N, Tq, Tv)

    def forward(
        self,
        inputs,
        mask=None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ):
        owner = type(self).__name__
        self._validate_inputs(inputs, mask)
        V.boolean(owner, "return_attention_scores", return_attention_scores)
        V.boolean(owner, "use_causal_mask", use_causal_mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        self.maybe_build([tuple(t.shape) for t in inputs], q.device)
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._scores(q, k)  # (N, Tq, Tv)
        keep = self._score_mask(scores, v_mask, use_causal_mask)  # which keys a query sees
        if keep is not None:
            scores = torch.where(keep, scores, scores - 1.0e9)
        weights = torch.softmax(scores, dim=-1)  # (N, Tq, Tv)
        if self.training and self.dropout > 0:
            weights = torch.nn.functional.dropout(weights, self.dropout, training=True)
        output = weights @ v  # (N, Tq, dim_v)
        if q_mask is not None:
            output = torch.where(_bool(q_mask, output.device).unsqueeze(-1), output, 0.0)
        if return_attention_scores:
            return output, weights
        return output

    def _score_mask(self, scores: Tensor, v_mask, use_causal_mask: bool):
        """True where a query step may see a key step: ``value_mask`` (N, 1, Tv) and / or the
        causal mask (1, Tq, Tv) (query i sees keys 0..i); None when every key is seen."""
        keep = None
        if v_mask is not None:
            keep = _bool(v_mask, scores.device).unsqueeze(-2)  # (N, 1, Tv)
        if use_causal_mask:
            Tq, Tv = scores.shape[-2:]
            rows = torch.arange(Tq, device=scores.device).unsqueeze(-1)
            cols = torch.arange(Tv, device=scores.device)
            causal = (rows >= cols).unsqueeze(0)  # (1, Tq, Tv)
            keep = causal if keep is None else keep & causal
        return keep

    # Keras's private names, used by its tests
    def _calculate_scores(self, query, key):
        return self._scores(torch.as_tensor(query), torch.as_tensor(key))

    def _calculate_score_mask(self, scores, v_mask, use_causal_mask):
        return self._score_mask(torch.as_tensor(scores), v_mask, use_causal_mask)

    # -- config ---------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
            "name": self.name,
        }

    def extra_repr(self) -> str:
        parts = []
        if self.use_scale:
            parts.append("use_scale=True")
        if self.score_mode != "dot":
            parts.append(f"score_mode={self.score_mode!r}")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        return ", ".join(parts)


def _bool(mask, device) -> Tensor:
    m = torch.as_tensor(mask, device=device)
    return m if m.dtype == torch.bool else m != 0


class AdditiveAttention(Attention):
    """Additive attention layer, a.k.a. Bahdanau-style attention (Bahdanau et al. 2015):
    ``scores = sum(scale * tanh(query_i + key_j), -1)``.

    Args:
        use_scale: learn a ``scale`` vector (dim,), glorot-uniform at first (as Keras).
        dropout: fraction of the attention weights dropped in training.

    >>> import torch
    >>> from rnnkit.layers import AdditiveAttention
    >>> q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    >>> AdditiveAttention()([q, v]).shape
    torch.Size([2, 3, 4])
    """

    def __init__(
        self,
        use_scale: bool = True,
        dropout: float = 0.0,
        *,
        name: str | None = None,
        **kwargs,
    ):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, name=name, **kwargs)

    def build(self, input_shape) -> None:
        self._validate_inputs(input_shape)
        dim = input_shape[0][-1]
        if self.use_scale:
            self.scale = self._param(dim)
            glorot = I.argument("AdditiveAttention", "scale", "glorot_uniform")
            I.fill_(self.scale, glorot, "AdditiveAttention", "scale")
        self.built = True

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        q = query.unsqueeze(-2)  # (N, Tq, 1, dim)
        k = key.unsqueeze(-3)  # (N, 1, Tv, dim)
        t = torch.tanh(q + k)  # (N, Tq, Tv, dim)
        return (self.scale * t if self.use_scale else t).sum(-1)  # (N, Tq, Tv)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["score_mode"]  # as Keras: additive scores have no mode
        return config
