"""Port of keras-team/keras keras/src/layers/convolutional/conv_test.py (imports and harness
only; the Conv1D cases). Conv2D / Conv3D are not in rnnkit; LoRA is not in rnnkit (see
README). Three Conv2D-only tests are ported as their Conv1D analogues (bad arguments, a
constraint, a too-short input), named ``*_conv1d``. Keras's ``layer.kernel.assign(w)`` becomes
``layer.set_weights([...])`` (same Keras layout); a symbolic call becomes
``compute_output_shape``."""

import numpy as np
import pytest
from keras_harness import assert_all_close, run_layer_test, to_tensor
from numpy.lib.stride_tricks import as_strided

from rnnkit import constraints, layers


def _same_padding(input_size, kernel_size, stride):
    if input_size % stride == 0:
        padding = max(kernel_size - stride, 0)
    else:
        padding = max(kernel_size - (input_size % stride), 0)
    return padding // 2, padding - padding // 2


def np_conv1d(
    x,
    kernel_weights,
    bias_weights,
    strides,
    padding,
    data_format,
    dilation_rate,
    groups,
):
    if data_format == "channels_first":
        x = x.swapaxes(1, 2)
    if isinstance(strides, (tuple, list)):
        h_stride = strides[0]
    else:
        h_stride = strides
    if isinstance(dilation_rate, (tuple, list)):
        dilation_rate = dilation_rate[0]
    kernel_size, ch_in, ch_out = kernel_weights.shape

    if dilation_rate > 1:
        new_kernel_size = kernel_size + (dilation_rate - 1) * (kernel_size - 1)
        new_kernel_weights = np.zeros((new_kernel_size, ch_in, ch_out), dtype=kernel_weights.dtype)
        new_kernel_weights[::dilation_rate] = kernel_weights
        kernel_weights = new_kernel_weights
        kernel_size = kernel_weights.shape[0]

    if padding != "valid":
        n_batch, h_x, _ = x.shape
        h_pad = _same_padding(h_x, kernel_size, h_stride)
        npad = [(0, 0)] * x.ndim
        if padding == "causal":
            npad[1] = (h_pad[0] + h_pad[1], 0)
        else:
            npad[1] = h_pad
        x = np.pad(x, pad_width=npad, mode="constant", constant_values=0)

    n_batch, h_x, _ = x.shape
    h_out = int((h_x - kernel_size) / h_stride) + 1

    kernel_weights = kernel_weights.reshape(-1, ch_out)
    bias_weights = bias_weights.reshape(1, ch_out)

    out_grps = []
    for grp in range(1, groups + 1):
        x_in = x[..., (grp - 1) * ch_in : grp * ch_in]
        stride_shape = (n_batch, h_out, kernel_size, ch_in)
        strides = (
            x_in.strides[0],
            h_stride * x_in.strides[1],
            x_in.strides[1],
            x_in.strides[2],
        )
        inner_dim = kernel_size * ch_in
        x_strided = as_strided(x_in, shape=stride_shape, strides=strides).reshape(
            n_batch, h_out, inner_dim
        )
        ch_out_groups = ch_out // groups
        kernel_weights_grp = kernel_weights[..., (grp - 1) * ch_out_groups : grp * ch_out_groups]
        bias_weights_grp = bias_weights[..., (grp - 1) * ch_out_groups : grp * ch_out_groups]
        out_grps.append(x_strided @ kernel_weights_grp + bias_weights_grp)
    out = np.concatenate(out_grps, axis=-1)
    if data_format == "channels_first":
        out = out.swapaxes(1, 2)
    return out


# -- ConvBasicTest ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "filters, kernel_size, strides, padding, data_format, dilation_rate, groups, "
    "input_shape, output_shape",
    [
        (5, 2, 1, "valid", "channels_last", 1, 1, (3, 5, 4), (3, 4, 5)),
        (6, 2, 1, "same", "channels_last", (2,), 2, (3, 4, 4), (3, 4, 6)),
        (6, 2, 1, "causal", "channels_last", (2,), 2, (3, 4, 4), (3, 4, 6)),
        (6, 2, (2,), "valid", "channels_last", 1, 2, (3, 5, 4), (3, 2, 6)),
    ],
)
def test_conv1d_basic(
    filters,
    kernel_size,
    strides,
    padding,
    data_format,
    dilation_rate,
    groups,
    input_shape,
    output_shape,
):
    run_layer_test(
        layers.Conv1D,
        init_kwargs={
            "filters": filters,
            "kernel_size": kernel_size,
            "strides": strides,
            "padding": padding,
            "data_format": data_format,
            "dilation_rate": dilation_rate,
            "groups": groups,
        },
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        expected_num_losses=0,
        supports_masking=False,
    )


