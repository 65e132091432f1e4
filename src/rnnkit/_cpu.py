"""The CPU rnnkit runs on, as ``/proc/cpuinfo`` names it, and its vector extensions: named by
``rnnkit bench`` and in the key of the autotuner's cache (:mod:`rnnkit.kernels.autotune`).

Standard library only. :func:`parse_cpuinfo` reads the text (tests feed it samples);
:func:`cpu_info` reads this machine's (empty fields where there is no ``/proc/cpuinfo``).
"""

from __future__ import annotations

import platform
from pathlib import Path

EXTENSIONS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
)
"""The flags that decide which kernels and GEMMs run fast, in the order shown."""

BF16_EXTENSIONS = ("avx512_bf16", "amx_bf16")
"""Either gives bfloat16 GEMMs in hardware (``precision='bf16'``); without both, torch
emulates them (correct, slow)."""


def parse_cpuinfo(text: str) -> dict:
    """``{"model": name, "extensions": [the EXTENSIONS present, in order], "cores": n}`` from
    the text of ``/proc/cpuinfo`` (the first processor's name and flags; ``cores``: the count
    of ``processor`` entries). A missing name is None; missing flags give no extensions."""
    model, flags, cores = None, None, 0
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "processor":
            cores += 1
        elif key == "model name" and model is None:
            model = value.strip() or None
        elif key == "flags" and flags is None:
            flags = set(value.split())
    flags = flags or set()
    return {
        "model": model,
        "extensions": [name for name in EXTENSIONS if name in flags],
        "cores": cores or None,
    }


def cpu_info(path: str = "/proc/cpuinfo") -> dict:
    """:func:`parse_cpuinfo` of this machine; the model falls back to ``platform``'s name."""
    try:
        info = parse_cpuinfo(Path(path).read_text(errors="replace"))
    except OSError:
        info = parse_cpuinfo("")
    info["model"] = info["model"] or platform.processor() or platform.machine() or "unknown CPU"
    return info


def describe(info: dict) -> str:
    """One line: ``AMD EPYC 7B13 (avx2 fma)``, ``... (no AVX2)`` when none is present."""
    extensions = " ".join(info["extensions"]) or "none of " + "/".join(EXTENSIONS[:3])
    return f"{info['model']} ({extensions})"
