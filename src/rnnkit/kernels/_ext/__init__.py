"""The compiled step loops of rnnkit's kernels: C++ sources in this folder, built on first use.

:func:`load` returns the op namespace (the LSTM's forward, backward and inference loops and
its gradient ops, the GRU's loops: see the ``TORCH_LIBRARY_FRAGMENT`` at the end of each
``.cpp``) or None, in which case the kernels run their Python loops, which compute the same
thing more slowly; :func:`loops_for` says which a call gets.

Build and cache
    The first call compiles the ``.cpp`` files here with ``torch.utils.cpp_extension.load``
    (a C++ compiler and ``ninja``, which rnnkit depends on) into one folder per build,
    ``$RNNKIT_HOME/extensions/torch<version>-py<XY>-<cpu>-<hash>/`` (``RNNKIT_HOME`` defaults to
    ``~/.cache/rnnkit``; read when rnnkit.kernels is imported). The 12-hex hash covers
    everything that makes two builds differ (:func:`build_key`): torch's version and install
    folder, the Python ABI and headers, the machine and CPU capability, the compiler (its path
    and ``--version``), the flags, and a hash of every source file here. So two virtual
    environments, two torch installs or two checkouts never share (and overwrite) one build;
    each folder is built once and kept (rnnkit never deletes one; delete old ones by hand).
    Building takes 15-40 s (five files, compiled in parallel, with g++ 12 on 2 cores) and prints
    one line on stderr, ``rnnkit: building the compiled step loops for this machine ...``;
    later processes load the cached library (0.1 s) silently. Needs a C++20 compiler
    (g++ >= 10).
Concurrency
    Building and loading happen under a lock file in the folder (``build.lock``, an OS lock
    released when its process dies, even if killed): one process builds, the others print
    ``rnnkit: waiting for another process ...``, wait, and load what it built. A build
    finished records itself in ``build.json``; a folder without it is built again.
Ahead of time
    ``python -m rnnkit.kernels.build`` (or :func:`build`) builds now, e.g. in a CI set-up or
    a Docker image, and says where; later processes only load.
SIMD variants
    The LSTM's micro-kernels (``_lstm_simd.h``, written once over a small vector type) are
    compiled for AVX2 + FMA (8 lanes) and for AVX-512 (16 lanes) into every x86 build, each in
    its own file compiled for its instruction set; the loops run the best one the CPU
    supports (:func:`isa` says which: ``'avx512'``, ``'avx2'``, or ``'generic'``, the BLAS and
    scalar loops). ``RNNKIT_ISA`` in the environment (``auto``, ``avx512``, ``avx2``,
    ``generic``; read when the extension loads) caps it, e.g. ``RNNKIT_ISA=avx2`` on an
    AVX-512 machine; :func:`select_isa` does the same at run time. Every variant computes the
    same equations, to float rounding.
Switch
    ``RNNKIT_CPP`` in the environment: ``auto`` (default) uses the compiled loops and, where
    they cannot be built, warns once and falls back to the Python loops; ``0`` always uses the
    Python loops; ``1`` requires the compiled loops and raises where they cannot be built.
    :data:`enabled` set to False at run time has the effect of ``0``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import filelock
import torch

from ... import _files

ENV = "RNNKIT_CPP"
ISA_ENV = "RNNKIT_ISA"
ISAS = ("avx512", "avx2", "generic")
"""The SIMD variants of the LSTM's micro-kernels, best first (see :func:`isa`)."""
DTYPES = (torch.float32, torch.float64)
"""The dtypes the compiled loops serve (CPU tensors); others run the Python loops."""

SOURCES = ("lstm.cpp", "gru.cpp", "grads.cpp", "lstm_simd_avx2.cpp", "lstm_simd_avx512.cpp")
HERE = Path(__file__).resolve().parent


def _isa_setting() -> str:
    isa = os.environ.get(ISA_ENV, "auto").strip().lower() or "auto"
    if isa not in ("auto", *ISAS):
        raise ValueError(
            f"rnnkit: `{ISA_ENV}` expected one of 'auto', 'avx512', 'avx2', 'generic', "
            f"received {isa!r}."
        )
    return isa


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
    """The compiled loops cannot be built, and were required (``RNNKIT_CPP=1``, :func:`build`)."""


def _capability() -> str:
    try:
        return torch.backends.cpu.get_cpu_capability()
    except Exception:  # pragma: no cover - old torch
        return "default"


