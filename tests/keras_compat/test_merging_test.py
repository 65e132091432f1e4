"""Port of keras-team/keras keras/src/layers/merging/merging_test.py (imports and harness only).

Keras attaches masks to eager tensors (``backend.get_keras_mask``); rnnkit passes masks
explicitly (``layer(inputs, mask=[...])``, ``layer.compute_mask``) or through a functional
model, so the ``*_with_mask`` cases give the masks as arguments and read the output mask from
``compute_mask``: the same facts. ``test_sparse`` is skipped (no sparse tensors)."""

import numpy as np
import pytest
import torch
from keras_harness import assert_all_close, run_layer_test

from rnnkit import layers, models


def np_dot(a, b, axes):
    if isinstance(axes, int):
        axes = (axes, axes)
    axes = [axis if axis < 0 else axis - 1 for axis in axes]
    res = np.stack([np.tensordot(a[i], b[i], axes) for i in range(a.shape[0])])
    if len(res.shape) == 1:
        res = np.expand_dims(res, axis=1)
    return res


TEST_PARAMETERS = [
    {"testcase_name": "add", "layer_class": layers.Add, "np_op": np.add},
    {"testcase_name": "subtract", "layer_class": layers.Subtract, "np_op": np.subtract},
    {"testcase_name": "minimum", "layer_class": layers.Minimum, "np_op": np.minimum},
    {"testcase_name": "maximum", "layer_class": layers.Maximum, "np_op": np.maximum},
    {"testcase_name": "multiply", "layer_class": layers.Multiply, "np_op": np.multiply},
    {
        "testcase_name": "average",
        "layer_class": layers.Average,
        "np_op": lambda a, b: np.multiply(np.add(a, b), 0.5),
    },
    {
        "testcase_name": "concat",
        "layer_class": layers.Concatenate,
        "np_op": lambda a, b, **kwargs: np.concatenate((a, b), **kwargs),
        "init_kwargs": {"axis": -1},
        "expected_output_shape": (2, 4, 10),
    },
    {
        "testcase_name": "dot_2d",
        "layer_class": layers.Dot,
        "np_op": np_dot,
        "init_kwargs": {"axes": -1},
        "input_shape": (2, 4),
        "expected_output_shape": (2, 1),
        "skip_mask_test": True,
    },
    {
        "testcase_name": "dot_3d",
        "layer_class": layers.Dot,
        "np_op": np_dot,
        "init_kwargs": {"axes": -1},
        "expected_output_shape": (2, 4, 4),
        "skip_mask_test": True,
    },
]


def parameters(*names):
    return pytest.mark.parametrize(
        "case", TEST_PARAMETERS, ids=[p["testcase_name"] for p in TEST_PARAMETERS]
    )


def unpack(case):
    case = dict(case)
    case.pop("testcase_name")
    return case


@parameters()
def test_basic(case):
    case = unpack(case)
    input_shape = case.get("input_shape", (2, 4, 5))
    run_layer_test(
        case["layer_class"],
        init_kwargs=case.get("init_kwargs", {}),
        input_shape=(input_shape, input_shape),
        expected_output_shape=case.get("expected_output_shape", (2, 4, 5)),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )


@parameters()
def test_correctness_static(case):
    case = unpack(case)
    layer_class, np_op = case["layer_class"], case["np_op"]
    init_kwargs = case.get("init_kwargs", {})
    input_shape = case.get("input_shape", (2, 4, 5))
    expected_output_shape = case.get("expected_output_shape", (2, 4, 5))
    batch_size = input_shape[0]
    shape = input_shape[1:]
    x1 = np.random.rand(*input_shape)
    x2 = np.random.rand(*input_shape)
    x3 = np_op(x1, x2, **init_kwargs)

    input_1 = layers.Input(shape=shape, batch_size=batch_size)
    input_2 = layers.Input(shape=shape, batch_size=batch_size)
    layer = layer_class(**init_kwargs)
    out = layer([input_1, input_2])
    model = models.Model([input_1, input_2], out)
    res = model([x1, x2])

    assert tuple(res.shape) == expected_output_shape
    assert_all_close(res, x3, atol=1e-4, rtol=1e-4)
    assert layer.compute_mask([input_1, input_2], [None, None]) is None
    assert layer.compute_mask([x1, x2], [None, None]) is None
    if not case.get("skip_mask_test", False):
        mask1 = np.ones(input_shape[:-1], dtype=np.bool_)
        mask2 = np.ones(input_shape[:-1], dtype=np.bool_)
        assert np.all(np.asarray(layer.compute_mask([x1, x2], [mask1, mask2])))


