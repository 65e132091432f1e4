"""Preparing a series for the network: the value transform, the scaler, sliding windows and the
time-ordered splits. Everything here is fitted on the training part only.

The windows of a series ``z`` (already transformed) with lookback ``L`` and horizon ``H``: for
each last input index ``t`` from ``L - 1`` to ``n - H - 1``

    inputs   z[t - L + 1 .. t]       (L values)
    targets  z[t + 1 .. t + H]       (H values)

so a window never reads a value after its last input, and the ``n - L - H + 1`` windows are
in time order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ... import _validation as V

__all__ = [
    "Scaler",
    "Seasonality",
    "Transform",
    "is_seasonal",
    "n_windows",
    "season_features",
    "split_windows",
    "time_split",
    "windows",
]


@dataclass(frozen=True)
class Transform:
    """A monotone transform of the values: ``"none"``, ``"log"`` or ``"boxcox"`` (with its
    ``lam``). :meth:`fit` chooses it from the training values only."""

    kind: str = "none"
    lam: float = 1.0

    @classmethod
    def fit(cls, kind: str, train: np.ndarray, owner: str = "Forecaster.fit") -> Transform:
        """``kind`` ``"auto"``: log when every training value is positive, else none;
        ``"boxcox"``: lambda by maximum likelihood (``scipy.stats.boxcox``) on ``train``."""
        positive = bool(np.all(train > 0))
        if kind == "auto":
            kind = "log" if positive else "none"
        if kind in ("log", "boxcox") and not positive:
            V.fail(
                owner,
                "transform",
                f"'none' or 'auto' for a series with values <= 0 ({kind} needs positive values)",
                kind,
            )
        if kind == "boxcox":
            from scipy import stats

            _, lam = stats.boxcox(np.asarray(train, dtype=np.float64))
            return cls("boxcox", float(lam))
        return cls(kind)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "log":
            return np.log(y)
        if self.kind == "boxcox":
            return np.log(y) if self.lam == 0 else (np.power(y, self.lam) - 1.0) / self.lam
        return y.copy()

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if self.kind == "log":
            return np.exp(z)
        if self.kind == "boxcox":
            if self.lam == 0:
                return np.exp(z)
            base = np.maximum(self.lam * z + 1.0, 0.0)
            return np.power(base, 1.0 / self.lam)
        return z.copy()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lam": self.lam}


@dataclass(frozen=True)
class Scaler:
    """How the network sees transformed values ``z``.

    ``"window"``: inputs and targets relative to the window's last input value, divided by
    ``scale``, the standard deviation of the training part's one-step changes; ``"seasonal"``:
    inputs as ``"window"``, targets relative to the seasonal naive forecast (the value one
    season before each target step, ``season`` periods; the network learns the correction to
    it); ``"global"``: ``(z - center) / scale`` with the training part's mean and standard
    deviation.
    """

    kind: str
    center: float
    scale: float
    season: int = 1

    @classmethod
    def fit(cls, kind: str, z_train: np.ndarray, season: int = 1) -> Scaler:
        z_train = np.asarray(z_train, dtype=np.float64)
        if kind in ("window", "seasonal"):
            spread = float(np.std(np.diff(z_train))) if len(z_train) > 2 else 0.0
            return cls(kind, 0.0, spread if spread > 0 else 1.0, season)
        spread = float(np.std(z_train))
        return cls("global", float(np.mean(z_train)), spread if spread > 0 else 1.0, season)

    def reference(self, inputs: np.ndarray) -> np.ndarray:
        """The value each window's inputs are measured from, shape ``(N, 1)``: its last input
        (window, seasonal) or the training mean (global)."""
        if self.kind in ("window", "seasonal"):
            return inputs[:, -1:]
        return np.full((len(inputs), 1), self.center)

    def target_reference(self, inputs: np.ndarray, horizon: int) -> np.ndarray:
        """The value each of the ``horizon`` targets is measured from, ``(N, horizon)``: the
        seasonal naive forecast from the window (``"seasonal"``, when the window holds a
        season), else :meth:`reference` repeated."""
        L, m = inputs.shape[1], self.season
        if self.kind == "seasonal" and 1 < m <= L:
            columns = L - m + np.arange(horizon) % m  # the value one season before each step
            return inputs[:, columns]
        return np.repeat(self.reference(inputs), horizon, axis=1)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "center": self.center,
            "scale": self.scale,
            "season": self.season,
        }


def is_seasonal(z: np.ndarray, m: int) -> bool:
    """The M4 competition's seasonality test: the autocorrelation at lag ``m`` exceeds
    ``1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)`` (90% one-sided); needs ``m > 1`` and three
    seasons of data."""
    z = np.asarray(z, dtype=np.float64)
    n = len(z)
    if m <= 1 or n < 3 * m:
        return False
    x = z - z.mean()
    denom = float(x @ x)
    if denom == 0:
        return False
    r = np.array([float(x[: n - k] @ x[k:]) / denom for k in range(1, m + 1)])
    limit = 1.645 * math.sqrt((1 + 2 * float(np.sum(r[:-1] ** 2))) / n)
    return abs(r[-1]) > limit


@dataclass(frozen=True)
class Seasonality:
    """Additive seasonal indices of the transformed values (after log, multiplicative ones of
    the data), removed before the network reads the values and added back to its forecasts.

    :meth:`fit` estimates them from the training part only by classical decomposition: the
    trend is the centred moving average over one season (``2 x m`` for an even ``m``), the
    index of position ``p`` the mean of ``z - trend`` over the steps ``t = p (mod m)``, the
    indices shifted to sum to 0. Step ``t`` counts from the first value of the series the
    forecaster was fitted on. ``indices`` is empty when nothing is removed.
    """

    indices: tuple[float, ...] = ()

    @classmethod
    def fit(cls, mode: str, z_train: np.ndarray, m: int) -> Seasonality:
        """``mode`` ``"never"``: no indices; ``"always"``: indices whenever ``m > 1`` and the
        training part holds three seasons; ``"auto"``: only when :func:`is_seasonal` (the M4
        competition's test) also passes on the first differences of the training part. On the
        levels, the test also passes for any strongly trending series (its autocorrelation at
        every lag is high): seasonally adjusted US GDP and unemployment (statsmodels'
        ``macrodata``) and monthly sunspots were deseasonalised by it. (Their forecasts barely
        moved without it: GDP MASE 1.348 -> 1.360, unemployment 1.599 -> 1.600, 2 folds; the
        rule is kept so that a series without seasons gets no seasonal indices.)"""
        z = np.asarray(z_train, dtype=np.float64)
        n = len(z)
        if mode == "never" or m <= 1 or n < 3 * m:
            return cls()
        if mode == "auto" and not is_seasonal(np.diff(z), m):
            return cls()
        if m % 2 == 0:
            weights = np.r_[0.5, np.ones(m - 1), 0.5] / m  # (m + 1,)
        else:
            weights = np.ones(m) / m  # (m,)
        trend = np.convolve(z, weights, mode="valid")  # (n - len(weights) + 1,)
        first = (len(weights) - 1) // 2  # the step the first trend value is centred on
        steps = first + np.arange(len(trend))
        detrended = z[steps] - trend
        indices = np.array([detrended[steps % m == p].mean() for p in range(m)])  # (m,)
        indices -= indices.mean()
        return cls(tuple(float(v) for v in indices))

    def at(self, start: int, length: int) -> np.ndarray:
        """The indices of steps ``start .. start + length - 1``, ``(length,)`` (zeros when
        there are none)."""
        if not self.indices:
            return np.zeros(length)
        m = len(self.indices)
        return np.asarray(self.indices)[(start + np.arange(length)) % m]

    def to_dict(self) -> dict:
        return {"indices": list(self.indices)}


def n_windows(n: int, lookback: int, horizon: int) -> int:
    """How many windows a series of ``n`` values gives."""
    return max(n - lookback - horizon + 1, 0)


def windows(z: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """All windows of ``z``: inputs ``(N, lookback)`` and targets ``(N, horizon)``, in time
    order (see the module documentation); ``N = n - lookback - horizon + 1``."""
    z = np.asarray(z, dtype=np.float64)
    N = n_windows(len(z), lookback, horizon)
    if N == 0:
        return np.empty((0, lookback)), np.empty((0, horizon))
    span = np.lib.stride_tricks.sliding_window_view(z, lookback + horizon)[:N]  # (N, L + H)
    return span[:, :lookback].copy(), span[:, lookback:].copy()


def split_windows(N: int, horizon: int, validation: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation windows, time-ordered and disjoint in time.

    The last ``ceil(validation * N)`` windows (at least 1) validate; the training windows are
    those whose targets end before the first validation window's targets begin (``horizon - 1``
    windows between them are dropped), so no training target is a validation target.
    """
    n_val = max(1, math.ceil(validation * N))
    first_val = N - n_val
    last_train = first_val - horizon  # its targets end at the step before first_val's begin
    return np.arange(max(last_train + 1, 0)), np.arange(first_val, N)


def time_split(n: int, validation: float, test: float) -> tuple[slice, slice, slice]:
    """Time-ordered training, validation and test parts of ``n`` observations (fractions of
    ``n``; the test part last, the validation part just before it)."""
    n_test = round(test * n)
    n_val = round(validation * n)
    a, b = n - n_test - n_val, n - n_test
    return slice(0, a), slice(a, b), slice(b, n)


def season_features(start: int, length: int, season_length: int) -> np.ndarray:
    """Sine and cosine of the position in the season of steps ``start .. start + length - 1``,
    shape ``(length, 2)`` (zeros when ``season_length`` is 1)."""
    if season_length <= 1:
        return np.zeros((length, 2))
    angle = 2 * np.pi * (np.arange(start, start + length) % season_length) / season_length
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)
