"""The tuned runtime rnnkit gives every user without asking, and how to turn each part off.

Measured on a 2-core x86 CPU with the seed model (Embedding(10000,128) -> LSTM(128) -> Dense(1),
batch 64, T=200, one Adam step), see ``benchmarks/``:

* **Allocator.** With glibc's default ``malloc`` every large training buffer is returned to
  the kernel with ``munmap`` and faulted back in on the next step (about a quarter of CPU time
  in the kernel). rnnkit raises glibc's mmap and trim thresholds with ``mallopt`` so those
  buffers stay in the heap and are reused, the effect of ``MALLOC_MMAP_THRESHOLD_`` /
  ``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_TOP_PAD_`` or of preloading tcmalloc.
* **Fused optimizer.** ``torch.optim.Adam(fused=True)`` updates all
  parameters in one pass instead of a handful of element-wise kernels per tensor.

* **Embedding lookups instead of input GEMMs.** An ``Embedding`` feeding an ``LSTM`` makes
  ``x_t @ W_x + b`` a row of ``E @ W_x + b``: rnnkit computes those rows once for the distinct
  tokens of the batch and gathers them (gradients flow back through the gather), then runs its
  own kernel on the projections. Used where rnnkit's compiled step loops are available
  (:mod:`rnnkit.kernels._ext`); otherwise PyTorch's fused LSTM is faster.
* **No compute on padding.** Columns of token ids that are padding in every row of a batch are
  skipped where the result is provably the same (:mod:`rnnkit.models.padding`).
* **Lean predict.** ``predict`` on one small batch of token ids through Embedding -> LSTM ->
  Dense skips the general path's Python around the compiled loop (:mod:`rnnkit.models.lean`:
  the same numbers, bit for bit).

Each is on by default; ``RNNKIT_TUNED_RUNTIME=0`` in the environment turns all of them off,
and :func:`configure` sets each one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from dataclasses import dataclass

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


@dataclass
class Settings:
    malloc: bool = True
    fused_optimizer: bool = True
    trim_padding: bool = True
    embedding_lookup: bool = True
    lean_predict: bool = True


settings = Settings(*(5 * [os.environ.get("RNNKIT_TUNED_RUNTIME", "1") != "0"]))
_malloc_done = False


def configure(
    malloc: bool | None = None,
    fused_optimizer: bool | None = None,
    trim_padding: bool | None = None,
    embedding_lookup: bool | None = None,
    lean_predict: bool | None = None,
) -> Settings:
    """Turn parts of the tuned runtime on or off; returns the settings now in force.

    ``malloc=False`` after the allocator was tuned stops rnnkit from tuning it again, but the
    process keeps what was already set (glibc offers no undo).
    """
    if malloc is not None:
        settings.malloc = bool(malloc)
    if fused_optimizer is not None:
        settings.fused_optimizer = bool(fused_optimizer)
    if trim_padding is not None:
        settings.trim_padding = bool(trim_padding)
    if embedding_lookup is not None:
        settings.embedding_lookup = bool(embedding_lookup)
    if lean_predict is not None:
        settings.lean_predict = bool(lean_predict)
    return settings


def tune_allocator() -> bool:
    """Keep large buffers in glibc's heap between steps. Returns whether it was applied."""
    global _malloc_done
    if _malloc_done or not settings.malloc or not sys.platform.startswith("linux"):
        return _malloc_done
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False
    ok = all(
        [
            mallopt(_M_MMAP_THRESHOLD, 1 << 30),
            mallopt(_M_TRIM_THRESHOLD, 1 << 30),
            mallopt(_M_TOP_PAD, 64 << 20),
        ]
    )
    _malloc_done = bool(ok)
    return _malloc_done


# -- precision of the recurrent layers -----------------------------------------------------------
PRECISIONS = ("float32", "bf16")
"""The precisions of a recurrent layer's GEMMs (``precision=`` of SimpleRNN / LSTM / GRU):
``'float32'``, or ``'bf16'``: the matrix products in bfloat16, the cell state, the gates, the
parameters and their gradients float32 (:mod:`rnnkit.kernels.bf16`)."""

_precision = "float32"


def set_precision(precision: str) -> None:
    """The precision of every SimpleRNN / LSTM / GRU built with ``precision=None`` (the
    default), read at each call: ``'float32'`` (the default) or ``'bf16'``. rnnkit's
    ``keras.mixed_precision.set_global_policy("mixed_bfloat16")``; a layer's own
    ``precision=`` wins over it. Fast where the hardware multiplies bfloat16 (CUDA, CPUs with
    AVX512_BF16 or AMX); elsewhere emulated in float32 GEMMs: bf16's numbers, slower than
    float32 (:mod:`rnnkit.kernels.bf16`).

    >>> import rnnkit
    >>> rnnkit.set_precision("bf16"); rnnkit.get_precision()
    'bf16'
    >>> rnnkit.set_precision("float32")
    """
    global _precision
    if not isinstance(precision, str) or precision not in PRECISIONS:
        received = (
            repr(precision)
            if isinstance(precision, str)
            else (f"{precision!r} ({type(precision).__name__})")
        )
        raise ValueError(
            f"set_precision: `precision` expected one of 'float32', 'bf16', received {received}."
        )
    _precision = precision


def get_precision() -> str:
    """The precision set by :func:`set_precision` (``'float32'`` unless set)."""
    return _precision
