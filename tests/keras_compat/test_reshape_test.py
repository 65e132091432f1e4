"""Port of keras-team/keras keras/src/layers/reshaping/reshape_test.py (imports and harness
only). Keras's ``KerasTensor`` / symbolic ``layer(Input(...)).shape`` is rnnkit's
``compute_output_shape``."""

import pytest
import torch
from keras_harness import run_layer_test

from rnnkit import layers

CASES = [
    ((8, 1), (3, 2, 4), (3, 8, 1)),
    ((8,), (3, 2, 4), (3, 8)),
    ((2, 4), (3, 8), (3, 2, 4)),
    ((-1, 1), (3, 2, 4), (3, 8, 1)),
    ((1, -1), (3, 2, 4), (3, 1, 8)),
    ((-1,), (3, 2, 4), (3, 8)),
    ((2, -1), (3, 2, 4), (3, 2, 4)),
]


@pytest.mark.parametrize(
    "sparse",
    [False, pytest.param(True, marks=pytest.mark.skip(reason="rnnkit has no sparse tensors"))],
)
def test_reshape(sparse):
    for target_shape, input_shape, expected_output_shape in CASES:
        run_layer_test(
            layers.Reshape,
            init_kwargs={"target_shape": target_shape},
            input_shape=input_shape,
            expected_output_shape=expected_output_shape,
            run_training_check=not sparse,
        )


def test_reshape_with_dynamic_batch_size():
    reshaped = layers.Reshape((8,)).compute_output_shape((None, 2, 4))
    assert reshaped == (None, 8)


def test_reshape_with_dynamic_batch_size_and_minus_one():
    layer = layers.Reshape((-1, 8))
    layer.build((None, 6, 4))
    reshaped = layer.compute_output_shape((None, 6, 4))
    assert reshaped == (None, 3, 8)


def test_reshape_with_varying_static_batch_size_and_minus_one():
    layer = layers.Reshape((-1, 8))
    layer.build((None, 6, 4))
    res = layer(torch.ones((1, 6, 4), dtype=torch.float32))
    assert res.shape == (1, 3, 8)
    res = layer(torch.ones((1, 10, 4), dtype=torch.float32))
    assert res.shape == (1, 5, 8)


def test_reshape_with_dynamic_dim_and_minus_one():
    layer = layers.Reshape((-1, 3))
    layer.build((4, 6, None, 3))
    reshaped = layer.compute_output_shape((4, 6, None, 3))
    assert reshaped == (4, None, 3)


def test_reshape_sets_static_shape():
    reshaped = layers.Reshape((3, 5)).compute_output_shape((2, None))
    # Also make sure the batch dim is not lost after reshape.
    assert reshaped == (2, 3, 5)