@parameters()
def test_correctness_dynamic(case):
    case = unpack(case)
    layer_class, np_op = case["layer_class"], case["np_op"]
    init_kwargs = case.get("init_kwargs", {})
    input_shape = case.get("input_shape", (2, 4, 5))
    expected_output_shape = case.get("expected_output_shape", (2, 4, 5))
    shape = input_shape[1:]
    x1 = np.random.rand(*input_shape)
    x2 = np.random.rand(*input_shape)
    x3 = np_op(x1, x2, **init_kwargs)

    input_1 = layers.Input(shape=shape)
    input_2 = layers.Input(shape=shape)
    layer = layer_class(**init_kwargs)
    out = layer([input_1, input_2])
    model = models.Model([input_1, input_2], out)
    res = model([x1, x2])

    assert tuple(res.shape) == expected_output_shape
    assert_all_close(res, x3, atol=1e-4, rtol=1e-4)
    assert layer.compute_mask([input_1, input_2], [None, None]) is None
    if not case.get("skip_mask_test", False):
        assert np.all(
            np.asarray(layer.compute_mask([input_1, input_2], [torch.tensor(x1), torch.tensor(x2)]))
        )


@parameters()
def test_errors(case):
    case = unpack(case)
    if case.get("skip_mask_test", False):
        pytest.skip("Masking not supported")
    layer_class = case["layer_class"]
    input_shape = case.get("input_shape", (2, 4, 5))
    batch_size = input_shape[0]
    shape = input_shape[1:]
    x1 = np.random.rand(batch_size, *shape)

    input_1 = layers.Input(shape=shape, batch_size=batch_size)
    input_2 = layers.Input(shape=shape, batch_size=batch_size)
    layer = layer_class(**case.get("init_kwargs", {}))

    with pytest.raises(ValueError, match=r"`mask` should be a list\."):
        layer.compute_mask([input_1, input_2], x1)
    with pytest.raises(ValueError, match=r"`inputs` should be a list\."):
        layer.compute_mask(input_1, [None, None])
    with pytest.raises(ValueError, match=r" should have the same length\."):
        layer.compute_mask([input_1, input_2], [None])


def test_subtract_layer_inputs_length_errors():
    shape = (4, 5)
    input_1 = layers.Input(shape=shape)
    input_2 = layers.Input(shape=shape)
    input_3 = layers.Input(shape=shape)
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):
        layers.Subtract()([input_1, input_2, input_3])
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):
        layers.Subtract()([input_1])


def test_dot_higher_dim():
    a_shape = (1, 3, 2)
    b_shape = (1, 1, 2, 3)
    # Test symbolic call
    a = layers.Input(batch_shape=a_shape)
    b = layers.Input(batch_shape=b_shape)
    c = layers.Dot(axes=(-2, -1))([a, b])
    assert c.shape == (1, 2, 1, 2)
    a = np.random.random(a_shape)
    b = np.random.random(b_shape)
    c = layers.Dot(axes=(-2, -1))([a, b])
    assert tuple(c.shape) == (1, 2, 1, 2)


# The *_with_mask cases: Masking's mask given to the merge layer explicitly (see the docstring).
def masked(x):
    x = torch.as_tensor(x, dtype=torch.float32)
    mask = layers.Masking()
    return mask(x), mask.compute_mask(x)


def check_with_mask(layer_class, expected_unmasked, expected_masked, **kwargs):
    x1, m1 = masked([[[0, 0], [1, 2], [0, 0], [3, 4]]])
    x2 = torch.tensor([[[0, 0], [0, 0], [1, 2], [3, 4]]], dtype=torch.float32)
    layer = layer_class(**kwargs)
    output = layer([x1, x2], mask=[m1, None])
    assert_all_close(output, expected_unmasked)
    assert layer.compute_mask([x1, x2], [m1, None]) is None
    x2, m2 = masked(x2)
    output = layer([x1, x2], mask=[m1, m2])
    assert_all_close(output, expected_masked)
    assert_all_close(layer.compute_mask([x1, x2], [m1, m2]), [[0, 1, 1, 1]])


def test_add_with_mask():
    out = [[[0, 0], [1, 2], [1, 2], [6, 8]]]
    check_with_mask(layers.Add, out, out)


def test_subtract_with_mask():
    out = [[[0, 0], [1, 2], [-1, -2], [0, 0]]]
    check_with_mask(layers.Subtract, out, out)


