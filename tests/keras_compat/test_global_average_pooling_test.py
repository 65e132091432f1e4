"""Port of keras-team/keras keras/src/layers/pooling/global_average_pooling_test.py (imports
and harness only; 1D, 2D and 3D)."""

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
def test_global_average_pooling1d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(
        layers.GlobalAveragePooling1D,
        init_kwargs={
            "data_format": data_format,
            "keepdims": keepdims,
        },
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_losses=0,
        supports_masking=True,
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
def test_global_average_pooling1d(data_format, keepdims):
    def np_gap1d(x, data_format, keepdims, mask=None):
        steps_axis = 1 if data_format == "channels_last" else 2
        if mask is not None:
            mask = np.expand_dims(mask, 2 if data_format == "channels_last" else 1)
            x *= mask
            res = np.sum(x, axis=steps_axis) / np.sum(mask, axis=steps_axis)
        else:
            res = np.mean(x, axis=steps_axis)
        if keepdims:
            res = np.expand_dims(res, axis=steps_axis)
        return res

    inputs = np.arange(24, dtype="float32").reshape((2, 3, 4))
    layer = layers.GlobalAveragePooling1D(
        data_format=data_format,
        keepdims=keepdims,
    )
    outputs = layer(to_tensor(inputs))
    expected = np_gap1d(inputs, data_format, keepdims)
    assert_all_close(outputs, expected)

    if data_format == "channels_last":
        mask = np.array([[1, 1, 0], [0, 1, 0]], dtype="int32")
    else:
        mask = np.array([[1, 1, 0, 0], [0, 1, 0, 1]], dtype="int32")
    outputs = layer(to_tensor(inputs), to_tensor(mask))
    expected = np_gap1d(inputs, data_format, keepdims, mask)
    assert_all_close(outputs, expected)


@pytest.mark.parametrize(
    "data_format, keepdims, input_shape, output_shape",
    [
        ("channels_last", False, (3, 5, 6, 4), (3, 4)),
        ("channels_last", True, (3, 5, 6, 4), (3, 1, 1, 4)),
        ("channels_first", False, (3, 5, 6, 4), (3, 5)),
    ],
)
def test_global_average_pooling2d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(
        layers.GlobalAveragePooling2D,
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
def test_global_average_pooling3d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(
        layers.GlobalAveragePooling3D,
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
def test_global_average_pooling2d(data_format, keepdims):
    def np_gap2d(x, data_format, keepdims):
        steps_axis = [1, 2] if data_format == "channels_last" else [2, 3]
        res = np.apply_over_axes(np.mean, x, steps_axis)
        if not keepdims:
            res = res.squeeze()
        return res

    inputs = np.arange(96, dtype="float32").reshape((2, 3, 4, 4))
    layer = layers.GlobalAveragePooling2D(
        data_format=data_format,
        keepdims=keepdims,
    )
    outputs = layer(to_tensor(inputs))
    expected = np_gap2d(inputs, data_format, keepdims)
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
def test_global_average_pooling3d(data_format, keepdims):
    def np_gap3d(x, data_format, keepdims):
        steps_axis = [1, 2, 3] if data_format == "channels_last" else [2, 3, 4]
        res = np.apply_over_axes(np.mean, x, steps_axis)
        if not keepdims:
            res = res.squeeze()
        return res

    inputs = np.arange(360, dtype="float32").reshape((2, 3, 3, 5, 4))
    layer = layers.GlobalAveragePooling3D(
        data_format=data_format,
        keepdims=keepdims,
    )
    outputs = layer(to_tensor(inputs))
    expected = np_gap3d(inputs, data_format, keepdims)
    assert_all_close(outputs, expected)
