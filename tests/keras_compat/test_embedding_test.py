"""Port of keras-team/keras keras/src/layers/core/embedding_test.py (Keras 3.15.1; imports and harness
only). Ported: the cases of the layer's own behaviour. Not ported (Keras internals with no
meaning in rnnkit, listed in README.md): quantization (int8 / int4 / float8 / GPTQ / AWQ),
LoRA, export, sparse and ragged tensors: test_embedding_quantize_config, test_sparse, test_ragged, test_correctness_sparse, test_enable_lora, test_enable_lora_with_alpha, test_lora_rank_argument, test_enable_lora_with_embeddings_constraint, test_enable_lora_when_already_enabled, test_quantize_int, test_quantize_on_unbuilt_layer, test_quantize_on_subclass, test_quantize_when_already_quantized, test_quantize_by_setting_dtype_policy, test_quantize_invalid_mode, test_quantize_dtype_argument, test_quantize_lora_integration, test_legacy_load_own_variables, test_embedding_int8_custom_quantizer, test_int4_quantization_block_size, test_int4_block_size_serialization, test_int4_block_size_with_lora, test_int4_grouped_vs_perchannel_scale_shapes, test_int4_subchannel_g_idx_created, test_int4_perchannel_no_g_idx, test_int4_subchannel_g_idx_serialization."""

import numpy as np
import pytest
from keras_harness import testing

from rnnkit import constraints, layers


class EmbeddingTest(testing.TestCase):
    def test_embedding_basics(self):
        self.run_layer_test(
            layers.Embedding,
            {"input_dim": 4, "output_dim": 3},
            input_shape=(2,),
            input_dtype="int32",
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )
        self.run_layer_test(
            layers.Embedding,
            {"input_dim": 5, "output_dim": 4, "mask_zero": True},
            input_shape=(2, 3),
            input_dtype="int64",
            expected_output_shape=(2, 3, 4),
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )

    @pytest.mark.skip(reason="Keras Variable.assign: rnnkit weights are torch Parameters")
    def test_correctness(self):
        layer = layers.Embedding(input_dim=3, output_dim=2)
        layer.build()
        layer.embeddings.assign(np.array([[0.0, 0.0], [2.0, 2.0], [3.0, 3.0]]))
        out = layer(np.array([2, 1, 0]))
        self.assertAllClose(out, np.array([[3.0, 3.0], [2.0, 2.0], [0.0, 0.0]]))

    def test_masking(self):
        layer = layers.Embedding(input_dim=3, output_dim=2, mask_zero=True)
        layer.build()
        out = layer.compute_mask(np.array([2, 1, 0]))
        self.assertAllClose(out, np.array([True, True, False]))

    def test_compute_mask_no_masking(self):
        layer = layers.Embedding(input_dim=3, output_dim=2, mask_zero=False)
        input_data = np.array([2, 1, 0])
        mask = layer.compute_mask(input_data)
        self.assertIsNone(mask)

    def test_embedding_constraints(self):
        layer = layers.Embedding(3, 2, embeddings_constraint="non_neg")
        layer.build((None, 2))
        self.assertIsInstance(layer.embeddings.constraint, constraints.NonNeg)

    def test_invalid_input_dim(self):
        for bad_value in (3.7, 4.0, "3", None, True, False, -1, 0):
            with self.assertRaisesRegex(
                ValueError, "Embedding: `input_dim` expected a positive integer"
            ):
                layers.Embedding(input_dim=bad_value, output_dim=8)
        with self.assertRaisesRegex(
            TypeError, "Embedding: `input_dim` expected a positive integer"
        ):
            layers.Embedding.from_config({"input_dim": 3.7, "output_dim": 8})

    def test_invalid_output_dim(self):
        for bad_value in (3.7, 4.0, "3", None, True, False, -1, 0):
            with self.assertRaisesRegex(
                ValueError, "Embedding: `output_dim` expected a positive integer"
            ):
                layers.Embedding(input_dim=10, output_dim=bad_value)
        with self.assertRaisesRegex(
            TypeError, "Embedding: `output_dim` expected a positive integer"
        ):
            layers.Embedding.from_config({"input_dim": 10, "output_dim": 3.7})

    @pytest.mark.skip(
        reason="torch Parameter.numpy() refuses a tensor that requires grad (rnnkit weights are "
        "torch Parameters); the same fact: tests/layers/test_recurrent_keras.py"
    )
    def test_weights_constructor_arg(self):
        layer = layers.Embedding(3, 4, weights=np.ones((3, 4)))
        self.assertAllClose(layer.embeddings.numpy(), np.ones((3, 4)))
        layer = layers.Embedding(3, 4, weights=[np.ones((3, 4))])
        self.assertAllClose(layer.embeddings.numpy(), np.ones((3, 4)))
