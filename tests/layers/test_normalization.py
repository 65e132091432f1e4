"""BatchNormalization and LayerNormalization: against Keras 3's outputs and moving statistics
(fixtures made by scripts/make_keras_klayers_fixtures.py), torch.nn.functional.batch_norm /
layer_norm and hand computation; masks, training vs inference, weights, configs, saving."""

import json
import re
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from rnnkit import regularizers
from rnnkit.layers import (
    LSTM,
    BatchNormalization,
    Dense,
    Embedding,
    LayerNormalization,
    Masking,
)
from rnnkit.models import Sequential, load_model

FIXTURES = json.loads((Path(__file__).parents[1] / "keras_klayers_fixtures.json").read_text())


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# 1. Keras's numbers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case", FIXTURES["batch_normalization"], ids=lambda c: f"{c['kwargs']}-{c['mask'] is not None}"
)
def test_batch_normalization_equals_keras(case):
    layer = BatchNormalization(**case["kwargs"])
    x = t(case["x"])
    layer.build(tuple(x.shape))
    layer.set_weights([t(w) for w in case["weights"]])
    mask = None if case["mask"] is None else torch.tensor(case["mask"])
    torch.testing.assert_close(
        layer(x, mask=mask, training=True), t(case["y_train"]), atol=2e-5, rtol=1e-5
    )
    for got, want in zip(layer.get_weights(), case["weights_after"], strict=True):
        torch.testing.assert_close(torch.from_numpy(got), t(want), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer(x, training=False), t(case["y_infer"]), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("case", FIXTURES["layer_normalization"], ids=lambda c: str(c["kwargs"]))
def test_layer_normalization_equals_keras(case):
    kwargs = case["kwargs"]
    with pytest.warns(DeprecationWarning) if kwargs.get("rms_scaling") else _nothing():
        layer = LayerNormalization(**kwargs)
    x = t(case["x"])
    layer.build(tuple(x.shape))
    layer.set_weights([t(w) for w in case["weights"]])
    torch.testing.assert_close(layer(x), t(case["y"]), atol=2e-5, rtol=1e-5)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# 2. torch.nn.functional and hand computation -------------------------------------------------------
def test_batch_norm_training_equals_torch_batch_norm_and_moves_as_keras():
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = rand(6, 5, 3) * 2 + 1  # (N, T, C)
    layer.build(tuple(x.shape))
    with torch.no_grad():
        layer.gamma.copy_(torch.tensor([1.0, 2.0, 0.5]))
        layer.beta.copy_(torch.tensor([0.0, -1.0, 3.0]))
    y = layer(x, training=True)
    expected = F.batch_norm(
        x.transpose(1, 2), None, None, layer.gamma, layer.beta, training=True, eps=1e-3
    ).transpose(1, 2)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)
    flat = x.reshape(-1, 3)
    # Keras's momentum (the weight of the old value) and the biased variance
    torch.testing.assert_close(layer.moving_mean.detach(), 0.1 * flat.mean(0))
    torch.testing.assert_close(
        layer.moving_variance.detach(), 0.9 + 0.1 * flat.var(0, correction=0)
    )


def test_batch_norm_inference_uses_moving_statistics():
    layer = BatchNormalization(epsilon=0.01)
    x = rand(4, 3)
    layer.build(tuple(x.shape))
    layer.set_weights(
        [t([2.0, 1.0, 1.0]), t([0.5, 0.0, 0.0]), t([1.0, 0.0, -1.0]), t([4.0, 1.0, 0.25])]
    )
    expected = (x - t([1.0, 0.0, -1.0])) / torch.sqrt(t([4.0, 1.0, 0.25]) + 0.01)
    expected = expected * t([2.0, 1.0, 1.0]) + t([0.5, 0.0, 0.0])
    torch.testing.assert_close(layer(x, training=False), expected)
    before = [w.copy() for w in layer.get_weights()]
    layer.eval()
    torch.testing.assert_close(layer(x), expected)  # eval mode: inference
    assert all((a == b).all() for a, b in zip(before, layer.get_weights()))  # nothing moved


