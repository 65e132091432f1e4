"""Port of keras-team/keras keras/src/layers/activations/activation_test.py (imports and
harness only). The second half (``activations.gelu``, a callable) is skipped: see README."""

import pytest
from keras_harness import run_layer_test

from rnnkit import layers


def test_activation_basics():
    run_layer_test(
        layers.Activation,
        init_kwargs={
            "activation": "relu",
        },
        input_shape=(2, 3),
        expected_output_shape=(2, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
        assert_built_after_instantiation=True,
    )


@pytest.mark.skip(reason="rnnkit has no `activations` module and no gelu; activations are names")
def test_activation_basics_callable_gelu():
    pass
