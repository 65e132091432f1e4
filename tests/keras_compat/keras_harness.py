"""The harness for Keras's own layer tests, ported with only imports and the harness changed.

Keras's ``testing.TestCase.run_layer_test`` becomes :func:`run_layer_test` below: plain
assertions of the same facts (output shape or values, weight counts, masking support, built
after instantiation, config round trip, a backward pass). NumPy inputs are turned into torch
tensors here (rnnkit layers take tensors; NumPy inputs are item 5 of issue #18).
"""

import numpy as np
import torch


def to_tensor(x):
    """NumPy array / nested list -> float32 torch tensor (the harness's only conversion)."""
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(np.asarray(x, dtype="float32"))


def assert_all_close(actual, expected, atol=1e-6, rtol=1e-6):
    actual = actual.detach().cpu().numpy() if isinstance(actual, torch.Tensor) else actual
    expected = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else expected
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=atol, rtol=rtol)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape=None,
    input_data=None,
    expected_output_shape=None,
    expected_output=None,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    supports_masking=None,
    assert_built_after_instantiation=False,
    run_training_check=True,
    **_keras_only,
):
    """The facts Keras's ``run_layer_test`` checks, as plain assertions."""
    layer = layer_cls(**init_kwargs)
    if assert_built_after_instantiation:
        assert layer.built
    if supports_masking is not None:
        assert layer.supports_masking == supports_masking
    # config round trip
    config = layer.get_config()
    again = layer_cls.from_config(dict(config, name=config["name"] + "_copy"))
    assert {k: v for k, v in again.get_config().items() if k != "name"} == {
        k: v for k, v in config.items() if k != "name"
    }
    x = to_tensor(input_data) if input_data is not None else torch.rand(*input_shape)
    x.requires_grad_(run_training_check)
    y = layer(x)
    if expected_output_shape is not None:
        assert tuple(y.shape) == tuple(expected_output_shape)
        shape = (None, *x.shape[1:])
        assert layer.compute_output_shape(shape) == (None, *expected_output_shape[1:])
    if expected_output is not None:
        assert_all_close(y, to_tensor(expected_output))
    trainable = [p for p in layer.parameters() if p.requires_grad]
    frozen = [p for p in layer.parameters() if not p.requires_grad]
    if expected_num_trainable_weights is not None:
        assert len(trainable) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(frozen) == expected_num_non_trainable_weights
    if run_training_check:
        y.sum().backward()
        assert x.grad is not None and x.grad.shape == x.shape
    return layer
