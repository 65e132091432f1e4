"""rnnkit.datasets.timeseries: reading series from arrays, pandas and CSV; the checks of bad
values and periods (exact messages); the season length; the three named series."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from rnnkit.datasets import DatasetNotFoundError
from rnnkit.datasets import timeseries as ts


def write_csv(path, rows, header="period,value"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def months(n, start_year=2000):
    return [f"{start_year + k // 12}-{k % 12 + 1:02d}" for k in range(n)]


# -- 1. reading ---------------------------------------------------------------------------------
def test_1_csv_monthly_gives_frequency_season_and_labels(tmp_path):
    path = write_csv(tmp_path / "s.csv", [f"{p},{k}" for k, p in enumerate(months(30))])
    s = ts.read_csv(path)
    assert s.freq == "M" and s.season_length == 12 and s.season_source == "index"
    assert s.periods[0] == "2000-01" and s.periods[-1] == "2002-06"
    np.testing.assert_array_equal(s.values, np.arange(30.0))
    assert s.future_periods(3) == ("2002-07", "2002-08", "2002-09")


def test_2_csv_column_by_name_and_quarterly(tmp_path):
    rows = [f"{2000 + k // 4}Q{k % 4 + 1},{k},{10 * k}" for k in range(12)]
    s = ts.read_csv(write_csv(tmp_path / "q.csv", rows, "period,a,b"), "b")
    assert s.freq == "Q" and s.season_length == 4 and s.name == "b"
    np.testing.assert_array_equal(s.values, 10.0 * np.arange(12))
    with pytest.raises(
        ValueError, match=re.escape("`column` expected one of ['a', 'b'], received 'c'.")
    ):
        ts.read_csv(tmp_path / "q.csv", "c")


def test_3_pandas_period_and_datetime_index_give_the_season():
    pd = pytest.importorskip("pandas")
    q = pd.Series(np.arange(16.0), index=pd.period_range("2001Q1", periods=16, freq="Q"))
    assert ts.from_pandas(q).season_length == 4
    m = pd.Series(np.arange(30.0), index=pd.date_range("2001-01-01", periods=30, freq="MS"))
    s = ts.from_pandas(m)
    assert (s.freq, s.season_length, s.periods[1]) == ("M", 12, "2001-02")
    d = pd.Series(np.arange(30.0), index=pd.date_range("2001-01-01", periods=30, freq="D"))
    assert ts.from_pandas(d).season_length == 7
    # no frequency set: taken from the timestamps' smallest step
    w = pd.Series(
        np.arange(10.0),
        index=pd.DatetimeIndex(pd.date_range("2001-01-07", periods=10, freq="W")).tolist(),
    )
    assert ts.from_pandas(w).season_length == 52


def test_4_user_season_length_wins_and_array_season_is_detected():
    t = np.arange(240)
    y = 10 + np.sin(2 * np.pi * t / 7) + 0.01 * t
    assert ts.from_array(y).season_length == 7
    assert ts.from_array(y).season_source == "detected"
    assert ts.from_array(y, season_length=3).season_length == 3


def test_5_detect_season_length_oracle_cases():
    rng = np.random.default_rng(0)
    assert ts.detect_season_length(rng.standard_normal(500)) == 1
    t = np.arange(600)
    assert ts.detect_season_length(np.sin(2 * np.pi * t / 12) + 0.05 * t) == 12
    assert ts.detect_season_length(np.cos(2 * np.pi * t / 24) + rng.normal(0, 0.1, 600)) == 24
    assert ts.detect_season_length([1.0, 2.0, 3.0]) == 1


# -- 6. bad input: one clear message each ----------------------------------------------------------
def test_6_non_numeric_value_names_row_and_period(tmp_path):
    rows = [f"{p},{k}" for k, p in enumerate(months(5))]
    rows[3] = "2000-04,abc"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "timeseries.read_csv: `values` expected numbers, received 'abc' at row 3 (period 2000-04)."
        ),
    ):
        ts.read_csv(write_csv(tmp_path / "s.csv", rows))
    with pytest.raises(
        ValueError, match=re.escape("`values` expected numbers, received 'x' at row 1.")
    ):
        ts.from_array([1.0, "x", 3.0])


def test_7_nan_and_inf_are_refused_naming_the_row(tmp_path):
    rows = [f"{p},{k}" for k, p in enumerate(months(6))]
    rows[2] = "2000-03,"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "timeseries.read_csv: `values` expected finite numbers, received NaN at row 2 "
            "(period 2000-03); pass fill='linear' (--fill linear) to interpolate NaN."
        ),
    ):
        ts.read_csv(write_csv(tmp_path / "s.csv", rows))
    with pytest.raises(
        ValueError, match=re.escape("expected finite numbers, received Inf at row 1.")
    ):
        ts.from_array([1.0, np.inf, 2.0])
    with pytest.raises(ValueError, match=re.escape("received -Inf at row 0.")):
        ts.from_array([-np.inf, 1.0, 2.0], fill="linear")


def test_8_unsorted_duplicate_and_gap_periods(tmp_path):
    p = months(6)
    unsorted = [f"{p[k]},{k}" for k in (0, 1, 3, 2, 4, 5)]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`periods` expected periods in increasing order, received 2000-03 after 2000-04 at row 3."
        ),
    ):
        ts.read_csv(write_csv(tmp_path / "a.csv", unsorted))
    dup = [f"{p[k]},{k}" for k in (0, 1, 2, 2, 3)]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`periods` expected each period once, received 2000-03 twice (rows 2 and 3)."
        ),
    ):
        ts.read_csv(write_csv(tmp_path / "b.csv", dup))
    gap = [f"{p[k]},{k}" for k in (0, 1, 4, 5)]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`periods` expected consecutive periods, received a gap of 2 missing period(s) "
            "between 2000-02 and 2000-05 (row 2); pass fill='linear' (--fill linear) to "
            "interpolate missing values."
        ),
    ):
        ts.read_csv(write_csv(tmp_path / "c.csv", gap))


def test_9_fill_linear_interpolates_gaps_and_nan(tmp_path):
    p = months(6)
    rows = [f"{p[0]},0", f"{p[1]},1", f"{p[2]},", f"{p[4]},4", f"{p[5]},5"]
    s = ts.read_csv(write_csv(tmp_path / "s.csv", rows), fill="linear")
    np.testing.assert_allclose(s.values, np.arange(6.0))
    assert s.filled == 2 and s.periods == tuple(p)
    with pytest.raises(
        ValueError, match=re.escape("`fill` expected missing values inside the series")
    ):
        ts.from_array([np.nan, 1.0, 2.0], fill="linear")


def test_10_bad_labels_and_mixed_frequencies(tmp_path):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`periods` expected period labels such as 1949-01, 1949Q1, 1949-01-31 or 1949, received 'soon' at row 1."
        ),
    ):
        ts.read_csv(write_csv(tmp_path / "a.csv", ["2000-01,1", "soon,2"]))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`periods` expected labels of one frequency, received '2000Q2' (quarterly) at row 1 after monthly labels."
        ),
    ):
        ts.read_csv(write_csv(tmp_path / "b.csv", ["2000-01,1", "2000Q2,2"]))
    with pytest.raises(ValueError, match=re.escape("received '2000-13' at row 1 (month 13).")):
        ts.read_csv(write_csv(tmp_path / "c.csv", ["2000-12,1", "2000-13,2"]))


def test_11_shape_and_type_errors():
    with pytest.raises(ValueError, match=re.escape("`values` expected a 1-D array of numbers")):
        ts.from_array(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=re.escape("`values` expected at least 2 observations")):
        ts.from_array([1.0])
    with pytest.raises(
        ValueError,
        match=re.escape("`season_length` expected a positive integer, received 0 (int)."),
    ):
        ts.from_array([1.0, 2.0], season_length=0)


# -- 12. the named series ----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "n"), [("airline", 144), ("sunspots", 3177), ("co2", 468)])
def test_12_named_series_shipped_copy_equals_shared_data(shared_data, name, n):
    shipped = ts.load_series(name)
    shared = ts.load_series(name, shared_data)
    assert len(shipped) == len(shared) == n
    np.testing.assert_array_equal(shipped.values, shared.values)
    assert shipped.season_length == 12 and shipped.freq == "M"
    assert shared.verified.startswith("SHA-256 equals the official")
    data = ts.bundled_path(name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == ts.SERIES[name].sha256


def test_13_named_series_given_location_never_falls_back(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ts.load_series("airline", tmp_path / "missing")
    with pytest.raises(
        ValueError,
        match=re.escape("`name` expected one of 'airline', 'sunspots', 'co2', received 'x'."),
    ):
        ts.load_series("x")


def test_14_damaged_copy_of_official_size_is_refused(tmp_path, shared_data):
    from rnnkit.datasets import CorruptDatasetError

    data = bytearray((shared_data / "timeseries" / "airline_passengers.csv").read_bytes())
    data[-3] = ord("9") if data[-3] != ord("9") else ord("8")
    (tmp_path / "timeseries").mkdir()
    (tmp_path / "timeseries" / "airline_passengers.csv").write_bytes(bytes(data))
    with pytest.raises(CorruptDatasetError, match="is damaged"):
        ts.load_series("airline", tmp_path)
