"""Port of keras-team/keras keras/src/layers/normalization/batch_normalization_test.py (imports
and harness only).

Harness changes: a Keras tensor carries its mask (``layers.Masking()(x)``); rnnkit passes it
as ``mask=`` (``Masking().compute_mask(x)``), the same fact. The functional model of
``test_bachnorm_ignore_masked_values`` (``Input`` -> ``Masking`` -> ``BatchNormalization``,
``Model(inputs, outputs)``) is the same stack as a ``Sequential`` (the functional API is being
added separately, issue #18 item 1), and its ``MeanSquaredError()`` loss object is the name
``"mse"``; ``run_eagerly`` has no meaning here (always eager). ``assign`` becomes
``set_weights`` / ``copy_``. NumPy inputs go through ``to_tensor`` (float32)."""

import numpy as np
import pytest
import torch
from keras_harness import assert_all_close, run_layer_test, to_tensor

from rnnkit import initializers, layers, models


def assert_not_all_close(a, b):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert not np.allclose(a, b, atol=1e-6, rtol=1e-6)


def numpy(v):
    return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


def call(layer, x, **kwargs):
    return layer(to_tensor(x), **kwargs)


def test_bn_basics():
    # vector case
    run_layer_test(
        layers.BatchNormalization,
        init_kwargs={
            "center": True,
            "scale": True,
        },
        call_kwargs={"training": True},
        input_shape=(2, 3),
        expected_output_shape=(2, 3),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=2,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )
    run_layer_test(
        layers.BatchNormalization,
        init_kwargs={
            "center": False,
            "scale": False,
        },
        call_kwargs={"training": True},
        input_shape=(2, 3),
        expected_output_shape=(2, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=2,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )
    # image case, with regularizers
    layer = run_layer_test(
        layers.BatchNormalization,
        init_kwargs={
            "center": True,
            "scale": True,
            "beta_regularizer": "l2",
            "gamma_regularizer": "l2",
        },
        call_kwargs={"training": True},
        input_shape=(2, 4, 4, 3),
        expected_output_shape=(2, 4, 4, 3),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=2,
        expected_num_seed_generators=0,
        expected_num_losses=2,  # we have 2 regularizers.
        supports_masking=True,
    )
    assert len(layer.losses) == 2


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("input_shape", [(5, 2, 3), (5, 3, 3, 2)])
@pytest.mark.parametrize("moving_mean_initializer", ["zeros", "ones"])
@pytest.mark.parametrize("moving_variance_initializer", ["zeros", "ones"])
def test_correctness(axis, input_shape, moving_mean_initializer, moving_variance_initializer):
    # Training
    layer = layers.BatchNormalization(
        axis=axis,
        momentum=0,
        moving_mean_initializer=moving_mean_initializer,
        moving_variance_initializer=moving_variance_initializer,
    )
    # Random data centered on 5.0, variance 10.0
    x = np.random.normal(loc=5.0, scale=10.0, size=input_shape)
    out = to_tensor(x)
    for _ in range(3):
        out = layer(out, training=True)

    # Assert the normalization is correct.
    broadcast_shape = [1] * len(input_shape)
    broadcast_shape[axis] = input_shape[axis]
    out = numpy(out)
    out = out - np.reshape(numpy(layer.beta), broadcast_shape)
    out = out / np.reshape(numpy(layer.gamma), broadcast_shape)

    reduction_axes = list(range(len(input_shape)))
    del reduction_axes[axis]
    reduction_axes = tuple(reduction_axes)
    assert_all_close(np.mean(out, axis=reduction_axes), 0.0, atol=1e-3)
    assert_all_close(np.std(out, axis=reduction_axes), 1.0, atol=1e-3)
    assert_all_close(layer.moving_mean, 0.0, atol=1e-3)
    assert_all_close(layer.moving_variance, 1.0, atol=1e-3)

    # Inference done before training shouldn't match.
    inference_out = call(layer, x, training=False)
    training_out = call(layer, x, training=True)
    assert_not_all_close(inference_out, training_out)

    # Since momentum is zero, inference after training should match.
    training_out = call(layer, x, training=True)
    inference_out = call(layer, x, training=False)
    assert_all_close(inference_out, training_out, atol=1e-5)

    # Masked result with no training should not differ
    x[:, 1, :] = 0.0
    unmasked_out = call(layer, x, training=False)
    masking = layers.Masking()
    masked = masking(to_tensor(x))
    masked_out = layer(masked, mask=masking.compute_mask(to_tensor(x)), training=False)
    assert_all_close(unmasked_out, masked_out)

    # Masked result should differ from unmasked result
    unmasked_out = call(layer, x, training=False)
    x[:, 1, :] = 0.0
    masked = masking(to_tensor(x))
    masked_out = layer(masked, mask=masking.compute_mask(to_tensor(x)), training=True)
    assert_not_all_close(unmasked_out, masked_out)


def test_input_fully_masked():
    # synchronized=(False,) off TensorFlow
    norm = layers.BatchNormalization(
        scale=False,
        center=False,
        synchronized=False,
    )
    x = np.zeros((4, 5))
    mask = np.zeros((4,), dtype=np.float32)
    y = call(norm, x, mask=torch.as_tensor(mask), training=True)
    assert_all_close(y, np.zeros_like(x, dtype=np.float32))


@pytest.mark.parametrize("run_eagerly", [True, False])
@pytest.mark.parametrize("mask_value", [0.0, 0.1, 1])
def test_bachnorm_ignore_masked_values(run_eagerly, mask_value):
    padded_data = np.array(
        [
            [
                [1, 5],
                [2, 5],
                [mask_value, mask_value],
                [mask_value, mask_value],
            ]
            for _ in range(10)
        ],
        dtype="float32",
    )

    model = models.Sequential(
        [
            layers.Input((None, 2)),
            layers.Masking(mask_value=mask_value),
            layers.BatchNormalization(momentum=0.0),
        ]
    )
    model.compile("rmsprop", loss="mse")
    model.fit(x=padded_data, y=padded_data, batch_size=10, epochs=5, verbose=0)
    # Keras's model.layers[2] counts the Input layer; rnnkit's Sequential does not
    assert_all_close(model.layers[1].moving_mean, [1.5, 5.0])
    assert_all_close(model.layers[1].moving_variance, [0.25, 0.0])


def test_trainable_behavior():
    layer = layers.BatchNormalization(axis=-1, momentum=0.8, epsilon=1e-7)
    layer.build((1, 4, 4, 3))
    if not hasattr(layer, "trainable"):
        pytest.skip("Layer.trainable is not in rnnkit's base layer yet (issue #18)")
    layer.trainable = False
    assert len(layer.weights) == 4
    assert len(layer.trainable_weights) == 0
    assert len(layer.non_trainable_weights) == 4

    # Random data centered on 5.0, variance 10.0
    x = np.random.normal(loc=5.0, scale=10.0, size=(200, 4, 4, 3))

    out = call(layer, x, training=True)
    assert_all_close(out, x, atol=1e-3, rtol=1e-5)

    layer.trainable = True
    assert len(layer.weights) == 4
    assert len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 2

    for _ in range(10):
        out = call(layer, x, training=True)

    out = numpy(out)
    out = out - np.reshape(numpy(layer.beta), (1, 1, 1, 3))
    out = out / np.reshape(numpy(layer.gamma), (1, 1, 1, 3))

    assert_all_close(np.mean(out, axis=(0, 1, 2)), 0.0, atol=1e-3)
    assert_all_close(np.std(out, axis=(0, 1, 2)), 1.0, atol=1e-3)


@pytest.mark.skip(reason="no AutocastScope / float16 dtype policies in rnnkit")
def test_large_value_within_autocast_scope():
    pass


def test_masked_broadcast_normalization():
    input_shape = (1, 2, 3, 4)
    mask_shape = (1, 2, 1)
    x = torch.ones(input_shape)
    mask = torch.ones(mask_shape)

    layer = layers.BatchNormalization(axis=-1, momentum=0.0, epsilon=1e-3)

    y = layer(x, training=True, mask=mask)

    mean_y = torch.mean(y, dim=[0, 1, 2])

    assert_all_close(mean_y, torch.zeros((4,)), atol=1e-6)
    assert_all_close(y, torch.zeros_like(y), atol=1e-6)

    assert_all_close(layer.moving_mean, torch.ones((4,)), atol=1e-6)
    assert_all_close(layer.moving_variance, torch.zeros((4,)), atol=1e-6)


def test_renorm_basics():
    # Test basic renorm functionality
    run_layer_test(
        layers.BatchNormalization,
        init_kwargs={
            "center": True,
            "scale": True,
            "renorm": True,
        },
        call_kwargs={"training": True},
        input_shape=(2, 3),
        expected_output_shape=(2, 3),
        expected_num_trainable_weights=2,
        # moving_mean, moving_variance, moving_stddev, renorm_mean,
        # renorm_stddev
        expected_num_non_trainable_weights=5,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )
    # Test renorm with clipping
    run_layer_test(
        layers.BatchNormalization,
        init_kwargs={
            "center": True,
            "scale": True,
            "renorm": True,
            "renorm_clipping": {"rmax": 3.0, "rmin": 0.3, "dmax": 5.0},
        },
        call_kwargs={"training": True},
        input_shape=(2, 4, 4, 3),
        expected_output_shape=(2, 4, 4, 3),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=5,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        supports_masking=True,
    )


def test_renorm_invalid_clipping_keys():
    with pytest.raises(ValueError, match="`renorm_clipping` expected a dict with keys"):
        layers.BatchNormalization(renorm=True, renorm_clipping={"random_key": 1.0})
    with pytest.raises(ValueError, match=r"`renorm_clipping\['rmax'\]` expected a number >="):
        layers.BatchNormalization(renorm=True, renorm_clipping={"rmax": 0.0, "rmin": 1.0})
    with pytest.raises(ValueError, match=r"`renorm_clipping\['dmax'\]` expected a non-negative"):
        layers.BatchNormalization(renorm=True, renorm_clipping={"rmax": 1.0, "dmax": -1.0})


def test_renorm_stddev_initializer():
    # `moving_stddev` and `renorm_stddev` should be initialized as
    # `sqrt` of `moving_variance_initializer`.
    layer = layers.BatchNormalization(
        renorm=True,
        moving_variance_initializer=initializers.Constant(4.0),
    )
    layer.build((None, 5))

    assert_all_close(layer.moving_stddev, np.full((5,), 2.0), atol=1e-6)
    assert_all_close(layer.renorm_stddev, np.full((5,), 2.0), atol=1e-6)


def test_renorm_inference():
    # At inference time, the behaviour of both with and without renorm
    # should be the same.
    bn = layers.BatchNormalization(renorm=False)
    bn_renorm = layers.BatchNormalization(renorm=True)

    bn.build((None, 10))
    bn_renorm.build((None, 10))

    # Copy the vars to renorm layer.
    with torch.no_grad():
        for attr in ["gamma", "beta", "moving_mean", "moving_variance"]:
            getattr(bn, attr).copy_(torch.randn(10))
            getattr(bn_renorm, attr).copy_(getattr(bn, attr))

    x = np.random.normal(size=(4, 10))
    out = call(bn, x, training=False)
    out_renorm = call(bn_renorm, x, training=False)

    assert_all_close(out, out_renorm, atol=1e-5, rtol=1e-5)


def test_renorm_correctness():
    np.random.seed(1337)  # utils.set_random_seed(1337)

    epsilon = 1e-3
    momentum = 0.9
    renorm_momentum = 0.8

    # Create layer
    layer = layers.BatchNormalization(
        axis=-1,
        epsilon=epsilon,
        momentum=momentum,
        renorm=True,
        renorm_momentum=renorm_momentum,
    )
    layer.build((None, 3))

    # Assign initial values.
    size = (3,)
    init_moving_mean = np.random.normal(0.0, 1.0, size=size)
    init_moving_var = np.abs(np.random.normal(1.0, 0.5, size=size))
    init_moving_stddev = np.sqrt(init_moving_var)
    init_renorm_mean = np.random.normal(0.0, 1.0, size=size)
    init_renorm_stddev = np.abs(np.random.normal(1.0, 0.5, size=size))
    init_gamma = np.random.normal(1.0, 0.1, size=size)
    init_beta = np.random.normal(0.0, 0.1, size=size)

    with torch.no_grad():
        layer.moving_mean.copy_(to_tensor(init_moving_mean))
        layer.moving_variance.copy_(to_tensor(init_moving_var))
        layer.moving_stddev.copy_(to_tensor(init_moving_stddev))
        layer.renorm_mean.copy_(to_tensor(init_renorm_mean))
        layer.renorm_stddev.copy_(to_tensor(init_renorm_stddev))
        layer.gamma.copy_(to_tensor(init_gamma))
        layer.beta.copy_(to_tensor(init_beta))

    # Input data
    x = np.array(
        [[4.0, 6.0, 2.0], [8.0, -2.0, 5.0], [6.0, 4.0, 3.0]],
        dtype="float32",
    )

    # Manually compute expected output.
    # Normalise input.
    batch_mean = np.mean(x, axis=0)
    batch_var = np.var(x, axis=0)
    batch_stddev = np.sqrt(batch_var + epsilon)

    # Compute r, d, and then expected output.
    r = batch_stddev / init_renorm_stddev
    d = (batch_mean - init_renorm_mean) / init_renorm_stddev

    expected_output = (((x - batch_mean) / batch_stddev) * r + d) * init_gamma + init_beta
    actual_output = call(layer, x, training=True)
    assert_all_close(actual_output, expected_output, atol=1e-5)

    # Verify moving statistics.
    expected_renorm_mean = init_renorm_mean * renorm_momentum + batch_mean * (1 - renorm_momentum)
    assert_all_close(layer.renorm_mean, expected_renorm_mean, atol=1e-5)
    expected_renorm_stddev = init_renorm_stddev * renorm_momentum + batch_stddev * (
        1 - renorm_momentum
    )
    assert_all_close(layer.renorm_stddev, expected_renorm_stddev, atol=1e-5)
    expected_moving_mean = init_moving_mean * momentum + batch_mean * (1 - momentum)
    assert_all_close(layer.moving_mean, expected_moving_mean, atol=1e-5)
    expected_moving_stddev = init_moving_stddev * momentum + batch_stddev * (1 - momentum)
    assert_all_close(layer.moving_stddev, expected_moving_stddev, atol=1e-5)
    expected_moving_var = expected_moving_stddev**2 - epsilon
    assert_all_close(layer.moving_variance, expected_moving_var, atol=1e-5)


def test_serialization():
    layer = layers.BatchNormalization(
        renorm=True,
        renorm_clipping={"rmax": 3.0, "rmin": 0.3, "dmax": 5.0},
        renorm_momentum=0.95,
    )

    config = layer.get_config()
    new_layer = layers.BatchNormalization.from_config(config)
    assert new_layer.get_config() == config
