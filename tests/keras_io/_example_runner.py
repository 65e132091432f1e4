"""Run a keras-io example from ``benchmarks/keras_io/`` with smaller sizes.

The example's own file is read and run (``exec``) in a fresh namespace, in a temporary working
folder, after replacing some of its lines: each replacement names a whole line of the example
as written (it must occur exactly once, so a test cannot silently run other code) and the line
that takes its place, which only shrinks a size (samples, epochs, lengths). What the example
defines (``model``, ``history``, ...) is returned for the test to check.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "benchmarks" / "keras_io"


def shrink(source: str, replace: dict[str, str]) -> str:
    """``source`` with each line equal (stripped) to a key of ``replace`` replaced."""
    lines = source.splitlines()
    for old, new in replace.items():
        hits = [i for i, line in enumerate(lines) if line.strip() == old]
        assert len(hits) == 1, f"line {old!r} occurs {len(hits)} times in the example"
        indent = lines[hits[0]][: len(lines[hits[0]]) - len(lines[hits[0]].lstrip())]
        lines[hits[0]] = indent + new
    return "\n".join(lines) + "\n"


def run_example(name: str, replace: dict[str, str], workdir: Path) -> dict:
    """Run ``benchmarks/keras_io/<name>.py`` with ``replace`` applied, in ``workdir``."""
    path = EXAMPLES / f"{name}.py"
    code = compile(shrink(path.read_text(), replace), str(path), "exec")
    namespace = {"__name__": "__main__", "__file__": str(path)}
    old_cwd = Path.cwd()
    sys.path.insert(0, str(EXAMPLES))
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        os.chdir(workdir)
        exec(code, namespace)
    finally:
        os.chdir(old_cwd)
        sys.path.remove(str(EXAMPLES))
    return namespace