HOME: Path = Path(os.environ.get("RNNKIT_HOME") or "~/.cache/rnnkit").expanduser()
"""Where builds go (under ``extensions/``): ``$RNNKIT_HOME``, else ``~/.cache/rnnkit``.

Fixed at import, so a process that later points ``RNNKIT_HOME`` elsewhere (as the data set
tests do) still finds the library it built once.
"""

LDFLAGS = ("-fopenmp",)
LOCK_FILE = "build.lock"
"""The lock file in a build folder: held while a process builds or loads from that folder."""
RECORD_FILE = "build.json"
"""Written in a build folder once its build succeeded: the library's name and the build key."""
BUILDING = "rnnkit: building the compiled step loops for this machine (once, about 30 s) in {} ..."
WAITING = "rnnkit: waiting for another process building the compiled step loops in {} ..."


def _compiler() -> tuple[str, str]:
    """The C++ compiler torch's build runs (``$CXX``, else ``c++``): its resolved path and
    ``--version`` output (or why that could not be read)."""
    name = os.environ.get("CXX", "c++")
    found = shutil.which(name)
    if found is None:
        return name, "not found"
    path = os.path.realpath(found)
    try:
        run = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return path, f"--version failed ({type(exc).__name__})"
    return path, run.stdout.strip()


def build_key() -> dict[str, str]:
    """Everything that makes one build of the extension differ from another.

    The build folder's name ends in a hash of this; the folder's ``build.json`` keeps it, so
    ``diff`` of two folders' records says why they are two.
    """
    cxx, cxx_version = _compiler()
    return {
        "torch": torch.__version__,
        "torch_dir": os.path.dirname(os.path.abspath(torch.__file__)),  # headers, libraries
        "python": f"{sys.implementation.cache_tag}{sys.abiflags}",
        "python_include": sysconfig.get_path("include") or "",
        "machine": platform.machine(),
        "cpu": _capability(),
        "cxx": cxx,
        "cxx_version": cxx_version,
        "cflags": " ".join(_flags()),  # carries the hash of every source file here
        "ldflags": " ".join(LDFLAGS),
        "sources": " ".join(SOURCES),
    }


def _cache_dir(key: dict[str, str] | None = None) -> Path:
    """The build folder for ``key`` (this process's :func:`build_key` by default): a readable
    tag (torch, Python, CPU) and a hash of the whole key, e.g.
    ``torch2.13.0_cpu-py311-avx2-3f9c0e12ab45``."""
    key = build_key() if key is None else key
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    tag = (
        f"torch{key['torch'].replace('+', '_')}-py{sys.version_info[0]}"
        f"{sys.version_info[1]}-{key['cpu'].lower()}-{digest}"
    )
    return HOME / "extensions" / tag


CACHE_DIR: Path | None = None
"""This process's build folder once :func:`cache_dir` has worked it out (on the first build)."""


