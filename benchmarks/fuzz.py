"""Run every fuzz test (``tests/**/test_fuzz_*.py``) under the Hypothesis profile 'fuzz'
(10,000 examples per target, tests/conftest.py) and record, per target, how many inputs were
generated and whether any failed, in benchmarks/results/fuzz.json (issue #11, item 8).

Each file runs in its own pytest subprocess with ``HYPOTHESIS_PROFILE=fuzz`` and
``--hypothesis-show-statistics``; the counts are read from Hypothesis's statistics, the
outcomes from a JUnit XML report. In the suite the same tests run with the 'ci' profile.

    PYTHONPATH=src python benchmarks/fuzz.py                       # every fuzz file
    PYTHONPATH=src python benchmarks/fuzz.py tests/text/test_fuzz_text.py   # rerun one file
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from rnnkit import _files  # noqa: E402

PHASE = re.compile(r"- during (\w+) phase \(([\d.]+) seconds\):")
COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid test cases")
STOPPED = re.compile(r"- Stopped because (.+)")


def parse_statistics(output: str) -> dict[str, dict]:
    """``{test id: {phase: {passing, failing, invalid, seconds}, stopped_because}}`` from
    pytest's ``--hypothesis-show-statistics`` section."""
    stats, current, phase = {}, None, None
    section = output.split("Hypothesis Statistics", 1)[-1]
    for line in section.splitlines():
        if re.match(r"^\S+::\S+:$", line.strip()) and not line.startswith(" "):
            current = line.strip()[:-1]
            stats[current] = {"phases": {}}
        elif current is None:
            continue
        elif m := PHASE.search(line):
            phase = m.group(1)
            stats[current]["phases"][phase] = {"seconds": float(m.group(2))}
        elif (m := COUNTS.search(line)) and phase is not None:
            passing, failing, invalid = map(int, m.groups())
            stats[current]["phases"][phase].update(
                passing=passing, failing=failing, invalid=invalid
            )
        elif m := STOPPED.search(line):
            stats[current]["stopped_because"] = m.group(1)
    return stats


def outcomes(junit: Path) -> dict[str, dict]:
    """``{test id: {"outcome": ..., "message": ...}}`` from a JUnit XML report."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        test_id = f"{path}::{case.get('name')}"
        outcome, message = "passed", None
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (node.text or node.get("message") or "")[-4000:]
        result[test_id] = {"outcome": outcome, "message": message}
    return result


def run_file(path: Path, profile: str, timeout: int) -> dict[str, dict]:
    env = dict(os.environ, HYPOTHESIS_PROFILE=profile)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-show-statistics",
            f"--junitxml={junit}",
            str(path.relative_to(REPO)),
        ]
        start = time.perf_counter()
        proc = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
        seconds = time.perf_counter() - start
        stats = parse_statistics(proc.stdout)
        results = outcomes(junit) if junit.exists() else {}
    targets = {}
    for test_id in sorted(set(stats) | set(results)):
        phases = stats.get(test_id, {}).get("phases", {})
        generated = sum(p.get("passing", 0) + p.get("failing", 0) for p in phases.values())
        targets[test_id] = {
            "examples": generated,
            "generate_phase": phases.get("generate", {}),
            "failing_examples": sum(p.get("failing", 0) for p in phases.values()),
            "stopped_because": stats.get(test_id, {}).get("stopped_because"),
            **results.get(test_id, {"outcome": "unknown", "message": proc.stdout[-2000:]}),
        }
    print(f"{path.relative_to(REPO)}: pytest exit {proc.returncode} in {seconds:.0f} s")
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="fuzz test files (default: all)")
    parser.add_argument("--profile", default="fuzz", help="Hypothesis profile (default: fuzz)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per file")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fuzz.json")
    args = parser.parse_args()
    files = [f.resolve() for f in args.files] or sorted((REPO / "tests").rglob("test_fuzz_*.py"))
    targets = {}
    if args.files and args.out.exists():  # a rerun of some files updates their targets only
        previous = json.loads(args.out.read_text())
        if previous.get("profile") == args.profile:
            rerun = {str(f.relative_to(REPO)) for f in files}
            targets = {
                k: v for k, v in previous["targets"].items() if k.split("::")[0] not in rerun
            }
            files = sorted({*files, *(REPO / f for f in previous["files"])})
    for path in files:
        if not args.files or path in {f.resolve() for f in args.files}:
            targets.update(run_file(path, args.profile, args.timeout))
    for test_id, t in targets.items():
        print(f"  {t['outcome']:7} {t['examples']:6} examples  {test_id}")
    failed = [k for k, t in targets.items() if t["outcome"] != "passed"]
    _files.write_json(
        args.out,
        {
            "profile": args.profile,
            "python": sys.version.split()[0],
            "files": [str(f.relative_to(REPO)) for f in files],
            "targets": targets,
            "failed": failed,
        },
    )
    print(f"{len(targets)} targets, {len(failed)} not passed; written to {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
