"""rnnkit.initializers against their formulas (Keras 3's documentation): statistics over large
tensors, exact constants, orthogonality, fans, look-up by name / class / config, seeds, errors."""

import json
import math
import re

import pytest
import torch
from torch import nn

from rnnkit import initializers as I

BIG = (400, 1000)  # 400k values: mean / std within ~0.5% of their targets


def stats(x):
    return float(x.mean()), float(x.std()), float(x.min()), float(x.max())


# 1. Constants ---------------------------------------------------------------------------------
def test_constants_are_exact():
    assert torch.equal(I.Zeros()((2, 3)), torch.zeros(2, 3))
    assert torch.equal(I.Ones()((4,)), torch.ones(4))
    assert torch.equal(I.Constant(0.5)((2, 2)), torch.full((2, 2), 0.5))
    assert torch.equal(I.Constant()((3,)), torch.zeros(3))  # Keras's default value 0
    assert I.Constant(2)((2,), dtype=torch.float64).dtype == torch.float64
    assert I.Zeros()((3,), dtype=torch.long).dtype == torch.long


def test_identity():
    assert torch.equal(I.Identity()((3, 3)), torch.eye(3))
    assert torch.equal(I.Identity(gain=2.0)((2, 4)), 2.0 * torch.eye(2, 4))
    assert I.IdentityInitializer is I.Identity


# 2. Random with fixed parameters --------------------------------------------------------------
def test_random_normal_defaults_and_statistics():
    init = I.RandomNormal(seed=1)
    assert (init.mean, init.stddev) == (0.0, 0.05)  # Keras's defaults
    mean, std, _, _ = stats(I.RandomNormal(mean=1.0, stddev=2.0, seed=1)(BIG))
    assert abs(mean - 1.0) < 0.02 and abs(std - 2.0) < 0.02


def test_random_uniform_defaults_bounds_and_statistics():
    init = I.RandomUniform(seed=2)
    assert (init.minval, init.maxval) == (-0.05, 0.05)
    mean, std, lo, hi = stats(I.RandomUniform(-1.0, 3.0, seed=2)(BIG))
    assert -1.0 <= lo < -0.999 and 2.999 < hi < 3.0
    assert abs(mean - 1.0) < 0.01 and abs(std - 4 / math.sqrt(12)) < 0.01


def test_truncated_normal_cut_at_two_stddev():
    init = I.TruncatedNormal(mean=0.5, stddev=2.0, seed=3)
    mean, std, lo, hi = stats(init(BIG))
    assert 0.5 - 4.0 <= lo < 0.5 - 3.99 and 0.5 + 3.99 < hi <= 0.5 + 4.0
    # a standard normal cut at +-2 has standard deviation 0.8796...
    assert abs(mean - 0.5) < 0.01 and abs(std - 2.0 * I.TRUNCATED_STDDEV) < 0.01
    assert (I.TruncatedNormal().mean, I.TruncatedNormal().stddev) == (0.0, 0.05)


# 3. Variance scaling and its presets ----------------------------------------------------------
def test_compute_fans_as_keras():
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans((3, 5)) == (3, 5)  # a (D, units) kernel: fan_in = D
    assert I.compute_fans((2, 3, 4, 5)) == (4 * 6, 5 * 6)  # conv: receptive field 2*3


SHAPE = (300, 1200)  # fan_in 300, fan_out 1200, fan_avg 750


@pytest.mark.parametrize(
    "init, variance, uniform",
    [
        (I.GlorotUniform(seed=4), 1 / 750, True),
        (I.GlorotNormal(seed=4), 1 / 750, False),
        (I.LecunUniform(seed=4), 1 / 300, True),
        (I.LecunNormal(seed=4), 1 / 300, False),
        (I.HeUniform(seed=4), 2 / 300, True),
        (I.HeNormal(seed=4), 2 / 300, False),
        (I.VarianceScaling(3.0, "fan_out", "uniform", seed=4), 3 / 1200, True),
        (I.VarianceScaling(3.0, "fan_out", seed=4), 3 / 1200, False),  # truncated_normal
        (I.VarianceScaling(0.5, "fan_avg", "normal", seed=4), 0.5 / 750, False),
    ],
)
def test_variance_scaling_statistics(init, variance, uniform):
    x = init(SHAPE)
    mean, std, lo, hi = stats(x)
    assert abs(mean) < 0.01 * math.sqrt(variance)
    assert abs(std / math.sqrt(variance) - 1) < 0.01  # the variance asked for, truncated or not
    if uniform:
        limit = math.sqrt(3 * variance)
        assert -limit <= lo < -0.999 * limit and 0.999 * limit < hi <= limit
    else:  # cut at two standard deviations of the normal before truncation
        cut = 2 * math.sqrt(variance) / I.TRUNCATED_STDDEV
        assert -cut <= lo < -0.99 * cut and 0.99 * cut < hi <= cut


