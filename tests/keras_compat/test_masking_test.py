"""Port of keras-team/keras keras/src/layers/core/masking_test.py (imports and harness only)."""

import numpy as np
import torch
from keras_harness import assert_all_close, run_layer_test, to_tensor

from rnnkit import layers, models
from rnnkit.models import load_model


def test_masking_basics():
    run_layer_test(
        layers.Masking,
        init_kwargs={"mask_value": 0.0},
        input_shape=(2, 3, 2),
        expected_output_shape=(2, 3, 2),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
        assert_built_after_instantiation=True,
    )


def test_masking_correctness():
    x = to_tensor(
        np.array(
            [
                [[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]],
                [[2.0, 2.0], [0.0, 0.0], [2.0, 1.0]],
            ]
        )
    )
    expected_mask = [[False, True, False], [True, False, True]]

    layer = layers.Masking(mask_value=0.0)
    assert_all_close(layer.compute_mask(x), expected_mask)

    seen = []

    class TestLayer(layers.Layer):
        supports_masking = True

        def compute_output_shape(self, input_shape):
            return input_shape

        def forward(self, inputs, mask=None):
            assert mask is not None
            assert_all_close(mask, expected_mask)
            seen.append(mask)
            return inputs

    model = models.Sequential(
        [
            layers.Masking(mask_value=0.0),
            TestLayer(),
        ]
    )
    model(x)
    assert len(seen) == 1  # the layer was called with the mask


def test_masking_with_tensor(tmp_path):
    model = models.Sequential(
        [
            layers.Masking(mask_value=torch.tensor([0.0])),
            layers.LSTM(1),
        ]
    )
    x = to_tensor(
        np.array(
            [
                [[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]],
                [[2.0, 2.0], [0.0, 0.0], [2.0, 1.0]],
            ]
        )
    )
    model(x)
    model.save(tmp_path / "model")
    reload_model = load_model(tmp_path / "model")
    reload_model(x)
