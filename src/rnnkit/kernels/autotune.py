"""Runtime autotuning: for a layer's call signature class, time the paths that compute the same
thing, keep the fastest, remember the decision in memory and on disk.

Used by :mod:`rnnkit.kernels.dispatch` for ``impl='auto'`` (an explicit ``impl=`` always wins;
``RNNKIT_AUTOTUNE=0`` restores the fixed rules). The caller names the candidates: for an LSTM
fed token ids by an Embedding, rnnkit's lookup kernel or PyTorch's fused operator on the
embedded sequence; for a layer fed vectors, rnnkit's kernel or PyTorch's fused operator.

Exactness: only paths that compute the same function of the same inputs are candidates (the
same equations, gates and initial states; outputs equal to float rounding, the differences
the fixed rules already accept between the fused operator and rnnkit's kernels). A path that
cannot serve the call (a mask, recurrent dropout, an activation PyTorch lacks) is never one.
Autotuning changes speed, never which function is computed. The one exception is asked for by
the layer: ``precision='bf16'`` allows bfloat16 GEMMs, and on bf16 hardware the bf16 path is
timed beside the float32 ones (class dtype ``float32+bf16``; :mod:`rnnkit.kernels.dispatch`).

The signature class (:class:`Key`): cell, training or inference, batch and length rounded down
to powers of two, hidden size, the input (its width; for token ids ``ids:D/repR``, R how often
each distinct id of the batch recurs, rounded down to a power of two: the lookup's saving,
about 4 on IMDb reviews and 1 on uniform random ids; ``+table`` when predict holds a
vocabulary table), threads and dtype. The first call of a class times
every candidate on the call's own shapes (copies of the weights, the call's inputs; the
caller makes the closures): one warm-up round that is not counted (first-call costs; a
candidate far slower than the fastest there is out, :data:`DROP_FACTOR`), then timed rounds,
candidates alternated, until :data:`BUDGET_S` is spent (at least one, at most
:data:`MAX_ROUNDS`); the candidate with the smallest time (its best round) wins. The cost is paid once per
class and process, and once per machine thanks to the disk cache: a JSON file under
``$RNNKIT_HOME/autotune/`` (``~/.cache/rnnkit`` by default) named by the CPU model
(``/proc/cpuinfo``) and torch version, written atomically; a file that cannot be read or
parsed is ignored with a warning (and replaced by the next decision).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import _files
from .._cpu import cpu_info

ENV = "RNNKIT_AUTOTUNE"
"""``RNNKIT_AUTOTUNE=0`` switches autotuning off (the fixed rules of dispatch choose)."""

BUDGET_S = 0.3
"""Seconds of timed rounds per signature class (the warm-up round and one timed round always
run: a class whose candidates take longer than this costs about twice their sum, once)."""

MAX_ROUNDS = 5
"""Most timed rounds per signature class."""

DROP_FACTOR, DROP_S = 4.0, 0.05
"""A candidate whose warm-up call took over DROP_FACTOR times the fastest warm-up, and over
DROP_S seconds, is not timed further: it cannot win, and timing it would cost the most."""

FORMAT = 1
"""Version of the disk cache's layout; a file of another version is ignored."""


def enabled() -> bool:
    """Whether autotuning is on: ``$RNNKIT_AUTOTUNE`` is not ``0`` (read at every call)."""
    return os.environ.get(ENV, "1").strip() != "0"


def bucket(n: int) -> int:
    """``n`` rounded down to a power of two (0 stays 0): the classes of batch and length."""
    return 0 if n <= 0 else 1 << (int(n).bit_length() - 1)


@dataclass(frozen=True)
class Key:
    """A call signature class (see the module's docstring)."""

    cell: str
    mode: str  # 'train' (gradients on) or 'infer'
    batch: int  # bucket(N)
    length: int  # bucket(T)
    hidden: int
    input: str  # 'D': vectors of width D; 'ids:D/repR': token ids (+table: vocabulary table)
    threads: int
    dtype: str

    @classmethod
    def of(cls, cell: str, N: int, T: int, hidden: int, input: str, dtype: torch.dtype) -> Key:
        """The class of a call now (gradient mode and thread count read from torch)."""
        return cls(
            cell=cell,
            mode="train" if torch.is_grad_enabled() else "infer",
            batch=bucket(N),
            length=bucket(T),
            hidden=int(hidden),
            input=input,
            threads=torch.get_num_threads(),
            dtype=str(dtype).removeprefix("torch."),
        )

    def __str__(self) -> str:
        return (
            f"{self.cell} {self.mode} N~{self.batch} T~{self.length} H{self.hidden} "
            f"in:{self.input} thr{self.threads} {self.dtype}"
        )


def default_path() -> Path:
    """The disk cache of this machine: ``$RNNKIT_HOME/autotune/<cpu>-torch<version>.json``."""
    home = Path(os.environ.get("RNNKIT_HOME") or "~/.cache/rnnkit").expanduser()
    cpu = re.sub(r"[^A-Za-z0-9.]+", "-", cpu_info()["model"]).strip("-")[:80] or "cpu"
    version = re.sub(r"[^A-Za-z0-9.]+", "-", torch.__version__)
    return home / "autotune" / f"{cpu}-torch{version}.json"


