"""The encoder-decoder, written with rnnkit's functional API, and its step-by-step decoder.

Training graph (teacher forcing: the decoder reads the target shifted right by one)::

    source  (N, S) ids -> Embedding(mask_zero) -> LSTM(return_sequences, return_state)
                                                    -> enc (N, S, H), final state [h, c]
    target_in (N, T) ids -> Embedding(mask_zero) -> LSTM(initial_state=[h, c]) -> dec (N, T, H)
    context = Attention()([dec, enc])           # (N, T, H), padding of the source masked
    x = Dense(H, tanh)(Dropout(Concatenate()([dec, context])))
    logits = Dense(V_target)(x)                 # (N, T, V_target)

Training reads ``x`` from a second model on the same graph (``Seq2Seq.features``, the same
layer objects) and takes the loss with :func:`rnnkit.functional.dense_cross_entropy`: the
output layer and its softmax cross-entropy fused, on the target's non-padding steps only
(:func:`loss`).

Decoding runs the same layer objects (shared weights) one step at a time, carrying the
decoder's state: :func:`encode` then :func:`decode_step`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ...functional import dense_cross_entropy
from ...layers import (
    GRU,
    LSTM,
    AdditiveAttention,
    Attention,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Input,
)
from ...models import Model
from .config import TranslateConfig
from .vocab import PAD


@dataclass
class Seq2Seq:
    """The training model and its layers, for decoding with shared weights; ``features`` is
    the same graph up to the output layer's input (N, T, H)."""

    model: Model
    features: Model
    source_embedding: Embedding
    encoder: LSTM | GRU
    target_embedding: Embedding
    decoder: LSTM | GRU
    attention: Attention | None
    dropout: Dropout
    combine: Dense
    output: Dense


def build(config: TranslateConfig, source_size: int, target_size: int) -> Seq2Seq:
    """The encoder-decoder for vocabularies of these sizes; every layer named, so that saved
    weights load into a model built again."""
    cell = {"lstm": LSTM, "gru": GRU}[config.cell]
    E, H = config.embedding_dim, config.units
    source = Input(shape=(None,), dtype="int64", name="source")
    target_in = Input(shape=(None,), dtype="int64", name="target_in")
    source_embedding = Embedding(source_size, E, mask_zero=True, name="source_embedding")
    encoder = cell(H, return_sequences=True, return_state=True, name="encoder")
    target_embedding = Embedding(target_size, E, mask_zero=True, name="target_embedding")
    decoder = cell(H, return_sequences=True, return_state=True, name="decoder")
    enc, *state = encoder(source_embedding(source))
    dec, *_ = decoder(target_embedding(target_in), initial_state=state)
    attention = None
    if config.attention == "luong":
        attention = Attention(name="attention")
    elif config.attention == "bahdanau":
        attention = AdditiveAttention(name="attention")
    features = dec
    if attention is not None:
        features = Concatenate(name="concat")([dec, attention([dec, enc])])
    dropout = Dropout(config.dropout, name="dropout")
    combine = Dense(H, activation="tanh", name="combine")
    output = Dense(target_size, name="logits")
    x = combine(dropout(features))
    logits = output(x)
    model = Model([source, target_in], logits, name="translator")
    return Seq2Seq(
        model,
        Model([source, target_in], x, name="translator_features"),
        source_embedding,
        encoder,
        target_embedding,
        decoder,
        attention,
        dropout,
        combine,
        output,
    )


def encode(net: Seq2Seq, source: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
    """``source`` (N, S) ids -> encoder outputs (N, S, H), the source mask (N, S) and the
    encoder's final state (the decoder's first)."""
    mask = source != 0
    enc, *state = net.encoder(net.source_embedding(source), mask=mask)
    return enc, mask, list(state)


def decode_step(
    net: Seq2Seq,
    prev: Tensor,
    state: list[Tensor],
    enc: Tensor,
    mask: Tensor,
    weights: list[Tensor] | None = None,
) -> tuple[Tensor, list[Tensor]]:
    """One decoder step: ``prev`` (N,) ids -> log-probabilities (N, V) and the new state; the
    attention weights over the source (N, S) are appended to ``weights`` when it is a list."""
    dec, *state = net.decoder(net.target_embedding(prev[:, None]), initial_state=state)
    features = dec
    if net.attention is not None:
        context, scores = net.attention([dec, enc], mask=[None, mask], return_attention_scores=True)
        if weights is not None:
            weights.append(scores[:, 0])
        features = torch.cat([dec, context], dim=-1)
    logits = net.output(net.combine(features))[:, 0]  # (N, V); dropout is off in inference
    return torch.log_softmax(logits.float(), dim=-1), list(state)


def loss(net: Seq2Seq, source: Tensor, target_in: Tensor, target_out: Tensor) -> Tensor:
    """Teacher-forced training loss: the mean cross-entropy of ``target_out`` (N, T) over its
    non-padding steps, equal to ``F.cross_entropy(net.model([source, target_in]).transpose(1,
    2), target_out, ignore_index=PAD)`` but with the output layer computed on those steps only
    (:func:`rnnkit.functional.dense_cross_entropy`)."""
    x = net.features([source, target_in])  # (N, T, H) the output layer's input
    return dense_cross_entropy(x, net.output.W, net.output.b, target_out, ignore_index=PAD)
