"""``rnnkit forecast``: backtest the recurrent forecaster beside the statistical baselines on one
series, print the table, then forecast the next ``--horizon`` periods with every model and
write the figure, the figures as JSON, and the fitted forecaster."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .. import _files
from ..config import Config, option
from ..tasks.forecast.config import ForecastConfig
from ._common import (
    Runtime,
    add_export,
    add_placement,
    check_output_dir,
    check_output_file,
    place,
    spawn,
    subparser,
    threads,
)

SERIES_NAMES = ("airline", "sunspots", "co2")
BASELINE_NAMES = ("naive", "seasonal_naive", "drift", "ets", "arima")
PNG, JSON, MODEL = "forecast.png", "forecast.json", "model"


@dataclass
class ForecastData(Config):
    series: str | None = option(
        None, "a series shipped with rnnkit", choices=SERIES_NAMES, metavar="NAME"
    )
    csv: str | None = option(
        None,
        "a CSV file: a header, periods in the first column (1949-01, 1949Q1, 1949-01-31, "
        "1949), values in the second or in --column",
        metavar="FILE",
    )
    column: str | None = option(None, "the CSV column with the values", metavar="NAME")
    season_length: int | None = option(
        None,
        "periods per season; default from the periods (monthly 12, quarterly 4...), else "
        "detected from the autocorrelation",
        low=1,
    )
    fill: str | None = option(
        None,
        "linear: interpolate NaN values and missing periods instead of refusing them",
        choices=("linear",),
    )
    data_dir: str | None = option(
        None,
        "folder holding timeseries/<file>.csv for --series; default: $RNNKIT_DATA_DIR, the "
        "cache, then the copy shipped with rnnkit",
        metavar="DIR",
    )


@dataclass
class ForecastRun(Config):
    horizon: int = option(12, "periods to forecast (each backtest fold's length)", low=1)
    folds: int = option(4, "rolling origins of the backtest", low=1, high=100)
    baselines: str = option(
        ",".join(BASELINE_NAMES),
        "comma-separated baselines (naive, seasonal_naive, drift, ets, arima), or none",
    )
    level: float = option(
        80.0, "prediction interval level in %", low=0, high=100, low_open=True, high_open=True
    )
    no_refit: bool = option(
        False, "fit the network once at the first origin instead of at every origin"
    )
    out: str = option(
        "runs/forecast", f"folder for {PNG}, {JSON} and the fitted {MODEL}/", metavar="DIR"
    )
    overwrite: bool = option(
        False,
        f"replace {PNG}, {JSON} and {MODEL}/ under --out even where rnnkit did not write them",
    )


def _baselines(parser, text: str) -> tuple[str, ...]:
    if text.strip() in ("", "none"):
        return ()
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in BASELINE_NAMES]
    if bad:
        parser.error(
            f"argument --baselines: expected names among {', '.join(BASELINE_NAMES)}, "
            f"received {bad[0]!r}"
        )
    return names


def foreign_outputs(out: Path) -> list[str]:
    """What under ``out`` ``rnnkit forecast`` would replace and did not write: a ``model``
    that is not a saved forecaster (nor an empty folder), a ``forecast.json`` without its
    report, a ``forecast.png`` not drawn by matplotlib."""
    from ..tasks.forecast.forecaster import _is_saved_forecaster

    foreign = []
    model = out / MODEL
    if model.is_dir() and not model.is_symlink():
        if any(model.iterdir()) and not _is_saved_forecaster(model):
            foreign.append(f"{MODEL}/")
    elif model.exists() or model.is_symlink():
        foreign.append(MODEL)
    report = out / JSON
    if report.exists() or report.is_symlink():
        try:
            data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
        except (OSError, ValueError):
            data = None
        if not (isinstance(data, dict) and data.get("task") == "forecast"):
            foreign.append(JSON)
    png = out / PNG
    if png.exists() or png.is_symlink():
        head = b""
        if png.is_file() and not png.is_symlink():
            with open(png, "rb") as f:
                head = f.read(512)
        if not (head.startswith(b"\x89PNG") and b"matplotlib" in head.lower()):
            foreign.append(PNG)
    return foreign


def _load(parser, data: ForecastData):
    from ..datasets import timeseries as ts

    if (data.series is None) == (data.csv is None):
        parser.error("expected one of --series NAME or --csv FILE")
    if data.column is not None and data.csv is None:
        parser.error("argument --column: expected to be used with --csv")
    if data.series is not None:
        if data.fill is not None:
            parser.error("argument --fill: expected to be used with --csv")
        return ts.load_series(data.series, data.data_dir, season_length=data.season_length)
    return ts.read_csv(data.csv, data.column, season_length=data.season_length, fill=data.fill)


def cmd_forecast(args) -> int:
    from dataclasses import replace

    from ..tasks.forecast import Forecaster, backtest, plot_forecasts
    from ..tasks.forecast.baselines import forecast as baseline_forecast

    parser = args.parser
    try:
        config = ForecastConfig.from_args(args)
    except ValueError as e:
        parser.error(str(e))
    run = ForecastRun.from_args(args)
    data = ForecastData.from_args(args)
    names = _baselines(parser, run.baselines)
    out = check_output_dir(parser, "--out", run.out)
    foreign = foreign_outputs(out)
    if foreign and not run.overwrite:
        parser.error(
            f"argument --out: expected a new folder or one written by `rnnkit forecast`, "
            f"received {run.out!r}, where rnnkit would replace what it did not write: "
            f"{', '.join(foreign)}; pass --overwrite to replace them, or choose another --out"
        )
    series = _load(parser, data)  # every check of the values and periods happens here
    status = spawn(args)  # --nproc N: N processes run this command, then the status
    if status is not None:
        return status
    where = place(args)
    threads(args)
    config = replace(config, horizon=run.horizon)
    print(f"{series!r} from {series.source}")
    start = time.perf_counter()
    result = backtest(
        series,
        config=config,
        horizon=run.horizon,
        folds=run.folds,
        baselines=names,
        level=run.level,
        refit=not run.no_refit,
        device=where.device,
        distributed=where.distributed,
    )
    backtest_seconds = time.perf_counter() - start
    print(
        f"\nRolling-origin backtest: {run.folds} folds of {run.horizon} periods "
        f"(origins {', '.join(map(str, result.origins))}); MASE against the seasonal naive "
        f"in-sample error, m = {series.season_length}; * lowest MASE\n"
    )
    print(result.table())
    best = result.best()

    start = time.perf_counter()
    forecaster = Forecaster(config).fit(series, device=where.device, distributed=where.distributed)
    if not where.writes:  # another process of --nproc: rank 0 writes
        return 0
    forecasts = {"rnnkit": forecaster.predict(run.horizon, intervals=True, level=run.level)}
    for name in names:
        spec = result.folds[name][-1].detail.get("spec")
        forecasts[name] = baseline_forecast(
            name, series.values, run.horizon, series.season_length, run.level, spec
        )
    fit_seconds = time.perf_counter() - start
    future = series.future_periods(run.horizon)
    m = series.season_length
    plot_forecasts(
        series.values,
        forecasts,
        out / PNG,
        best=best,
        show_last=max(8 * max(m, 2), 4 * run.horizon),
        level=run.level,
        title=f"{series.name}: next {run.horizon} periods, {run.level:g}% intervals "
        f"(best in backtest: {best})",
    )
    forecaster.save(out / MODEL, overwrite=run.overwrite)
    report = {
        "task": "forecast",
        "series": {
            "name": series.name,
            "source": series.source,
            "n": len(series),
            "freq": series.freq,
            "season_length": series.season_length,
            "season_source": series.season_source,
            "first": series.periods[0] if series.periods else None,
            "last": series.periods[-1] if series.periods else None,
        },
        "config": config.to_dict(),
        "backtest": result.to_dict(),
        "forecast": {
            "periods": list(future) if future else None,
            "models": {
                name: {
                    "mean": [float(v) for v in fc.mean],
                    "lower": [float(v) for v in fc.lower],
                    "upper": [float(v) for v in fc.upper],
                }
                for name, fc in forecasts.items()
            },
        },
        "seconds": {"backtest": round(backtest_seconds, 2), "final_fit": round(fit_seconds, 2)},
    }
    _files.write_json(out / JSON, report)
    print(
        f"\nBacktest {backtest_seconds:.1f} s, final fit {fit_seconds:.1f} s. Wrote "
        f"{out / PNG}, {out / JSON}, {out / MODEL}"
    )
    return 0


def cmd_export(args) -> int:
    import torch

    from .. import export
    from ..tasks.forecast import Forecaster

    out = check_output_file(args.parser, "OUT", args.out)
    threads(args)
    forecaster = Forecaster.load(args.model)
    ensemble = export.ForecastEnsemble(forecaster)
    x = torch.from_numpy(forecaster.network_input()).repeat(2, 1, 1)  # (2, L, C)
    export.onnx(ensemble, out, x, input_names=["x"], output_names=["mean", "sd"])
    print(
        f"wrote {out}: input `x` float32 (batch, length, {x.shape[2]}) windows as "
        "Forecaster.network_input gives them; outputs `mean` and `sd` (batch, "
        f"{forecaster.horizon_}) of the {len(forecaster.nets_)}-network ensemble in the "
        "scaled units (sd calibrated), before the scaler, the seasonal indices and the "
        "transform are undone"
    )
    return 0


def register(sub) -> None:
    """Add ``rnnkit forecast`` and ``rnnkit forecast export``."""
    p = subparser(
        sub,
        "forecast",
        "backtest the recurrent forecaster beside naive, seasonal naive, drift, ETS and ARIMA "
        "on one series, then forecast the next --horizon periods",
        cmd_forecast,
    )
    ForecastData.add_arguments(p, title="data")
    group = p.add_argument_group("run")
    ForecastRun.add_arguments(group)
    Runtime.add_arguments(group)
    add_placement(group, train=True)
    ForecastConfig.add_arguments(p, title="network and training (ForecastConfig)")
    # `rnnkit forecast export MODEL OUT`: an optional action, so that `rnnkit forecast
    # --series airline` stays as it was
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    add_export(
        actions,
        cmd_export,
        f"folder written by `rnnkit forecast` (its {MODEL}/)",
        help="write a saved forecaster's networks to a file",
    )