def test_untruncated_normal_has_tails():
    x = I.VarianceScaling(1.0, "fan_in", "untruncated_normal", seed=5)(SHAPE)
    sd = math.sqrt(1 / 300)
    assert abs(float(x.std()) / sd - 1) < 0.01
    assert float(x.abs().max()) > 3 * sd  # beyond any truncation


def test_normal_means_truncated_normal():
    assert I.VarianceScaling(distribution="Normal").distribution == "truncated_normal"


def test_glorot_uniform_and_orthogonal_draw_what_torch_nn_init_draws():
    # the layers' defaults keep today's numbers under the same torch.manual_seed
    for shape in [(7, 12), (12, 7), (32, 128)]:
        torch.manual_seed(0)
        expected = (
            nn.init.xavier_uniform_(torch.empty(shape)),
            nn.init.orthogonal_(torch.empty(shape)),
        )
        torch.manual_seed(0)
        got = I.GlorotUniform()(shape), I.Orthogonal()(shape)
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


# 4. Orthogonal --------------------------------------------------------------------------------
def test_orthogonal_wide_matrix_has_orthonormal_rows():
    W = I.Orthogonal(seed=6)((16, 64)).double()  # an LSTM's (H, 4H) recurrent kernel
    torch.testing.assert_close(W @ W.T, torch.eye(16, dtype=torch.double), atol=1e-6, rtol=0)


def test_orthogonal_tall_matrix_has_orthonormal_columns_times_gain():
    W = I.Orthogonal(gain=2.0, seed=6)((64, 16)).double()
    torch.testing.assert_close(W.T @ W, 4 * torch.eye(16, dtype=torch.double), atol=1e-5, rtol=0)


def test_orthogonal_more_axes_flattens_leading_axes():
    W = I.Orthogonal(seed=6)((2, 3, 4)).reshape(6, 4).double()  # 6 rows, 4 columns
    torch.testing.assert_close(W.T @ W, torch.eye(4, dtype=torch.double), atol=1e-6, rtol=0)


# 5. Seeds, dtype, device ----------------------------------------------------------------------
ALL = [
    I.RandomNormal,
    I.RandomUniform,
    I.TruncatedNormal,
    I.VarianceScaling,
    I.GlorotUniform,
    I.GlorotNormal,
    I.LecunUniform,
    I.LecunNormal,
    I.HeUniform,
    I.HeNormal,
    I.Orthogonal,
]


@pytest.mark.parametrize("cls", ALL)
def test_seeded_initializers_repeat_and_seeds_differ(cls):
    a, b = cls(seed=7)((5, 6)), cls(seed=7)((5, 6))
    assert torch.equal(a, b)
    init = cls(seed=7)
    assert torch.equal(init((5, 6)), init((5, 6)))  # as Keras: an integer seed repeats
    assert not torch.equal(a, cls(seed=8)((5, 6)))
    assert torch.equal(cls.from_config(init.get_config())((5, 6)), a)


@pytest.mark.parametrize("cls", ALL)
def test_unseeded_initializers_follow_torch_manual_seed(cls):
    torch.manual_seed(1)
    a = cls()((5, 6))
    b = cls()((5, 6))
    torch.manual_seed(1)
    assert torch.equal(cls()((5, 6)), a) and not torch.equal(a, b)
    # a seeded one does not touch the global generator
    torch.manual_seed(1)
    cls(seed=3)((5, 6))
    assert torch.equal(cls()((5, 6)), a)


def test_dtype_and_meta_device():
    assert I.GlorotUniform(seed=1)((3, 4), dtype=torch.float64).dtype == torch.float64
    x = I.Orthogonal(seed=1)((3, 4), device="meta")
    assert x.is_meta and x.shape == (3, 4)
    with torch.device("meta"):
        assert I.HeNormal()((3, 4)).is_meta


