"""Port of keras-team/keras keras/src/regularizers/regularizers_test.py (imports and harness
only). ``backend.Variable(value)`` becomes a torch tensor; ``run_class_serialization_test``
checks the config round trip as Keras's does (get_config -> from_config -> the same config and
the same values). Where Keras asserts its own message text, the port asserts Keras's
exception type with rnnkit's argument / expected / received message."""

import numpy as np
import pytest
import torch
from keras_harness import assert_all_close

from rnnkit import regularizers
from rnnkit.regularizers import validate_float_arg


def Variable(value):  # backend.Variable
    return torch.as_tensor(value)


def run_class_serialization_test(instance):
    config = instance.get_config()
    again = type(instance).from_config(config)
    assert again.get_config() == config
    assert type(again) is type(instance)
    x = torch.as_tensor(np.random.random((4, 4)).astype(np.float32))
    assert_all_close(instance(x), again(x))


# -- RegularizersTest ------------------------------------------------------------------------------
def test_config():
    run_class_serialization_test(regularizers.L1(0.1))
    run_class_serialization_test(regularizers.L2(0.1))
    run_class_serialization_test(regularizers.L1L2(l1=0.1, l2=0.2))
    run_class_serialization_test(regularizers.OrthogonalRegularizer(factor=0.1, mode="rows"))


def test_l1():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y = regularizers.L1(0.1)(x)
    assert_all_close(y, 0.1 * np.sum(np.abs(value)), atol=1e-6, rtol=1e-6)


def test_l2():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y = regularizers.L2(0.1)(x)
    assert_all_close(y, 0.1 * np.sum(np.square(value)), atol=1e-6, rtol=1e-6)


def test_l1_l2():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y = regularizers.L1L2(l1=0.1, l2=0.2)(x)
    assert_all_close(
        y, 0.1 * np.sum(np.abs(value)) + 0.2 * np.sum(np.square(value)), atol=1e-6, rtol=1e-6
    )


def test_orthogonal_regularizer():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y = regularizers.OrthogonalRegularizer(factor=0.1, mode="rows")(x)

    l2_norm = np.linalg.norm(value, axis=1, keepdims=True)
    inputs = value / l2_norm
    assert_all_close(
        y,
        0.1
        * 0.5
        * np.sum(np.abs(np.dot(inputs, np.transpose(inputs)) * (1.0 - np.eye(4))))
        / (4.0 * (4.0 - 1.0) / 2.0),
    )


def test_get_method():
    obj = regularizers.get("l1l2")
    assert isinstance(obj, regularizers.L1L2)

    obj = regularizers.get("l1")
    assert isinstance(obj, regularizers.L1)

    obj = regularizers.get("l2")
    assert isinstance(obj, regularizers.L2)

    obj = regularizers.get("orthogonal_regularizer")
    assert isinstance(obj, regularizers.OrthogonalRegularizer)

    obj = regularizers.get(None)
    assert obj is None

    with pytest.raises(ValueError):
        regularizers.get("typo")


def test_l1l2_get_config():
    l1 = 0.01
    l2 = 0.02
    reg = regularizers.L1L2(l1=l1, l2=l2)
    config = reg.get_config()

    assert_all_close(config["l1"], l1)
    assert_all_close(config["l2"], l2)

    reg_from_config = regularizers.L1L2.from_config(config)
    config_from_config = reg_from_config.get_config()

    assert config == config_from_config
    assert_all_close(reg_from_config.l1, l1)
    assert_all_close(reg_from_config.l2, l2)


def test_orthogonal_regularizer_mode_validation():
    with pytest.raises(ValueError) as context:
        regularizers.OrthogonalRegularizer(factor=0.01, mode="invalid_mode")
    # Keras: 'Invalid value for argument `mode`. Expected one of {"rows", "columns"}. ...'
    expected_message = (
        "OrthogonalRegularizer: `mode` expected one of 'rows', 'columns', received 'invalid_mode'."
    )
    assert str(context.value) == expected_message


def test_orthogonal_regularizer_input_rank_validation():
    with pytest.raises(ValueError) as context:
        value = np.random.random((4, 4, 4)).astype(np.float32)
        x = Variable(value)
        regularizers.OrthogonalRegularizer(factor=0.1)(x)
    # Keras: "Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape=..."
    expected_message = (
        "OrthogonalRegularizer: `inputs` expected a tensor of rank 2, received Tensor of shape "
        "(4, 4, 4) and dtype torch.float32."
    )
    assert str(context.value) == expected_message