def cache_dir() -> Path:
    """The folder this process builds the extension in, or loads it from (see :func:`_cache_dir`).

    Worked out once per process (it runs the compiler's ``--version``), on first use.
    """
    global CACHE_DIR
    if CACHE_DIR is None:
        CACHE_DIR = _cache_dir()
    return CACHE_DIR


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


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s lock file; say so, once, while another process holds it.

    An OS lock (``flock``): released when the holder exits or is killed, so a build
    interrupted by a kill leaves nothing that blocks the next one.
    """
    lock = filelock.FileLock(directory / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        _say(WAITING.format(directory))
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _built_library(directory: Path) -> Path | None:
    """The library a finished build left in ``directory``, or None if none finished there."""
    try:
        record = json.loads((directory / RECORD_FILE).read_text())
        library = directory / record["library"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return library if library.is_file() else None


def _compile(directory: Path) -> Path:
    """Compile and load the extension in ``directory`` (the caller holds its lock)."""
    from torch.utils import cpp_extension

    library = cpp_extension.load(
        name="rnnkit_ext",
        sources=[str(HERE / name) for name in SOURCES],
        extra_cflags=_flags(),
        extra_ldflags=list(LDFLAGS),  # a copy: torch appends its own to the list
        build_directory=str(directory),
        is_python_module=False,
        verbose=False,
    )
    return Path(library)


def _build():
    """Load the extension from this process's build folder, building it there first if no
    process has (one at a time: see :func:`_build_lock`).

    A finished build is loaded without the lock, so a prebuilt folder that this user cannot
    write to (a container image's, a shared one) serves too.
    """
    directory = cache_dir()
    library = _built_library(directory)
    if library is None:
        directory.mkdir(parents=True, exist_ok=True)
        with _build_lock(directory):
            library = _built_library(directory)  # another process may have built it meanwhile
            if library is None:
                (directory / RECORD_FILE).unlink(missing_ok=True)
                _say(BUILDING.format(directory))
                # torch's own lock file, left behind by a build that was killed: under our
                # lock no other process builds here, and torch would wait for it forever.
                (directory / "lock").unlink(missing_ok=True)
                start = time.perf_counter()
                library = _compile(directory)  # also loads it
                record = {
                    "library": library.name,
                    "seconds": round(time.perf_counter() - start, 1),
                    "key": build_key(),
                }
                _files.write_json(directory / RECORD_FILE, record)
                return torch.ops.rnnkit_ext
    torch.ops.load_library(str(library))
    return torch.ops.rnnkit_ext


def _build_failure(exc: Exception) -> str:
    """Say why the build failed in a line; keep the compiler's output in a log file."""
    text = f"{type(exc).__name__}: {exc}"
    first = text.splitlines()[0][:200] if text.strip() else type(exc).__name__
    try:
        log = cache_dir() / "build-error.log"
        _files.write_text(log, text + "\n")
        return f"the build failed ({first}; the compiler's output is in {log})"
    except OSError:
        return f"the build failed ({first})"


def _attempt() -> bool:
    """Build or load the extension, once per process; True if this call made the attempt."""
    global _ops, _error, build_seconds
    with _lock:
        if _ops is not None or _error is not None:
            return False
        start = time.perf_counter()
        _error = _find_tools()
        if _error is None:
            try:
                ops = _build()
            except Exception as exc:  # compiler errors, a broken toolchain...
                _error = _build_failure(exc)
            else:
                if hasattr(ops, "simd_select"):  # (a stand-in library in tests has no ops)
                    ops.simd_select(_isa_setting())
                _ops = ops
        build_seconds = time.perf_counter() - start
        return True


def build() -> Path:
    """Build the compiled loops now (or load them from the cache) and return their folder.

    For set-up scripts and CI (``python -m rnnkit.kernels.build``), so that no later process
    spends the build time; it builds whatever ``RNNKIT_CPP`` says. Raises
    :class:`ExtensionUnavailableError` saying why, where they cannot be built.
    """
    _attempt()
    if _error is not None:
        raise ExtensionUnavailableError(
            f"rnnkit: the compiled step loops cannot be built: {_error}. Install a C++ "
            f"compiler and ninja, or set {ENV}=0 to use the Python loops."
        )
    return cache_dir()


def load():
    """The compiled loops (an op namespace), or None where disabled or unavailable."""
    if not enabled:
        return None
    if _ops is not None:
        return _ops
    if _error is None and _attempt() and _error is not None and _mode() != "1":
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


def loops_for(x: torch.Tensor):
    """The compiled loops if they can serve a kernel call on ``x``, else None (Python loops).

    They serve float32 / float64 CPU tensors (and the gradient readout, ``grad_hook``, which
    their backward writes into a buffer as the Python loops do).
    """
    if x.device.type != "cpu" or x.dtype not in DTYPES:
        return None
    return load()


def isa() -> str:
    """The SIMD variant the LSTM's compiled loops run: ``'avx512'``, ``'avx2'`` or
    ``'generic'`` (no micro-kernels: the BLAS and the scalar loops; also where the compiled
    loops are disabled or unavailable). The best the CPU supports, capped by ``RNNKIT_ISA``
    or :func:`select_isa`."""
    ops = load()
    return "generic" if ops is None else str(ops.simd_isa())


def select_isa(name: str) -> str:
    """Cap the SIMD variant at ``name`` (``'auto'``, ``'avx512'``, ``'avx2'``, ``'generic'``)
    for the calls that follow in this process, as ``RNNKIT_ISA`` does at start; returns the
    variant now active (a lower one where the CPU lacks ``name``'s features, see
    :func:`isa_missing`)."""
    if name not in ("auto", *ISAS):
        raise ValueError(
            f"select_isa: `name` expected one of 'auto', 'avx512', 'avx2', 'generic', "
            f"received {name!r}."
        )
    ops = load()
    return "generic" if ops is None else str(ops.simd_select(name))


def isa_missing(name: str) -> str:
    """Why variant ``name`` cannot run here: the first CPU feature it needs that this CPU lacks
    (``'avx512f'``, ...), ``'not built'``, ``'compiled loops unavailable'``, or ``''`` where
    it runs."""
    if name not in ISAS:
        raise ValueError(
            f"isa_missing: `name` expected one of 'avx512', 'avx2', 'generic', received {name!r}."
        )
    ops = load()
    if ops is None:
        return "" if name == "generic" else "compiled loops unavailable"
    return str(ops.simd_missing(name))