def test_batch_norm_mask_leaves_masked_steps_out_of_the_statistics():
    x = rand(3, 4, 2) * 3
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1]], dtype=torch.bool)
    layer = BatchNormalization(momentum=0.0, epsilon=1e-3, center=False, scale=False)
    y = layer(x, mask=mask, training=True)
    real = x[mask]  # (9, 2): the real steps only
    mean, var = real.mean(0), real.var(0, correction=0)
    torch.testing.assert_close(layer.moving_mean.detach(), mean, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(layer.moving_variance.detach(), var, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(y, (x - mean) / torch.sqrt(var + 1e-3), atol=1e-5, rtol=1e-5)


def test_batch_norm_in_sequential_after_masking_and_fit():
    # Keras's own test: padded steps equal to the mask value do not count
    x = torch.tensor([[[1.0, 5.0], [2.0, 5.0], [0.0, 0.0], [0.0, 0.0]]] * 10)
    model = Sequential([Masking(0.0, input_shape=(None, 2)), BatchNormalization(momentum=0.0)])
    model.compile("rmsprop", "mse")
    model.fit(x, x, batch_size=10, epochs=2, verbose=0)
    bn = model.layers[1]
    torch.testing.assert_close(bn.moving_mean.detach(), t([1.5, 5.0]))
    torch.testing.assert_close(bn.moving_variance.detach(), t([0.25, 0.0]))


def test_batch_norm_gradients_equal_torch():
    x = rand(5, 3, seed=1)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    layer = BatchNormalization()
    layer(x1, training=True).square().sum().backward()
    F.batch_norm(
        x2, None, None, torch.ones(3), torch.zeros(3), training=True, eps=1e-3
    ).square().sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=1e-4)
    assert layer.gamma.grad is not None and layer.moving_mean.grad is None


def test_batch_norm_renorm_by_hand():
    eps, momentum, renorm_momentum = 1e-3, 0.9, 0.8
    layer = BatchNormalization(
        epsilon=eps,
        momentum=momentum,
        renorm=True,
        renorm_momentum=renorm_momentum,
        renorm_clipping={"rmax": 1.5, "dmax": 0.5},
    )
    layer.build((None, 3))
    gamma, beta = t([1.0, 0.5, 2.0]), t([0.1, 0.0, -0.1])
    with torch.no_grad():
        layer.gamma.copy_(gamma)
        layer.beta.copy_(beta)
        layer.renorm_mean.copy_(t([0.5, -1.0, 0.0]))
        layer.renorm_stddev.copy_(t([2.0, 1.0, 0.5]))
    x = t([[4.0, 6.0, 2.0], [8.0, -2.0, 5.0], [6.0, 4.0, 3.0]])
    mean, std = x.mean(0), torch.sqrt(x.var(0, correction=0) + eps)
    r = (std / t([2.0, 1.0, 0.5])).clamp(max=1.5)
    d = ((mean - t([0.5, -1.0, 0.0])) / t([2.0, 1.0, 0.5])).clamp(-0.5, 0.5)
    expected = ((x - mean) / std * r + d) * gamma + beta
    torch.testing.assert_close(layer(x, training=True), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.renorm_mean.detach(), t([0.5, -1.0, 0.0]) * 0.8 + mean * 0.2)
    moving_std = 1.0 * momentum + std * (1 - momentum)  # from sqrt(moving_variance=1)
    torch.testing.assert_close(layer.moving_variance.detach(), moving_std**2 - eps)
    assert len(layer.get_weights()) == 7


def test_layer_norm_equals_torch_and_by_hand():
    x = rand(2, 3, 4) * 5
    torch.testing.assert_close(LayerNormalization()(x), F.layer_norm(x, (4,), eps=1e-3))
    torch.testing.assert_close(
        LayerNormalization(axis=[-2, -1])(x), F.layer_norm(x, (3, 4), eps=1e-3)
    )
    # axis=1 (not the last): per sample and feature, over the steps
    y = LayerNormalization(axis=1, epsilon=0.0)(x)
    by_hand = (x - x.mean(1, keepdim=True)) / x.std(1, correction=0, keepdim=True)
    torch.testing.assert_close(y, by_hand, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        LayerNormalization(axis=[-1, -2])(x), LayerNormalization(axis=[-2, -1])(x)
    )


def test_keras_layer_norm_output_values():
    # keras-team/keras layer_normalization_test.py test_output / test_output_with_rms_scaling
    x = torch.arange(5.0)[None, :]
    out = LayerNormalization(beta_initializer="ones", gamma_initializer="ones")(x)
    torch.testing.assert_close(
        out, t([[-0.41386, 0.29307, 1.0, 1.70693, 2.41386]]), atol=1e-5, rtol=0
    )
    with pytest.warns(DeprecationWarning):
        rms = LayerNormalization(rms_scaling=True, gamma_initializer="ones")
    torch.testing.assert_close(
        rms(x), t([[0.0, 0.70693, 1.41386, 2.12079, 2.82772]]), atol=1e-5, rtol=0
    )


# 3. weights, masks, configs, saving -------------------------------------------------------------------
def test_weights_in_keras_order_and_trainability():
    bn = BatchNormalization(input_shape=(None, 3))
    assert [p.requires_grad for p in bn.weights] == [True, True, False, False]
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert [w.tolist() for w in bn.get_weights()] == [[1.0] * 3, [0.0] * 3, [0.0] * 3, [1.0] * 3]
    assert (
        len(BatchNormalization(center=False, scale=False, input_shape=(3,)).trainable_weights) == 0
    )
    assert len(LayerNormalization(rms_scaling=False, center=False, input_shape=(3,)).weights) == 1


def test_masks_pass_through_and_fit_trains_only_gamma_beta():
    ids = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    model = Sequential(
        [Embedding(8, 3, mask_zero=True), BatchNormalization(), LayerNormalization(), LSTM(2)]
    )
    model.eval()
    emb, bn, ln, lstm = model.layers
    h = ln(bn(emb(ids)))
    torch.testing.assert_close(model(ids), lstm(h, mask=ids != 0))
    model.compile("sgd", "mse")
    optimizer_params = {id(p) for p in model.parameters() if p.requires_grad}
    assert id(bn.moving_mean) not in optimizer_params and id(bn.gamma) in optimizer_params


def test_batch_norm_fully_masked_gives_zeros():
    # keras-team/keras batch_normalization_test.py test_input_fully_masked
    norm = BatchNormalization(scale=False, center=False)
    y = norm(torch.zeros(4, 5), mask=torch.zeros(4), training=True)
    assert torch.equal(y, torch.zeros(4, 5))


def test_configs_and_save_load(tmp_path):
    model = Sequential(
        [
            Dense(4, input_shape=(6,)),
            BatchNormalization(momentum=0.5, gamma_regularizer="l2", beta_constraint="non_neg"),
            LayerNormalization(axis=[-1], epsilon=1e-5, center=False),
            Dense(1),
        ]
    )
    model.compile("adam", "mse")
    model.fit(rand(16, 6), rand(16, 1), epochs=1, batch_size=8, verbose=0)
    for layer in model.layers[1:3]:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    assert model.layers[1].get_config()["gamma_regularizer"] == {
        "class_name": "L2",
        "config": {"l2": 0.01},
    }
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    x = rand(5, 6, seed=3)
    torch.testing.assert_close(loaded(x), model(x))
    torch.testing.assert_close(loaded.layers[1].moving_mean, model.layers[1].moving_mean)


def test_gamma_beta_regularizers_and_constraints():
    layer = LayerNormalization(
        gamma_regularizer=regularizers.L2(0.5),
        beta_regularizer=regularizers.L1(0.25),
        beta_constraint="non_neg",
        beta_initializer="ones",
        input_shape=(3,),
    )
    torch.testing.assert_close(torch.stack(layer.losses), t([0.5 * 3, 0.25 * 3]))
    with torch.no_grad():
        layer.beta.copy_(t([-1.0, 2.0, -3.0]))
    layer.apply_constraints()
    assert layer.beta.detach().tolist() == [0.0, 2.0, 0.0]


# 4. bad arguments and inputs ------------------------------------------------------------------------
def test_bad_arguments_and_inputs():
    with pytest.raises(
        TypeError,
        match=re.escape(
            "LayerNormalization: `axis` expected an int or a list/tuple of ints, received dict."
        ),
    ):
        LayerNormalization(axis={"axis": -1})
    with pytest.raises(
        TypeError, match=re.escape("BatchNormalization: `axis` expected an integer")
    ):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BatchNormalization: `synchronized` expected False (no distributed training in rnnkit)"
        ),
    ):
        BatchNormalization(synchronized=True)
    with pytest.raises(ValueError, match=re.escape("`renorm_clipping` expected a dict with keys")):
        BatchNormalization(renorm=True, renorm_clipping={"random_key": 1.0})
    with pytest.raises(
        ValueError, match=re.escape("`renorm_clipping['rmax']` expected a number >= rmin")
    ):
        BatchNormalization(renorm=True, renorm_clipping={"rmax": 0.0, "rmin": 1.0})
    with pytest.raises(
        ValueError, match=re.escape("`renorm_clipping['dmax']` expected a non-negative")
    ):
        BatchNormalization(renorm=True, renorm_clipping={"rmax": 1.0, "dmax": -1.0})
    bn = BatchNormalization()
    bn(rand(2, 3, 4))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BatchNormalization: `inputs` expected rank 3 with 4 features on axis -1, received shape (2, 3, 5)."
        ),
    ):
        bn(rand(2, 3, 5))
    with pytest.raises(ValueError, match=re.escape("`mask` expected a tensor of rank 2")):
        bn(rand(2, 3, 4), mask=torch.ones(2, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=re.escape("LayerNormalization: `axis` expected axes of inputs of rank 3")
    ):
        LayerNormalization(axis=3)(rand(2, 3, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_equals_cpu():
    x = rand(4, 5, 3)
    mask = rand(4, 5, seed=2) > 0
    for make in (
        lambda: BatchNormalization(momentum=0.5, renorm=True, renorm_clipping={"rmax": 2.0}),
        lambda: BatchNormalization(momentum=0.5),
        lambda: LayerNormalization(axis=[1, 2]),
    ):
        torch.manual_seed(0)
        cpu = make()
        torch.manual_seed(0)
        gpu = make()
        kwargs = {"mask": mask} if isinstance(cpu, BatchNormalization) else {}
        y_cpu = cpu(x, **kwargs)
        y_gpu = gpu(x.cuda(), **{k: v.cuda() for k, v in kwargs.items()})
        torch.testing.assert_close(y_gpu.cpu(), y_cpu, atol=1e-5, rtol=1e-5)
        for a, b in zip(cpu.get_weights(), gpu.get_weights(), strict=True):
            torch.testing.assert_close(
                torch.from_numpy(b), torch.from_numpy(a), atol=1e-5, rtol=1e-5
            )