def test_orthogonal_regularizer_get_config():
    factor = 0.01
    mode = "columns"
    regularizer = regularizers.OrthogonalRegularizer(factor=factor, mode=mode)
    config = regularizer.get_config()

    assert config["factor"] == pytest.approx(factor, abs=1e-7)
    assert config["mode"] == mode

    reg_from_config = regularizers.OrthogonalRegularizer.from_config(config)
    config_from_config = reg_from_config.get_config()

    assert config_from_config["factor"] == pytest.approx(factor, abs=1e-7)
    assert config_from_config["mode"] == mode


def test_l1_with_zero_weights():
    value = np.zeros((4, 4), dtype=np.float32)
    x = Variable(value)
    y = regularizers.L1(0.1)(x)
    assert_all_close(y, 0.0)


def test_l1_with_negative_weights():
    pos_value = np.ones((4, 4), dtype=np.float32)
    neg_value = -np.ones((4, 4), dtype=np.float32)
    x_pos = Variable(pos_value)
    x_neg = Variable(neg_value)
    y_pos = regularizers.L1(0.1)(x_pos)
    y_neg = regularizers.L1(0.1)(x_neg)
    assert_all_close(y_pos, y_neg)


def test_l1_zero_coefficient():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y = regularizers.L1(0.0)(x)
    assert_all_close(y, 0.0)


def test_l2_with_zero_weights():
    value = np.zeros((4, 4), dtype=np.float32)
    x = Variable(value)
    y = regularizers.L2(0.1)(x)
    assert_all_close(y, 0.0)


def test_l2_zero_coefficient():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y = regularizers.L2(0.0)(x)
    assert_all_close(y, 0.0)


def test_l2_is_larger_than_l1_for_large_weights():
    value = np.ones((4, 4), dtype=np.float32) * 10.0
    x = Variable(value)
    l1_val = float(regularizers.L1(1.0)(x))
    l2_val = float(regularizers.L2(1.0)(x))
    assert l2_val > l1_val


def test_l2_is_smaller_than_l1_for_small_weights():
    value = np.ones((4, 4), dtype=np.float32) * 0.1
    x = Variable(value)
    l1_val = float(regularizers.L1(1.0)(x))
    l2_val = float(regularizers.L2(1.0)(x))
    assert l2_val < l1_val


def test_l1l2_zero_coefficients():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y = regularizers.L1L2(l1=0.0, l2=0.0)(x)
    assert_all_close(y, 0.0)


def test_l1l2_only_l1():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y_l1l2 = regularizers.L1L2(l1=0.1, l2=0.0)(x)
    y_l1 = regularizers.L1(0.1)(x)
    assert_all_close(y_l1l2, y_l1)


def test_l1l2_only_l2():
    value = np.random.random((4, 4)).astype(np.float32)
    x = Variable(value)
    y_l1l2 = regularizers.L1L2(l1=0.0, l2=0.1)(x)
    y_l2 = regularizers.L2(0.1)(x)
    assert_all_close(y_l1l2, y_l2)


def test_l1l2_with_zero_weights():
    value = np.zeros((4, 4), dtype=np.float32)
    x = Variable(value)
    y = regularizers.L1L2(l1=0.1, l2=0.2)(x)
    assert_all_close(y, 0.0)


# -- ValidateFloatArgTest ---------------------------------------------------------------------------
def test_validate_float_with_valid_args():
    assert validate_float_arg(1, "test") == 1.0
    assert validate_float_arg(1.0, "test") == 1.0


def test_validate_float_with_invalid_types():
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg("not_a_number", "test")


def test_validate_float_with_nan():
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg(float("nan"), "test")


def test_validate_float_with_inf():
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg(float("inf"), "test")
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg(-float("inf"), "test")


def test_validate_float_with_negative_number():
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg(-1, "test")


def test_validate_float_with_zero():
    assert validate_float_arg(0, "test") == 0.0
    assert validate_float_arg(0.0, "test") == 0.0


def test_validate_float_with_very_small_positive():
    result = validate_float_arg(1e-10, "test")
    assert result == pytest.approx(1e-10)


def test_validate_float_returns_float_type():
    result = validate_float_arg(1, "test")
    assert isinstance(result, float)

    result = validate_float_arg(1.0, "test")
    assert isinstance(result, float)


def test_validate_float_with_large_positive():
    result = validate_float_arg(1e6, "test")
    assert result == pytest.approx(1e6)


def test_validate_float_with_negative_float():
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg(-0.001, "test")


def test_validate_float_with_none():
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg(None, "test")


def test_validate_float_with_list():
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg([0.1], "test")
