"""Port of keras-team/keras keras/src/layers/pooling/max_pooling_test.py (imports and harness
only; the 1D tests; MaxPooling2D / 3D are not in rnnkit, see README)."""

import numpy as np
import pytest
from keras_harness import assert_all_close, run_layer_test, to_tensor
from numpy.lib.stride_tricks import as_strided

from rnnkit import layers


def _same_padding(input_size, pool_size, stride):
    if input_size % stride == 0:
        return max(pool_size - stride, 0)
    else:
        return max(pool_size - (input_size % stride), 0)


def np_maxpool1d(x, pool_size, strides, padding, data_format):
    if data_format == "channels_first":
        x = x.swapaxes(1, 2)
    if isinstance(pool_size, (tuple, list)):
        pool_size = pool_size[0]
    if isinstance(strides, (tuple, list)):
        h_stride = strides[0]
    else:
        h_stride = strides

    if padding == "same":
        n_batch, h_x, ch_x = x.shape
        pad_value = _same_padding(h_x, pool_size, h_stride)
        npad = [(0, 0)] * x.ndim
        npad[1] = (0, pad_value)
        x = np.pad(x, pad_width=npad, mode="constant", constant_values=-np.inf)

    n_batch, h_x, ch_x = x.shape
    out_h = int((h_x - pool_size) / h_stride) + 1

    stride_shape = (n_batch, out_h, ch_x, pool_size)
    strides = (
        x.strides[0],
        h_stride * x.strides[1],
        x.strides[2],
        x.strides[1],
    )
    windows = as_strided(x, shape=stride_shape, strides=strides)
    out = np.max(windows, axis=(3,))
    if data_format == "channels_first":
        out = out.swapaxes(1, 2)
    return out


@pytest.mark.parametrize(
    "pool_size, strides, padding, data_format, input_shape, output_shape",
    [
        (2, 1, "valid", "channels_last", (3, 5, 4), (3, 4, 4)),
        (2, 1, "same", "channels_first", (3, 5, 4), (3, 5, 4)),
        ((2,), (2,), "valid", "channels_last", (3, 5, 4), (3, 2, 4)),
    ],
)
def test_max_pooling1d_basics(pool_size, strides, padding, data_format, input_shape, output_shape):
    run_layer_test(
        layers.MaxPooling1D,
        init_kwargs={
            "pool_size": pool_size,
            "strides": strides,
            "padding": padding,
            "data_format": data_format,
        },
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_losses=0,
        supports_masking=False,
        assert_built_after_instantiation=True,
    )


@pytest.mark.skip(reason="MaxPooling2D / 3D are not in rnnkit (1-D sequences only)")
def test_max_pooling2d_and_3d_basics():
    pass


@pytest.mark.parametrize(
    "pool_size, strides, padding, data_format",
    [
        (2, 1, "valid", "channels_last"),
        (2, 1, "valid", "channels_first"),
        (2, 1, "same", "channels_last"),
        (2, 1, "same", "channels_first"),
        ((2,), (2,), "valid", "channels_last"),
        ((2,), (2,), "valid", "channels_first"),
    ],
)
def test_max_pooling1d(pool_size, strides, padding, data_format):
    inputs = np.arange(24, dtype="float32").reshape((2, 3, 4))

    layer = layers.MaxPooling1D(
        pool_size=pool_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
    )
    outputs = layer(to_tensor(inputs))
    expected = np_maxpool1d(inputs, pool_size, strides, padding, data_format)
    assert_all_close(outputs, expected)


@pytest.mark.skip(reason="MaxPooling2D / 3D are not in rnnkit (1-D sequences only)")
def test_max_pooling2d_and_3d():
    pass
