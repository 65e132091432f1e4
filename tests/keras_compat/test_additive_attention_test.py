"""Port of keras-team/keras keras/src/layers/attention/additive_attention_test.py (imports
and harness only)."""

import numpy as np
import pytest
import torch
from keras_harness import assert_all_close, run_layer_test

from rnnkit import layers


def test_attention_basics():
    # No scale
    run_layer_test(
        layers.AdditiveAttention,
        init_kwargs={
            "use_scale": True,
            "dropout": 0.5,
        },
        input_shape=[(2, 3, 4), (2, 4, 4)],
        expected_output_shape=(2, 3, 4),
        expected_num_trainable_weights=1,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=1,
        expected_num_losses=0,
        supports_masking=True,
        run_training_check=False,
    )
    # With scale.
    run_layer_test(
        layers.AdditiveAttention,
        init_kwargs={
            "use_scale": False,
            "dropout": 0.5,
        },
        input_shape=[(2, 3, 4), (2, 4, 4)],
        expected_output_shape=(2, 3, 4),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=1,
        expected_num_losses=0,
        supports_masking=True,
        run_training_check=False,
    )


def test_attention_correctness():
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    key = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    value = np.array([[[1.0, 2.0], [3.0, 4.0]]])

    layer = layers.AdditiveAttention(use_scale=False)
    output, scores = layer(
        [query, value, key],
        return_attention_scores=True,
    )
    assert_all_close(
        output,
        [[[1.727, 2.727], [2.272, 3.272]]],
        atol=1e-3,
    )
    assert_all_close(
        scores,
        [[[0.636, 0.363], [0.363, 0.636]]],
        atol=1e-3,
    )


def test_attention_with_mask():
    layer = layers.AdditiveAttention(use_scale=False)
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    value = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    query_mask = np.array([[True, False]])
    value_mask = np.array([[True, False]])
    output, scores = layer(
        [query, value],
        mask=[query_mask, value_mask],
        return_attention_scores=True,
    )
    assert_all_close(output, [[[1.0, 1.0], [0.0, 0.0]]])
    assert_all_close(scores, [[[1.0, 0.0], [1.0, 0.0]]])


def test_attention_errors():
    layer = layers.AdditiveAttention()
    tensor = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    with pytest.raises(ValueError, match="must be called on a list"):
        layer(tensor)

    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([tensor, tensor, tensor, tensor])

    with pytest.raises(ValueError, match="layer mask must be a list"):
        layer([tensor, tensor], mask=tensor)

    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([tensor, tensor], mask=[tensor])


# -- the assertions of Keras's TestCase, as plain functions ------------------------------------
def assert_equal(a, b, msg=None):
    a = tuple(a) if isinstance(a, torch.Size) else a
    assert a == b, msg


def assert_none(x, msg=None):
    assert x is None, msg


def assert_not_none(x, msg=None):
    assert x is not None, msg


def assert_true(x, msg=None):
    assert x, msg


def assert_isinstance(x, cls, msg=None):
    assert isinstance(x, cls), msg


def assert_not_isinstance(x, cls, msg=None):
    assert not isinstance(x, cls), msg


def assert_not_all_close(a, b):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert not np.allclose(a, b)
