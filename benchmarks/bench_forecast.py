"""Forecasting benchmark: rnnkit's default recurrent forecaster against the statistical
baselines, by rolling-origin backtest, on the shared monthly series and a few other public ones.

What it measures, per series (horizon = one season, 12 for monthly and 4 for quarterly data;
``--folds`` origins, each fold forecasting the next horizon from the values before it):

a. MASE, MAE, RMSE, sMAPE and 80% interval coverage of ``Forecaster()`` (untouched defaults,
   refitted at every origin) and of naive, seasonal naive, drift, ETS and ARIMA
   (:mod:`rnnkit.tasks.forecast.baselines`) on the same folds;
b. the issue's targets: MASE below the seasonal naive's (ratio < 1); MASE at most the best of
   ETS and ARIMA (ratio <= 1) on at least two of the three shared series; 80% intervals
   covering 70-90% of the backtest points; fit + backtest of the network within 60 s;
c. the load average of the machine before and after, so that the seconds can be read.

Series: ``airline``, ``co2``, ``sunspots`` (the shared three, ``rnnkit.datasets.timeseries``)
and, with ``--extra``, public series shipped inside statsmodels (offline): ``elnino`` (monthly
Pacific sea surface temperature 1950-2010, 732 values) and the quarterly US ``realgdp``,
``cpi`` and ``unemp`` of ``macrodata`` (1959Q1-2009Q3, 203 values), for the robustness target
(the same defaults, still better than the seasonal naive).

How to run (from the repository root)::

    nice .venv/bin/python benchmarks/bench_forecast.py                    # the shared three
    nice .venv/bin/python benchmarks/bench_forecast.py --extra            # and the four others
    nice .venv/bin/python benchmarks/bench_forecast.py --series airline --folds 2
    nice .venv/bin/python benchmarks/bench_forecast.py --series airline,co2 --validation \\
        --baselines naive --config '{"deseason": "never"}'     # how the defaults were chosen

The JSON goes to ``benchmarks/results/bench_forecast.json`` (``--out`` to change it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from rnnkit import _files  # noqa: E402
from rnnkit.datasets import timeseries as ts  # noqa: E402
from rnnkit.tasks.forecast import ForecastConfig, backtest  # noqa: E402

SHARED = ("airline", "co2", "sunspots")
EXTRA = ts.STATSMODELS_SERIES


def load(name: str) -> ts.TimeSeries:
    return ts.load_series(name) if name in SHARED else ts.statsmodels_series(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default=",".join(SHARED), help="comma-separated names")
    parser.add_argument("--extra", action="store_true", help="add " + ", ".join(EXTRA))
    parser.add_argument("--folds", type=int, default=4, help="rolling origins per series")
    parser.add_argument("--ensemble", type=int, default=None, help="override the default (5)")
    parser.add_argument(
        "--config",
        default=None,
        help='ForecastConfig fields as JSON, e.g. \'{"deseason": "never"}\'',
    )
    parser.add_argument(
        "--validation",
        action="store_true",
        help="the validation folds the defaults were chosen on: each series without its last "
        "--folds seasons (the test folds), backtested at the 3 origins before them",
    )
    parser.add_argument(
        "--baselines", default=None, help="comma-separated baselines (default all five)"
    )
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/bench_forecast.json"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.series.split(",") if n.strip()]
    if args.extra:
        names += [n for n in EXTRA if n not in names]
    fields = json.loads(args.config) if args.config else {}
    if args.ensemble is not None:
        fields["ensemble"] = args.ensemble
    config = ForecastConfig(**fields)
    load_before = os.getloadavg()
    results = {}
    for name in names:
        series = load(name)
        horizon = max(series.season_length, 2)
        folds = args.folds
        if args.validation:  # drop the test folds; 3 origins before them
            keep = len(series) - args.folds * horizon
            series = ts.from_array(
                series.values[:keep],
                season_length=series.season_length,
                periods=series.periods[:keep] if series.periods else None,
                name=series.name,
            )
            folds = 3
        start = time.perf_counter()
        chosen = None
        if args.baselines:  # the seasonal naive is always run (every target is relative to it)
            chosen = [
                "seasonal_naive",
                *(b for b in args.baselines.split(",") if b != "seasonal_naive"),
            ]
        r = backtest(series, config=config, horizon=horizon, folds=folds, baselines=chosen)
        wall = time.perf_counter() - start
        s = r.summary
        net = s["rnnkit"]
        stats = [s[k]["MASE"] for k in ("ets", "arima") if k in s]
        best_stat = min(stats) if stats else float("nan")
        entry = {
            "n": len(series),
            "season_length": series.season_length,
            "horizon": horizon,
            "origins": r.origins,
            "summary": s,
            "mase_vs_seasonal_naive": net["MASE"] / s["seasonal_naive"]["MASE"],
            "mase_vs_best_of_ets_arima": net["MASE"] / best_stat,
            "coverage80": net["coverage"],
            "network_fit_backtest_seconds": net["seconds"],
            "network_fit_backtest_cpu_seconds": net["cpu_seconds"],
            "wall_seconds_all_models": wall,
            "details": {k: [f.detail for f in v] for k, v in r.folds.items() if k != "rnnkit"},
            "network_folds": [f.detail for f in r.folds["rnnkit"]],
        }
        entry["targets"] = {
            "beats_seasonal_naive": entry["mase_vs_seasonal_naive"] < 1,
            "matches_best_statistical": entry["mase_vs_best_of_ets_arima"] <= 1,
            "coverage_70_90": 0.7 <= net["coverage"] <= 0.9,
            "within_60s": net["seconds"] <= 60,
            "within_60s_cpu": net["cpu_seconds"] <= 60,
        }
        results[name] = entry
        print(
            f"\n== {name} (n={len(series)}, m={series.season_length}, horizon {horizon}, "
            f"{folds} folds{', validation' if args.validation else ''}) =="
        )
        print(r.table())
        print(
            f"MASE / seasonal naive {entry['mase_vs_seasonal_naive']:.3f}; MASE / best of "
            f"ETS, ARIMA {entry['mase_vs_best_of_ets_arima']:.3f}; coverage "
            f"{100 * net['coverage']:.1f}%; network fit + backtest {net['seconds']:.1f} s "
            f"wall, {net['cpu_seconds']:.1f} s CPU",
            flush=True,
        )
        _files.write_json(
            args.out, _report(names[: len(results)], results, config, args, load_before)
        )
    report = _report(names, results, config, args, load_before)
    _files.write_json(args.out, report)
    print("\n" + "\n".join(target_lines(names, results)))
    print(f"\nload average before {load_before}, after {os.getloadavg()}; wrote {args.out}")
    return 0


def target_lines(names, results) -> list[str]:
    """Every target of the issue with its figure on each series, and met / not met."""

    def verdict(ok):
        return "MET" if ok else "NOT MET"

    shared = [n for n in names if n in SHARED]
    extra = [n for n in names if n not in SHARED]
    lines = ["== targets (rolling-origin backtest, horizon one season) =="]

    def ratios(group, key):
        return ", ".join(f"{n} {results[n][key]:.3f}" for n in group)

    if shared:
        ok = all(results[n]["targets"]["beats_seasonal_naive"] for n in shared)
        lines.append(
            f"1. MASE / seasonal naive < 1 on every shared series: "
            f"{ratios(shared, 'mase_vs_seasonal_naive')} -> {verdict(ok)}"
        )
        wins = sum(results[n]["targets"]["matches_best_statistical"] for n in shared)
        lines.append(
            f"2. MASE / best of ETS, ARIMA <= 1 on at least 2 of the shared three: "
            f"{ratios(shared, 'mase_vs_best_of_ets_arima')} ({wins} of {len(shared)}) -> "
            f"{verdict(wins >= 2)}"
        )
    cov = ", ".join(f"{n} {100 * results[n]['coverage80']:.1f}%" for n in names)
    ok = all(results[n]["targets"]["coverage_70_90"] for n in names)
    lines.append(f"3. 80% intervals cover 70-90% of backtest points: {cov} -> {verdict(ok)}")
    monthly = [n for n in names if results[n]["season_length"] == 12] or names
    secs = ", ".join(
        f"{n} {results[n]['network_fit_backtest_cpu_seconds']:.1f} s CPU "
        f"({results[n]['network_fit_backtest_seconds']:.1f} s wall)"
        for n in monthly
    )
    ok = all(results[n]["targets"]["within_60s_cpu"] for n in monthly)
    lines.append(
        f"4. network fit + backtest of one monthly series <= 60 s: {secs} -> {verdict(ok)} "
        "(CPU seconds; wall seconds count the other processes of a shared machine)"
    )
    if extra:
        ok = all(results[n]["targets"]["beats_seasonal_naive"] for n in extra)
        lines.append(
            f"5. robustness, MASE / seasonal naive < 1 on the other series: "
            f"{ratios(extra, 'mase_vs_seasonal_naive')} -> {verdict(ok)}"
        )
    return lines


def _report(names, results, config, args, load_before) -> dict:
    """The JSON: the machine, the settings, each series' results, the targets (written after
    every series, so that an interrupted run keeps what it measured)."""
    shared = [n for n in names if n in SHARED]
    report = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "config": config.to_dict(),
        "folds": args.folds,
        "series": results,
        "targets": {
            "every_series_beats_seasonal_naive": all(
                results[n]["targets"]["beats_seasonal_naive"] for n in names
            ),
            "shared_matching_best_statistical": sum(
                results[n]["targets"]["matches_best_statistical"] for n in shared
            ),
            "coverage_70_90_on": [n for n in names if results[n]["targets"]["coverage_70_90"]],
            "within_60s_on": [n for n in names if results[n]["targets"]["within_60s"]],
            "within_60s_cpu_on": [n for n in names if results[n]["targets"]["within_60s_cpu"]],
            "extra_beating_seasonal_naive": [
                n
                for n in names
                if n not in SHARED and results[n]["targets"]["beats_seasonal_naive"]
            ],
            "lines": target_lines(names, results),
        },
    }
    return report


if __name__ == "__main__":
    raise SystemExit(main())