@pytest.mark.skip(reason="Conv2D / Conv3D are not in rnnkit (1-D sequences only)")
def test_conv2d_basic_and_conv3d_basic():
    pass


def test_bad_init_args_conv1d():
    # Keras's test uses Conv2D for all but the first check; the same checks on Conv1D
    with pytest.raises(ValueError, match="`filters` expected a positive integer"):
        layers.Conv1D(filters=0, kernel_size=1)
    with pytest.raises(ValueError, match="`kernel_size` expected a positive integer"):
        layers.Conv1D(filters=2, kernel_size=(0,))
    with pytest.raises(ValueError, match="`strides` expected a positive integer"):
        layers.Conv1D(filters=2, kernel_size=2, strides=(0,))
    with pytest.raises(ValueError, match="`strides` expected 1 when dilation_rate > 1"):
        layers.Conv1D(filters=2, kernel_size=2, strides=2, dilation_rate=(2,))
    with pytest.raises(ValueError, match="`groups` expected a positive integer"):
        layers.Conv1D(filters=5, kernel_size=2, groups=0)
    with pytest.raises(ValueError, match=r"`filters` expected a multiple of groups \(2\)"):
        layers.Conv1D(filters=5, kernel_size=2, groups=2)


@pytest.mark.skip(reason="LoRA (enable_lora, lora_rank) is not in rnnkit")
def test_enable_lora():
    pass


@pytest.mark.skip(reason="LoRA is not in rnnkit; Conv2D is not in rnnkit")
def test_lora_weight_name_and_alpha_and_rank_argument():
    pass


def test_conv_symbolic_invalid_configuration():
    # (layers.Conv1D, (10, 3), 2, 10): a dilated window of 11 steps on 10 steps
    layer = layers.Conv1D(filters=1, kernel_size=2, dilation_rate=10)
    with pytest.raises(ValueError):
        layer.compute_output_shape((None, 10, 3))  # the symbolic call's shape inference


# -- ConvCorrectnessTest --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "filters, kernel_size, strides, padding, data_format, dilation_rate, groups",
    [
        (5, 2, 1, "valid", "channels_last", 1, 1),
        (6, 2, 1, "same", "channels_last", (2,), 2),
        (6, 2, 1, "causal", "channels_last", (2,), 2),
        (6, (2,), (2,), "valid", "channels_last", 1, 2),
        (6, (2,), (2,), "valid", "channels_first", 1, 2),
    ],
)
def test_conv1d(filters, kernel_size, strides, padding, data_format, dilation_rate, groups):
    layer = layers.Conv1D(
        filters=filters,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        groups=groups,
    )

    inputs = np.random.normal(size=[2, 8, 4])
    layer.build(input_shape=inputs.shape)

    kernel_shape = layer.get_weights()[0].shape
    kernel_weights = np.random.normal(size=kernel_shape)
    bias_weights = np.random.normal(size=(filters,))
    layer.set_weights([kernel_weights, bias_weights])

    outputs = layer(to_tensor(inputs))
    expected = np_conv1d(
        inputs,
        kernel_weights,
        bias_weights,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        groups=groups,
    )
    assert_all_close(outputs, expected, atol=1e-5, rtol=1e-5)  # float32 layer, float64 numpy


@pytest.mark.skip(reason="Conv2D / Conv3D are not in rnnkit (1-D sequences only)")
def test_conv2d_and_conv3d():
    pass


def test_conv_constraints_conv1d():
    # Keras's test on Conv2D reads `layer.kernel.constraint`; rnnkit keeps it on the layer
    layer = layers.Conv1D(filters=4, kernel_size=3, kernel_constraint="non_neg")
    layer.build((None, 5, 3))
    assert isinstance(layer.kernel_constraint, constraints.NonNeg)
    layer = layers.Conv1D(filters=4, kernel_size=3, bias_constraint="non_neg")
    layer.build((None, 5, 3))
    assert isinstance(layer.bias_constraint, constraints.NonNeg)


def test_conv_raises_exception_on_zero_dims_conv1d():
    x = np.random.rand(3, 4, 4)
    layer = layers.Conv1D(6, 5, 1, "valid")
    with pytest.raises(Exception):  # noqa: B017 - as Keras: the type may vary
        layer(to_tensor(x))
