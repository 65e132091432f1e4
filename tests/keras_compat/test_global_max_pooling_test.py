"""Port of keras-team/keras keras/src/layers/pooling/global_max_pooling_test.py (imports and
harness only; 1D, 2D and 3D)."""

import numpy as np
import pytest
from keras_harness import assert_all_close, run_layer_test, to_tensor

from rnnkit import layers


@pytest.mark.parametrize(
    "data_format, keepdims, input_shape, output_shape",
    [
        ("channels_last", False, (3, 5, 4), (3, 4)),
        ("channels_last", True, (3, 5, 4), (3, 1, 4)),
        ("channels_first", False, (3, 5, 4), (3, 5)),
    ],
)
def test_global_max_pooling1d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(
        layers.GlobalMaxPooling1D,
        init_kwargs={
            "data_format": data_format,
            "keepdims": keepdims,
        },
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_losses=0,
        supports_masking=False,
    )


@pytest.mark.parametrize(
    "data_format, keepdims",
    [
        ("channels_last", False),
        ("channels_last", True),
        ("channels_first", False),
        ("channels_first", True),
    ],
)
def test_global_max_pooling1d(data_format, keepdims):
    def np_global_max_pool1d(x, data_format, keepdims):
        steps_axis = [1] if data_format == "channels_last" else [2]
        res = np.apply_over_axes(np.max, x, steps_axis)
        if not keepdims:
            res = res.squeeze()
        return res

    inputs = np.arange(24, dtype="float32").reshape((2, 3, 4))
    layer = layers.GlobalMaxPooling1D(
        data_format=data_format,
        keepdims=keepdims,
    )
    outputs = layer(to_tensor(inputs))
    expected = np_global_max_pool1d(inputs, data_format, keepdims)
    assert_all_close(outputs, expected)


@pytest.mark.parametrize(
    "data_format, keepdims, input_shape, output_shape",
    [
        ("channels_last", False, (3, 5, 6, 4), (3, 4)),
        ("channels_last", True, (3, 5, 6, 4), (3, 1, 1, 4)),
        ("channels_first", False, (3, 5, 6, 4), (3, 5)),
    ],
)
def test_global_max_pooling2d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(
        layers.GlobalMaxPooling2D,
        init_kwargs={
            "data_format": data_format,
            "keepdims": keepdims,
        },
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_losses=0,
        supports_masking=False,
        assert_built_after_instantiation=True,
    )


@pytest.mark.parametrize(
    "data_format, keepdims, input_shape, output_shape",
    [
        ("channels_last", False, (3, 5, 6, 5, 4), (3, 4)),
        ("channels_last", True, (3, 5, 6, 5, 4), (3, 1, 1, 1, 4)),
        ("channels_first", False, (3, 5, 6, 5, 4), (3, 5)),
    ],
)
def test_global_max_pooling3d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(
        layers.GlobalMaxPooling3D,
        init_kwargs={
            "data_format": data_format,
            "keepdims": keepdims,
        },
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_losses=0,
        supports_masking=False,
        assert_built_after_instantiation=True,
    )


@pytest.mark.parametrize(
    "data_format, keepdims",
    [
        ("channels_last", False),
        ("channels_last", True),
        ("channels_first", False),
        ("channels_first", True),
    ],
)
def test_global_max_pooling2d(data_format, keepdims):
    def np_global_max_pool2d(x, data_format, keepdims):
        steps_axis = [1, 2] if data_format == "channels_last" else [2, 3]
        res = np.apply_over_axes(np.max, x, steps_axis)
        if not keepdims:
            res = res.squeeze()
        return res

    inputs = np.arange(96, dtype="float32").reshape((2, 3, 4, 4))
    layer = layers.GlobalMaxPooling2D(
        data_format=data_format,
        keepdims=keepdims,
    )
    outputs = layer(to_tensor(inputs))
    expected = np_global_max_pool2d(inputs, data_format, keepdims)
    assert_all_close(outputs, expected)


@pytest.mark.parametrize(
    "data_format, keepdims",
    [
        ("channels_last", False),
        ("channels_last", True),
        ("channels_first", False),
        ("channels_first", True),
    ],
)
def test_global_max_pooling3d(data_format, keepdims):
    def np_global_max_pool3d(x, data_format, keepdims):
        steps_axis = [1, 2, 3] if data_format == "channels_last" else [2, 3, 4]
        res = np.apply_over_axes(np.max, x, steps_axis)
        if not keepdims:
            res = res.squeeze()
        return res

    inputs = np.arange(360, dtype="float32").reshape((2, 3, 3, 5, 4))
    layer = layers.GlobalMaxPooling3D(
        data_format=data_format,
        keepdims=keepdims,
    )
    outputs = layer(to_tensor(inputs))
    expected = np_global_max_pool3d(inputs, data_format, keepdims)
    assert_all_close(outputs, expected)