class Tuner:
    """Decisions per signature class, in memory and in the file ``path`` (None: memory only).

    ``clock`` (seconds, like :func:`time.perf_counter`) times the candidates: tests pass a
    fake one to make a given candidate win.
    """

    def __init__(
        self,
        path: Path | None = None,
        clock: Callable[[], float] = time.perf_counter,
        budget_s: float = BUDGET_S,
        max_rounds: int = MAX_ROUNDS,
    ):
        self.path = Path(path) if path is not None else None
        self.clock = clock
        self.budget_s = budget_s
        self.max_rounds = max_rounds
        self.decisions: dict[str, dict] = {}  # str(key) -> {"choice", "times_ms", "key"}
        self.used: set[str] = set()  # the classes this process asked about
        self.generation = 0  # bumped when decisions are forgotten (callers' memos go stale)
        self._loaded = False
        self._lock = threading.RLock()

    # -- the decision --------------------------------------------------------------------------
    def choose(self, key: Key, candidates: dict[str, Callable[[], object]]) -> str:
        """The fastest of ``candidates`` (name -> a call running that path on the call's
        shapes) for ``key``: remembered, else read from disk, else measured now and saved."""
        if len(candidates) == 1:
            return next(iter(candidates))
        name = str(key)
        with self._lock:
            self._load()
            self.used.add(name)
            known = self.decisions.get(name)
            if known is not None and known.get("choice") in candidates:
                return known["choice"]
            times = self.measure(candidates)
            choice = min(times, key=times.get)
            self.decisions[name] = {
                "key": asdict(key),
                "choice": choice,
                "times_ms": {k: round(v * 1e3, 4) for k, v in times.items()},
            }
            self._save()
            return choice

    def measure(self, candidates: dict[str, Callable[[], object]]) -> dict[str, float]:
        """Best time of each candidate (seconds). A warm-up round (first-call costs); a
        candidate whose warm-up took over :data:`DROP_FACTOR` times the fastest one's (and over
        :data:`DROP_S`) is out, its warm-up its time; the others run timed rounds, alternated,
        until the budget is spent (at least one, at most max_rounds)."""
        warm = {}
        for cand, fn in candidates.items():
            t0 = self.clock()
            fn()
            warm[cand] = self.clock() - t0
        fastest = min(warm.values())
        live = [c for c in candidates if warm[c] <= max(DROP_FACTOR * fastest, DROP_S)]
        best = {c: (float("inf") if c in live else warm[c]) for c in candidates}
        if len(live) == 1:
            best[live[0]] = warm[live[0]]
            return best
        start = self.clock()
        for _ in range(self.max_rounds):
            for cand in live:
                t0 = self.clock()
                candidates[cand]()
                best[cand] = min(best[cand], self.clock() - t0)
            if self.clock() - start >= self.budget_s:
                break
        return best

    def report(self) -> list[dict]:
        """The decisions this process used (measured now or read from disk): ``key``
        (text), ``choice``, ``times_ms`` (as measured, maybe by an earlier process)."""
        with self._lock:
            return [
                {"key": name, "choice": d["choice"], "times_ms": d.get("times_ms", {})}
                for name, d in sorted(self.decisions.items())
                if name in self.used
            ]

    def clear(self) -> None:
        """Forget the decisions in memory (the file stays)."""
        with self._lock:
            self.decisions.clear()
            self.used.clear()
            self._loaded = False
            self.generation += 1

    # -- the disk cache ------------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not an autotune cache of format {FORMAT}")
            decisions = data["decisions"]
            if not isinstance(decisions, dict) or not all(
                isinstance(d, dict) and isinstance(d.get("choice"), str) for d in decisions.values()
            ):
                raise ValueError("malformed decisions")
        except (OSError, ValueError, KeyError, TypeError) as e:
            warnings.warn(
                f"rnnkit autotune: ignoring the unreadable cache {str(self.path)!r} ({e}); "
                "decisions will be measured again.",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        for name, d in decisions.items():
            self.decisions.setdefault(name, d)

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": FORMAT,
            "cpu": cpu_info()["model"],
            "torch": torch.__version__,
            "decisions": self.decisions,
        }
        try:
            _files.write_json(self.path, data)
        except OSError as e:  # a read-only home: keep the decisions in memory
            warnings.warn(
                f"rnnkit autotune: could not write {str(self.path)!r} ({e}).",
                RuntimeWarning,
                stacklevel=4,
            )


_tuner: Tuner | None = None
_tuner_lock = threading.Lock()


def tuner() -> Tuner:
    """The process's tuner, its file under ``$RNNKIT_HOME`` (read when first needed)."""
    global _tuner
    with _tuner_lock:
        if _tuner is None:
            _tuner = Tuner(default_path())
        return _tuner


def set_tuner(new: Tuner | None) -> Tuner | None:
    """Replace the process's tuner (None: a fresh one on next use); returns the old one."""
    global _tuner
    with _tuner_lock:
        old, _tuner = _tuner, new
        return old
