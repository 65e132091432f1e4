"""Time and memory of refusing a model whose config claims huge sizes (issue #11, finding 2).

A small model is saved, its config.json edited (LSTM units 6000, or Embedding input_dim 5e7),
and ``load_model`` is run in a fresh interpreter, which reports the wall time of the call and
the process's peak RSS (``resource.getrusage``; the import of torch and rnnkit alone is given
for comparison). Writes benchmarks/results/load_refusal.json.

    PYTHONPATH=src python benchmarks/bench_load_refusal.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rnnkit import _files
from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.models import Sequential

CHILD = """
import json, resource, sys, time
from rnnkit.models import load_model
rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
try:
    load_model(sys.argv[1])
    message = None
except ValueError as e:
    message = str(e)
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": rss, "import_rss_mb": rss_import,
                  "refused": message}))
"""

EDITS = {
    "lstm_units_6000": (1, "units", 6000),
    "embedding_input_dim_5e7": (0, "input_dim", 5 * 10**7),
}


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (layer, field, value) in EDITS.items():
            path = Path(tmp) / label
            Sequential([Embedding(20, 4, input_shape=(None,)), LSTM(3), Dense(1)]).save(path)
            config = json.loads((path / "config.json").read_text())
            config["model"]["layers"][layer]["config"][field] = value
            (path / "config.json").write_text(json.dumps(config))
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
            )
            results[label] = json.loads(out.stdout)
            r = results[label]
            print(
                f"{label}: refused in {r['seconds']:.3f} s, peak RSS {r['peak_rss_mb']:.0f} MB "
                f"(import alone {r['import_rss_mb']:.0f} MB)"
            )
    _files.write_json(Path(__file__).parent / "results" / "load_refusal.json", results)


if __name__ == "__main__":
    main()