# 6. Look-up and configs -----------------------------------------------------------------------
NAMES = {
    "glorot_uniform": I.GlorotUniform,
    "glorot_normal": I.GlorotNormal,
    "orthogonal": I.Orthogonal,
    "zeros": I.Zeros,
    "ones": I.Ones,
    "he_normal": I.HeNormal,
    "he_uniform": I.HeUniform,
    "lecun_normal": I.LecunNormal,
    "lecun_uniform": I.LecunUniform,
    "random_normal": I.RandomNormal,
    "random_uniform": I.RandomUniform,
    "truncated_normal": I.TruncatedNormal,
    "constant": I.Constant,
    "identity": I.Identity,
    "variance_scaling": I.VarianceScaling,
    "uniform": I.RandomUniform,  # Keras's aliases
    "normal": I.RandomNormal,
    "one": I.Ones,
    "zero": I.Zeros,
    "Orthogonal": I.Orthogonal,
    "OrthogonalInitializer": I.Orthogonal,
    "IdentityInitializer": I.Identity,
    "GlorotUniform": I.GlorotUniform,
}


@pytest.mark.parametrize("name, cls", NAMES.items())
def test_get_every_name(name, cls):
    init = I.get(name)
    assert type(init) is cls
    assert init == name  # an initializer equals the name that makes it


def test_get_other_identifiers():
    assert I.get(None) is None
    assert type(I.get(I.HeNormal)) is I.HeNormal
    init = I.RandomNormal(1.0, 2.0, seed=3)
    assert I.get(init) is init

    def f(shape, dtype=None):
        return torch.zeros(shape)

    assert I.get(f) is f
    cfg = {"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 2.0, "seed": 3}}
    assert I.get(cfg) == init
    keras_cfg = {"module": "keras.initializers", "registered_name": None, **I.serialize(init)}
    assert I.get(keras_cfg) == init


@pytest.mark.parametrize(
    "init, config",
    [
        (I.Zeros(), {}),
        (I.Constant(0.5), {"value": 0.5}),
        (I.Identity(2.0), {"gain": 2.0}),
        (I.RandomNormal(seed=1), {"mean": 0.0, "stddev": 0.05, "seed": 1}),
        (I.RandomUniform(), {"minval": -0.05, "maxval": 0.05, "seed": None}),
        (I.TruncatedNormal(), {"mean": 0.0, "stddev": 0.05, "seed": None}),
        (
            I.VarianceScaling(),
            {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None},
        ),
        (I.GlorotUniform(seed=3), {"seed": 3}),
        (I.Orthogonal(), {"gain": 1.0, "seed": None}),
    ],
)
def test_get_config_as_keras_and_round_trip(init, config):
    assert init.get_config() == config
    data = json.loads(json.dumps(I.serialize(init)))
    assert data == {"class_name": type(init).__name__, "config": config}
    assert I.get(data) == init and type(I.get(data)) is type(init)


# 7. Errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, exc, message",
    [
        (
            lambda: I.get("typo"),
            ValueError,
            "initializers.get: `identifier` expected an initializer name (see "
            "rnnkit.initializers.NAMES), received 'typo'.",
        ),
        (
            lambda: I.get(3),
            ValueError,
            "initializers.get: `identifier` expected an initializer name, config dict, "
            "Initializer or callable, received 3 (int).",
        ),
        (
            lambda: I.get({"class_name": "Nope", "config": {}}),
            ValueError,
            "initializers.get: `identifier` expected an initializer name (see "
            "rnnkit.initializers.NAMES), "
            "received 'Nope'.",
        ),
        (
            lambda: I.VarianceScaling(scale=-1.0),
            ValueError,
            "VarianceScaling: `scale` expected a positive number, received -1.0 (float).",
        ),
        (
            lambda: I.VarianceScaling(mode="fan"),
            ValueError,
            "VarianceScaling: `mode` expected one of 'fan_in', 'fan_out', 'fan_avg', "
            "received 'fan'.",
        ),
        (
            lambda: I.VarianceScaling(distribution="cauchy"),
            ValueError,
            "VarianceScaling: `distribution` expected one of 'truncated_normal', "
            "'untruncated_normal', 'uniform', received 'cauchy'.",
        ),
        (
            lambda: I.GlorotUniform(seed=1.5),
            ValueError,
            "GlorotUniform: `seed` expected an integer or None, received 1.5 (float).",
        ),
        (
            lambda: I.Identity()((2, 2, 2)),
            ValueError,
            "Identity: `shape` expected a 2-D shape (rows, columns), received '(2, 2, 2)'.",
        ),
        (
            lambda: I.Orthogonal()((5,)),
            ValueError,
            "Orthogonal: `shape` expected a shape of at least 2 axes, received '(5,)'.",
        ),
        (
            lambda: I.Zeros()((2, -1)),
            ValueError,
            "Zeros: `shape` expected a tuple of non-negative integers, received tuple.",
        ),
        (
            lambda: I.Constant("a"),
            TypeError,
            "Constant: `value` expected a number, received 'a'.",
        ),
        (
            lambda: I.RandomUniform(1.0, 0.0),
            ValueError,
            "RandomUniform: `maxval` expected a number >= minval (1.0), received 0.0 (float).",
        ),
        (
            lambda: I.HeNormal()((2, 2), dtype=torch.long),
            TypeError,
            "HeNormal: `dtype` expected a floating-point dtype, received 'torch.int64'.",
        ),
    ],
)
def test_errors(make, exc, message):
    with pytest.raises(exc, match=re.escape(message) + "$"):
        make()


