"""Child processes, timing and plain-text tables for the benchmarks: standard library only.

The one owner of this logic: :mod:`rnnkit.bench` runs its peers with it, and the scripts in
``benchmarks/`` reach it through ``benchmarks/_peers.py``, also from the Keras venv's Python,
where torch may be missing (``import rnnkit`` and this module import nothing heavy).

Protocol between a parent and its children: the parent starts a child with a JSON spec on
its command line; the child does its measurement and prints one line ``RESULT {json}`` on
stdout as its last act. Everything else the child prints is kept for error reports only.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULT_TAG = "RESULT "
SRC_DIR = Path(__file__).resolve().parents[2]  # the folder holding the rnnkit package

TUNED_MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "1073741824",
    "MALLOC_TRIM_THRESHOLD_": "1073741824",
    "MALLOC_TOP_PAD_": "67108864",
}
"""glibc's allocator thresholds an expert sets in the environment (read at process start); the
same values :mod:`rnnkit.runtime` sets with mallopt."""

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


# -- child processes --------------------------------------------------------------------------
def child_env(threads: int, tuned_malloc: bool = False, extra: dict | None = None) -> dict:
    """The environment of a child: the parent's, with thread counts pinned, the allocator
    variables present only when asked for, rnnkit's tuned runtime left at its default, and
    this rnnkit first on the path."""
    env = dict(os.environ)
    for name in TUNED_MALLOC_ENV:
        env.pop(name, None)
    env.pop("RNNKIT_TUNED_RUNTIME", None)
    for name in THREAD_VARS:
        env[name] = str(threads)
    if tuned_malloc:
        env.update(TUNED_MALLOC_ENV)
    env["PYTHONUNBUFFERED"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # TensorFlow: warnings and errors only
    src = str(SRC_DIR)
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


class ChildError(RuntimeError):
    pass


def run_child(
    argv: list[str], env: dict, timeout: float, label: str, echo: bool = False, cwd=None
) -> dict:
    """Run one child to completion and return the dict it printed after ``RESULT``.

    With ``echo``, the child's stderr (its progress lines) is shown as it comes, indented.
    Raises :class:`ChildError` (with the child's last lines) when no result comes.
    """
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out_lines: list[str] = []
    err_lines: list[str] = []

    def pump(stream, lines, show):
        for line in stream:
            lines.append(line)
            if show:
                print("    | " + line.rstrip(), file=sys.stderr, flush=True)

    pumps = [
        threading.Thread(target=pump, args=(proc.stdout, out_lines, False), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, err_lines, echo), daemon=True),
    ]
    for t in pumps:
        t.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.wait()
        raise ChildError(f"{label}: no result within {timeout:.0f} s") from e
    finally:
        for t in pumps:
            t.join(timeout=10)
    for line in reversed(out_lines):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    tail = "".join(out_lines[-10:] + err_lines[-25:]).strip()
    raise ChildError(
        f"{label}: exited with status {proc.returncode} without a result; last lines:\n{tail}"
    )


def emit_result(result: dict) -> None:
    """Called by a child: hand ``result`` to the parent."""
    result.setdefault("max_rss_mib", max_rss_mib())
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(result), flush=True)


# -- timing -----------------------------------------------------------------------------------
def max_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_calls(
    fn, chunks: int, min_chunk_s: float, warmup: int = 3, max_calls: int = 100000
) -> dict:
    """Per-call seconds of ``fn()``: the median over ``chunks`` chunks, each of as many calls
    as fill ``min_chunk_s`` (calibrated after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-7)
    calls = int(min(max_calls, max(1, round(min_chunk_s / one))))
    per_call = []
    for _ in range(chunks):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - start) / calls)
    return {"s": statistics.median(per_call), "chunks_s": per_call, "calls_per_chunk": calls}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# -- tables -----------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A plain text table; ``align`` has one 'l' or 'r' per column (default: first left)."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[k]) for r in cells)) if cells else len(h) for k, h in enumerate(headers)
    ]
    align = align or "l" + "r" * (len(headers) - 1)

    def fmt(row):
        return "  ".join(
            c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)
        )

    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, cells)])


def fmt_ms(seconds, digits: int | None = None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    if digits is None:
        digits = 1 if ms >= 10 else 2 if ms >= 1 else 3
    return f"{ms:.{digits}f}"


def fmt_ratio(peer_s, rnnkit_s) -> str:
    if peer_s is None or not rnnkit_s:
        return "-"
    return f"{peer_s / rnnkit_s:.2f}x"
