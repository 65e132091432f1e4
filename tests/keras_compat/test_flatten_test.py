"""Port of keras-team/keras keras/src/layers/reshaping/flatten_test.py (imports and harness
only). Keras's symbolic ``layer(Input(...)).shape`` is rnnkit's ``compute_output_shape``."""

import numpy as np
import pytest
from keras_harness import run_layer_test

from rnnkit import layers, models


@pytest.mark.parametrize(
    "sparse",
    [False, pytest.param(True, marks=pytest.mark.skip(reason="rnnkit has no sparse tensors"))],
)
def test_flatten(sparse):
    inputs = np.random.random((10, 3, 5, 5)).astype("float32")
    # Make the ndarray relatively sparse
    inputs = np.multiply(inputs, inputs >= 0.8)
    expected_output_channels_last = np.reshape(inputs, (-1, 5 * 5 * 3))
    expected_output_channels_first = np.reshape(np.transpose(inputs, (0, 2, 3, 1)), (-1, 5 * 5 * 3))

    # Test default data_format and channels_last
    run_layer_test(
        layers.Flatten,
        init_kwargs={},
        input_data=inputs,
        expected_output=expected_output_channels_last,
        run_training_check=not sparse,
    )
    run_layer_test(
        layers.Flatten,
        init_kwargs={"data_format": "channels_last"},
        input_data=inputs,
        expected_output=expected_output_channels_last,
        run_training_check=not sparse,
    )

    # Test channels_first
    run_layer_test(
        layers.Flatten,
        init_kwargs={"data_format": "channels_first"},
        input_data=inputs,
        expected_output=expected_output_channels_first,
        run_training_check=not sparse,
    )


def test_flatten_with_scalar_channels():
    inputs = np.random.random((10,)).astype("float32")
    expected_output = np.expand_dims(inputs, -1)

    # Test default data_format and channels_last
    run_layer_test(
        layers.Flatten,
        init_kwargs={},
        input_data=inputs,
        expected_output=expected_output,
    )
    run_layer_test(
        layers.Flatten,
        init_kwargs={"data_format": "channels_last"},
        input_data=inputs,
        expected_output=expected_output,
    )

    # Test channels_first
    run_layer_test(
        layers.Flatten,
        init_kwargs={"data_format": "channels_first"},
        input_data=inputs,
        expected_output=expected_output,
    )


def test_flatten_symbolic_with_dynamic_batch_size():
    flattened = layers.Flatten().compute_output_shape((None, 2, 3))
    assert flattened == (None, 2 * 3)


def test_flatten_symbolic_with_dynamic_dimension():
    flattened = layers.Flatten().compute_output_shape((5, 2, None))
    assert flattened == (5, None)


def test_flatten_with_dynamic_batch_size_and_dynamic_dimenstions():
    def generator():
        yield (np.ones((3, 5, 7), dtype="float32"),)
        yield (np.ones((2, 7, 5), dtype="float32"),)

    model = models.Sequential([layers.Flatten()])
    model.predict(generator())
