"""Copy the three monthly series that rnnkit ships as offline defaults into ``src/rnnkit/data/``.

Source: ``../shared/data/timeseries/`` (R's ``datasets`` package: ``AirPassengers``,
``sunspot.month``, ``co2``; public domain). Each file is copied byte for byte and only when its
SHA-256 equals the one recorded in :data:`rnnkit.datasets.timeseries.SERIES`, so the shipped
copies are the official files (``load_series`` verifies them the same way).

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python scripts/copy_timeseries.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from rnnkit import _files
from rnnkit.datasets.timeseries import SERIES

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
OUT = REPO_ROOT / "src" / "rnnkit" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="folder with timeseries/")
    args = parser.parse_args(argv)
    for name, s in SERIES.items():
        src = Path(args.data_dir) / "timeseries" / s.file
        data = src.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != s.sha256 or len(data) != s.size:
            print(
                f"{src}: SHA-256 {digest} ({len(data):,} bytes), expected {s.sha256} "
                f"({s.size:,} bytes); not copied",
                file=sys.stderr,
            )
            return 1
        _files.write_bytes(OUT / s.file, data)
        print(f"{name}: {src} -> {OUT / s.file} (SHA-256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
