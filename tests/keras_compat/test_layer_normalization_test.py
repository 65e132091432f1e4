"""Port of keras-team/keras keras/src/layers/normalization/layer_normalization_test.py (imports
and harness only). ``dtype="float32"`` is left out of two constructors: rnnkit layers compute
in their input's dtype and take no dtype policy (float32 here)."""

import warnings

import numpy as np
import pytest
import torch
from keras_harness import assert_all_close, run_layer_test, to_tensor

from rnnkit import layers, regularizers


def test_ln_basics():
    layer = run_layer_test(
        layers.LayerNormalization,
        init_kwargs={
            "gamma_regularizer": regularizers.L2(0.01),
            "beta_regularizer": regularizers.L2(0.01),
        },
        input_shape=(3, 4, 2),
        expected_output_shape=(3, 4, 2),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=2,
        supports_masking=True,
    )
    assert len(layer.losses) == 2
    run_layer_test(
        layers.LayerNormalization,
        init_kwargs={
            "gamma_initializer": "ones",
            "beta_initializer": "ones",
        },
        input_shape=(3, 4, 2),
        expected_output_shape=(3, 4, 2),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )
    run_layer_test(
        layers.LayerNormalization,
        init_kwargs={"scale": False, "center": False},
        input_shape=(3, 3),
        expected_output_shape=(3, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras warns too
        run_layer_test(
            layers.LayerNormalization,
            init_kwargs={"rms_scaling": True},
            input_shape=(3, 3),
            expected_output_shape=(3, 3),
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )
    run_layer_test(
        layers.LayerNormalization,
        init_kwargs={"axis": (-3, -2, -1)},
        input_shape=(2, 8, 8, 3),
        expected_output_shape=(2, 8, 8, 3),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )
    run_layer_test(
        layers.LayerNormalization,
        init_kwargs={},
        input_shape=(1, 0, 10),
        expected_output_shape=(1, 0, 10),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )


def test_invalid_axis():
    with pytest.raises(TypeError, match="expected an int or a list/tuple of ints"):
        layers.LayerNormalization(axis={"axis": -1})


def test_correctness():
    layer = layers.LayerNormalization()
    layer.build(input_shape=(2, 2, 2))
    inputs = np.random.normal(loc=5.0, scale=10.0, size=(1000, 2, 2, 2)).astype("float32")

    out = layer(to_tensor(inputs))
    out = torch.subtract(out, layer.beta)
    out = torch.divide(out, layer.gamma)

    assert_all_close(torch.mean(out), 0.0, atol=1e-1)
    assert_all_close(torch.std(out), 1.0, atol=1e-1)


def test_output():
    layer = layers.LayerNormalization(
        beta_initializer="ones",
        gamma_initializer="ones",
    )
    inputs = np.arange(5).astype("float32")[None, :]
    out = layer(to_tensor(inputs))
    assert_all_close(out, [[-0.41386, 0.29307, 1.0, 1.70693, 2.41386]], atol=1e-5)


def test_output_with_rms_scaling():
    with pytest.warns(DeprecationWarning):
        layer = layers.LayerNormalization(
            rms_scaling=True,
            gamma_initializer="ones",
        )
    inputs = np.arange(5).astype("float32")[None, :]
    out = layer(to_tensor(inputs))
    assert_all_close(out, [[0.0, 0.70693, 1.41386, 2.12079, 2.82772]], atol=1e-5)


@pytest.mark.skip(reason="no AutocastScope / float16 dtype policies in rnnkit")
def test_large_value_within_autocast_scope():
    pass


def test_unsorted_axis():
    x = np.random.randn(2, 3, 4).astype("float32")
    layer_sorted = layers.LayerNormalization(axis=[-2, -1])
    layer_unsorted = layers.LayerNormalization(axis=[-1, -2])
    out_sorted = layer_sorted(to_tensor(x))
    out_unsorted = layer_unsorted(to_tensor(x))
    assert tuple(out_sorted.shape) == (2, 3, 4)
    assert tuple(out_unsorted.shape) == (2, 3, 4)
    assert_all_close(out_sorted, out_unsorted)
