"""Helpers shared by the benchmarks: child processes, environments, timing, JSON, tables.

The child processes, timing and tables are :mod:`rnnkit.bench._proc` (standard library only,
the one owner, also used by ``rnnkit bench``), re-exported here; this module adds what only
the scripts need (their folders, the Keras venv, the machine with its git commit). Standard
library only, so that ``keras_side.py`` (run by the Keras venv's Python, where rnnkit is not
installed and maybe torch neither) can import it too: ``import rnnkit`` imports nothing heavy.

Protocol between a benchmark and its child processes: the parent starts
``python SCRIPT --child '<json spec>'`` (or ``keras_side.py MODE '<json spec>'``); the child
does its measurement and prints one line ``RESULT {json}`` on stdout as its last act.
Everything else the child prints (progress, framework logs) is kept for error reports only.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
KERAS_VENV = BENCH_DIR / ".venv-keras"
KERAS_PYTHON = KERAS_VENV / "bin" / "python"
KERAS_SIDE = BENCH_DIR / "keras_side.py"

if str(REPO_ROOT / "src") not in sys.path:  # this checkout's rnnkit, even without pip install
    sys.path.insert(0, str(REPO_ROOT / "src"))

from rnnkit._cpu import cpu_info  # noqa: E402
from rnnkit.bench import _proc  # noqa: E402
from rnnkit.bench._proc import (  # noqa: E402, F401  (re-exported for the scripts)
    RESULT_TAG,
    TUNED_MALLOC_ENV,
    ChildError,
    child_env,
    emit_result,
    fmt_ms,
    fmt_ratio,
    max_rss_mib,
    median,
    table,
    time_calls,
)


def run_child(argv: list[str], env: dict, timeout: float, label: str, echo: bool = False) -> dict:
    """:func:`rnnkit.bench._proc.run_child` from the repository's root."""
    return _proc.run_child(argv, env, timeout, label, echo, cwd=REPO_ROOT)


def overrides(pairs: list[str], option: str = "--set") -> dict:
    """``["units=256", "schedule=cosine"]`` -> config fields, each value parsed as JSON
    (``400``, ``0.3``, ``true``, ``null``), else kept as a word; what every benchmark's
    ``--set`` takes."""
    import json

    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise SystemExit(f"{option} expected KEY=VALUE, received {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def imdb_dir() -> str | None:
    """The local IMDb folder: ``$RNNKIT_DATA_DIR/imdb`` (or that folder itself), else
    ``../shared/data/imdb`` beside the repository; None (rnnkit's download cache) if neither."""
    env = os.environ.get("RNNKIT_DATA_DIR")
    for c in ([Path(env) / "imdb", Path(env)] if env else []) + [
        REPO_ROOT.parent / "shared" / "data" / "imdb"
    ]:
        if c.is_dir() and any(c.iterdir()):
            return str(c)
    return None


def keras_available() -> bool:
    return KERAS_PYTHON.exists()


def keras_missing_note() -> str:
    return (
        f"note: {KERAS_VENV.relative_to(REPO_ROOT)} not found: skipping the Keras peers "
        f"(create it with `bash benchmarks/setup_peers.sh`)."
    )


# -- reporting --------------------------------------------------------------------------------
def machine_info() -> dict:
    """What ran the benchmark: CPU, cores, Python, git commit, date (torch versions are added
    by the caller, which may import torch)."""
    info = cpu_info()
    cpu, isa = info["model"], info["extensions"]
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "src"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cpu_flags": isa,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git_commit": commit,
        "src_modified": dirty,
        "load_average_at_start": load,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def write_json(path: Path, data: dict) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`rnnkit._files.write_json`)."""
    from rnnkit import _files

    _files.write_json(path, data)
    return Path(path)
