"""Merge layers against hand computation (torch ops), with Keras's shape checks, messages and
mask rules (Keras's own cases are ported in tests/keras_compat/test_merging_test.py)."""

import re

import pytest
import torch

from rnnkit import Input, Model
from rnnkit.layers import (
    LSTM,
    Add,
    Average,
    Concatenate,
    Dense,
    Dot,
    Embedding,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)

a, b, c = torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(2, 3, 4)


# 1. Each layer and its functional form against the torch expression.
@pytest.mark.parametrize(
    "layer, fn, expected",
    [
        (Add(), add, a + b + c),
        (Multiply(), multiply, a * b * c),
        (Average(), average, (a + b + c) / 3),
        (Maximum(), maximum, torch.maximum(torch.maximum(a, b), c)),
        (Minimum(), minimum, torch.minimum(torch.minimum(a, b), c)),
        (Concatenate(), concatenate, torch.cat([a, b, c], -1)),
    ],
    ids=["add", "multiply", "average", "maximum", "minimum", "concatenate"],
)
def test_merge_equals_torch(layer, fn, expected):
    torch.testing.assert_close(layer([a, b, c]), expected)
    torch.testing.assert_close(fn([a, b, c]), expected)


def test_subtract_dot_concat_axis():
    torch.testing.assert_close(subtract([a, b]), a - b)
    torch.testing.assert_close(Concatenate(axis=1)([a, b]), torch.cat([a, b], 1))
    torch.testing.assert_close(dot([a, b], axes=2), torch.einsum("ntd,nsd->nts", a, b))
    torch.testing.assert_close(Dot(axes=(1, 1))([a, b]), torch.einsum("ntd,nte->nde", a, b))
    x, y = torch.randn(5, 4), torch.randn(5, 4)
    torch.testing.assert_close(Dot(axes=1)([x, y]), (x * y).sum(1, keepdim=True))
    cos = torch.nn.functional.cosine_similarity(x, y).unsqueeze(1)
    torch.testing.assert_close(Dot(axes=-1, normalize=True)([x, y]), cos)
    # inputs of different ranks broadcast as Keras (expanded at axis 1)
    torch.testing.assert_close(Add()([a, b[:, 0]]), a + b[:, :1])


# 2. Masks: two Embedding(mask_zero=True) branches added in a model; the output mask is the OR,
#    and the LSTM after it sees that mask (Keras's rule).
def test_masks_merge_in_a_model():
    torch.manual_seed(0)
    x1, x2 = Input(shape=(None,), dtype="int64"), Input(shape=(None,), dtype="int64")
    e1, e2, lstm = Embedding(9, 3, mask_zero=True), Embedding(9, 3, mask_zero=True), LSTM(2)
    model = Model([x1, x2], lstm(Add()([e1(x1), e2(x2)])))
    i1 = torch.tensor([[0, 1, 2, 0], [3, 0, 0, 0]])
    i2 = torch.tensor([[0, 0, 4, 5], [6, 7, 0, 0]])
    either = (i1 != 0) | (i2 != 0)
    torch.testing.assert_close(model([i1, i2]), lstm(e1(i1) + e2(i2), mask=either))
    assert torch.equal(Add().compute_mask([a, b], [i1 != 0, i2 != 0]), either)
    assert Add().compute_mask([a, b], [i1 != 0, None]) is None
    assert Concatenate().compute_mask([a, b], [None, None]) is None


# 3. Keras's shape errors and messages.
def test_merge_errors():
    with pytest.raises(
        ValueError,
        match=re.escape("Inputs have incompatible shapes. Received shapes (3, 4) and (3, 5)"),
    ):
        Add()([Input((3, 4)), Input((3, 5))])
    with pytest.raises(ValueError, match=r"A merge layer should be called on a list of inputs\."):
        Add()(a)
    with pytest.raises(ValueError, match="A `Subtract` layer should be called on exactly 2 inputs"):
        Subtract()([a, b, c])
    with pytest.raises(
        ValueError, match="requires inputs with matching shapes except for the concatenation axis"
    ):
        Concatenate()([Input((3, 4)), Input((5, 4))])
    with pytest.raises(
        ValueError,
        match=re.escape("Incompatible input shapes: axis values 4 (at axis 2) != 5 (at axis 2)"),
    ):
        Dot(axes=2)([Input((3, 4)), Input((3, 5))])
    with pytest.raises(
        ValueError, match=re.escape("Cannot merge tensors with different batch sizes")
    ):
        Add()([Input((3,), batch_size=2), Input((3,), batch_size=4)])
    with pytest.raises(
        ValueError, match="Invalid format for argument `axes`: it should contain two elements"
    ):
        Dot(axes=(1, 2, 3))


# 4. Symbolic shapes, configs, a dense head after the merge.
def test_merge_shapes_and_config():
    x, y = Input((None, 4)), Input((None, 6))
    assert Concatenate()([x, y]).shape == (None, None, 10)
    assert Dot(axes=2)([x, Dense(4)(y)]).shape == (None, None, None)
    assert Add()([Input((1, 4)), Input((3, 4))]).shape == (None, 3, 4)
    for layer in (Add(), Concatenate(axis=1), Dot(axes=[1, 2], normalize=True)):
        again = type(layer).from_config(layer.get_config())
        assert {k: v for k, v in again.get_config().items() if k != "name"} == {
            k: v for k, v in layer.get_config().items() if k != "name"
        }
