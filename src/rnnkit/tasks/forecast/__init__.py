"""Time-series forecasting with recurrent networks, always backtested beside statistical
baselines.

The default :class:`Forecaster` (``Forecaster()``, settings :class:`ForecastConfig`): the
values log-transformed when positive, their seasonal indices removed when the M4 seasonality
test passes on their differences (classical decomposition of the training part; added back to
the forecasts), at most the latest 600 windows of two seasons read relative to their last value
(divided by the training part's spread of one-step changes) with the position in the season as
two more inputs, a GRU of 32 units and a Dense layer giving a mean and a standard deviation
for each of the next season's steps (Gaussian negative log-likelihood), five seeds averaged,
early stopping and interval calibration on the latest 15% of the windows.

One module per job: :mod:`.config` (the settings, from which the CLI options are generated),
:mod:`.prepare` (transform, scaler, windows, splits), :mod:`.network` (the network and its
training loop), :mod:`.forecaster` (fit, predict, save, load), :mod:`.baselines` (naive,
seasonal naive, drift, ETS, ARIMA from statsmodels), :mod:`.evaluation` (rolling-origin
backtest, MAE / RMSE / sMAPE / MASE / coverage, the table), :mod:`.plots` (the figure).

statsmodels and pandas are imported only when a baseline is fitted or a pandas Series is read.

>>> from rnnkit.datasets.timeseries import load_series
>>> from rnnkit.tasks.forecast import Forecaster
>>> result = Forecaster().backtest(load_series("airline"), horizon=12)  # doctest: +SKIP
>>> print(result.table())  # doctest: +SKIP
"""

from ..._lazy import lazy
from .config import ForecastConfig

# The rest is imported on first use (PEP 562), so that the CLI, which reads ForecastConfig to
# build its options, starts without importing torch or statsmodels.
_LAZY = {
    "Forecaster": ".forecaster",
    "Forecast": ".forecaster",
    "SAVED_NAMES": ".forecaster",
    "TASK_FILE": ".forecaster",
    "BASELINES": ".baselines",
    "BacktestResult": ".evaluation",
    "backtest": ".forecaster",
    "metrics": ".evaluation",
    "plot_forecasts": ".plots",
}


__getattr__, __dir__ = lazy(__name__, _LAZY)


__all__ = [
    "BASELINES",
    "SAVED_NAMES",
    "TASK_FILE",
    "BacktestResult",
    "Forecast",
    "ForecastConfig",
    "Forecaster",
    "backtest",
    "metrics",
    "plot_forecasts",
]
