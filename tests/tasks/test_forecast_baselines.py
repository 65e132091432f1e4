"""The baselines against statsmodels called directly (and the textbook formulas)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnnkit.datasets import timeseries as ts
from rnnkit.tasks.forecast import baselines as B

pytest.importorskip("statsmodels")


@pytest.fixture(scope="module")
def airline():
    return ts.load_series("airline").values[:120]


def _fit(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=False)


def test_1_naive_equals_arima_010(airline):
    from statsmodels.tsa.arima.model import ARIMA

    ours = B.naive(airline, 12, 12, level=80)
    res = ARIMA(airline, order=(0, 1, 0)).fit()
    pred = res.get_forecast(12)
    np.testing.assert_allclose(ours.mean, pred.predicted_mean, rtol=1e-9)
    ci = pred.conf_int(alpha=0.2)
    np.testing.assert_allclose(ours.lower, ci[:, 0], rtol=1e-3)
    np.testing.assert_allclose(ours.upper, ci[:, 1], rtol=1e-3)


def test_2_seasonal_naive_equals_sarima_010_season(airline):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    ours = B.seasonal_naive(airline, 18, 12)
    res = _fit(SARIMAX(airline, order=(0, 0, 0), seasonal_order=(0, 1, 0, 12)))
    np.testing.assert_allclose(ours.mean, res.forecast(18), rtol=1e-9)
    # by hand: the value one season (two, for steps 13..18) before
    np.testing.assert_array_equal(ours.mean[:12], airline[-12:])
    np.testing.assert_array_equal(ours.mean[12:], airline[-12:-6])


def test_3_drift_equals_arima_010_with_trend(airline):
    from statsmodels.tsa.arima.model import ARIMA

    ours = B.drift(airline, 12)
    res = ARIMA(airline, order=(0, 1, 0), trend="t").fit()
    np.testing.assert_allclose(ours.mean, res.forecast(12), rtol=1e-4)
    slope = (airline[-1] - airline[0]) / (len(airline) - 1)
    np.testing.assert_allclose(ours.mean, airline[-1] + slope * np.arange(1, 13))


def test_4_ets_equals_statsmodels_etsmodel_on_the_log(airline):
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    spec = {"trend": "add", "damped": True, "seasonal": "add"}
    ours = B.ets(airline, 12, 12, level=80, spec=spec)
    res = _fit(
        ETSModel(
            pd.Series(np.log(airline)),
            error="add",
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=12,
        )
    )
    frame = res.get_prediction(start=120, end=131).summary_frame(alpha=0.2)
    np.testing.assert_allclose(ours.mean, np.exp(frame["mean"]), rtol=1e-10)
    np.testing.assert_allclose(ours.lower, np.exp(frame["pi_lower"]), rtol=1e-10)
    np.testing.assert_allclose(ours.upper, np.exp(frame["pi_upper"]), rtol=1e-10)
    assert ours.detail["transform"] == "log"


def test_5_ets_choice_is_the_lowest_aic(airline):
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    chosen = B.ets(airline, 12, 12).detail
    aics = {}
    for trend in (None, "add"):
        for season in (None, "add"):
            res = _fit(
                ETSModel(
                    pd.Series(np.log(airline)),
                    error="add",
                    trend=trend,
                    damped_trend=trend is not None,
                    seasonal=season,
                    seasonal_periods=12 if season else None,
                )
            )
            aics[(trend, season)] = res.aic
    best = min(aics, key=aics.get)
    assert (chosen["spec"]["trend"], chosen["spec"]["seasonal"]) == best
    assert chosen["aic"] == pytest.approx(aics[best])


def test_6_arima_equals_statsmodels_sarimax(airline):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    spec = {"order": [0, 1, 1], "seasonal_order": [0, 1, 1, 12]}
    ours = B.arima(airline, 12, 12, level=80, spec=spec)
    res = _fit(SARIMAX(np.log(airline), order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)))
    pred = res.get_forecast(12)
    np.testing.assert_allclose(ours.mean, np.exp(pred.predicted_mean), rtol=1e-10)
    ci = pred.conf_int(alpha=0.2)
    np.testing.assert_allclose(ours.lower, np.exp(ci[:, 0]), rtol=1e-10)
    np.testing.assert_allclose(ours.upper, np.exp(ci[:, 1]), rtol=1e-10)


def test_7_arima_order_is_the_lowest_aic_of_the_grid():
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    rng = np.random.default_rng(0)
    e = rng.standard_normal(201)
    y = np.cumsum(e[1:] + 0.6 * e[:-1])  # an ARIMA(0, 1, 1); negative values: no log
    chosen = B.arima(y, 5, 1).detail
    aics = {pq: _fit(SARIMAX(y, order=(pq[0], 1, pq[1]))).aic for pq in B.ARIMA_GRID}
    best = min(aics, key=aics.get)
    assert chosen["spec"] == {"order": [best[0], 1, best[1]], "seasonal_order": [0, 0, 0, 0]}
    assert chosen["transform"] == "none"


def test_7b_arima_fits_the_last_max_fit_observations_only():
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    rng = np.random.default_rng(1)
    e = rng.standard_normal(701)
    y = np.cumsum(e[1:] + 0.6 * e[:-1])  # 700 values, more than ARIMA_MAX_FIT
    assert B.ARIMA_MAX_FIT == 600
    spec = {"order": [0, 1, 1], "seasonal_order": [0, 0, 0, 0]}
    ours = B.arima(y, 5, 1, spec=spec)
    res = _fit(SARIMAX(y[-600:], order=(0, 1, 1)))
    np.testing.assert_allclose(ours.mean, res.get_forecast(5).predicted_mean, rtol=1e-10)
    assert ours.detail["fitted_on"] == 600
    whole = B.arima(y, 5, 1, spec=spec, max_fit=None)
    full = _fit(SARIMAX(y, order=(0, 1, 1)))
    np.testing.assert_allclose(whole.mean, full.get_forecast(5).predicted_mean, rtol=1e-10)


def test_8_seasonality_test():
    t = np.arange(120)
    assert B.is_seasonal(np.sin(2 * np.pi * t / 12), 12)
    assert not B.is_seasonal(np.random.default_rng(0).standard_normal(120), 12)
    assert not B.is_seasonal(np.sin(2 * np.pi * t[:30] / 12), 12)  # fewer than 3 seasons
