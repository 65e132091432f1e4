"""The statistical baselines every forecast is shown beside, on the same training part.

``naive``
    The last value; interval ``sigma sqrt(h)`` with ``sigma`` the RMS of the one-step changes.
``seasonal_naive``
    The value one season before; interval ``sigma sqrt(k + 1)``, ``k`` the whole seasons
    ahead, ``sigma`` the RMS of the seasonal changes ``y_t - y_{t-m}``.
``drift``
    The last value plus ``h`` times the mean change; interval ``sigma sqrt(h (1 + h / (n - 1)))``,
    ``sigma`` the RMS of the changes less their mean (Hyndman & Athanasopoulos, FPP3 5.5).
``ets``
    statsmodels' ``ETSModel`` (additive errors) on the transformed values (log when every
    training value is positive), the candidates {no trend, damped additive trend} x {no
    season, additive season} (a season only when :func:`is_seasonal`), the lowest AIC chosen;
    intervals from ``get_prediction``; in a backtest the form is chosen on the first fold's
    training part and refitted on every fold.
``arima``
    statsmodels' ``SARIMAX`` on the same transformed values, ``d = 1``, ``(0, 1, 1)_m``
    seasonal part when :func:`is_seasonal`, ``(p, q)`` among (0, 1), (1, 0), (1, 1) with the
    lowest AIC (a cheap automatic choice: 3 fits); in a backtest the order is
    chosen on the first fold's training part and refitted on every fold. Only the last
    :data:`ARIMA_MAX_FIT` observations are used (a cap on the fit time of long series).

Point forecasts of the naive three are the textbook formulas; they equal statsmodels'
``ARIMA(0,1,0)``, ``SARIMAX((0,0,0),(0,1,0,m))`` and ``ARIMA(0,1,0)`` with a trend
(tests/tasks/test_forecast_baselines.py checks it). statsmodels is imported only by
``ets`` and ``arima``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .prepare import Transform, is_seasonal

BASELINES = ("naive", "seasonal_naive", "drift", "ets", "arima")
ARIMA_GRID = ((0, 1), (1, 0), (1, 1))
ARIMA_MAX_FIT = 600
"""ARIMA is chosen and fitted on at most the last 600 observations (50 years of a monthly
series): on sunspots' 3,177 months the uncapped search and refits took 373 s for a 4-fold
backtest on the loaded development machine; the shared airline and co2 series are shorter,
so the cap changes nothing there."""


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 200.0)


@dataclass
class BaselineForecast:
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    detail: dict = field(default_factory=dict)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def naive(y: np.ndarray, horizon: int, m: int = 1, level: float = 80.0) -> BaselineForecast:
    h = np.arange(1, horizon + 1)
    mean = np.full(horizon, y[-1], dtype=np.float64)
    sd = _rms(np.diff(y)) * np.sqrt(h)
    q = _z(level)
    return BaselineForecast(mean, mean - q * sd, mean + q * sd)


def seasonal_naive(y: np.ndarray, horizon: int, m: int, level: float = 80.0) -> BaselineForecast:
    if m <= 1 or len(y) <= m:
        return naive(y, horizon, 1, level)
    h = np.arange(1, horizon + 1)
    mean = y[len(y) - m + (h - 1) % m].astype(np.float64)
    k = (h - 1) // m
    sd = _rms(y[m:] - y[:-m]) * np.sqrt(k + 1)
    q = _z(level)
    return BaselineForecast(mean, mean - q * sd, mean + q * sd)


def drift(y: np.ndarray, horizon: int, m: int = 1, level: float = 80.0) -> BaselineForecast:
    n = len(y)
    h = np.arange(1, horizon + 1)
    slope = (y[-1] - y[0]) / (n - 1)
    mean = y[-1] + h * slope
    sd = _rms(np.diff(y) - slope) * np.sqrt(h * (1 + h / (n - 1)))
    q = _z(level)
    return BaselineForecast(mean, mean - q * sd, mean + q * sd)


def _transform(y: np.ndarray) -> Transform:
    return Transform.fit("auto", y, "baselines")


def _back(t: Transform, mean, lower, upper, detail) -> BaselineForecast:
    return BaselineForecast(t.inverse(mean), t.inverse(lower), t.inverse(upper), detail)


def ets(
    y: np.ndarray, horizon: int, m: int, level: float = 80.0, spec: dict | None = None
) -> BaselineForecast:
    """ETS by AIC over the candidates (module documentation), or the given ``spec``
    (``{"trend": ..., "damped": ..., "seasonal": ...}``) refitted."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    t = _transform(y)
    z = t(y)
    seasonal = is_seasonal(z, m)
    if spec is not None:
        candidates = [spec]
    else:
        candidates = [
            {"trend": trend, "damped": trend is not None, "seasonal": season}
            for trend in (None, "add")
            for season in ((None, "add") if seasonal else (None,))
        ]
    best = None
    for cand in candidates:
        model = ETSModel(
            pd.Series(z),  # (its get_prediction needs an index)
            error="add",
            trend=cand["trend"],
            damped_trend=cand["damped"],
            seasonal=cand["seasonal"],
            seasonal_periods=m if cand["seasonal"] else None,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(disp=False)
        if best is None or res.aic < best[0].aic:
            best = (res, cand)
    res, cand = best
    frame = res.get_prediction(start=len(z), end=len(z) + horizon - 1).summary_frame(
        alpha=1 - level / 100
    )
    detail = {"spec": cand, "transform": t.kind, "aic": float(res.aic)}
    return _back(
        t,
        frame["mean"].to_numpy(),
        frame["pi_lower"].to_numpy(),
        frame["pi_upper"].to_numpy(),
        detail,
    )


def arima(
    y: np.ndarray,
    horizon: int,
    m: int,
    level: float = 80.0,
    spec: dict | None = None,
    max_fit: int | None = ARIMA_MAX_FIT,
) -> BaselineForecast:
    """SARIMA by AIC over :data:`ARIMA_GRID` (module documentation), or the given ``spec``
    (``{"order": [p, 1, q], "seasonal_order": [P, D, Q, m]}``) refitted; on the last
    ``max_fit`` observations of ``y`` (None: all)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = y[-max_fit:] if max_fit else y
    t = _transform(y)
    z = t(y)
    if spec is not None:
        candidates = [spec]
    else:
        seasonal = [0, 1, 1, m] if is_seasonal(z, m) else [0, 0, 0, 0]
        candidates = [{"order": [p, 1, q], "seasonal_order": seasonal} for p, q in ARIMA_GRID]
    best = None
    for cand in candidates:
        model = SARIMAX(z, order=tuple(cand["order"]), seasonal_order=tuple(cand["seasonal_order"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(disp=False)
        if best is None or res.aic < best[0].aic:
            best = (res, cand)
    res, cand = best
    pred = res.get_forecast(horizon)
    mean = np.asarray(pred.predicted_mean)
    ci = np.asarray(pred.conf_int(alpha=1 - level / 100))
    detail = {"spec": cand, "transform": t.kind, "aic": float(res.aic), "fitted_on": len(y)}
    return _back(t, mean, ci[:, 0], ci[:, 1], detail)


FUNCTIONS = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "ets": ets,
    "arima": arima,
}


def forecast(
    name: str, y: np.ndarray, horizon: int, m: int, level: float = 80.0, spec=None
) -> BaselineForecast:
    """The baseline ``name``'s forecast of the ``horizon`` values after ``y``."""
    y = np.asarray(y, dtype=np.float64)
    if name in ("ets", "arima"):
        return FUNCTIONS[name](y, horizon, m, level, spec)
    return FUNCTIONS[name](y, horizon, m, level)
