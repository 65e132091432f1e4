"""The parent of ``rnnkit bench``: starts one process per (round, threads, peer), collects
their results, prints the table with ratios and writes the JSON report.

Method. One round runs every (threads, peer) once, peers alternated innermost (A B C, A B C,
...) so that a busy machine slows all peers of a row alike; the reported time is the median
over the rounds. Each peer runs in its own process (:mod:`rnnkit.bench.seed`), so allocator
state, thread pools, autotuning and compiled graphs never carry over from another peer.
Ratios are peer time / rnnkit time: above 1 rnnkit is faster.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from .._cpu import BF16_EXTENSIONS, cpu_info, describe
from . import _proc as P
from . import seed

PEERS = ("rnnkit", "torch", "torch-tuned")
PEER_TITLES = {"rnnkit": "rnnkit", "torch": "PyTorch default", "torch-tuned": "PyTorch tuned"}
MODES = (
    ("train", "training step, batch 64"),
    ("infer64", "inference, batch 64"),
    ("infer1", "inference, batch 1"),
)


@dataclasses.dataclass
class Settings:
    """What one ``rnnkit bench`` run measures (the command's options; see its ``--help``)."""

    threads: tuple[int, ...] = (1, 2)
    seq_len: int = 200
    repeats: int = 3
    steps: int = 20
    chunks: int = 2
    infer_seconds: float = 0.5
    tokens: str = "imdb"
    data_dir: str | None = None
    peers: tuple[str, ...] = PEERS
    timeout: float = 1800.0
    impl: str = "auto"
    precision: str = "float32"  # rnnkit's LSTM: 'float32' or 'bf16' (the PyTorch peers: float32)


def quick(**overrides) -> Settings:
    """Settings of a seconds-long smoke run: T=32, one thread count, one round, 2 steps."""
    values = (
        dict(threads=(1,), seq_len=32, repeats=1, steps=2, chunks=1, infer_seconds=0.02) | overrides
    )
    return Settings(**values)


def machine() -> dict:
    """The CPU (name, vector extensions), cores, Python, torch, date and load average."""
    import torch

    info = cpu_info()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "cpu": info["model"],
        "cpu_extensions": info["extensions"],
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_at_start": load,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def child_spec(peer: str, threads: int, settings: Settings, tokens: Path) -> tuple[dict, dict]:
    """The spec and environment of the process measuring ``peer`` at ``threads``."""
    spec = {
        "T": settings.seq_len,
        "threads": threads,
        "steps": settings.steps,
        "chunks": settings.chunks,
        "infer_seconds": settings.infer_seconds,
        "tokens": str(tokens),
    }
    if peer == "rnnkit":
        spec.update(kind="rnnkit", impl=settings.impl, precision=settings.precision)
        return spec, P.child_env(threads)
    tuned = peer == "torch-tuned"
    spec.update(kind="torch", tuned=tuned)
    return spec, P.child_env(threads, tuned_malloc=tuned)


def run(settings: Settings, say=print) -> dict:
    """Measure, print the tables through ``say`` and return the report (see :func:`report`)."""
    peers = ["rnnkit", *(p for p in settings.peers if p != "rnnkit")]  # rnnkit: the reference
    info = machine()
    say(
        f"rnnkit bench: the seed model, Embedding({seed.VOCAB},{seed.EMBED}) -> "
        f"LSTM({seed.UNITS}) -> Dense(1, sigmoid), batch {seed.BATCH}, T={settings.seq_len}"
    )
    say(
        f"CPU: {describe(cpu_info())}, {info['logical_cpus']} logical CPUs; torch "
        f"{info['torch']}; load average at start {_load(info)}"
    )
    if settings.precision == "bf16":
        say(f"rnnkit: {bf16_note(info['cpu_extensions'])}; the PyTorch peers: float32")
    runs: dict[tuple, list] = {}
    errors = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnnkit_bench_") as tmp:
        paths, source = seed.write_tokens(
            settings.tokens,
            settings.steps * seed.BATCH,
            [settings.seq_len],
            Path(tmp),
            settings.data_dir,
        )
        say(f"tokens: {source}")
        say(
            f"threads {list(settings.threads)}; {settings.repeats} round(s); "
            f"{settings.steps} steps x {settings.chunks} timed epoch(s) per process; "
            "each peer in its own process"
        )
        for rnd in range(settings.repeats):
            for threads in settings.threads:
                for peer in peers:
                    spec, env = child_spec(peer, threads, settings, paths[settings.seq_len])
                    tag = f"[round {rnd + 1}/{settings.repeats}] {peer:<11} threads={threads}"
                    t0 = time.perf_counter()
                    try:
                        res = P.run_child(seed.child_argv(spec), env, settings.timeout, tag)
                    except P.ChildError as e:
                        say(f"{tag} ... FAILED\n    " + str(e).replace("\n", "\n    "))
                        errors.append(
                            {"peer": peer, "threads": threads, "round": rnd, "error": str(e)}
                        )
                        continue
                    runs.setdefault((peer, threads), []).append(res)
                    say(
                        f"{tag} ... train {P.fmt_ms(res['train_s'])} ms, infer64 "
                        f"{P.fmt_ms(res['infer64_s'])} ms, infer1 {P.fmt_ms(res['infer1_s'])} ms"
                        f" ({time.perf_counter() - t0:.0f} s)"
                    )
    data = report(settings, peers, runs, errors, info, source)
    data["wall_s"] = time.perf_counter() - started
    say("")
    say(format_report(data))
    return data


def bf16_note(extensions) -> str:
    """What rnnkit's bf16 row means on a CPU with these ``extensions``."""
    found = [e for e in BF16_EXTENSIONS if e in extensions]
    if found:
        return f"LSTM GEMMs in bfloat16 (precision='bf16'), in hardware: {' '.join(found)}"
    return (
        "LSTM GEMMs in bfloat16 (precision='bf16'), emulated: no avx512_bf16/amx on this CPU "
        "(float32 GEMMs on rounded operands: bf16's numbers, not a bf16 speed)"
    )


def _load(info) -> str:
    load = info.get("load_average_at_start")
    return " ".join(f"{v:.2f}" for v in load) if load else "?"


def report(settings: Settings, peers, runs, errors, info, source) -> dict:
    """The JSON report: ``machine``, ``settings``, ``results`` (one entry per peer, mode and
    thread count: median ms and every round's), ``ratios`` (peer / rnnkit per mode and thread
    count), ``autotune`` (the paths rnnkit's autotuner chose, per thread count) and
    ``errors``."""
    results = []
    for (peer, threads), rs in runs.items():
        for mode, _ in MODES:
            s = P.median([r[f"{mode}_s"] for r in rs])
            results.append(
                {
                    "peer": peer,
                    "mode": mode,
                    "threads": threads,
                    "batch": 1 if mode == "infer1" else seed.BATCH,
                    "ms": s * 1e3 if s else None,
                    "ms_rounds": [r[f"{mode}_s"] * 1e3 for r in rs],
                    "max_rss_mib": max(r.get("max_rss_mib", 0) for r in rs),
                }
            )
    index = {(r["peer"], r["mode"], r["threads"]): r["ms"] for r in results}
    ratios = {}
    for (peer, mode, threads), ms in index.items():
        base = index.get(("rnnkit", mode, threads))
        if peer != "rnnkit" and ms and base:
            ratios[f"{peer}/{mode}/thr{threads}"] = ms / base
    autotune = {
        str(threads): rs[-1].get("autotune")
        for (peer, threads), rs in runs.items()
        if peer == "rnnkit"
    }
    return {
        "benchmark": "rnnkit bench",
        "machine": info,
        "settings": dataclasses.asdict(settings)
        | {
            "model": f"Embedding({seed.VOCAB},{seed.EMBED}) -> LSTM({seed.UNITS}) -> "
            "Dense(1, sigmoid)",
            "batch": seed.BATCH,
            "optimizer": f"Adam(lr={seed.LR})",
            "token_source": source,
            "peers": list(peers),
        },
        "results": results,
        "ratios": ratios,
        "autotune": autotune,
        "errors": errors,
    }


def format_report(data: dict) -> str:
    """The tables of a report: ms per peer, ratios, the paths autotuning chose."""
    settings = data["settings"]
    peers = settings["peers"]
    others = [p for p in peers if p != "rnnkit"]
    index = {(r["peer"], r["mode"], r["threads"]): r["ms"] for r in data["results"]}
    bf16 = settings.get("precision") == "bf16"
    titles = PEER_TITLES | ({"rnnkit": "rnnkit bf16"} if bf16 else {})
    rows = []
    for mode, title in MODES:
        for threads in settings["threads"]:
            row = [title, threads]
            row += [_ms(index.get((p, mode, threads))) for p in peers]
            row += [
                P.fmt_ratio(index.get((p, mode, threads)), index.get(("rnnkit", mode, threads)))
                for p in others
            ]
            rows.append(row)
    headers = [
        f"ms, T={settings['seq_len']}, median of {settings['repeats']}",
        "threads",
        *(titles[p] for p in peers),
        *(f"{titles[p]} / {titles['rnnkit']}" for p in others),
    ]
    lines = [P.table(headers, rows)]
    if others:
        lines.append("(peer / rnnkit above 1: rnnkit is faster)")
    if bf16:
        lines.append("rnnkit bf16: " + bf16_note(data["machine"].get("cpu_extensions", [])))
    for threads, decisions in data["autotune"].items():
        lines.append(f"autotuning at {threads} thread(s): {_describe_autotune(decisions)}")
    if data["errors"]:
        lines.append(f"{len(data['errors'])} process(es) failed; see 'errors' in the JSON.")
    return "\n".join(lines)


def _ms(ms) -> str:
    if ms is None:
        return "-"
    return f"{ms:.{1 if ms >= 10 else 2}f}"


def _describe_autotune(decisions) -> str:
    if decisions is None:
        return "not reported"
    if not decisions.get("enabled"):
        return "off (RNNKIT_AUTOTUNE=0): the fixed rules chose"
    if not decisions.get("decisions"):
        return "no decision made (explicit impl=, or a single candidate)"
    parts = []
    for d in decisions["decisions"]:
        times = ", ".join(f"{k} {v:.2f} ms" for k, v in d.get("times_ms", {}).items())
        parts.append(f"\n  {d['key']} -> {d['choice']}" + (f" ({times})" if times else ""))
    return "".join(parts)


if __name__ == "__main__":  # pragma: no cover - the command is `rnnkit bench`
    sys.exit("run `rnnkit bench`")
