"""Where the examples' real data lie: ``$RNNKIT_DATA_DIR`` or ``<repo>/../shared/data``.

The keras-io examples download their data with ``keras.utils.get_file``; the machines that run
rnnkit's tests reach no web site, so each example here reads a real data set from the shared
folder instead (the one line that does so is marked ``# rnnkit: data`` in the example).
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_data(relative: str) -> str:
    """The path of ``relative`` (e.g. ``"imdb"``) in the shared data folder."""
    root = os.environ.get("RNNKIT_DATA_DIR")
    base = Path(root) if root else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return str(base / relative)


def climate_stand_in() -> str:
    """A CSV in the Jena climate file's layout ("Date Time" then value columns) made of two real
    monthly series over their common months (1959-01 .. 1997-12, 468 rows): the sunspot number
    and Mauna Loa's CO2 (ppm). Written beside the working folder; returns its path."""
    import pandas as pd

    sun = pd.read_csv(shared_data("timeseries/sunspots_monthly.csv"))
    co2 = pd.read_csv(shared_data("timeseries/co2_monthly.csv"))
    df = sun.merge(co2, on="period")
    df.columns = ["Date Time", "sunspots", "co2 (ppm)"]
    path = Path("climate_stand_in.csv").resolve()
    df.to_csv(path, index=False)
    return str(path)


def forda_stand_in(window: int = 120) -> str:
    """FordA's two files (``FordA_TRAIN.tsv`` / ``FordA_TEST.tsv``: label -1 / 1, tab, the
    values) made from the real monthly sunspot series: each row is ``window`` months; its label
    is 1 when the next 12 months' mean exceeds the last 12 months' (the cycle rises), else -1.
    The first 70 % of the windows (in time) train, the rest test. Written in the working
    folder; returns the folder as the example's ``root_url`` (ending in "/")."""
    import numpy as np
    import pandas as pd

    values = pd.read_csv(shared_data("timeseries/sunspots_monthly.csv")).iloc[:, 1].to_numpy()
    rows = []
    for s in range(0, len(values) - window - 12):
        x = values[s : s + window]
        label = 1 if values[s + window : s + window + 12].mean() > x[-12:].mean() else -1
        rows.append(np.concatenate([[label], x]))
    rows = np.asarray(rows)
    split = int(0.7 * len(rows))
    folder = Path.cwd()
    np.savetxt(folder / "FordA_TRAIN.tsv", rows[:split], delimiter="\t", fmt="%g")
    np.savetxt(folder / "FordA_TEST.tsv", rows[split:], delimiter="\t", fmt="%g")
    return str(folder) + "/"
