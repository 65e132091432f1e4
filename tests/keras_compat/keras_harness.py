"""The harness for Keras's own layer tests, ported with only imports and the harness changed.

Keras's ``testing.TestCase.run_layer_test`` becomes :func:`run_layer_test` below: plain
assertions of the same facts (output shape or values, weight counts, masking support, built
after instantiation, config round trip, a backward pass). NumPy inputs are turned into torch
tensors here (rnnkit layers also take NumPy arrays since issue #18 item 5). As Keras's, it
also calls a fresh layer on symbolic inputs (``Input(batch_shape=...)``) and checks the
symbolic output's shape. ``input_shape`` / ``input_data`` may be a list (layers called on a
list of inputs, e.g. merge layers).
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
    several = _is_list(input_shape) or (
        isinstance(input_data, (list, tuple))
        and isinstance(input_data[0], (np.ndarray, torch.Tensor))
    )
    if several:
        xs = (
            [to_tensor(d) for d in input_data]
            if input_data is not None
            else [torch.rand(*s) for s in input_shape]
        )
        for t in xs:
            t.requires_grad_(run_training_check)
        x, inputs = xs[0], xs
    else:
        x = to_tensor(input_data) if input_data is not None else torch.rand(*input_shape)
        x.requires_grad_(run_training_check)
        inputs = x
    y = layer(inputs)
    if expected_output_shape is not None:
        assert tuple(y.shape) == tuple(expected_output_shape)
        if several:
            shape = [(None, *t.shape[1:]) for t in xs]
        else:
            shape = (None, *x.shape[1:])
        assert tuple(layer.compute_output_shape(shape)) == (None, *expected_output_shape[1:])
        # the symbolic call, as Keras's run_layer_test makes it
        from rnnkit.layers import Input

        fresh = layer_cls(**init_kwargs)
        if several:
            symbolic = fresh([Input(batch_shape=tuple(t.shape)) for t in xs])
        else:
            symbolic = fresh(Input(batch_shape=tuple(x.shape)))
        assert symbolic.shape == tuple(expected_output_shape)
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


def _is_list(shape) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(shape[0], (list, tuple))
