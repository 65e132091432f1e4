"""Fixtures of the kernel tests: one thread, and the step loop (compiled or Python) a test runs.

Helpers (sizes, tolerances, random inputs, the comparison with the reference loop) are in
``kernel_helpers.py``.
"""

from __future__ import annotations

import os

import pytest
import torch

from rnnkit.kernels import _ext, _lstm_loops
from rnnkit.kernels import gru as gru_module


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads; on a busy 2-core machine they cost spin-waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def loop(request, monkeypatch):
    """``request.param`` 'python' switches the compiled step loops off; 'compiled' requires
    them (they must build) and fails the test if a Python loop runs instead."""
    if request.param == "compiled":
        if os.environ.get(_ext.ENV) == "0":
            pytest.skip(f"{_ext.ENV}=0: the compiled loops are switched off")
        monkeypatch.setattr(_ext, "enabled", True)
        assert _ext.load() is not None, f"the C++ extension did not build: {_ext._error}"

        def python_loop_called(*args, **kwargs):
            raise AssertionError("the Python loop ran instead of the compiled one")

        for module, names in (
            (_lstm_loops, ("forward", "backward")),
            (gru_module, ("_forward_python", "_backward_python")),
        ):
            for name in names:
                monkeypatch.setattr(module, name, python_loop_called)
    else:
        monkeypatch.setattr(_ext, "enabled", False)
    return request.param
