"""Port of keras-team/keras keras/src/layers/reshaping/repeat_vector_test.py (imports and
harness only). Keras's symbolic ``layer(Input(...)).shape`` is rnnkit's
``compute_output_shape``; the error text is rnnkit's, the exception type Keras's."""

import numpy as np
import pytest
from keras_harness import run_layer_test

from rnnkit import layers


def test_repeat_vector():
    inputs = np.random.random((2, 5)).astype("float32")
    expected_output = np.repeat(np.reshape(inputs, (2, 1, 5)), 3, axis=1)
    run_layer_test(
        layers.RepeatVector,
        init_kwargs={"n": 3},
        input_data=inputs,
        expected_output=expected_output,
    )


def test_repeat_vector_with_dynamic_batch_size():
    repeated = layers.RepeatVector(n=3).compute_output_shape((None, 5))
    assert repeated == (None, 3, 5)


def test_repeat_vector_with_dynamic_dimension():
    repeated = layers.RepeatVector(n=3).compute_output_shape((2, None))
    assert repeated == (2, 3, None)


def test_repeat_vector_accepts_integer_like_n():
    """RepeatVector should accept numpy integers."""
    layer = layers.RepeatVector(n=np.int32(3))
    assert layer.n == 3
    assert isinstance(layer.n, int)

    layer = layers.RepeatVector(n=np.int64(5))
    assert layer.n == 5
    assert isinstance(layer.n, int)


def test_repeat_vector_with_invalid_n():
    with pytest.raises(TypeError, match="RepeatVector: `n` expected a positive integer"):
        layers.RepeatVector(n="3")

    with pytest.raises(TypeError, match="RepeatVector: `n` expected a positive integer"):
        layers.RepeatVector(n=3.5)

    with pytest.raises(TypeError, match="RepeatVector: `n` expected a positive integer"):
        layers.RepeatVector(n=[3])