def test_average_with_mask():
    out = [[[0, 0], [0.5, 1], [0.5, 1], [3, 4]]]
    check_with_mask(layers.Average, out, out)


def test_multiply_with_mask():
    check_with_mask(
        layers.Multiply, [[[0, 0], [0, 0], [1, 2], [9, 16]]], [[[0, 0], [1, 2], [1, 2], [9, 16]]]
    )


def test_maximum_with_mask():
    x1, m1 = masked([[[0, 0], [-1, -2], [0, 0], [-3, -4]]])
    x2 = torch.tensor([[[0, 0], [0, 0], [-1, -2], [-3, -4]]], dtype=torch.float32)
    layer = layers.Maximum()
    assert_all_close(layer([x1, x2], mask=[m1, None]), [[[0, 0], [0, 0], [-1, -2], [-3, -4]]])
    assert layer.compute_mask([x1, x2], [m1, None]) is None
    x2, m2 = masked(x2)
    assert_all_close(layer([x1, x2], mask=[m1, m2]), [[[0, 0], [-1, -2], [-1, -2], [-3, -4]]])
    assert_all_close(layer.compute_mask([x1, x2], [m1, m2]), [[0, 1, 1, 1]])


def test_minimum_with_mask():
    check_with_mask(
        layers.Minimum, [[[0, 0], [0, 0], [1, 2], [3, 4]]], [[[0, 0], [1, 2], [1, 2], [3, 4]]]
    )


def test_concatenate_with_mask():
    x1, m1 = masked([[[0, 0], [1, 2], [0, 0], [3, 4]]])
    x2 = torch.tensor([[[0, 0], [0, 0], [1, 2], [3, 4]]], dtype=torch.float32)
    layer = layers.Concatenate(axis=1)
    output = layer([x1, x2], mask=[m1, None])
    assert_all_close(output, [[[0, 0], [1, 2], [0, 0], [3, 4], [0, 0], [0, 0], [1, 2], [3, 4]]])
    assert_all_close(layer.compute_mask([x1, x2], [m1, None]), [[0, 1, 0, 1, 1, 1, 1, 1]])
    layer = layers.Concatenate(axis=2)
    output = layer([x1, x2], mask=[m1, None])
    assert_all_close(output, [[[0, 0, 0, 0], [1, 2, 0, 0], [0, 0, 1, 2], [3, 4, 3, 4]]])
    assert_all_close(layer.compute_mask([x1, x2], [m1, None]), [[1, 1, 1, 1]])


def test_concatenate_with_mask_symbolic():
    # Keras's model outputs the mask itself (backend.get_keras_mask on a symbolic tensor);
    # here the same mask is read from the model's concatenate layer on the same inputs.
    input1 = layers.Input((4, 2))
    input2 = layers.Input((4, 2))
    mask = layers.Masking()
    concat = layers.Concatenate(axis=1)
    output = concat([mask(input1), input2])
    models.Model(inputs=[input1, input2], outputs=output)
    x1 = torch.tensor([[[0, 0], [1, 2], [0, 0], [3, 4]]], dtype=torch.float32)
    x2 = torch.tensor([[[0, 0], [0, 0], [1, 2], [3, 4]]], dtype=torch.float32)
    got = concat.compute_mask([x1, x2], [mask.compute_mask(x1), None])
    assert_all_close(got, [[0, 1, 0, 1, 1, 1, 1, 1]])


def test_concatenate_errors():
    # This should work
    x1 = np.ones((1, 1, 1, 1, 5))
    x2 = np.ones((1, 1, 1, 1, 4))
    out = layers.Concatenate(axis=-1)([x1, x2])
    assert tuple(out.shape) == (1, 1, 1, 1, 9)

    # This won't
    x1 = np.ones((1, 2, 1, 1, 5))
    x2 = np.ones((1, 1, 1, 1, 4))
    with pytest.raises(
        ValueError,
        match="requires inputs with matching shapes except for the concatenation axis",
    ):
        out = layers.Concatenate(axis=-1)([x1, x2])
    x1 = np.ones((1, 2, 1, 2, 1))
    x2 = np.ones((1, 1, 1, 3, 1))
    with pytest.raises(
        ValueError,
        match="requires inputs with matching shapes except for the concatenation axis",
    ):
        out = layers.Concatenate(axis=1)([x1, x2])


@pytest.mark.skip(reason="rnnkit has no sparse tensors")
def test_sparse():
    pass
