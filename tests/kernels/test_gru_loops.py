"""The GRU kernel's compiled step loops (C++) equal its Python loops and the reference loop.

:mod:`test_kernels` runs the GRU with whichever loops are the default (the compiled ones where
they build); here each test runs once per loop, and the compiled runs fail if the Python loop
was used instead.
"""

from __future__ import annotations

import pytest
import torch
from kernel_helpers import (
    LOOPS,
    MASKS,
    N,
    T,
    assert_same,
    make_args,
    make_mask,
    make_recurrent_mask,
)

from rnnkit import functional as F
from rnnkit.kernels.gru import gru


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_matches_reference(loop, reset_after, mask_kind, go_backwards, dropout):
    args = make_args("gru", bias=True)
    kwargs = dict(
        reset_after=reset_after,
        mask=make_mask(mask_kind, N, T),
        go_backwards=go_backwards,
        recurrent_mask=make_recurrent_mask() if dropout else None,
    )
    assert_same("gru", args, kwargs, gru, F.gru)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("biases", ["none", "b_x", "b_h"])
def test_biases_and_short_sequences(loop, reset_after, biases):
    for n, t, d, h in [(3, 1, 4, 5), (3, 2, 4, 5), (1, 4, 3, 2)]:
        args = make_args("gru", bias=True, N=n, T=t, D=d, H=h)
        if biases != "b_x":
            args[4] = None
        if biases != "b_h":
            args[5] = None
        kwargs = dict(
            reset_after=reset_after,
            mask=make_mask("holes", n, t),
            go_backwards=True,
            recurrent_mask=make_recurrent_mask(n, h),
        )
        assert_same("gru", args, kwargs, gru, F.gru)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("reset_after", [True, False])
def test_wide_batch_over_threads_float64(loop, threads, reset_after):
    n, t, d, h = 40, 7, 3, 33
    args = make_args("gru", bias=True, N=n, T=t, D=d, H=h, dtype=torch.float64)
    kwargs = dict(
        reset_after=reset_after,
        mask=make_mask("pad_start", n, t),
        recurrent_mask=make_recurrent_mask(n, h, torch.float64),
    )
    torch.set_num_threads(threads)
    try:
        assert_same("gru", args, kwargs, gru, F.gru)
    finally:
        torch.set_num_threads(1)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_float64(loop, reset_after, masked):
    n, t, d, h = 2, 3, 3, 2
    args = tuple(
        a.requires_grad_()
        for a in make_args("gru", bias=True, N=n, T=t, D=d, H=h, dtype=torch.float64)
    )
    if not reset_after:
        args = args[:5]  # the reset-before form has no recurrent bias
    mask = torch.tensor([[True, False, True], [False, True, True]]) if masked else None
    rec = make_recurrent_mask(n, h, torch.float64) if masked else None

    def fn(*tensors):
        b_h = tensors[5] if reset_after else None
        y, (h_T,) = gru(
            *tensors[:5],
            b_h,
            reset_after=reset_after,
            mask=mask,
            go_backwards=masked,
            recurrent_mask=rec,
        )
        return y, h_T

    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-6, rtol=1e-4)
