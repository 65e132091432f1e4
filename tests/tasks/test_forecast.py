"""rnnkit.tasks.forecast: windows, splits and the train-only scaler; the proof that no fit sees
a value after its origin; prediction (direct and recursive, intervals); save / load; bad
input."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from rnnkit.datasets import timeseries as ts
from rnnkit.tasks.forecast import ForecastConfig, Forecaster, backtest
from rnnkit.tasks.forecast.evaluation import mase_scale, metrics
from rnnkit.tasks.forecast.forecaster import calibration_factors, normal_quantile
from rnnkit.tasks.forecast.prepare import (
    Scaler,
    Seasonality,
    Transform,
    split_windows,
    windows,
)

TINY = {"units": 4, "epochs": 8, "patience": 3, "ensemble": 2, "batch_size": 64}


def seasonal_series(n=96, m=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / m) + rng.normal(0, 1, n)


# -- 1. windows and splits -------------------------------------------------------------------------
def test_1_windows_against_hand_written_loop():
    z = np.arange(10.0) ** 2
    inputs, targets = windows(z, 3, 2)
    assert inputs.shape == (6, 3) and targets.shape == (6, 2)
    for t in range(2, 8):  # t = last input index
        np.testing.assert_array_equal(inputs[t - 2], z[t - 2 : t + 1])
        np.testing.assert_array_equal(targets[t - 2], z[t + 1 : t + 3])
    assert windows(z, 8, 3)[0].shape == (0, 8)


def test_2_a_window_never_reads_after_its_last_input():
    z = np.random.default_rng(0).standard_normal(30)
    base_in, base_out = windows(z, 5, 3)
    for k in range(30):  # change one value: only windows whose span holds it change
        changed = z.copy()
        changed[k] += 1.0
        new_in, new_out = windows(changed, 5, 3)
        last_input = np.arange(len(base_in)) + 4
        unaffected_in = last_input < k
        unaffected_out = last_input + 3 < k
        np.testing.assert_array_equal(new_in[unaffected_in], base_in[unaffected_in])
        np.testing.assert_array_equal(new_out[unaffected_out], base_out[unaffected_out])


def test_3_split_windows_is_time_ordered_and_disjoint():
    train, val = split_windows(40, horizon=5, validation=0.2)
    np.testing.assert_array_equal(val, np.arange(32, 40))
    # the last training window's targets (t + 1 .. t + 5 for window t) end before the first
    # validation window's targets begin
    assert train[-1] + 5 <= val[0]
    np.testing.assert_array_equal(train, np.arange(0, 28))


def test_4_scaler_and_transform_are_fitted_on_training_values_only():
    y = seasonal_series()
    t = Transform.fit("auto", y[:60])
    assert t.kind == "log"
    np.testing.assert_allclose(t.inverse(t(y)), y)
    s = Scaler.fit("window", t(y[:60]))
    assert s.scale == pytest.approx(np.std(np.diff(np.log(y[:60]))))
    g = Scaler.fit("global", y[:60])
    assert (g.center, g.scale) == pytest.approx((y[:60].mean(), y[:60].std()))
    b = Transform.fit("boxcox", y[:60])
    from scipy import stats

    assert b.lam == pytest.approx(stats.boxcox(y[:60])[1])
    np.testing.assert_allclose(b.inverse(b(y)), y)
    assert Transform.fit("auto", np.array([0.0, 1.0, 2.0])).kind == "none"


def test_4b_seasonal_target_reference_is_the_seasonal_naive_forecast():
    z = np.arange(40.0) ** 1.5
    inputs, _ = windows(z, 8, 6)
    s = Scaler.fit("seasonal", z, season=4)
    ref = s.target_reference(inputs, 6)
    for k in range(len(inputs)):
        t = k + 7  # last input index
        expected = [z[t + h - 4 * ((h - 1) // 4 + 1)] for h in range(1, 7)]  # seasonal naive
        np.testing.assert_array_equal(ref[k], expected)
    np.testing.assert_array_equal(
        Scaler.fit("window", z).target_reference(inputs, 3)[:, 2], inputs[:, -1]
    )
    y = seasonal_series(96)
    f = Forecaster(ForecastConfig(scaling="seasonal", **TINY)).fit(y)
    assert f.predict(12).shape == (12,)


@pytest.mark.parametrize("m", [12, 5])
def test_4c_seasonal_indices_equal_statsmodels_classical_decomposition(m):
    from statsmodels.tsa.seasonal import seasonal_decompose

    z = np.log(seasonal_series(10 * m + 3, m, seed=m))
    got = Seasonality.fit("always", z, m)
    oracle = seasonal_decompose(z, model="additive", period=m).seasonal  # (n,)
    np.testing.assert_allclose(got.at(0, len(z)), oracle, atol=1e-12)
    np.testing.assert_allclose(got.at(7, 4), oracle[7:11], atol=1e-12)
    assert sum(got.indices) == pytest.approx(0.0, abs=1e-12)


def test_4d_deseason_auto_follows_the_m4_seasonality_test():
    rng = np.random.default_rng(1)
    noise = 100 + rng.standard_normal(120)
    assert Seasonality.fit("auto", noise, 12).indices == ()  # white noise: not seasonal
    assert len(Seasonality.fit("always", noise, 12).indices) == 12
    assert len(Seasonality.fit("auto", seasonal_series(120), 12).indices) == 12
    # a trend passes the seasonality test on the levels, not on the differences: no indices
    trend = np.log(100 + 2.0 * np.arange(120) + rng.standard_normal(120))
    from rnnkit.tasks.forecast.prepare import is_seasonal

    assert is_seasonal(trend, 12) and not is_seasonal(np.diff(trend), 12)
    assert Seasonality.fit("auto", trend, 12).indices == ()
    assert Seasonality.fit("never", seasonal_series(120), 12).indices == ()
    assert Seasonality.fit("always", seasonal_series(30), 12).indices == ()  # < 3 seasons
    assert Seasonality.fit("always", seasonal_series(30), 1).indices == ()
    np.testing.assert_array_equal(Seasonality().at(3, 4), np.zeros(4))
    # the forecaster removes them before the network and adds them back to its forecasts
    y = seasonal_series(96)
    f = Forecaster(ForecastConfig(**TINY)).fit(y)
    assert f.seasonality_ == Seasonality.fit("auto", np.log(y), 12) and f.seasonality_.indices
    np.testing.assert_allclose(f.history_, np.log(y[-24:]) - f.seasonality_.at(72, 24))
    g = Forecaster(ForecastConfig(deseason="never", **TINY)).fit(y)
    assert g.seasonality_.indices == ()
    shift = f.seasonality_.at(96, 12)
    fc = f.predict(12, intervals=True)
    f.seasonality_ = Seasonality()
    bare = f.predict(12, intervals=True)
    np.testing.assert_allclose(np.log(fc.mean), np.log(bare.mean) + shift)
    np.testing.assert_allclose(np.log(fc.upper), np.log(bare.upper) + shift)


# -- 5. no look-ahead: a future value changes no past forecast nor fitted scaler --------------------
def test_5_changing_future_values_changes_no_backtest_forecast_or_scaler():
    y = seasonal_series(120)
    config = ForecastConfig(**TINY)
    names = ("naive", "seasonal_naive", "drift", "ets")
    a = backtest(y, config=config, horizon=12, folds=2, baselines=names)
    changed = y.copy()
    changed[-12:] *= 3.0  # the last fold's test values: after every origin
    b = backtest(changed, config=config, horizon=12, folds=2, baselines=names)
    for name in ("rnnkit", *names):
        for fa, fb in zip(a.folds[name], b.folds[name]):
            np.testing.assert_array_equal(fa.mean, fb.mean)
            np.testing.assert_array_equal(fa.lower, fb.lower)
            np.testing.assert_array_equal(fa.upper, fb.upper)
    for fa, fb in zip(a.folds["rnnkit"], b.folds["rnnkit"]):
        assert (
            fa.detail == fb.detail
        )  # transform, seasonal indices, scaler, calibration: all fitted before the origin
    assert len(a.folds["rnnkit"][0].detail["seasonality"]["indices"]) == 12
    assert len(a.folds["rnnkit"][0].detail["kappa"]) == 12  # one calibration factor per step
    # the first fold's test values are after its origin too
    changed = y.copy()
    changed[-24:-12] += 50.0
    c = backtest(changed, config=config, horizon=12, folds=2, baselines=names)
    np.testing.assert_array_equal(a.folds["rnnkit"][0].mean, c.folds["rnnkit"][0].mean)
    assert a.folds["rnnkit"][0].detail == c.folds["rnnkit"][0].detail
    assert a.folds["rnnkit"][0].metrics != c.folds["rnnkit"][0].metrics


def test_6_fit_uses_the_series_it_is_given_only():
    y = seasonal_series(100)
    f1 = Forecaster(ForecastConfig(**TINY)).fit(y[:80])
    changed = y.copy()
    changed[80:] = 0.0
    f2 = Forecaster(ForecastConfig(**TINY)).fit(changed[:80])
    assert f1.scaler_ == f2.scaler_ and f1.transform_ == f2.transform_
    assert f1.seasonality_ == f2.seasonality_ and f1.seasonality_.indices
    np.testing.assert_array_equal(f1.predict(12), f2.predict(12))


def test_6b_max_windows_trains_on_the_latest_windows_only():
    y = seasonal_series(120)
    f = Forecaster(ForecastConfig(max_windows=40, **TINY)).fit(y)
    # 120 - 24 - 12 + 1 = 85 windows: the first 45 dropped; 6 validate, 11 dropped as the gap
    assert f.windows_ == {"first": 45, "train": 23, "validation": 6}
    g = Forecaster(ForecastConfig(**TINY)).fit(y)  # default 600: all 85 windows
    assert g.windows_ == {"first": 0, "train": 61, "validation": 13}


# -- 7. forecasts --------------------------------------------------------------------------------------
def test_7_predict_direct_intervals_and_levels():
    y = seasonal_series(96)
    f = Forecaster(ForecastConfig(**TINY)).fit(ts.from_array(y, season_length=12))
    assert (f.lookback_, f.horizon_, f.season_length_) == (24, 12, 12)
    fc = f.predict(12, intervals=True)
    assert fc.mean.shape == (12,) and np.all(fc.lower < fc.mean) and np.all(fc.mean < fc.upper)
    wide = f.predict(12, intervals=True, level=95)
    assert np.all(wide.upper - wide.lower > fc.upper - fc.lower)
    np.testing.assert_allclose(f.predict(5), fc.mean[:5])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Forecaster.predict: `horizon` expected at most the trained horizon 12 (strategy "
            "'direct'; fit with a larger ForecastConfig.horizon or use strategy 'recursive'), "
            "received 13 (int)."
        ),
    ):
        f.predict(13)
    with pytest.raises(
        ValueError, match=re.escape("`level` expected a number in (0, 100), received 100 (int).")
    ):
        f.predict(3, intervals=True, level=100)


# -- 7b. interval calibration: split-conformal per step, on the validation windows only -------------
def test_7b_calibration_factors_by_hand():
    z = normal_quantile(80)
    ratio = np.zeros((9, 3))
    ratio[:, 0] = z * np.arange(1, 10) / 8  # 8th smallest of 9 (ceil(10 * 0.8)): z -> factor 1.0
    ratio[:, 1] = z * np.arange(1, 10) / 16  # 0.5, below step 0: the running maximum keeps 1.0
    ratio[:, 2] = z * np.arange(9, 0, -1) / 4  # 8 / 4: factor 2.0, in any row order
    np.testing.assert_allclose(calibration_factors(ratio), [1.0, 1.0, 2.0])
    # too few windows for the conformal rank: the largest ratio
    np.testing.assert_allclose(calibration_factors(z * np.array([[0.5], [3.0]])), [3.0])


def test_7c_fit_calibrates_each_step_on_its_validation_windows():
    y = seasonal_series(96)
    f = Forecaster(ForecastConfig(blend="never", **TINY)).fit(y)
    v = f.validation_
    assert f.kappa_.shape == (12,)
    np.testing.assert_array_equal(
        f.kappa_, calibration_factors(np.abs(v["target"] - v["mean"]) / v["sd"])
    )
    assert np.all(np.diff(f.kappa_) >= 0) and len(set(f.kappa_.tolist())) > 1
    # blended (the default): calibrated on the blended mean's validation errors
    g = Forecaster(ForecastConfig(**TINY)).fit(y)
    w, anchor = g.weight_, g._anchor(g.validation_["inputs"], 12)  # (Nv, 12)
    blended = w * g.validation_["mean"] + (1 - w) * anchor
    np.testing.assert_allclose(
        g.kappa_, calibration_factors(np.abs(v["target"] - blended) / v["sd"]), rtol=1e-12
    )
    # the interval of step h is the network's, widened by step h's factor
    raw = Forecaster(ForecastConfig(calibrate=False, blend="never", **TINY)).fit(y)
    np.testing.assert_array_equal(raw.kappa_, np.ones(12))
    a, b = f.predict(12, intervals=True), raw.predict(12, intervals=True)
    np.testing.assert_allclose(np.log(a.upper / a.mean), f.kappa_ * np.log(b.upper / b.mean))
    # (no value after the fit's series is used: test_5 checks the factors of every backtest fold)


def test_8_predict_recursive_sample_paths():
    y = seasonal_series(96)
    f = Forecaster(ForecastConfig(strategy="recursive", samples=50, **TINY)).fit(y)
    fc = f.predict(30, intervals=True)
    assert fc.mean.shape == (30,) and np.all(fc.lower <= fc.upper)
    # the interval widens with the horizon (errors accumulate along the paths)
    assert (fc.upper - fc.lower)[-1] > (fc.upper - fc.lower)[0]
    np.testing.assert_array_equal(f.predict(30), fc.mean)  # seeded: same paths


def test_9_predict_from_a_later_history_without_refitting():
    y = seasonal_series(120)
    f = Forecaster(ForecastConfig(**TINY)).fit(y[:100])
    np.testing.assert_array_equal(f.predict(12, history=y[:100]), f.predict(12))
    assert not np.array_equal(f.predict(12, history=y), f.predict(12))


def test_10_periods_of_the_forecast(tmp_path):
    s = ts.load_series("airline")
    f = Forecaster(ForecastConfig(**TINY)).fit(s)
    fc = f.predict(3, intervals=True)
    assert fc.periods == ("1961-01", "1961-02", "1961-03")


# -- 11. save / load ---------------------------------------------------------------------------------
def test_11_save_load_round_trip(tmp_path):
    y = seasonal_series(96)
    f = Forecaster(ForecastConfig(transform="boxcox", **TINY)).fit(y)
    f.save(tmp_path / "m")
    g = Forecaster.load(tmp_path / "m")
    assert g.config == f.config and g.scaler_ == f.scaler_ and g.transform_ == f.transform_
    assert g.seasonality_ == f.seasonality_ and len(g.seasonality_.indices) == 12
    a, b = f.predict(12, intervals=True), g.predict(12, intervals=True)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.lower, b.lower)
    np.testing.assert_array_equal(a.upper, b.upper)
    mask = 0o666 & ~_umask()
    assert os.stat(tmp_path / "m" / "weights.safetensors").st_mode & 0o777 == mask
    # saving again replaces it and keeps a file the user put there
    (tmp_path / "m" / "notes.txt").write_text("mine")
    f.save(tmp_path / "m")
    assert (tmp_path / "m" / "notes.txt").read_text() == "mine"
    # the series' last values come back in its own units, seasonal indices and transform undone
    np.testing.assert_allclose(g.recent_history(), y[-f.lookback_ :], rtol=1e-9)
    np.testing.assert_allclose(f.recent_history(), y[-f.lookback_ :], rtol=1e-9)


def test_11b_a_saved_single_calibration_factor_still_loads(tmp_path):
    # version 2 saved one factor for every step; it loads as that factor repeated per step
    f = Forecaster(ForecastConfig(**TINY)).fit(seasonal_series(96))
    f.save(tmp_path / "m")
    task = tmp_path / "m" / "forecast.json"
    state = json.loads(task.read_text())
    state["version"], state["kappa"] = 2, 0.75
    task.write_text(json.dumps(state))
    g = Forecaster.load(tmp_path / "m")
    np.testing.assert_array_equal(g.kappa_, np.full(12, 0.75))
    f.kappa_ = np.full(12, 0.75)
    np.testing.assert_array_equal(
        g.predict(12, intervals=True).upper, f.predict(12, intervals=True).upper
    )


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_12_save_never_overwrites_foreign_files_and_load_refuses_them(tmp_path):
    f = Forecaster(ForecastConfig(**TINY)).fit(seasonal_series(96))
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "data.csv").write_text("keep")
    with pytest.raises(FileExistsError, match="a folder that rnnkit did not write"):
        f.save(foreign)
    assert (foreign / "data.csv").read_text() == "keep"
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"Forecaster.load: `path` expected a saved forecaster (a folder with forecast.json "
            f"and weights.safetensors), received {str(foreign)!r}."
        ),
    ):
        Forecaster.load(foreign)
    (foreign / "forecast.json").write_text(json.dumps({"task": "sentiment"}))
    with pytest.raises(ValueError, match="expected a saved forecaster"):
        Forecaster.load(foreign)


# -- 13. bad input -----------------------------------------------------------------------------------
def test_13_series_too_short_for_lookback_and_horizon():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Forecaster.fit: `series` expected at least 42 observations (lookback 14 + horizon "
            "12, validation and training windows), received 'a series of 40'."
        ),
    ):
        Forecaster(ForecastConfig(**TINY)).fit(ts.from_array(seasonal_series(40), season_length=12))
    with pytest.raises(ValueError, match=re.escape("backtest: `series` expected at least")):
        backtest(seasonal_series(60), config=ForecastConfig(**TINY), horizon=12, folds=2)


def test_14_bad_values_reach_the_forecaster_as_clear_errors():
    y = seasonal_series(96)
    y[10] = np.nan
    with pytest.raises(
        ValueError, match=re.escape("`values` expected finite numbers, received NaN at row 10")
    ):
        Forecaster().fit(y)
    with pytest.raises(
        TypeError, match=re.escape("Forecaster.fit: `series` expected a TimeSeries")
    ):
        Forecaster().fit("airline")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "ForecastConfig: `units` expected an integer in [1, 1024], received 0 (int)."
        ),
    ):
        Forecaster(ForecastConfig(units=0)).fit(seasonal_series(96))
    with pytest.raises(
        ValueError,
        match=re.escape("`transform` expected 'none' or 'auto' for a series with values <= 0"),
    ):
        Forecaster(ForecastConfig(transform="log", **TINY)).fit(seasonal_series(96) - 200)
    with pytest.raises(
        RuntimeError, match=re.escape("Forecaster.predict: the forecaster is not fitted")
    ):
        Forecaster().predict(3)


# -- 15. measures ------------------------------------------------------------------------------------
def test_15_metrics_by_hand():
    actual, mean = np.array([10.0, 20.0, 0.0]), np.array([12.0, 15.0, 0.0])
    train = np.array([1.0, 2.0, 4.0, 8.0])
    got = metrics(actual, mean, mean - 3, mean + 3, train=train, m=1)
    assert got["MAE"] == pytest.approx(7 / 3)
    assert got["RMSE"] == pytest.approx(np.sqrt(29 / 3))
    assert got["sMAPE"] == pytest.approx(100 * (4 / 22 + 10 / 35 + 0) / 3)
    assert got["MASE"] == pytest.approx((7 / 3) / (7 / 3))
    assert got["coverage"] == pytest.approx(2 / 3)
    assert mase_scale(np.arange(30.0), 12) == 12.0


# -- 16. robustness: the untouched defaults on a real quarterly series beyond the shared three ----
def test_16_defaults_beat_the_seasonal_naive_on_us_unemployment():
    pytest.importorskip("statsmodels")
    series = ts.statsmodels_series("unemp")
    assert (len(series), series.season_length, series.periods[0]) == (203, 4, "1959Q1")
    r = backtest(series, horizon=4, folds=2, baselines=["seasonal_naive"])  # ForecastConfig()
    s = r.summary
    assert s["rnnkit"]["MASE"] < s["seasonal_naive"]["MASE"]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "timeseries.statsmodels_series: `name` expected one of 'elnino', 'realgdp', 'cpi', "
        ),
    ):
        ts.statsmodels_series("airline")


# -- 17. deseason "validate": with and without seasonal indices, the lower validation error wins ---
def test_17_deseason_validate_keeps_the_candidate_with_the_lower_validation_error():
    y = seasonal_series(120)
    one = dict(TINY, ensemble=1)
    fits = {
        mode: Forecaster(ForecastConfig(deseason=mode, **one)).fit(y)
        for mode in ("always", "never")
    }

    def error(f):  # validation MAE in the transformed series' units
        v = f.validation_
        return float(np.mean(np.abs(v["target"] - v["mean"]))) * f.scaler_.scale

    winner = min(fits, key=lambda mode: error(fits[mode]))
    chosen = Forecaster(ForecastConfig(deseason="validate", **one)).fit(y)
    assert chosen.deseason_ == winner
    assert (
        chosen.seasonality_ == fits[winner].seasonality_ and chosen.scaler_ == fits[winner].scaler_
    )
    np.testing.assert_array_equal(chosen.predict(12), fits[winner].predict(12))
    # more members: the first is the winning candidate's network, the others are trained on its data
    three = Forecaster(ForecastConfig(deseason="validate", **dict(TINY, ensemble=3))).fit(y)
    assert three.deseason_ == winner and len(three.nets_) == 3
    assert three.training_[0] == chosen.training_[0]
    # a series without seasons (season length 1) has no indices to remove: no choice, no extra
    short = Forecaster(ForecastConfig(deseason="validate", **one)).fit(y, season_length=1)
    assert short.deseason_ == "never" and short.seasonality_.indices == ()
    assert len(short.nets_) == 1


# -- 18. blend "validate": the network's weight against the naive forecast, chosen on validation ----
def test_18_blend_weight_by_validation_mae_and_the_blended_forecast():
    y = seasonal_series(96)
    plain = Forecaster(ForecastConfig(blend="never", **TINY)).fit(y)
    f = Forecaster(ForecastConfig(blend="validate", blend_anchor="naive", **TINY)).fit(y)
    assert f.slope_ == 0.0  # the naive anchor: the last value
    v = f.validation_  # the same networks as plain's (same seeds, same windows)
    np.testing.assert_array_equal(v["mean"], plain.validation_["mean"])
    # window scaling: targets are relative to the last input, so the naive forecast is 0
    errors = {w: np.mean(np.abs(v["target"] - w * v["mean"])) for w in (1, 0.75, 0.5, 0.25, 0)}
    assert f.weight_ == min(errors, key=lambda w: (errors[w], -w))
    assert plain.weight_ == 1.0
    # the forecast, in the deseasonalised log units the network reads: w net + (1 - w) last value
    season = f.seasonality_.at(f.n_, 12)
    last = f.history_[-1]
    np.testing.assert_allclose(
        np.log(f.predict(12)) - season,
        f.weight_ * (np.log(plain.predict(12)) - season) + (1 - f.weight_) * last,
    )
    # forced weight 0.5 shows the mix even when validation kept the network alone
    f.weight_ = 0.5
    np.testing.assert_allclose(
        np.log(f.predict(12)) - season, 0.5 * (np.log(plain.predict(12)) - season) + 0.5 * last
    )


# -- 18b. the default anchor: the drift forecast of the values the network reads -------------------
def test_18b_blend_with_the_drift_anchor_by_hand(tmp_path):
    y = seasonal_series(96)
    plain = Forecaster(ForecastConfig(blend="never", **TINY)).fit(y)
    f = Forecaster(ForecastConfig(**TINY)).fit(y)  # the defaults: blend validate, anchor drift
    assert (f.config.blend, f.config.blend_anchor) == ("validate", "drift")
    # the slope: the mean one-step change of the log values less their seasonal indices
    z = np.log(y) - f.seasonality_.at(0, len(y))
    slope = (z[-1] - z[0]) / (len(y) - 1)
    assert f.slope_ == pytest.approx(slope, rel=1e-12) and slope > 0
    v = f.validation_
    np.testing.assert_array_equal(v["mean"], plain.validation_["mean"])
    # window scaling: targets are relative to the last input, so the anchor is h slope / scale
    anchor = slope * np.arange(1, 13) / f.scaler_.scale  # (12,)
    errors = {
        w: np.mean(np.abs(v["target"] - (w * v["mean"] + (1 - w) * anchor)))
        for w in (1, 0.75, 0.5, 0.25, 0)
    }
    assert f.weight_ == min(errors, key=lambda w: (errors[w], -w))
    season = f.seasonality_.at(f.n_, 12)
    drift = f.history_[-1] + slope * np.arange(1, 13)  # the drift forecast, deseasonalised log
    f.weight_ = 0.5  # forced: shows the mix whatever validation chose
    np.testing.assert_allclose(
        np.log(f.predict(12)) - season, 0.5 * (np.log(plain.predict(12)) - season) + 0.5 * drift
    )
    f.weight_ = 0.0  # the anchor alone: the drift forecast
    np.testing.assert_allclose(np.log(f.predict(12)) - season, drift)
    # saved and loaded with its slope; a file saved before the anchor (no slope) blends with naive
    f.weight_ = 0.5
    f.save(tmp_path / "m")
    g = Forecaster.load(tmp_path / "m")
    assert g.slope_ == f.slope_ and g.weight_ == 0.5
    np.testing.assert_array_equal(g.predict(12), f.predict(12))
    task = tmp_path / "m" / "forecast.json"
    state = json.loads(task.read_text())
    del state["blend_slope"]
    task.write_text(json.dumps(state))
    old = Forecaster.load(tmp_path / "m")
    assert old.slope_ == 0.0
    np.testing.assert_allclose(
        np.log(old.predict(12)) - season,
        0.5 * (np.log(plain.predict(12)) - season) + 0.5 * f.history_[-1],
    )


def test_18c_the_defaults_blend_with_the_drift_anchor():
    # chosen on validation windows inside each fit (docs/forecast.md, "Blend"); before: never
    c = ForecastConfig()
    assert (c.blend, c.blend_anchor) == ("validate", "drift")
    with pytest.raises(
        ValueError,
        match=re.escape("ForecastConfig: `blend_anchor` expected one of 'drift', 'naive'"),
    ):
        ForecastConfig(blend_anchor="mean").validate()
