"""Rolling-origin backtest, error measures and the side-by-side table.

The backtest
------------
For ``folds`` origins ``o_k = n - (folds - k) * horizon`` (``k = 0 .. folds - 1``; the last
forecasts the final ``horizon`` values), every model is fitted on ``y[:o_k]`` only and
forecasts ``y[o_k : o_k + horizon]``. Nothing after an origin is seen by a fit at that origin:
the transform, the scaler, the networks and the baselines are all fitted again per fold
(``refit=False`` fits the network once, on the first fold's training part, and forecasts later
origins from their own history without refitting; the baselines are always refitted; ETS's
form and ARIMA's order are chosen by AIC on the first fold and refitted on the later ones). A
season length that was detected from the data (no index, no user value) is detected again from
the values before the first origin (the default horizon, one season, from the first half).

Measures, per fold then averaged over the folds
-----------------------------------------------
``MAE``, ``RMSE``; ``sMAPE`` = mean of ``200 |y - f| / (|y| + |f|)`` (0 where both are 0);
``MASE`` = MAE divided by the in-sample MAE of the seasonal naive forecast on the fold's
training part (``mean |y_t - y_{t-m}|``; ``m = 1`` for a non-seasonal series); ``coverage``
= the share of test values inside the model's interval (80% by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

METRICS = ("MAE", "RMSE", "sMAPE", "MASE", "coverage")
NETWORK = "rnnkit"


def mase_scale(train: np.ndarray, m: int) -> float:
    """In-sample MAE of the seasonal naive forecast (the naive one when ``m`` is 1 or the
    series shorter than two seasons)."""
    m = m if m > 1 and len(train) > m else 1
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    return scale if scale > 0 else float("nan")


def metrics(actual, mean, lower=None, upper=None, *, train=None, m: int = 1) -> dict:
    """MAE, RMSE, sMAPE (%), MASE (needs ``train``) and coverage (needs ``lower``/``upper``)."""
    actual, mean = np.asarray(actual, dtype=np.float64), np.asarray(mean, dtype=np.float64)
    err = actual - mean
    denom = np.abs(actual) + np.abs(mean)
    ratio = np.divide(2 * np.abs(err), denom, out=np.zeros_like(err), where=denom > 0)
    out = {
        "MAE": float(np.mean(np.abs(err))),
        "RMSE": float(np.sqrt(np.mean(err**2))),
        "sMAPE": float(100 * np.mean(ratio)),
        "MASE": float(np.mean(np.abs(err)) / mase_scale(np.asarray(train, dtype=np.float64), m))
        if train is not None
        else None,
        "coverage": None,
    }
    if lower is not None and upper is not None:
        inside = (actual >= np.asarray(lower)) & (actual <= np.asarray(upper))
        out["coverage"] = float(np.mean(inside))
    return out


@dataclass
class FoldForecast:
    """One model's forecast at one origin."""

    origin: int
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    metrics: dict
    seconds: float  # wall-clock seconds of the fit and the forecast
    detail: dict = field(default_factory=dict)
    cpu_seconds: float = 0.0  # CPU seconds of this process over the same span


@dataclass
class BacktestResult:
    """What :func:`backtest` returns: the folds of every model, their averaged measures
    (:attr:`table`), the series and the settings."""

    series: object
    horizon: int
    origins: list
    level: float
    folds: dict  # model name -> list of FoldForecast
    seconds: dict = field(default_factory=dict)

    @property
    def summary(self) -> dict:
        """Model -> measures averaged over the folds, with ``seconds`` and ``cpu_seconds``
        (fit + forecast, all folds)."""
        out = {}
        for name, folds in self.folds.items():
            row = {}
            for key in METRICS:
                values = [f.metrics[key] for f in folds if f.metrics[key] is not None]
                row[key] = float(np.mean(values)) if values else None
            row["seconds"] = float(sum(f.seconds for f in folds))
            row["cpu_seconds"] = float(sum(f.cpu_seconds for f in folds))
            out[name] = row
        return out

    def best(self, key: str = "MASE") -> str:
        """The model with the lowest ``key``."""
        s = self.summary
        return min(s, key=lambda k: (s[k][key] is None, s[k][key] if s[k][key] is not None else 0))

    def table(self) -> str:
        """The measures of every model side by side (lowest MASE marked ``*``)."""
        s = self.summary
        best = self.best()
        head = f"{'model':<16}{'MAE':>10}{'RMSE':>10}{'sMAPE%':>9}{'MASE':>8}{f'cov{self.level:g}%':>9}{'seconds':>9}"
        lines = [head, "-" * len(head)]
        for name, row in s.items():
            cov = f"{100 * row['coverage']:.1f}" if row["coverage"] is not None else "n/a"
            mark = "*" if name == best else " "
            lines.append(
                f"{name + mark:<16}{row['MAE']:>10.3f}{row['RMSE']:>10.3f}{row['sMAPE']:>9.2f}"
                f"{row['MASE']:>8.3f}{cov:>9}{row['seconds']:>9.1f}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "horizon": self.horizon,
            "origins": self.origins,
            "level": self.level,
            "summary": self.summary,
            "best": self.best(),
            "folds": {
                name: [
                    {
                        "origin": f.origin,
                        "mean": f.mean.tolist(),
                        "lower": f.lower.tolist(),
                        "upper": f.upper.tolist(),
                        "metrics": f.metrics,
                        "seconds": round(f.seconds, 3),
                        "cpu_seconds": round(f.cpu_seconds, 3),
                        "detail": f.detail,
                    }
                    for f in folds
                ]
                for name, folds in self.folds.items()
            },
        }


def _fold(o, y, mean, lower, upper, horizon, m, seconds, detail) -> FoldForecast:
    """One model's forecast at origin ``o`` with its measures; ``seconds``: (wall, CPU)."""
    actual = y[o : o + horizon]
    return FoldForecast(
        o,
        np.asarray(mean),
        np.asarray(lower),
        np.asarray(upper),
        metrics(actual, mean, lower, upper, train=y[:o], m=m),
        seconds[0],
        detail,
        seconds[1],
    )
