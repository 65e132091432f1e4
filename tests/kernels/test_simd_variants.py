"""The SIMD variants of the LSTM's micro-kernels (``_ext/_lstm_simd.h``), one by one.

Every variant the build holds (``avx512``, ``avx2``, and ``generic``: the BLAS and scalar
loops) is selected in turn with :func:`rnnkit.kernels._ext.select_isa` and checked against the
reference loop (:func:`rnnkit.functional.lstm`): outputs and gradients of the training loop
and the inference loop's outputs, for H that fills whole vector blocks (16, 32) and H that
leaves a partial, masked block (5, 13, 24, 40), with row counts that hit every row tile (1 to
7, and 40 over two threads). A variant this CPU cannot run is SKIPPED, naming the feature it
lacks (the AVX-512 ones on an AVX2 machine); it is still compiled by every x86 build.

Oracle: the reference loop in torch ops, to 1e-5; and the variants against each other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from kernel_helpers import ATOL, RTOL

from rnnkit import functional as F
from rnnkit.kernels import _ext
from rnnkit.kernels.lstm import lstm_lookup

VARIANTS = list(_ext.ISAS)  # avx512, avx2, generic


def _ops():
    if os.environ.get(_ext.ENV) == "0":
        pytest.skip(f"{_ext.ENV}=0: the compiled loops are switched off")
    ops = _ext.load()
    assert ops is not None, f"the C++ extension did not build: {_ext._error}"
    return ops


@pytest.fixture
def variant(request, monkeypatch):
    """Select ``request.param`` for the test (skip where the CPU cannot run it); afterwards
    the cap goes back to what RNNKIT_ISA said."""
    _ops()
    monkeypatch.setattr(_ext, "enabled", True)
    missing = _ext.isa_missing(request.param)
    if missing:
        pytest.skip(f"the {request.param} variant cannot run here: this CPU lacks {missing}")
    active = _ext.select_isa(request.param)
    yield active
    _ext.select_isa(_ext._isa_setting())


def lookup_args(N, T, H, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = 7
    table = torch.randn(U, 4 * H, generator=g) * 0.8
    where = torch.randint(0, U, (N, T), generator=g)
    h0 = torch.randn(N, H, generator=g) * 0.5
    c0 = torch.randn(N, H, generator=g) * 0.5
    W_h = torch.randn(H, 4 * H, generator=g) * (1.5 / H**0.5)
    return table, where, h0, c0, W_h


def reference(table, where, h0, c0, W_h, **kwargs):
    """The reference loop on x = table[where], W_x = I: z = table[where] + h_prev @ W_h."""
    eye = torch.eye(table.shape[1], dtype=table.dtype)
    return F.lstm(table[where], h0, c0, eye, W_h, None, **kwargs)


def outputs_and_grads(fn, args, upstream):
    table, where, h0, c0, W_h = args
    leaves = [t.detach().clone().requires_grad_() for t in (table, h0, c0, W_h)]
    y, (h_T, c_T) = fn(leaves[0], where, leaves[1], leaves[2], leaves[3])
    outputs = [y, h_T, c_T]
    loss = sum((o * u).sum() for o, u in zip(outputs, upstream))
    return [o.detach() for o in outputs], list(torch.autograd.grad(loss, leaves))


def run_all(args):
    """The kernel's training outputs and gradients, and its inference outputs."""
    N, T = args[1].shape
    H = args[4].shape[0]
    g = torch.Generator().manual_seed(1)
    upstream = [torch.randn(N, T, H, generator=g), torch.randn(N, H, generator=g)]
    upstream.append(torch.randn(N, H, generator=g))
    outs, grads = outputs_and_grads(lstm_lookup, args, upstream)
    with torch.no_grad():
        y, (h_T, c_T) = lstm_lookup(*args)
    return outs, grads, [y, h_T, c_T], upstream


def assert_close_all(names, got, want):
    for name, k, r in zip(names, got, want):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("variant", VARIANTS, indirect=True)
@pytest.mark.parametrize("H", [5, 13, 16, 24, 32, 40])
@pytest.mark.parametrize("N", [1, 2, 3, 4, 7])
def test_1_variant_matches_reference(variant, H, N):
    """1. Each variant the CPU runs: outputs and gradients of the training loop, and the
    inference loop's outputs, equal the reference loop (whole and partial unit blocks, every
    row tile)."""
    assert _ext.isa() == variant
    args = lookup_args(N, 6, H, seed=H * 100 + N)
    outs, grads, infer_outs, upstream = run_all(args)
    out_r, grads_r = outputs_and_grads(reference, args, upstream)
    assert_close_all(["y", "h_T", "c_T"], outs, out_r)
    assert_close_all(["dtable", "dh0", "dc0", "dW_h"], grads, grads_r)
    assert_close_all(["infer y", "infer h_T", "infer c_T"], infer_outs, out_r)


