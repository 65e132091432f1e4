"""Build the kernels' compiled step loops ahead of time: ``python -m rnnkit.kernels.build``.

For set-up scripts, CI and container images: builds the C++ step loops for this Python, torch
install, compiler and CPU now (or finds them already built) and prints where, so that no later
process spends the build time on its first LSTM or GRU step. Exits 1, saying why, where they
cannot be built. See :mod:`rnnkit.kernels._ext` for the build folder and its key.

:func:`isa` (from :mod:`._ext`) is here for code outside rnnkit.kernels (``rnnkit bench``): the
SIMD variant the LSTM's compiled loops run, ``'avx512'``, ``'avx2'`` or ``'generic'``.
"""

from __future__ import annotations

import sys

from . import _ext
from ._ext import isa

__all__ = ["isa", "main"]


def main() -> int:
    try:
        directory = _ext.build()
    except _ext.ExtensionUnavailableError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"rnnkit: the compiled step loops are ready in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
