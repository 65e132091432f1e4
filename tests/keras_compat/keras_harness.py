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
    call_kwargs=None,
    input_dtype=None,
    **_keras_only,
):
    """The facts Keras's ``run_layer_test`` checks, as plain assertions. ``call_kwargs``:
    ``training`` sets the layer's mode (train / eval) for the call; ``input_dtype`` an integer
    dtype gives token ids (0 or 1) instead of floats."""
    layer = layer_cls(**init_kwargs)
    call_kwargs = dict(call_kwargs or {})
    if "training" in call_kwargs:
        layer.train(bool(call_kwargs.pop("training")))
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
    integer = input_dtype is not None and "int" in str(input_dtype)
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
        if input_data is not None:
            x = to_tensor(input_data)
        elif integer:
            x = torch.randint(0, 2, tuple(input_shape))
        else:
            x = torch.rand(*input_shape)
        x.requires_grad_(run_training_check and not integer)
        inputs = x
    y = layer(inputs, **call_kwargs)
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
    # Keras counts weights in its own layout (the GRU's two biases are one (2, 3H) weight)
    weights = layer._keras_weights()
    trainable = [p for p in weights if p.requires_grad]
    frozen = [p for p in weights if not p.requires_grad]
    if expected_num_trainable_weights is not None:
        assert len(trainable) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(frozen) == expected_num_non_trainable_weights
    if run_training_check:
        y.sum().backward()
        if integer:
            assert all(p.grad is not None for p in layer.parameters() if p.requires_grad)
        else:
            assert x.grad is not None and x.grad.shape == x.shape
    return layer


def _is_list(shape) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(shape[0], (list, tuple))


# -- Keras's `testing.TestCase`, `ops` and `parameterized` for test files ported as classes -----
# (the recurrent, bidirectional, stacked-cells, dense, embedding and dropout ports). A Keras test
# file then changes only its imports: `from keras_harness import testing, ops, parameterized`.
import shutil  # noqa: E402
import tempfile  # noqa: E402
import types  # noqa: E402
import unittest  # noqa: E402


def _numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in x):
        return np.asarray([_numpy(v) for v in x])
    return np.asarray(x)


def _expand_parameters(cases, named):
    def mark(fn):
        fn._keras_parameters = (cases, named)
        return fn

    return mark


class _Parameterized:
    """absl's ``parameterized.parameters`` / ``named_parameters`` on :class:`TestCase`
    methods: each case becomes its own test method (``test_x_0``, ``test_x_name``)."""

    @staticmethod
    def parameters(*cases):
        if len(cases) == 1 and isinstance(cases[0], list):
            cases = tuple(cases[0])
        return _expand_parameters(cases, named=False)

    @staticmethod
    def named_parameters(*cases):
        if len(cases) == 1 and isinstance(cases[0], list):
            cases = tuple(cases[0])
        return _expand_parameters(cases, named=True)


parameterized = _Parameterized()


class TestCase(unittest.TestCase):
    """Keras's ``testing.TestCase``: the assertions its layer tests use."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for attr, fn in list(vars(cls).items()):
            spec = getattr(fn, "_keras_parameters", None)
            if spec is None:
                continue
            cases, named = spec
            delattr(cls, attr)
            for i, case in enumerate(cases):
                if named and isinstance(case, dict):
                    case = dict(case)
                    suffix, args, kw = case.pop("testcase_name"), (), case
                elif named:
                    suffix, args, kw = case[0], tuple(case[1:]), {}
                else:
                    suffix = str(i)
                    args, kw = (
                        ((), case)
                        if isinstance(case, dict)
                        else ((case if isinstance(case, tuple) else (case,)), {})
                    )

                def method(self, _fn=fn, _args=args, _kw=kw):
                    return _fn(self, *_args, **_kw)

                method.__name__ = f"{attr}_{suffix}"
                for mark in getattr(fn, "pytestmark", []):
                    method = mark(method)
                setattr(cls, method.__name__, method)

    def run_layer_test(self, layer_cls, init_kwargs, *args, **kwargs):
        return run_layer_test(layer_cls, init_kwargs, *args, **kwargs)

    def assertAllClose(self, actual, expected, atol=1e-6, rtol=1e-6, msg=None, **_tpu):
        np.testing.assert_allclose(
            _numpy(actual).astype("float64"),
            _numpy(expected).astype("float64"),
            atol=atol,
            rtol=rtol,
            err_msg=msg or "",
        )

    def assertAllEqual(self, actual, expected, msg=None):
        np.testing.assert_array_equal(_numpy(actual), _numpy(expected), err_msg=msg or "")

    def assertLen(self, container, length, msg=None):
        self.assertEqual(len(container), length, msg)

    def get_temp_dir(self):
        path = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def run_class_serialization_test(self, instance, custom_objects=None):
        """Keras's check: a config round trip gives the same config, the same class."""
        config = instance.get_config()
        again = type(instance).from_config(config)
        self.assertIs(type(again), type(instance))
        self.assertEqual(again.get_config(), config)


testing = types.SimpleNamespace(TestCase=TestCase, tensorflow_uses_gpu=lambda: False)

ops = types.SimpleNamespace(
    matmul=torch.matmul,
    convert_to_numpy=_numpy,
    random=types.SimpleNamespace(uniform=lambda shape, **kw: torch.rand(*shape)),
)

backend = types.SimpleNamespace(
    backend=lambda: "torch",
    convert_to_numpy=_numpy,
    SUPPORTS_SPARSE_TENSORS=False,
    SUPPORTS_RAGGED_TENSORS=False,
)