# Chrono (Tallec & Ollivier 2018): not in Keras; rnnkit's remedy for long memories --------------
def test_chrono_lstm_bias_by_hand():
    H, T = 500, 200
    b = I.Chrono(T, "lstm", seed=3)((4 * H,))
    i, f, g, o = b.split(H)
    u = torch.exp(f)  # f = log(u), u uniform on [1, T - 1]
    assert float(u.min()) >= 1.0 - 1e-5 and float(u.max()) <= T - 1 + 1e-3
    assert float(u.mean()) == pytest.approx((1 + T - 1) / 2, rel=0.05)
    assert torch.equal(i, -f)  # the input gate starts as closed as the forget gate is open
    assert torch.equal(g, torch.zeros(H)) and torch.equal(o, torch.zeros(H))
    assert torch.equal(b, I.Chrono(T, "lstm", seed=3)((4 * H,)))  # seeded: the same numbers


def test_chrono_gru_bias_by_hand():
    H = 50
    b = I.Chrono(100, "gru", seed=0)((3 * H,))
    z, r, n = b.split(H)
    assert float(z.min()) >= 0.0 and float(z.max()) <= math.log(99) + 1e-6
    assert torch.equal(r, torch.zeros(H)) and torch.equal(n, torch.zeros(H))
    both = I.Chrono(100, "gru", seed=0)((2, 3 * H))  # reset_after: rows [b_x, b_h]
    assert torch.equal(both[0], b) and torch.equal(both[1], torch.zeros(3 * H))


def test_chrono_in_layers_lookup_and_errors():
    from rnnkit.layers import GRU, LSTM

    lstm = LSTM(4, unit_forget_bias=False, bias_initializer="chrono")
    lstm.build((None, 3, 2))
    assert torch.equal(lstm.b.detach()[:4], -lstm.b.detach()[4:8])
    assert bool((lstm.b.detach()[4:8] >= 0).all())
    gru = GRU(4, bias_initializer=I.Chrono(50, "gru"))
    gru.build((None, 3, 2))
    assert torch.equal(gru.b_h.detach(), torch.zeros(12))
    assert I.get({"class_name": "Chrono", "config": {"max_length": 9}}) == I.Chrono(9)
    assert I.deserialize(I.serialize(I.Chrono(7, "gru", 1))) == I.Chrono(7, "gru", 1)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Chrono: `shape` expected an LSTM bias shape (4 * units,), received '(6,)'."
        ),
    ):
        I.Chrono(10)((6,))
    with pytest.raises(
        ValueError,
        match=re.escape("Chrono: `max_length` expected an integer >= 3, received 2 (int)."),
    ):
        I.Chrono(2)
    with pytest.raises(
        ValueError,
        match=re.escape("Chrono: `cell` expected one of 'lstm', 'gru', received 'rnn'."),
    ):
        I.Chrono(10, "rnn")
