"""Univariate time series: from a NumPy array, a pandas Series or a CSV file, checked, with their
season length; and the three monthly series rnnkit knows by name (airline, sunspots, co2).

Public API
----------
:class:`TimeSeries`
    The values (float64), their period labels, the frequency and the season length.
:func:`from_array`, :func:`from_pandas`, :func:`read_csv`
    Build one from what the user has; every value and period is checked (see "Checks").
:func:`load_series`
    One of :data:`SERIES` by name, found through :func:`rnnkit.datasets.locate`.
:func:`detect_season_length`
    The season length read from the data when neither the index nor the user gives it.

Season length
-------------
In this order: the ``season_length`` the caller passes; the frequency of the periods (monthly
12, quarterly 4, weekly 52, daily 7, hourly 24, yearly 1: :data:`SEASONS`); otherwise
:func:`detect_season_length`: the autocorrelation of the first differences (so that a trend
does not hide the season) at lags 2 .. ``K = min(n // 3, 366)``; the lag of the highest local
peak above the white-noise band (95% over all ``K`` lags, Bonferroni) is the season, 1 (no
season) when no lag passes.

Checks
------
A value that is not a number, NaN or infinite; periods that are unsorted, duplicated or that
skip a period (a gap) are errors naming the first offending row, e.g. ``read_csv: `values`
expected finite numbers, received NaN at row 5 (period 1949-05).`` With ``fill="linear"`` NaN
values and missing periods are filled by linear interpolation between their neighbours instead
(never at the ends of the series) and :attr:`TimeSeries.filled` counts them.

Where the named series come from
--------------------------------
:func:`load_series` finds ``<name>.csv`` through the chain shared by every loader (``data_dir``
-> ``$RNNKIT_DATA_DIR`` (``timeseries/`` inside) -> the cache); the files have no download
address (they come from R's ``datasets`` package), so when none of these holds them and no
location was given, the copies shipped in ``rnnkit/data/`` are read (byte-identical to the
official files: ``scripts/copy_timeseries.py`` copies them and checks their SHA-256).

pandas is imported only by :func:`from_pandas`.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .. import _validation as V
from . import _locate
from ._download import DatasetNotFoundError

__all__ = [
    "FILLS",
    "SEASONS",
    "SERIES",
    "STATSMODELS_SERIES",
    "TimeSeries",
    "detect_season_length",
    "from_array",
    "from_pandas",
    "load_series",
    "read_csv",
    "statsmodels_series",
]

#: Season length of each frequency code.
SEASONS = {"H": 24, "D": 7, "W": 52, "M": 12, "Q": 4, "Y": 1}
FREQ_NAMES = {
    "H": "hourly",
    "D": "daily",
    "W": "weekly",
    "M": "monthly",
    "Q": "quarterly",
    "Y": "yearly",
}
FILLS = (None, "linear")
MAX_ROWS = 10_000_000


@dataclass(frozen=True, eq=False)
class TimeSeries:
    """One univariate series, in time order, every period present.

    Attributes
    ----------
    values : numpy.ndarray of float64, shape (n,)
        The observations, finite.
    periods : tuple of str or None
        One label per value (``"1949-01"``, ``"1949Q1"``, ``"2020-03-05"``), None for a
        plain array.
    freq : str or None
        ``"H"``, ``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"``, or None when unknown.
    season_length : int
        Periods per season (1: no season); see the module documentation for where it comes from.
    season_source : {"user", "index", "detected"}
        Where ``season_length`` came from.
    name : str
        What the values are (the CSV column, the Series name).
    source : str
        Where the series was read from.
    filled : int
        Values filled by ``fill="linear"`` (NaN or missing periods).
    """

    values: np.ndarray
    periods: tuple[str, ...] | None = None
    freq: str | None = None
    season_length: int = 1
    season_source: str = "user"
    name: str = "value"
    source: str = "array"
    filled: int = 0
    verified: str = field(default="")

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        span = f", {self.periods[0]} .. {self.periods[-1]}" if self.periods else ""
        return (
            f"TimeSeries({self.name!r}, n={len(self)}{span}, freq={self.freq!r}, "
            f"season_length={self.season_length} ({self.season_source}))"
        )

    def head(self, n: int) -> TimeSeries:
        """The first ``n`` observations (same frequency and season length)."""
        periods = self.periods[:n] if self.periods is not None else None
        return TimeSeries(
            self.values[:n].copy(),
            periods,
            self.freq,
            self.season_length,
            self.season_source,
            self.name,
            self.source,
            self.filled,
            self.verified,
        )

    def with_values(self, values) -> TimeSeries:
        """The same periods and season with other values (checked)."""
        return from_array(
            values,
            season_length=self.season_length,
            freq=self.freq,
            periods=self.periods,
            name=self.name,
        )

    def future_periods(self, horizon: int) -> tuple[str, ...] | None:
        """Labels of the ``horizon`` periods after the last one (None without periods)."""
        if self.periods is None or self.freq is None:
            return None
        last = _parse_period(self.periods[-1], self.freq)
        return tuple(_format_period(last + k, self.freq) for k in range(1, horizon + 1))


# ---------------------------------------------------------------------------------------------
# Periods: parsed into one integer ordinal per frequency (months since year 0, days...)
# ---------------------------------------------------------------------------------------------

_PATTERNS = (
    (re.compile(r"(\d{4})[-/ ]?[Qq]([1-4])"), "Q"),
    (re.compile(r"(\d{4})[-/](\d{1,2})"), "M"),
    (re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})"), "D"),
    (re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):00(?::00)?"), "H"),
    (re.compile(r"(\d{4})"), "Y"),
)


def _label_kind(label: str) -> str | None:
    for pattern, kind in _PATTERNS:
        if pattern.fullmatch(label.strip()):
            return kind
    return None


def _parse_period(label: str, freq: str) -> int:
    """The ordinal of ``label`` at frequency ``freq`` (raises ValueError when it is not one)."""
    import datetime as dt

    text = label.strip()
    if freq == "Q":
        m = _PATTERNS[0][0].fullmatch(text)
        return int(m[1]) * 4 + int(m[2]) - 1
    if freq == "M":
        m = _PATTERNS[1][0].fullmatch(text)
        month = int(m[2])
        if not 1 <= month <= 12:
            raise ValueError(f"month {month}")
        return int(m[1]) * 12 + month - 1
    if freq == "Y":
        return int(_PATTERNS[4][0].fullmatch(text)[1])
    if freq in ("D", "W"):
        m = _PATTERNS[2][0].fullmatch(text)
        day = dt.date(int(m[1]), int(m[2]), int(m[3])).toordinal()
        return day if freq == "D" else day // 7
    m = _PATTERNS[3][0].fullmatch(text)
    day = dt.date(int(m[1]), int(m[2]), int(m[3])).toordinal()
    if not 0 <= int(m[4]) < 24:
        raise ValueError(f"hour {m[4]}")
    return day * 24 + int(m[4])


def _format_period(ordinal: int, freq: str) -> str:
    import datetime as dt

    if freq == "Q":
        return f"{ordinal // 4:04d}Q{ordinal % 4 + 1}"
    if freq == "M":
        return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"
    if freq == "Y":
        return f"{ordinal:04d}"
    if freq == "D":
        return dt.date.fromordinal(ordinal).isoformat()
    if freq == "W":
        return dt.date.fromordinal(ordinal * 7).isoformat()
    return f"{dt.date.fromordinal(ordinal // 24).isoformat()} {ordinal % 24:02d}:00"


def _date_freq(ordinals: list[int]) -> str:
    """Daily dates: weekly when every step is a multiple of 7 days."""
    steps = {b - a for a, b in itertools.pairwise(ordinals) if b != a}
    return "W" if steps and all(s % 7 == 0 for s in steps) else "D"


def _periods_to_ordinals(owner: str, labels: list[str]) -> tuple[np.ndarray, str]:
    kinds = [_label_kind(lab) for lab in labels]
    if None in kinds:
        row = kinds.index(None)
        raise ValueError(
            f"{owner}: `periods` expected period labels such as 1949-01, 1949Q1, 1949-01-31 or "
            f"1949, received {labels[row]!r} at row {row}."
        )
    if len(set(kinds)) > 1:
        row = next(k for k, kind in enumerate(kinds) if kind != kinds[0])
        raise ValueError(
            f"{owner}: `periods` expected labels of one frequency, received {labels[row]!r} "
            f"({FREQ_NAMES[kinds[row]]}) at row {row} after {FREQ_NAMES[kinds[0]]} labels."
        )
    freq = kinds[0]
    ordinals = []
    for k, label in enumerate(labels):
        try:
            ordinals.append(_parse_period(label, "D" if freq == "D" else freq))
        except ValueError as exc:
            raise ValueError(
                f"{owner}: `periods` expected valid dates, received {label!r} at row {k} ({exc})."
            ) from None
    if freq == "D":
        freq = _date_freq(ordinals)
        if freq == "W":
            ordinals = [d // 7 for d in ordinals]
    return np.asarray(ordinals, dtype=np.int64), freq


def _check_order(owner: str, ordinals: np.ndarray, labels, fill: str | None):
    """Indices of every period from the first to the last; raises on unsorted, duplicate or
    (without ``fill``) missing periods. Returns the positions of the given values in it."""
    steps = np.diff(ordinals)
    if (steps < 0).any():
        k = int(np.argmax(steps < 0)) + 1
        raise ValueError(
            f"{owner}: `periods` expected periods in increasing order, received "
            f"{labels[k]} after {labels[k - 1]} at row {k}."
        )
    if (steps == 0).any():
        k = int(np.argmax(steps == 0)) + 1
        raise ValueError(
            f"{owner}: `periods` expected each period once, received {labels[k]} twice "
            f"(rows {k - 1} and {k})."
        )
    if (steps > 1).any() and fill is None:
        k = int(np.argmax(steps > 1)) + 1
        raise ValueError(
            f"{owner}: `periods` expected consecutive periods, received a gap of "
            f"{int(steps[k - 1]) - 1} missing period(s) between {labels[k - 1]} and {labels[k]} "
            f"(row {k}); pass fill='linear' (--fill linear) to interpolate missing values."
        )
    return ordinals - ordinals[0]


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def _as_float(owner: str, raw, labels=None) -> np.ndarray:
    """float64 values; a non-numeric entry is an error naming its row (NaN / Inf stay)."""
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        for k, v in enumerate(raw):
            try:
                float(v)
            except (TypeError, ValueError):
                where = f" (period {labels[k]})" if labels is not None else ""
                raise ValueError(
                    f"{owner}: `values` expected numbers, received {v!r} at row {k}{where}."
                ) from None
        raise
    return values


def _check_finite(owner: str, values: np.ndarray, labels, fill: str | None) -> None:
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    k = int(np.argmax(bad))
    what = "NaN" if np.isnan(values[k]) else ("Inf" if values[k] > 0 else "-Inf")
    if fill is None or what != "NaN":
        where = f" (period {labels[k]})" if labels is not None else ""
        hint = "; pass fill='linear' (--fill linear) to interpolate NaN" if what == "NaN" else ""
        raise ValueError(
            f"{owner}: `values` expected finite numbers, received {what} at row {k}{where}{hint}."
        )


def _fill(owner: str, values: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, int]:
    """Values on every period 0 .. positions[-1], NaN and missing ones interpolated linearly."""
    full = np.full(int(positions[-1]) + 1, np.nan)
    full[positions] = values
    missing = np.isnan(full)
    if not missing.any():
        return full, 0
    known = np.flatnonzero(~missing)
    if missing[0] or missing[-1] or len(known) < 2:
        raise ValueError(
            f"{owner}: `fill` expected missing values inside the series (between known ones), "
            "received NaN at its first or last period; drop those rows."
        )
    full[missing] = np.interp(np.flatnonzero(missing), known, full[known])
    return full, int(missing.sum())


def _check_common(owner, season_length, fill, name):
    if season_length is not None:
        V.positive_int(owner, "season_length", season_length)
    if fill not in FILLS:
        V.fail(owner, "fill", "None or 'linear'", fill)
    if not isinstance(name, str):
        V.fail(owner, "name", "a string", name, TypeError)


def _build(
    owner, values, labels, ordinals, freq, season_length, fill, name, source, verified=""
) -> TimeSeries:
    _check_finite(owner, values, labels, fill)
    filled = 0
    periods = None
    if ordinals is not None:
        positions = _check_order(owner, ordinals, labels, fill)
        if fill is not None:
            values, filled = _fill(owner, values, positions)
            first = int(ordinals[0])
            periods = tuple(_format_period(first + k, freq) for k in range(len(values)))
        else:
            periods = tuple(_format_period(int(o), freq) for o in ordinals)
    elif fill is not None:
        values, filled = _fill(owner, values, np.arange(len(values)))
    if len(values) < 2:
        V.fail(owner, "values", "at least 2 observations", f"{len(values)}")
    if season_length is not None:
        m, where = int(season_length), "user"
    elif freq is not None:
        m, where = SEASONS[freq], "index"
    else:
        m, where = detect_season_length(values), "detected"
    return TimeSeries(
        np.ascontiguousarray(values, dtype=np.float64),
        periods,
        freq,
        m,
        where,
        name,
        source,
        filled,
        verified,
    )


def from_array(
    values,
    *,
    season_length: int | None = None,
    freq: str | None = None,
    periods=None,
    name: str = "value",
    fill: str | None = None,
) -> TimeSeries:
    """A series from a 1-D array of numbers (consecutive periods).

    Parameters
    ----------
    values : array-like, shape (n,)
        The observations, oldest first.
    season_length : int, optional
        Periods per season; default from ``freq``, else detected (module documentation).
    freq : {"H", "D", "W", "M", "Q", "Y"}, optional
        The frequency, if known.
    periods : sequence of str, optional
        A label per value (checked as :func:`read_csv` checks them).
    name : str
        What the values are.
    fill : {None, "linear"}
        None: NaN is an error; "linear": interpolate it.
    """
    owner = "timeseries.from_array"
    _check_common(owner, season_length, fill, name)
    if freq is not None and freq not in SEASONS:
        V.fail(owner, "freq", "None or one of " + ", ".join(map(repr, SEASONS)), freq)
    if isinstance(values, (str, bytes)):
        V.fail(owner, "values", "a 1-D array of numbers", values, TypeError)
    arr = _as_float(owner, values)
    if arr.ndim != 1:
        V.fail(owner, "values", "a 1-D array of numbers", arr)
    ordinals = None
    labels = None
    if periods is not None:
        labels = [str(p) for p in periods]
        if len(labels) != len(arr):
            V.fail(owner, "periods", f"{len(arr)} labels (one per value)", f"{len(labels)}")
        ordinals, found = _periods_to_ordinals(owner, labels)
        if freq is not None and found != freq:
            V.fail(owner, "periods", f"{FREQ_NAMES[freq]} labels", labels[0])
        freq = found
    return _build(owner, arr, labels, ordinals, freq, season_length, fill, name, "array")


_PANDAS_FREQ = {"h": "H", "D": "D", "B": "D", "W": "W", "M": "M", "Q": "Q", "Y": "Y", "A": "Y"}


def from_pandas(series, *, season_length: int | None = None, fill: str | None = None) -> TimeSeries:
    """A series from a ``pandas.Series``; a ``PeriodIndex`` or ``DatetimeIndex`` gives the
    frequency (from ``index.freq`` when set, else from the labels) and so the season length.
    Any other index is taken as consecutive periods."""
    import pandas as pd

    owner = "timeseries.from_pandas"
    if not isinstance(series, pd.Series):
        V.fail(owner, "series", "a pandas.Series", series, TypeError)
    name = str(series.name) if series.name is not None else "value"
    _check_common(owner, season_length, fill, name)
    index = series.index
    labels = ordinals = freq = None
    if isinstance(index, (pd.PeriodIndex, pd.DatetimeIndex)):
        code = None
        if index.freq is not None:
            base = re.sub(r"[^A-Za-z]", "", index.freqstr.split("-")[0])
            core = base.rstrip("SE") or base  # MS, ME -> M; QE -> Q; YE -> Y
            core = core[1:] if len(core) > 1 and core[0] == "B" else core  # BME -> M
            code = _PANDAS_FREQ.get(core)
        stamps = index.to_timestamp() if isinstance(index, pd.PeriodIndex) else index
        if code is None:
            code = _freq_of_stamps(stamps)
        labels = [_format_stamp(ts, code) for ts in stamps]
        ordinals = np.asarray([_parse_period(lab, code) for lab in labels], dtype=np.int64)
        freq = code
    raw = series.to_numpy()
    arr = _as_float(owner, raw, labels)
    return _build(owner, arr, labels, ordinals, freq, season_length, fill, name, "pandas.Series")


def _format_stamp(ts, code: str) -> str:
    if code == "Q":
        return f"{ts.year:04d}Q{(ts.month - 1) // 3 + 1}"
    if code == "M":
        return f"{ts.year:04d}-{ts.month:02d}"
    if code == "Y":
        return f"{ts.year:04d}"
    if code == "H":
        return f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d} {ts.hour:02d}:00"
    return f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}"


def _freq_of_stamps(stamps) -> str:
    """The frequency of timestamps without ``freq``: the smallest step between them."""
    if len(stamps) < 2:
        return "D"
    seconds = np.asarray(stamps.values.astype("datetime64[s]").astype(np.int64), dtype=np.float64)
    days = np.diff(seconds) / 86_400
    step = np.min(days[days > 0]) if (days > 0).any() else 1.0
    if step < 1:
        return "H"
    if step < 7:
        return "D"
    if step < 28:
        return "W"
    if step < 90:
        return "M"
    if step < 365:
        return "Q"
    return "Y"


def read_csv(
    path: str | os.PathLike,
    column: str | None = None,
    *,
    season_length: int | None = None,
    fill: str | None = None,
) -> TimeSeries:
    """A series from a CSV file with a header: the first column holds the periods
    (``1949-01``, ``1949Q1``, ``1949-01-31``, ``1949``), ``column`` the values (default: the
    second column). Empty cells are NaN (an error unless ``fill="linear"``)."""
    owner = "timeseries.read_csv"
    _check_common(owner, season_length, fill, "x")
    if column is not None and not isinstance(column, str):
        V.fail(owner, "column", "None or a column name", column, TypeError)
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OSError(f"{owner}: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return _parse_csv(owner, raw, str(path), column, season_length, fill)


def _parse_csv(owner, raw: bytes, source: str, column, season_length, fill, verified=""):
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{owner}: {source!r} is not UTF-8 text (byte {exc.start}).") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{owner}: {source!r} is empty; expected a header and rows.")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise ValueError(
            f"{owner}: {source!r} expected a header with a period column and a value column, "
            f"received {rows[0]!r}."
        )
    if column is None:
        col = 1
    elif column in header[1:]:
        col = header.index(column, 1)
    else:
        raise ValueError(f"{owner}: `column` expected one of {header[1:]}, received {column!r}.")
    body = rows[1:]
    if len(body) > MAX_ROWS:
        raise ValueError(f"{owner}: {source!r} has more than {MAX_ROWS:,} rows.")
    labels = [r[0].strip() if r else "" for r in body]
    cells = []
    for k, r in enumerate(body):
        cell = r[col].strip() if col < len(r) else ""
        if cell == "" or cell.lower() in ("nan", "na"):
            cells.append(math.nan)
            continue
        try:
            cells.append(float(cell))
        except ValueError:
            raise ValueError(
                f"{owner}: `values` expected numbers, received {cell!r} at row {k} "
                f"(period {labels[k]})."
            ) from None
    if not labels:
        raise ValueError(f"{owner}: {source!r} has a header and no rows.")
    ordinals, freq = _periods_to_ordinals(owner, labels)
    values = np.asarray(cells, dtype=np.float64)
    return _build(
        owner, values, labels, ordinals, freq, season_length, fill, header[col], source, verified
    )


# ---------------------------------------------------------------------------------------------
# Season length from the data
# ---------------------------------------------------------------------------------------------


def detect_season_length(values, max_lag: int = 366) -> int:
    """The season length seen in ``values``: the lag (>= 2) of the highest local maximum of the
    autocorrelation of the first differences above the white-noise band ``z / sqrt(n)``, ``z``
    the normal quantile of ``1 - 0.05 / K`` for the ``K`` lags searched (Bonferroni: white
    noise passes with probability 5%); 1 when none is.

    Lags from 2 to ``min(n // 3, max_lag)`` are searched, so that at least three seasons are
    seen. Examples: a monthly series with a yearly pattern gives 12, white noise 1.
    """
    x = np.diff(np.asarray(values, dtype=np.float64))
    n = len(x)
    top = min(n // 3, max_lag)
    if top < 2:
        return 1
    x = x - x.mean()
    denom = float(x @ x)
    if denom == 0.0:
        return 1
    acf = np.array([float(x[: n - k] @ x[k:]) / denom for k in range(top + 2)])
    from statistics import NormalDist

    band = NormalDist().inv_cdf(1 - 0.05 / top) / math.sqrt(n)  # 5% over all `top` lags
    best, best_value = 1, band
    for k in range(2, top + 1):
        if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1] and acf[k] > best_value:
            best, best_value = k, acf[k]
    return best


# ---------------------------------------------------------------------------------------------
# The series rnnkit knows by name
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Named:
    file: str
    title: str
    sha256: str
    size: int


#: The named series: file, description, SHA-256 and size of the file in ``../shared/data``.
SERIES = {
    "airline": _Named(
        "airline_passengers.csv",
        "monthly international airline passengers (thousands), 1949-01 .. 1960-12 "
        "(Box & Jenkins series G; R datasets::AirPassengers)",
        "131d412054abfec31ee1ddb75d0296aadb05075c364e74b784553603fd31e2fb",
        1891,
    ),
    "sunspots": _Named(
        "sunspots_monthly.csv",
        "mean monthly relative sunspot numbers, 1749-01 .. 2013-09 (R datasets::sunspot.month)",
        "b0495ca548707aadc40fa0eca5bb549fb8b4134a72453c592d8c4f91a0301c62",
        43301,
    ),
    "co2": _Named(
        "co2_monthly.csv",
        "Mauna Loa CO2 concentration (ppm), monthly, 1959-01 .. 1997-12 (R datasets::co2)",
        "ca308e0cf2bfde7ba5240799949d4a62eec5e6e52a8ca95e110137178a25ec36",
        7436,
    ),
}


def spec(name: str) -> _locate.DatasetSpec:
    """The :class:`~rnnkit.datasets.DatasetSpec` of a named series (no download address)."""
    s = SERIES[name]
    return _locate.DatasetSpec(
        name="timeseries",
        title=f"the {name} series ({s.file})",
        files=(_locate.RemoteFile(s.file, None, sha256=s.sha256, size=s.size),),
    )


def bundled_path(name: str):
    """The copy of a named series shipped in ``rnnkit/data/``."""
    return resources.files("rnnkit").joinpath("data", SERIES[name].file)


def load_series(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    season_length: int | None = None,
) -> TimeSeries:
    """One of the named series (:data:`SERIES`: ``"airline"``, ``"sunspots"``, ``"co2"``).

    Looked for in ``data_dir`` (only there when given), ``$RNNKIT_DATA_DIR``, the cache
    (``timeseries/`` subfolders included), then the copy shipped with rnnkit when no location
    was given. A file with the official size and another SHA-256 is refused as damaged.
    """
    owner = "timeseries.load_series"
    V.choice(owner, "name", name, SERIES)
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        V.fail(owner, "data_dir", "None, a str or an os.PathLike", data_dir, TypeError)
    try:
        located = _locate.locate(spec(name), data_dir, download=False)
    except DatasetNotFoundError:
        if not _locate.nothing_given(data_dir):
            raise
        resource = bundled_path(name)
        raw = resource.read_bytes()
        return _parse_csv(
            owner,
            raw,
            f"{SERIES[name].file} (shipped with rnnkit)",
            None,
            season_length,
            None,
            "the copy shipped with rnnkit",
        )
    return _parse_csv(
        owner,
        located.path.read_bytes(),
        str(located.path),
        None,
        season_length,
        None,
        located.verified,
    )


STATSMODELS_SERIES = ("elnino", "realgdp", "cpi", "unemp")
"""Real public series that ship inside statsmodels (offline), used to check that the default
forecaster holds beyond the shared three: ``elnino`` (monthly sea surface temperature of the
Pacific, 1950-2010, 732 values) and the quarterly US ``realgdp``, ``cpi`` and ``unemp`` of
``macrodata`` (1959Q1-2009Q3, 203 values)."""


def statsmodels_series(name: str) -> TimeSeries:
    """One of :data:`STATSMODELS_SERIES`, read from ``statsmodels.datasets`` (imported here
    only), with its monthly or quarterly periods."""
    V.choice("timeseries.statsmodels_series", "name", name, STATSMODELS_SERIES)
    import statsmodels.datasets as smd

    if name == "elnino":
        frame = smd.elnino.load_pandas().data  # one row per year: YEAR, JAN .. DEC
        values = frame.iloc[:, 1:].to_numpy(dtype=float).reshape(-1)  # (12 years,)
        periods = [f"{int(y)}-{k:02d}" for y in frame["YEAR"] for k in range(1, 13)]
        return from_array(values, periods=periods, name="elnino")
    frame = smd.macrodata.load_pandas().data  # one row per quarter
    periods = [f"{int(y)}Q{int(q)}" for y, q in zip(frame["year"], frame["quarter"])]
    return from_array(frame[name].to_numpy(dtype=float), periods=periods, name=name)
