"""The compiled step loops of rnnkit's kernels: C++ sources in this folder, built on first use.

:func:`load` returns the op namespace (the LSTM's forward, backward and inference loops and
its gradient ops, the GRU's loops: see the ``TORCH_LIBRARY_FRAGMENT`` at the end of each
``.cpp``) or None, in which case the kernels run their Python loops, which compute the same
thing more slowly; :func:`loops_for` says which a call gets.

Build and cache
    The first call compiles the ``.cpp`` files here with ``torch.utils.cpp_extension.load``
    (a C++ compiler and ``ninja``, which rnnkit depends on) into
    ``$RNNKIT_HOME/extensions/<torch, Python, CPU tag>/`` (``RNNKIT_HOME`` defaults to
    ``~/.cache/rnnkit``; read when rnnkit.kernels is imported). Building takes 15-30 s (two files
    compiled in parallel with g++ 12 on 2 cores) and happens once per machine: later processes
    load the cached library (0.1 s), and torch rebuilds it when a source or flag changes (the
    flags carry a hash of every file here). Needs a C++20 compiler (g++ >= 10).
Switch
    ``RNNKIT_CPP`` in the environment: ``auto`` (default) uses the compiled loops and, where
    they cannot be built, warns once and falls back to the Python loops; ``0`` always uses the
    Python loops; ``1`` requires the compiled loops and raises where they cannot be built.
    :data:`enabled` set to False at run time has the effect of ``0``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
import time
import warnings
from pathlib import Path

import torch

ENV = "RNNKIT_CPP"
DTYPES = (torch.float32, torch.float64)
"""The dtypes the compiled loops serve (CPU tensors); others run the Python loops."""

SOURCES = ("lstm.cpp", "gru.cpp", "grads.cpp")
HERE = Path(__file__).resolve().parent


def _mode() -> str:
    mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "0", "1"):
        raise ValueError(f"rnnkit: `{ENV}` expected one of 'auto', '0', '1', received {mode!r}.")
    return mode


enabled: bool = _mode() != "0"
"""Whether the kernels may use the compiled loops; False selects the Python loops."""

build_seconds: float | None = None
"""How long this process spent building (or loading from the cache) the extension."""

_lock = threading.Lock()
_ops = None
_error: str | None = None  # why the extension is unavailable, once a build failed


class ExtensionUnavailableError(RuntimeError):
    """``RNNKIT_CPP=1`` and the compiled loops cannot be built."""


def _capability() -> str:
    try:
        return torch.backends.cpu.get_cpu_capability()
    except Exception:  # pragma: no cover - old torch
        return "default"


def _cache_dir() -> Path:
    home = Path(os.environ.get("RNNKIT_HOME") or "~/.cache/rnnkit").expanduser()
    tag = (
        f"torch{torch.__version__.replace('+', '_')}-py{sys.version_info[0]}"
        f"{sys.version_info[1]}-{_capability().lower()}"
    )
    return home / "extensions" / tag


CACHE_DIR: Path = _cache_dir()
"""Where the extension is built and cached: one folder per torch, Python and CPU capability.

Fixed at import, so a process that later points ``RNNKIT_HOME`` elsewhere (as the data set
tests do) still finds the library it built once.
"""


def _flags() -> list[str]:
    digest = hashlib.sha256()
    for path in sorted(HERE.iterdir()):
        if path.suffix in (".cpp", ".h"):
            digest.update(path.name.encode() + path.read_bytes())
    flags = [
        "-O3",
        "-std=c++20",
        "-fopenmp",
        "-fno-math-errno",
        "-fno-trapping-math",
        f"-DRNNKIT_EXT_SOURCES={digest.hexdigest()[:16]}",
    ]
    if _capability() in ("AVX2", "AVX512"):  # what torch itself dispatches to on this CPU
        flags += ["-mavx2", "-mfma"]
    return flags


def _find_tools() -> str | None:
    """Put ninja on PATH if the ``ninja`` package has it; say what is missing, if anything."""
    if shutil.which("ninja") is None:
        try:
            import ninja  # the PyPI package ships the binary

            os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
        except ImportError:
            pass
    if shutil.which("ninja") is None:
        return "ninja was not found (pip install ninja)"
    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        return f"no C++ compiler {compiler!r} was found (install g++ or set CXX)"
    return None


def _build():
    from torch.utils import cpp_extension

    directory = CACHE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    cpp_extension.load(
        name="rnnkit_ext",
        sources=[str(HERE / name) for name in SOURCES],
        extra_cflags=_flags(),
        extra_ldflags=["-fopenmp"],
        build_directory=str(directory),
        is_python_module=False,
        verbose=False,
    )
    return torch.ops.rnnkit_ext


def _build_failure(exc: Exception) -> str:
    """Say why the build failed in a line; keep the compiler's output in a log file."""
    text = f"{type(exc).__name__}: {exc}"
    first = text.splitlines()[0][:200] if text.strip() else type(exc).__name__
    try:
        log = CACHE_DIR / "build-error.log"
        log.write_text(text + "\n")
        return f"the build failed ({first}; the compiler's output is in {log})"
    except OSError:
        return f"the build failed ({first})"


def load():
    """The compiled loops (an op namespace), or None where disabled or unavailable."""
    global _ops, _error, build_seconds
    if not enabled:
        return None
    if _ops is not None:
        return _ops
    if _error is None:
        with _lock:
            if _ops is None and _error is None:
                start = time.perf_counter()
                _error = _find_tools()
                if _error is None:
                    try:
                        _ops = _build()
                    except Exception as exc:  # compiler errors, a broken toolchain...
                        _error = _build_failure(exc)
                build_seconds = time.perf_counter() - start
                if _error is not None and _mode() != "1":
                    warnings.warn(
                        f"rnnkit: the compiled step loops of the LSTM and GRU kernels are unavailable, "
                        f"{_error}. The kernels use their Python loops (same results, slower). "
                        f"Set {ENV}=0 to choose them without this warning.",
                        RuntimeWarning,
                        stacklevel=3,
                    )
    if _error is not None and _mode() == "1":
        raise ExtensionUnavailableError(
            f"rnnkit: {ENV}=1 requires the compiled step loops, but {_error}. Install a C++ "
            f"compiler and ninja, or set {ENV}=auto to fall back to the Python loops."
        )
    return _ops


def loops_for(x: torch.Tensor, grad_hook=None):
    """The compiled loops if they can serve a kernel call on ``x``, else None (Python loops).

    They serve float32 / float64 CPU tensors without a ``grad_hook`` (the hook is called from
    the Python backward loop).
    """
    if grad_hook is not None or x.device.type != "cpu" or x.dtype not in DTYPES:
        return None
    return load()
