"""The recurrent forecaster: fit on a series, forecast with intervals, backtest beside the
baselines, save and load."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ... import _files
from ... import _validation as V
from ... import distributed as distributed_module
from ...datasets import timeseries as ts
from ...distributed import torch_device
from .._estimator import ConfigEstimator
from .baselines import BASELINES
from .baselines import forecast as baseline_forecast
from .config import ForecastConfig
from .evaluation import NETWORK, BacktestResult, _fold
from .prepare import Scaler, Seasonality, Transform, split_windows, windows

TASK_FILE, WEIGHTS_FILE = "forecast.json", "weights.safetensors"
SAVED_NAMES = frozenset({TASK_FILE, WEIGHTS_FILE})
"""Everything :meth:`Forecaster.save` writes in its folder."""
Z80 = 1.2815515655446004  # the standard normal's 90% quantile: the 80% interval is mean +- Z80 sd
LEVELS = (50, 80, 90, 95, 99)
WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)
"""The network's weights against the anchor forecast that ``blend="validate"`` chooses among."""


def normal_quantile(level: float) -> float:
    """``z`` such that ``mean +- z sd`` is the central ``level`` % interval of a normal."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 200.0)


def calibration_factors(ratio: np.ndarray, level: float = 80.0) -> np.ndarray:
    """The factors ``(H,)`` that widen (or narrow) the forecast standard deviation of each step
    so that its ``level`` % interval covers the held-out windows: split-conformal per step.

    ``ratio`` ``(N, H)`` holds ``|target - mean| / sd`` of ``N`` held-out windows (the
    validation windows, never a value after the fit's series). Step ``h``'s factor is the
    ``ceil((N + 1) level / 100)``-th smallest of ``ratio[:, h]`` (the finite-sample conformal
    quantile; the largest when ``N`` is too small) divided by the normal quantile of ``level``;
    then the running maximum over the steps, so that a later step's factor is never below an
    earlier one's (a forecast further ahead is not easier to calibrate: with ten-odd windows
    the per-step quantiles are noisy, and the minimum of that noise would set a too-narrow
    interval)."""
    ratio = np.asarray(ratio, dtype=np.float64)
    N = ratio.shape[0]
    rank = min(math.ceil((N + 1) * level / 100.0), N)  # 1-based
    per_step = np.sort(ratio, axis=0)[rank - 1] / normal_quantile(level)  # (H,)
    return np.maximum.accumulate(per_step)


def as_series(owner: str, series, season_length: int | None = None) -> ts.TimeSeries:
    """A :class:`~rnnkit.datasets.timeseries.TimeSeries` from one, a pandas Series or an array."""
    if isinstance(series, ts.TimeSeries):
        if season_length is not None and season_length != series.season_length:
            return ts.from_array(
                series.values,
                season_length=season_length,
                periods=series.periods,
                name=series.name,
            )
        return series
    if type(series).__module__.startswith("pandas") and type(series).__name__ == "Series":
        return ts.from_pandas(series, season_length=season_length)
    if isinstance(series, (str, bytes, dict)) or series is None:
        V.fail(
            owner,
            "series",
            "a TimeSeries, a pandas Series or a 1-D array of numbers",
            series,
            TypeError,
        )
    return ts.from_array(series, season_length=season_length)


@dataclass(frozen=True)
class Forecast:
    """A forecast with its interval: ``mean``, ``lower``, ``upper`` (each ``(h,)``, in the
    series' units), the interval's ``level`` (%) and the forecast ``periods`` (or None)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    periods: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        return {
            "mean": self.mean.tolist(),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "level": self.level,
            "periods": list(self.periods) if self.periods else None,
        }


class Forecaster(ConfigEstimator):
    """A recurrent-network forecaster of one univariate series.

    Follows scikit-learn's conventions: ``__init__`` stores the config, :meth:`fit` returns
    ``self``, learned state ends in ``_`` (``transform_``, ``scaler_``, ``nets_``...); its
    parameters are :class:`ForecastConfig`'s fields (``Forecaster(units=16)``,
    ``get_params`` / ``set_params``, :func:`sklearn.base.clone`; ``fit(series)`` also
    accepts scikit-learn's ``fit(X, y)`` form, ``y`` ignored).

    >>> from rnnkit.datasets.timeseries import load_series
    >>> f = Forecaster().fit(load_series("airline"))  # doctest: +SKIP
    >>> f.predict(12, intervals=True).upper  # doctest: +SKIP
    """

    config_class = ForecastConfig

    def __init__(self, config: ForecastConfig | None = None, **params):
        if config is not None and not isinstance(config, ForecastConfig):
            V.fail("Forecaster", "config", "None or a ForecastConfig", config, TypeError)
        super().__init__(config, **params)

    # -- sizes --------------------------------------------------------------------------------
    def sizes(self, n: int, season_length: int) -> tuple[int, int]:
        """The lookback and the trained horizon for a series of ``n`` values (config values,
        else the defaults: horizon one season, at least 2; lookback two seasons, at least 12,
        at most half of what remains after the horizon)."""
        c = self.config
        horizon = c.horizon or max(season_length, 2)
        train_h = 1 if c.strategy == "recursive" else horizon
        lookback = c.lookback or min(max(2 * season_length, 12), max((n - train_h) // 2, 1))
        return lookback, horizon

    def min_length(self, season_length: int, n: int = 10**9) -> int:
        """The fewest observations :meth:`fit` accepts: lookback + horizon + the validation
        windows and at least 4 training windows."""
        lookback, horizon = self.sizes(n, season_length)
        train_h = 1 if self.config.strategy == "recursive" else horizon
        return lookback + 2 * train_h + 4

    # -- features -----------------------------------------------------------------------------
    def _features(self, inputs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Network inputs ``(N, L, C)`` of windows of transformed values ``inputs`` ``(N, L)``
        whose first step has index ``starts``: the scaled values (relative to the scaler's
        reference, or their differences), then the position in the season (sine, cosine)."""
        scaler = self.scaler_
        ref = scaler.reference(inputs)  # (N, 1)
        if self.config.difference:
            level = np.diff(inputs, axis=1, prepend=inputs[:, :1]) / scaler.scale  # (N, L)
        else:
            level = (inputs - ref) / scaler.scale  # (N, L)
        channels = [level[:, :, None]]  # (N, L, 1)
        if self.config.season_features and self.season_length_ > 1:
            L = inputs.shape[1]
            steps = starts[:, None] + np.arange(L)[None, :]  # (N, L)
            angle = 2 * np.pi * (steps % self.season_length_) / self.season_length_
            channels += [np.sin(angle)[:, :, None], np.cos(angle)[:, :, None]]
        return np.concatenate(channels, axis=2)  # (N, L, C)

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        series,
        y=None,
        *,
        season_length: int | None = None,
        device=None,
        distributed: bool = False,
    ) -> Forecaster:
        """Fit the transform and the scaler on ``series`` (a TimeSeries, pandas Series or array;
        all of it is the training part), then train the networks on its windows, the latest
        ``validation`` fraction held out for early stopping and calibration.

        ``y`` is ignored (scikit-learn's ``fit(X, y)``); ``device``: where the networks train
        and run; ``distributed``: the ensemble's members shared out among the processes of a
        torch.distributed group (member ``k`` trained by rank ``k % size`` from its own seed,
        then sent to every rank): the forecaster one process fits."""
        from . import network

        owner = "Forecaster.fit"
        config = self.config.validate()
        series = as_series(owner, series, season_length)
        y = series.values
        m = series.season_length
        need = self.min_length(m, len(y))
        if len(y) < need:
            lookback, horizon = self.sizes(len(y), m)
            V.fail(
                owner,
                "series",
                f"at least {need} observations (lookback {lookback} + horizon {horizon}, "
                "validation and training windows)",
                f"a series of {len(y)}",
            )
        lookback, horizon = self.sizes(len(y), m)
        train_h = 1 if config.strategy == "recursive" else horizon
        self.season_length_, self.lookback_, self.horizon_ = m, lookback, horizon
        self.transform_ = Transform.fit(config.transform, y, owner)
        z = self.transform_(y)
        if config.deseason == "validate":
            candidates = [Seasonality.fit("always", z, m), Seasonality()]
            if not candidates[0].indices:  # no seasons to remove: nothing to choose
                candidates = candidates[1:]
        else:
            candidates = [Seasonality.fit(config.deseason, z, m)]
        self.nets_, self.training_ = [], []
        device = None if device is None else torch_device(owner, device)
        group = distributed_module.group_of(owner, distributed, device or torch.device("cpu"))
        with network.one_thread():
            best = None
            for seasonality in candidates:  # one network each, the same seed and windows
                data = self._prepare(z, seasonality, lookback, train_h, owner, need, len(y))
                x, target, train, val = data
                net, info = network.train_member(
                    config, x[train], target[train], x[val], target[val], config.seed, device
                )  # member 0 (and its candidates): trained by every rank alike
                mean, _ = network.run(net, x[val])
                error = float(np.mean(np.abs(target[val] - mean))) * self.scaler_.scale
                if best is None or error < best[0]:
                    best = (error, seasonality, self.scaler_, data, net, info)
            _, self.seasonality_, self.scaler_, (x, target, train, val), net, info = best
            self.deseason_ = "always" if self.seasonality_.indices else "never"  # what was used
            self.nets_.append(net)
            self.training_.append(info)
            for k in range(1, config.ensemble):
                if group is None or k % group.size == group.rank:
                    net, info = network.train_member(
                        config, x[train], target[train], x[val], target[val], config.seed + k,
                        device,
                    )  # fmt: skip
                else:  # trained by another rank: its shapes, then its weights
                    net = network.ForecastNet(config, x.shape[2], target.shape[1])
                    net, info = net.to(device or "cpu").eval(), None
                if group is not None:
                    info = group.send_module(net, info, source=k % group.size)
                self.nets_.append(net)
                self.training_.append(info)
            mean, sd = self._combine(x[val])
        z = z - self.seasonality_.at(0, len(z))  # (n,) the values the network reads
        inputs = windows(z, lookback, train_h)[0][self.windows_["first"] :]
        # the held-out windows' forecasts (scaled units; in memory only, for diagnostics)
        self.validation_ = {"mean": mean, "sd": sd, "target": target[val], "inputs": inputs[val]}
        self.weight_, self.slope_ = 1.0, 0.0
        if config.blend == "validate":
            if config.blend_anchor == "drift" and len(z) > 1:
                self.slope_ = float((z[-1] - z[0]) / (len(z) - 1))  # mean one-step change
            anchor = self._anchor(inputs[val], train_h)  # (Nv, H)
            errors = [np.mean(np.abs(target[val] - self._mix(w, mean, anchor))) for w in WEIGHTS]
            self.weight_ = WEIGHTS[int(np.argmin(errors))]  # ties: the larger network weight
            mean = self._mix(self.weight_, mean, anchor)
        self.kappa_ = np.ones(train_h)
        if config.calibrate:
            self.kappa_ = calibration_factors(np.abs(target[val] - mean) / sd)
        self.history_ = z[-lookback:].copy()
        self.n_ = len(y)
        self.series_info_ = {"name": series.name, "freq": series.freq, "periods": series.periods}
        return self

    def _prepare(self, z, seasonality, lookback, train_h, owner, need, n):
        """The network's inputs ``(N, L, C)`` and targets ``(N, H)`` from the transformed
        values ``z`` less ``seasonality``, with the training and validation windows' indices;
        fits ``self.scaler_`` (training part only) and sets ``self.windows_``."""
        config = self.config
        z = z - seasonality.at(0, len(z))  # (n,) the values the network reads
        self.scaler_ = Scaler.fit(config.scaling, z, self.season_length_)
        inputs, targets = windows(z, lookback, train_h)  # (N, L), (N, H)
        first = max(len(inputs) - config.max_windows, 0)  # the latest max_windows windows
        inputs, targets = inputs[first:], targets[first:]
        N = len(inputs)
        x = self._features(inputs, first + np.arange(N))
        tref = self.scaler_.target_reference(inputs, train_h)  # (N, H)
        target = (targets - tref) / self.scaler_.scale  # (N, H)
        train, val = split_windows(N, train_h, config.validation)
        if len(train) < 2:
            V.fail(owner, "series", f"at least {need} observations", f"a series of {n}")
        self.windows_ = {"first": int(first), "train": len(train), "validation": len(val)}
        return x, target, train, val

    def _anchor(self, inputs: np.ndarray, horizon: int) -> np.ndarray:
        """The forecast the network is blended with, of windows ``inputs`` ``(N, L)``, in the
        network's target units, ``(N, horizon)``: the drift forecast of the values the network
        reads, their last value plus ``h`` times ``slope_`` (the training part's mean one-step
        change; 0, the naive forecast, with ``blend_anchor="naive"``) for ``h = 1 ..
        horizon``."""
        tref = self.scaler_.target_reference(inputs, horizon)  # (N, H)
        drift = self.slope_ * np.arange(1, horizon + 1)  # (H,)
        return (inputs[:, -1:] + drift[None, :] - tref) / self.scaler_.scale

    @staticmethod
    def _mix(weight: float, mean: np.ndarray, naive: np.ndarray) -> np.ndarray:
        return mean if weight == 1.0 else weight * mean + (1.0 - weight) * naive

    def _combine(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's mean and standard deviation (scaled units, before calibration):
        mean of the members' means; variance = mean of their variances + variance of their
        means."""
        from . import network

        outs = [network.run(net, x) for net in self.nets_]
        means = np.stack([o[0] for o in outs])  # (K, N, H)
        variances = np.stack([o[1] ** 2 for o in outs])  # (K, N, H)
        return means.mean(0), np.sqrt(variances.mean(0) + means.var(0))

    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "nets_"):
            raise RuntimeError(
                f"Forecaster.{method}: the forecaster is not fitted; call fit(series) or "
                "Forecaster.load(path)."
            )

    # -- prediction ---------------------------------------------------------------------------
    def recent_history(self):
        """The last ``lookback_`` observations of the training series in its own units (the
        saved history is transformed with the seasonal indices removed: both undone here)."""
        season = self.seasonality_.at(self.n_ - self.lookback_, self.lookback_)  # (lookback,)
        return self.transform_.inverse(self.history_ + season)

    def predict(
        self,
        horizon: int | None = None,
        *,
        history=None,
        intervals: bool = False,
        level: float = 80.0,
    ):
        """Forecast the ``horizon`` periods after the fitted series (default: the trained
        horizon), or after ``history`` (a longer or different series of the same kind: the
        networks are not refitted).

        Returns the point forecasts ``(horizon,)``, or with ``intervals=True`` a
        :class:`Forecast` with the central ``level`` % interval.
        """
        owner = "Forecaster.predict"
        self._require_fitted("predict")
        horizon = self.horizon_ if horizon is None else V.positive_int(owner, "horizon", horizon)
        if self.config.strategy == "direct" and horizon > self.horizon_:
            V.fail(
                owner,
                "horizon",
                f"at most the trained horizon {self.horizon_} (strategy 'direct'; fit with a "
                "larger ForecastConfig.horizon or use strategy 'recursive')",
                horizon,
            )
        V.boolean(owner, "intervals", intervals)
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 100:
            V.fail(owner, "level", "a number in (0, 100)", level)
        if history is None:
            z, n, periods = self.history_, self.n_, self.series_info_.get("periods")
            freq = self.series_info_.get("freq")
        else:
            series = as_series(owner, history, self.season_length_)
            if len(series) < self.lookback_:
                V.fail(
                    owner,
                    "history",
                    f"at least {self.lookback_} observations (the lookback)",
                    f"a series of {len(series)}",
                )
            n, periods, freq = len(series), series.periods, series.freq
            z = self.transform_(series.values[-self.lookback_ :])
            z = z - self.seasonality_.at(n - self.lookback_, self.lookback_)
        from .network import one_thread

        with one_thread():
            if self.config.strategy == "direct":
                zmean, zlo, zhi = self._direct(z, n, horizon, level)
            else:
                zmean, zlo, zhi = self._recursive(z, n, horizon, level)
        season = self.seasonality_.at(n, horizon)  # (horizon,)
        zmean, zlo, zhi = zmean + season, zlo + season, zhi + season
        mean = self.transform_.inverse(zmean)
        if not intervals:
            return mean
        future = None
        if periods is not None and freq is not None:
            future = ts.TimeSeries(np.zeros(1), (periods[-1],), freq).future_periods(horizon)
        return Forecast(
            mean, self.transform_.inverse(zlo), self.transform_.inverse(zhi), float(level), future
        )

    def network_input(self) -> np.ndarray:
        """The networks' input for the forecast after the fitted series: the last
        ``lookback_`` values as features, ``(1, lookback_, C)`` float32 (what an exported
        :class:`rnnkit.export.ForecastEnsemble` reads)."""
        self._require_fitted("network_input")
        inputs = self.history_[None, -self.lookback_ :]  # (1, L)
        return self._features(inputs, np.array([self.n_ - self.lookback_])).astype("float32")

    def _direct(self, z: np.ndarray, n: int, horizon: int, level: float):
        inputs = z[None, -self.lookback_ :]  # (1, L)
        x = self._features(inputs, np.array([n - self.lookback_]))
        mean, sd = self._combine(x)  # (1, H)
        mean = self._mix(self.weight_, mean, self._anchor(inputs, self.horizon_))
        scale = self.scaler_.scale
        tref = self.scaler_.target_reference(inputs, self.horizon_)  # (1, H)
        zmean = tref[0, :horizon] + scale * mean[0, :horizon]
        zsd = scale * self.kappa_[:horizon] * sd[0, :horizon]
        q = normal_quantile(level)
        return zmean, zmean - q * zsd, zmean + q * zsd

    def _recursive(self, z: np.ndarray, n: int, horizon: int, level: float):
        """Sample paths: each step draws from every network's N(mean, (kappa sd)^2) and feeds
        the draw back; the point forecast is the mean path, the interval the paths' quantiles."""
        from . import network

        rng = np.random.default_rng(self.config.seed)
        P, L, scale = self.config.samples, self.lookback_, self.scaler_.scale
        paths = []
        for net in self.nets_:
            window = np.repeat(z[None, -L:], P, axis=0)  # (P, L)
            steps = []
            for k in range(horizon):
                x = self._features(window, np.full(P, n - L + k))
                mean, sd = network.run(net, x)  # (P, 1)
                tref = self.scaler_.target_reference(window, 1)  # (P, 1)
                mean = self._mix(self.weight_, mean, self._anchor(window, 1))
                draw = tref[:, 0] + scale * (
                    mean[:, 0] + self.kappa_[0] * sd[:, 0] * rng.standard_normal(P)
                )
                steps.append(draw)
                window = np.concatenate([window[:, 1:], draw[:, None]], axis=1)
            paths.append(np.stack(steps, axis=1))  # (P, h)
        pooled = np.concatenate(paths)  # (K P, h)
        tail = (100 - level) / 200
        return (
            pooled.mean(0),
            np.quantile(pooled, tail, axis=0),
            np.quantile(pooled, 1 - tail, axis=0),
        )

    # -- evaluation ---------------------------------------------------------------------------
    def backtest(
        self,
        series,
        *,
        horizon: int | None = None,
        folds: int = 4,
        baselines=None,
        level: float = 80.0,
        refit: bool = True,
    ):
        """Rolling-origin backtest of this configuration beside the baselines: see
        :func:`rnnkit.tasks.forecast.backtest` (this forecaster is not changed)."""
        return backtest(
            series,
            config=self.config,
            horizon=horizon,
            folds=folds,
            baselines=baselines,
            level=level,
            refit=refit,
        )

    # -- persistence --------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False) -> None:
        """Write ``path/`` with the networks' weights (safetensors), the config, the fitted
        transform, scaler and calibration, and the history the next forecast starts from,
        atomically (:func:`rnnkit._files.write_dir`). A forecaster saved at ``path`` is
        replaced (files a user added are kept); anything else is refused unless
        ``overwrite=True``."""
        from safetensors.torch import save

        self._require_fitted("save")
        info = dict(self.series_info_)
        info["periods"] = list(info["periods"][-self.lookback_ :]) if info.get("periods") else None
        state = {
            "task": "forecast",
            "version": 3,
            "config": asdict(self.config),
            "season_length": self.season_length_,
            "lookback": self.lookback_,
            "horizon": self.horizon_,
            "transform": self.transform_.to_dict(),
            "scaler": self.scaler_.to_dict(),
            "seasonality": self.seasonality_.to_dict(),
            "kappa": self.kappa_.tolist(),
            "blend_weight": self.weight_,
            "blend_slope": self.slope_,
            "history": self.history_.tolist(),
            "n": self.n_,
            "series": info,
            "training": self.training_,
        }
        tensors = {
            f"net{k}.{name}": value.detach().contiguous()
            for k, net in enumerate(self.nets_)
            for name, value in net.state_dict().items()
        }

        def write(tmp: Path) -> None:
            (tmp / WEIGHTS_FILE).write_bytes(save(tensors))  # the umask's permissions
            (tmp / TASK_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

        _files.write_dir(
            path,
            write,
            owner="Forecaster.save",
            is_ours=_is_saved_forecaster,
            managed=SAVED_NAMES,
            overwrite=overwrite,
        )

    @classmethod
    def load(cls, path) -> Forecaster:
        """Load a forecaster saved by :meth:`save`; a folder that is not one is refused."""
        from safetensors.torch import load_file

        from .network import ForecastNet

        path = Path(path)
        if not _is_saved_forecaster(path):
            raise ValueError(
                f"Forecaster.load: `path` expected a saved forecaster (a folder with "
                f"{TASK_FILE} and {WEIGHTS_FILE}), received {str(path)!r}."
            )
        try:
            state = json.loads((path / TASK_FILE).read_text(encoding="utf-8"))
            config = ForecastConfig.from_dict(state["config"])
            tensors = load_file(str(path / WEIGHTS_FILE))
            f = cls(config)
            f.season_length_ = int(state["season_length"])
            f.lookback_, f.horizon_ = int(state["lookback"]), int(state["horizon"])
            f.transform_ = Transform(**state["transform"])
            f.scaler_ = Scaler(**state["scaler"])
            season = state.get("seasonality", {"indices": []})  # absent before version 2
            f.seasonality_ = Seasonality(tuple(float(v) for v in season["indices"]))
            train_h = 1 if config.strategy == "recursive" else f.horizon_
            kappa = np.atleast_1d(np.asarray(state["kappa"], dtype=np.float64))  # one before v3
            f.kappa_ = np.broadcast_to(kappa, (train_h,)).copy()
            f.weight_ = float(state.get("blend_weight", 1.0))  # absent before version 3
            f.slope_ = float(state.get("blend_slope", 0.0))  # absent before: the naive anchor
            f.history_ = np.asarray(state["history"], dtype=np.float64)
            f.n_ = int(state["n"])
            info = state["series"]
            info["periods"] = tuple(info["periods"]) if info.get("periods") else None
            f.series_info_ = info
            f.training_ = state.get("training", [])
            n_inputs = 3 if config.season_features and f.season_length_ > 1 else 1
            f.nets_ = []
            for k in range(config.ensemble):
                net = ForecastNet(config, n_inputs, train_h)
                prefix = f"net{k}."
                net.load_state_dict(
                    {n[len(prefix) :]: v for n, v in tensors.items() if n.startswith(prefix)}
                )
                net.eval()
                f.nets_.append(net)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            raise ValueError(
                f"Forecaster.load: `path` expected a saved forecaster, received {str(path)!r}: {e}"
            ) from None
        return f


def _is_saved_forecaster(path: Path) -> bool:
    task = path / TASK_FILE
    if not task.is_file():
        return False
    try:
        return json.loads(task.read_text(encoding="utf-8")).get("task") == "forecast"
    except (OSError, ValueError, AttributeError):
        return False


def backtest(
    series,
    *,
    config: ForecastConfig | None = None,
    horizon: int | None = None,
    folds: int = 4,
    baselines=None,
    level: float = 80.0,
    refit: bool = True,
    network: bool = True,
    device=None,
    distributed: bool = False,
) -> BacktestResult:
    """Rolling-origin backtest (:mod:`.evaluation` documents it) of the recurrent forecaster of
    ``config`` (named ``"rnnkit"``) and of ``baselines`` (default all of
    :data:`~rnnkit.tasks.forecast.baselines.BASELINES`), on the same folds (``device`` and
    ``distributed``: :meth:`Forecaster.fit`'s, for each fold's fit)."""
    owner = "backtest"
    series = as_series(owner, series)
    config = config or ForecastConfig()
    folds = V.positive_int(owner, "folds", folds)
    V.boolean(owner, "refit", refit)
    baselines = BASELINES if baselines is None else tuple(baselines)
    for name in baselines:
        V.choice(owner, "baselines", name, BASELINES)
    y = series.values
    if series.season_source == "detected" and horizon is None and config.horizon is None:
        horizon = max(ts.detect_season_length(y[: len(y) // 2]), 2)
    m = series.season_length
    if horizon is not None:
        horizon = V.positive_int(owner, "horizon", horizon)
    else:
        horizon = config.horizon or max(m, 2)
    origins = [len(y) - (folds - k) * horizon for k in range(folds)]
    if series.season_source == "detected" and origins[0] >= 2:
        # detected from the data: again, from the values before the first origin only
        m = ts.detect_season_length(y[: origins[0]])
        series = ts.from_array(y, season_length=m, periods=series.periods, name=series.name)
    cfg = replace(config, horizon=horizon)
    probe = Forecaster(cfg)
    need = probe.min_length(m, origins[0]) if network else 3
    if origins[0] < need:
        V.fail(
            owner,
            "series",
            f"at least {need + folds * horizon} observations for {folds} folds of horizon "
            f"{horizon} (each training part needs {need})",
            f"a series of {len(y)}",
        )
    result = {}
    if network:
        rows = []
        fitted = None
        for o in origins:
            start, cpu = time.perf_counter(), time.process_time()
            if refit or fitted is None:
                fitted = Forecaster(cfg).fit(series.head(o), device=device, distributed=distributed)
            fc = fitted.predict(horizon, history=series.head(o), intervals=True, level=level)
            seconds = (time.perf_counter() - start, time.process_time() - cpu)
            detail = {
                "transform": fitted.transform_.to_dict(),
                "scaler": fitted.scaler_.to_dict(),
                "seasonality": fitted.seasonality_.to_dict(),
                "kappa": fitted.kappa_.tolist(),
                "blend_weight": fitted.weight_,
                "blend_slope": fitted.slope_,
                "lookback": fitted.lookback_,
            }
            rows.append(_fold(o, y, fc.mean, fc.lower, fc.upper, horizon, m, seconds, detail))
        result[NETWORK] = rows
    specs = {}
    for name in baselines:
        rows = []
        for o in origins:
            start, cpu = time.perf_counter(), time.process_time()
            fc = baseline_forecast(name, y[:o], horizon, m, level, specs.get(name))
            if name in ("ets", "arima") and name not in specs:
                specs[name] = fc.detail.get("spec")  # chosen on the first fold, then refitted
            seconds = (time.perf_counter() - start, time.process_time() - cpu)
            rows.append(_fold(o, y, fc.mean, fc.lower, fc.upper, horizon, m, seconds, fc.detail))
        result[name] = rows
    return BacktestResult(series, horizon, origins, float(level), result)