@pytest.mark.parametrize("variant", VARIANTS, indirect=True)
def test_2_variant_matches_reference_over_two_threads(variant, two_threads):
    """2. 40 rows dealt to two threads (each its own rows, tiles and z scratch), H = 24."""
    args = lookup_args(40, 5, 24, seed=7)
    outs, grads, infer_outs, upstream = run_all(args)
    out_r, grads_r = outputs_and_grads(reference, args, upstream)
    assert_close_all(["y", "h_T", "c_T"], outs, out_r)
    assert_close_all(["dtable", "dh0", "dc0", "dW_h"], grads, grads_r)
    assert_close_all(["infer y", "infer h_T", "infer c_T"], infer_outs, out_r)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "generic"], indirect=True)
def test_3_simd_variant_runs_the_fused_step_for_any_H(variant):
    """3. A SIMD variant serves every float32 H, a partial last block included (the AVX2
    kernel of before served only H a multiple of 8), and no float64."""
    ops = _ops()
    for H in (1, 5, 13, 128):
        assert ops.lstm_fused(torch.zeros(H, 4 * H)), H
    assert not ops.lstm_fused(torch.zeros(8, 32, dtype=torch.float64))


def test_4_forcing_a_lower_variant_gives_equal_results(monkeypatch):
    """4. select_isa: every variant the CPU runs gives the same outputs and gradients as the
    best one (to float rounding), and ``generic`` switches the fused step off."""
    ops = _ops()
    monkeypatch.setattr(_ext, "enabled", True)
    runnable = [v for v in VARIANTS if not _ext.isa_missing(v)]
    assert "generic" in runnable
    args = lookup_args(5, 7, 24, seed=3)
    results = {}
    try:
        for v in runnable:
            assert _ext.select_isa(v) == v
            assert _ext.isa() == v
            assert ops.lstm_fused(args[4]) == (v != "generic")
            results[v] = run_all(args)[:3]
    finally:
        _ext.select_isa(_ext._isa_setting())
    best = results[runnable[0]]
    for v in runnable[1:]:
        for got, want in zip(results[v], best):
            assert_close_all([f"{v} vs {runnable[0]}"] * len(got), got, want)


def test_5_select_isa_caps_at_what_the_cpu_has():
    """5. Asking for a variant the CPU lacks gives the best one it has; 'auto' the best."""
    _ops()
    try:
        best = _ext.select_isa("auto")
        assert best == next(v for v in VARIANTS if not _ext.isa_missing(v))
        assert _ext.select_isa("avx512") == best
        assert _ext.select_isa("avx2") == ("generic" if _ext.isa_missing("avx2") else "avx2")
    finally:
        _ext.select_isa(_ext._isa_setting())


def test_6_missing_feature_is_named():
    """6. isa_missing names the first feature the CPU lacks, from /proc/cpuinfo's flags."""
    _ops()
    assert _ext.isa_missing("generic") == ""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to read the CPU's flags from")
    flags = set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    wanted = {
        "avx2": ["avx2", "fma"],
        "avx512": ["avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"],
    }
    for v, features in wanted.items():
        lacking = [f for f in features if f not in flags]
        assert _ext.isa_missing(v) == (lacking[0] if lacking else ""), v


def test_7_bad_names_are_refused(monkeypatch):
    """7. A bad variant name: select_isa, isa_missing and RNNKIT_ISA say what they expected."""
    with pytest.raises(ValueError, match="select_isa: `name` expected one of 'auto', 'avx512', "):
        _ext.select_isa("sse")
    with pytest.raises(ValueError, match="isa_missing: `name` expected one of 'avx512', 'avx2'"):
        _ext.isa_missing("auto")
    monkeypatch.setenv(_ext.ISA_ENV, "neon")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "rnnkit: `RNNKIT_ISA` expected one of 'auto', 'avx512', 'avx2', 'generic', "
            "received 'neon'."
        ),
    ):
        _ext._isa_setting()
    ops = _ops()
    with pytest.raises(RuntimeError, match="rnnkit_ext: `isa` expected one of 'auto'"):
        ops.simd_select("neon")


def test_8_rnnkit_isa_in_the_environment_caps_the_variant():
    """8. RNNKIT_ISA=generic at start: a new process runs the generic loops and says so."""
    _ops()
    code = textwrap.dedent(
        """
        from rnnkit.kernels import _ext
        import torch
        print(_ext.isa(), _ext.load().lstm_fused(torch.zeros(8, 32)))
        """
    )
    env = dict(os.environ, RNNKIT_ISA="generic", RNNKIT_HOME=str(_ext.HOME))
    env["PYTHONPATH"] = str(Path(_ext.__file__).resolve().parents[3])
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["generic", "False"]


def test_9_isa_is_public_through_rnnkit_kernels_build():
    """9. Code outside rnnkit.kernels (``rnnkit bench``) reads the variant from the build
    module, one of the three names."""
    from rnnkit.kernels.build import isa

    assert isa() == _ext.isa()
    assert isa() in _ext.ISAS
