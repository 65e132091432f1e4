"""The settings of the forecasting task, declared once (defaults, help, bounds); the CLI options
of ``rnnkit forecast`` are generated from them (:class:`rnnkit.config.Config`)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import Config, option

CELL_NAMES = ("lstm", "gru")
STRATEGIES = ("direct", "recursive")
TRANSFORMS = ("auto", "none", "log", "boxcox")
SCALINGS = ("window", "seasonal", "global")
DESEASONS = ("auto", "always", "never", "validate")
BLENDS = ("never", "validate")
ANCHORS = ("drift", "naive")
MAX_WIDTH = 1024
MAX_LOOKBACK = 10_000


@dataclass
class ForecastConfig(Config):
    """Settings of a :class:`~rnnkit.tasks.forecast.Forecaster`.

    The defaults are the forecaster tuned on monthly and quarterly series (see the task's
    module documentation): a GRU of 32 units reading two seasons of history, values
    log-transformed when positive, their seasonal indices removed when the series is seasonal,
    expressed relative to the last observed value, the
    position in the season as two extra inputs (sine, cosine), one season ahead at once with a
    Gaussian output (mean and scale per step), five seeds averaged, the mean blended with the
    drift forecast (the network's weight among 1, 0.75, 0.5, 0.25, 0 chosen on the validation
    windows), the 80% interval's width calibrated per step on the validation windows.
    """

    cell: str = option("gru", "recurrent cell", choices=CELL_NAMES)
    units: int = option(32, "hidden size of each recurrent layer", low=1, high=MAX_WIDTH)
    layers: int = option(1, "stacked recurrent layers", low=1, high=4)
    lookback: int | None = option(
        None,
        "past observations the network reads; default two seasons (at least 12), fewer when the "
        "series is short",
        low=1,
        high=MAX_LOOKBACK,
    )
    horizon: int | None = option(
        None,
        "steps the network is trained to forecast at once (direct); default one season (at "
        "least 2) or --horizon of the command",
        low=1,
        high=MAX_LOOKBACK,
        cli=False,
    )
    strategy: str = option(
        "direct",
        "multi-step forecasts: direct (one output per step) or recursive (one step, fed back)",
        choices=STRATEGIES,
    )
    transform: str = option(
        "auto",
        "transform of the values before scaling: auto (log when every training value is "
        "positive, else none), none, log, boxcox (lambda fitted on the training part)",
        choices=TRANSFORMS,
    )
    scaling: str = option(
        "window",
        "window: each window relative to its last value, divided by the training part's "
        "standard deviation of one-step changes; seasonal: inputs so, targets relative to the "
        "seasonal naive forecast (the network learns its correction); global: standardised "
        "with the training part's mean and standard deviation",
        choices=SCALINGS,
    )
    deseason: str = option(
        "auto",
        "remove seasonal indices (classical decomposition of the training part, after the "
        "transform) before the network and add them back to its forecasts: auto (when the M4 "
        "seasonality test at the season length passes on the differences), always, never, "
        "validate (one network with and one without, the same seed; the lower validation "
        "error wins and is kept as the ensemble's first member)",
        choices=DESEASONS,
    )
    blend: str = option(
        "validate",
        "mix the network's mean forecast with the --blend-anchor forecast of the values it "
        "reads (seasonal indices added back when removed): validate (the network's weight "
        "among 1, 0.75, 0.5, 0.25, 0 with the lowest validation MAE), never",
        choices=BLENDS,
    )
    blend_anchor: str = option(
        "drift",
        "the forecast the network is blended with: drift (the last value plus h times the "
        "training part's mean one-step change, after the transform and without the seasonal "
        "indices), naive (the last value)",
        choices=ANCHORS,
    )
    difference: bool = option(
        False, "feed the network first differences instead of levels (targets unchanged)"
    )
    season_features: bool = option(
        True, "add the position in the season (sine and cosine) as inputs"
    )
    dropout: float = option(
        0.0, "dropout on the recurrent layers' inputs", low=0, high=1, high_open=True
    )
    epochs: int = option(400, "most passes over the training windows", low=1)
    patience: int = option(
        40, "stop after this many epochs without a better validation loss", low=1
    )
    max_windows: int = option(
        600,
        "train on at most this many windows, the latest (older ones are dropped; bounds the fit "
        "time of long series: 600 windows are 50 years of a monthly series)",
        low=8,
    )
    batch_size: int = option(128, "windows per gradient step", low=1)
    learning_rate: float = option(3e-3, "Adam's learning rate", low=0, low_open=True)
    validation: float = option(
        0.15,
        "fraction of the windows (the latest) held out for early stopping and calibration",
        low=0,
        high=0.5,
        low_open=True,
    )
    ensemble: int = option(
        5, "networks trained with seeds seed, seed+1, ... and averaged", low=1, high=50
    )
    calibrate: bool = option(
        True,
        "widen or narrow each step's forecast standard deviation so that its 80% interval "
        "covers the validation windows (split-conformal per step, never smaller for a later "
        "step)",
    )
    samples: int = option(
        200, "sample paths per network for the recursive strategy's intervals", low=10, high=100_000
    )
    seed: int = option(0, "random seed (same seed, same forecasts)", low=0, high=2**32 - 1)
