"""``rnnkit forecast``: an end-to-end run on the airline series, and bad input refused before
anything is written."""

from __future__ import annotations

import json

import pytest

from rnnkit.cli import main

QUICK = ["--ensemble", "1", "--epochs", "10", "--patience", "3", "--units", "4", "--threads", "1"]


def test_1_end_to_end_on_airline(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        ["forecast", "--series", "airline", "--horizon", "12", "--folds", "1", "--out", str(out)]
        + QUICK
    )
    assert rc == 0
    text = capsys.readouterr().out
    for name in ("rnnkit", "naive", "seasonal_naive", "drift", "ets", "arima"):
        assert f"\n{name}" in text
    assert "MASE" in text and "cov80%" in text
    report = json.loads((out / "forecast.json").read_text())
    assert report["task"] == "forecast" and report["series"]["n"] == 144
    assert report["backtest"]["origins"] == [132]
    assert set(report["backtest"]["summary"]) == {
        "rnnkit",
        "naive",
        "seasonal_naive",
        "drift",
        "ets",
        "arima",
    }
    assert report["forecast"]["periods"][0] == "1961-01"
    assert len(report["forecast"]["models"]["rnnkit"]["mean"]) == 12
    assert (out / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    from rnnkit.tasks.forecast import Forecaster

    loaded = Forecaster.load(out / "model")
    assert loaded.predict(12).tolist() == pytest.approx(
        report["forecast"]["models"]["rnnkit"]["mean"]
    )
    # a second run into the same folder replaces what the first wrote
    assert (
        main(
            [
                "forecast",
                "--series",
                "airline",
                "--folds",
                "1",
                "--out",
                str(out),
                "--baselines",
                "naive",
            ]
            + QUICK
        )
        == 0
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["1949-01,1", "1949-02,x"], "expected numbers, received 'x' at row 1 (period 1949-02)"),
        (["1949-01,1", "1949-02,nan"], "expected finite numbers, received NaN at row 1"),
        (["1949-02,1", "1949-01,2"], "expected periods in increasing order"),
        (["1949-01,1", "1949-01,2"], "expected each period once"),
        (["1949-01,1", "1949-03,2"], "expected consecutive periods, received a gap"),
        ([f"19{49 + k // 12}-{k % 12 + 1:02d},{k + 1}" for k in range(30)], "expected at least"),
    ],
)
def test_2_bad_csv_is_refused_and_nothing_is_written(tmp_path, capsys, rows, message):
    csv = tmp_path / "s.csv"
    csv.write_text("period,value\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["forecast", "--csv", str(csv), "--out", str(out)] + QUICK) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_3_arguments_checked_before_reading(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["forecast", "--out", str(tmp_path / "a")])
    assert "expected one of --series NAME or --csv FILE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "forecast",
                "--series",
                "airline",
                "--baselines",
                "naive,prophet",
                "--out",
                str(tmp_path),
            ]
        )
    assert "argument --baselines: expected names among" in capsys.readouterr().err
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "forecast.json").write_text("{}")
    with pytest.raises(SystemExit):
        main(["forecast", "--series", "airline", "--out", str(foreign)])
    assert "rnnkit would replace what it did not write: forecast.json" in capsys.readouterr().err
    assert (foreign / "forecast.json").read_text() == "{}"


def test_4_csv_with_column_and_fill(tmp_path, capsys):
    rows = [f"{1950 + k // 4}Q{k % 4 + 1},{k},{100 + 3 * k + 5 * (k % 4)}" for k in range(60)]
    rows[20] = rows[20].rsplit(",", 1)[0] + ","
    csv = tmp_path / "q.csv"
    csv.write_text("period,a,sales\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    args = [
        "forecast",
        "--csv",
        str(csv),
        "--column",
        "sales",
        "--horizon",
        "4",
        "--folds",
        "2",
        "--fill",
        "linear",
        "--baselines",
        "naive,seasonal_naive",
        "--out",
        str(out),
    ] + QUICK
    assert main(args) == 0
    report = json.loads((out / "forecast.json").read_text())
    assert report["series"]["season_length"] == 4 and report["series"]["name"] == "sales"
    assert report["forecast"]["periods"] == ["1965Q1", "1965Q2", "1965Q3", "1965Q4"]
