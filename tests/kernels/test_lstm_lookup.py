"""The LSTM kernel's lookup entry point and its lean inference loop.

* :func:`lstm_lookup` (the input part of each step read from rows of a table) equals the
  reference loop run on ``table[where]`` with ``W_x`` the identity: outputs and the gradients
  of the table, the states and ``W_h``; for both step loops, masks, ``go_backwards``, recurrent
  dropout, and losses that use only the final state (no gradient reaches ``y``).
* Batches of 16 rows and more run split into one chunk of rows per thread: checked with 2
  threads on a batch of 40.
* Without gradients, :func:`lstm`, :func:`lstm_projected` and :func:`lstm_lookup` take the
  lean inference loop (no saved buffers), which equals the training loop.
* float32 runs the fused SIMD step (h_prev @ W_h and the gates in one pass) on CPUs with
  AVX2 or AVX-512: checked against the reference at H = 16 (each variant on its own, and H
  that leaves a partial block: test_simd_variants.py).
"""

from __future__ import annotations

import pytest
import torch
from kernel_helpers import (
    ATOL,
    LOOPS,
    MASKS,
    RTOL,
    make_args,
    make_mask,
    make_recurrent_mask,
)

from rnnkit import functional as F
from rnnkit.kernels import _ext
from rnnkit.kernels import lstm as lstm_module
from rnnkit.kernels.lstm import lstm, lstm_lookup, lstm_projected

H, U = 5, 7


def lookup_args(N, T, dtype=torch.float32, H=H):
    table = torch.randn(U, 4 * H, dtype=dtype) * 0.8
    where = torch.randint(0, U, (N, T))
    h0 = torch.randn(N, H, dtype=dtype) * 0.5
    c0 = torch.randn(N, H, dtype=dtype) * 0.5
    W_h = torch.randn(H, 4 * H, dtype=dtype) * 0.6
    return table, where, h0, c0, W_h


def outputs_and_grads(fn, table, where, h0, c0, W_h, upstream, **kwargs):
    leaves = [t.detach().clone().requires_grad_() for t in (table, h0, c0, W_h)]
    y, (h_T, c_T) = fn(leaves[0], where, leaves[1], leaves[2], leaves[3], **kwargs)
    outputs = [y, h_T, c_T]
    loss = sum((o * u).sum() for o, u in zip(outputs, upstream) if u is not None)
    return [o.detach() for o in outputs], torch.autograd.grad(loss, leaves)


def reference(table, where, h0, c0, W_h, **kwargs):
    """The reference loop on x = table[where], W_x = I: z = table[where] + h_prev @ W_h."""
    eye = torch.eye(table.shape[1], dtype=table.dtype)
    return F.lstm(table[where], h0, c0, eye, W_h, None, **kwargs)


def assert_lookup_matches_reference(N, T, mask_kind, go_backwards, dropout, y_used=True):
    args = lookup_args(N, T)
    kwargs = dict(
        mask=make_mask(mask_kind, N, T),
        go_backwards=go_backwards,
        recurrent_mask=make_recurrent_mask(N, H) if dropout else None,
    )
    upstream = [torch.randn(N, T, H) if y_used else None, torch.randn(N, H), torch.randn(N, H)]
    out_k, grads_k = outputs_and_grads(lstm_lookup, *args, upstream, **kwargs)
    out_r, grads_r = outputs_and_grads(reference, *args, upstream, **kwargs)
    for name, k, r in zip(["y", "h_T", "c_T"], out_k, out_r):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"{name}: {m}")
    for name, k, r in zip(["table", "h0", "c0", "W_h"], grads_k, grads_r):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"d{name}: {m}")


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_lookup_matches_reference(loop, mask_kind, go_backwards, dropout):
    assert_lookup_matches_reference(3, 6, mask_kind, go_backwards, dropout)


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("mask_kind", [None, "holes"])
def test_lookup_with_only_the_final_state_used(loop, mask_kind):
    """No gradient reaches y: the backward runs without dLoss/dy."""
    assert_lookup_matches_reference(3, 6, mask_kind, False, False, y_used=False)


@pytest.mark.parametrize("loop", ["compiled"], indirect=True)
@pytest.mark.parametrize("mask_kind", [None, "holes"])
@pytest.mark.parametrize("dropout", [False, True])
def test_rows_split_over_threads(loop, two_threads, mask_kind, dropout):
    assert_lookup_matches_reference(40, 9, mask_kind, True, dropout)
    args = make_args("lstm", bias=True, N=40, T=9)
    kwargs = dict(mask=make_mask(mask_kind, 40, 9))
    with torch.no_grad():
        y, (h_T, c_T) = lstm(*args, **kwargs)
        y_r, (h_r, c_r) = F.lstm(*args, **kwargs)
    for k, r in ((y, y_r), (h_T, h_r), (c_T, c_r)):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL)


def test_lookup_gradcheck_float64():
    table, where, h0, c0, W_h = lookup_args(2, 4, torch.float64)
    where[0, :2] = where[1, 0]  # a row read by several steps: its gradient is their sum
    mask = make_mask("holes", 2, 4)
    leaves = [t.requires_grad_() for t in (table, h0, c0, W_h)]

    def fn(table, h0, c0, W_h):
        y, (h_T, c_T) = lstm_lookup(table, where, h0, c0, W_h, mask=mask)
        return y, h_T, c_T

    assert torch.autograd.gradcheck(fn, leaves)


@pytest.mark.parametrize("loop", ["compiled"], indirect=True)
@pytest.mark.parametrize("entry", ["lstm", "lstm_projected", "lstm_lookup"])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("N", [3, 40])
def test_inference_loop_equals_training_loop(
    loop, two_threads, entry, mask_kind, go_backwards, N, monkeypatch
):
    T = 7
    kwargs = dict(mask=make_mask(mask_kind, N, T), go_backwards=go_backwards)
    if entry == "lstm_lookup":
        table, where, h0, c0, W_h = lookup_args(N, T)
        fn, args = lstm_lookup, (table, where, h0, c0, W_h)
    else:
        x, h0, c0, W_x, W_h, b = make_args("lstm", bias=True, N=N, T=T)
        if entry == "lstm":
            fn, args = lstm, (x, h0, c0, W_x, W_h, b)
        else:
            z_x = (x.flatten(0, 1) @ W_x + b).view(N, T, -1)
            fn, args = lstm_projected, (z_x, h0, c0, W_h)
    h0.requires_grad_()  # with grad: the training loop
    y_train, (h_train, c_train) = fn(*args, **kwargs)
    calls = []
    real = _ext.load().lstm_infer

    class Spy:  # records that the lean loop ran
        def __getattr__(self, name):
            if name == "lstm_infer":
                return lambda *a: calls.append(1) or real(*a)
            return getattr(_ext.load(), name)

    monkeypatch.setattr(lstm_module._ext, "loops_for", lambda *a, **k: Spy())
    with torch.no_grad():
        y, (h_T, c_T) = fn(*args, **kwargs)
    assert calls, "the inference loop did not run"
    for name, k, r in (("y", y, y_train), ("h_T", h_T, h_train), ("c_T", c_T, c_train)):
        torch.testing.assert_close(
            k, r.detach(), rtol=RTOL, atol=ATOL, msg=lambda m: f"{name}: {m}"
        )
    if entry == "lstm_lookup":
        with torch.no_grad():
            y, (h_T, c_T) = lstm_lookup(*args, **kwargs, sequences=False)
        assert y is None
        torch.testing.assert_close(h_T, h_train.detach(), rtol=RTOL, atol=ATOL)


def test_scatter_rows_sums_the_rows_of_each_index():
    ops = _ext.load()
    if ops is None:
        pytest.skip("compiled step loops unavailable")
    src = torch.randn(50, 130)
    index = torch.randint(0, 9, (50,))
    expected = torch.zeros(9, 130).index_add_(0, index, src)
    torch.testing.assert_close(ops.scatter_rows(src, index, 9, None), expected)
    with pytest.raises(RuntimeError, match="`index` out of range"):
        ops.scatter_rows(src, index, 3, None)


def test_gradients_over_the_real_steps_skip_each_rows_shared_padding():
    """With ``start`` (each row's first real step, sorted), ``scatter_rows`` and
    ``weight_grad`` read only the steps t >= start[n] of row n: equal to the full sums with
    the padded steps' rows zeroed, whatever those rows hold."""
    ops = _ext.load()
    if ops is None:
        pytest.skip("compiled step loops unavailable")
    T, N, H = 7, 5, 4
    start = torch.tensor([0, 0, 2, 5, 7])  # sorted; the last row is all padding
    dZ = torch.randn(T, N, 4 * H)
    h_rec = torch.randn(T, N, H)
    where = torch.randint(0, 6, (T, N))
    real = (torch.arange(T)[:, None] >= start[None, :]).float()[..., None]  # (T, N, 1)
    expected = torch.zeros(6, 4 * H).index_add_(
        0, where.reshape(-1), (dZ * real).reshape(-1, 4 * H)
    )
    torch.testing.assert_close(
        ops.scatter_rows(dZ.reshape(-1, 4 * H), where.reshape(-1), 6, start), expected
    )
    dW = (h_rec * real).reshape(-1, H).t() @ (dZ * real).reshape(-1, 4 * H)
    torch.testing.assert_close(ops.weight_grad(h_rec, dZ, start), dW)
    for bad in (
        torch.tensor([0, 2, 1, 5, 7]),
        torch.tensor([-1, 0, 2, 5, 7]),
        torch.tensor([0, 0, 2, 5, 8]),
    ):
        with pytest.raises(
            RuntimeError,
            match=r"`start` expected non-decreasing values in "
            r"\[0, T\]",
        ):
            ops.weight_grad(h_rec, dZ, bad)
        with pytest.raises(RuntimeError, match=r"`start` expected non-decreasing values"):
            ops.scatter_rows(dZ.reshape(-1, 4 * H), where.reshape(-1), 6, bad)
    threads = torch.get_num_threads()
    with torch.no_grad():
        torch.set_num_threads(2)
        try:  # 40 rows: dealt to two threads, their sums added
            start = torch.sort(torch.randint(0, T + 1, (40,))).values
            dZ, h_rec = torch.randn(T, 40, 4 * H), torch.randn(T, 40, H)
            real = (torch.arange(T)[:, None] >= start[None, :]).float()[..., None]
            dW = (h_rec * real).reshape(-1, H).t() @ (dZ * real).reshape(-1, 4 * H)
            torch.testing.assert_close(ops.weight_grad(h_rec, dZ, start), dW)
        finally:
            torch.set_num_threads(threads)


def test_lookup_checks_its_arguments():
    table, where, h0, c0, W_h = lookup_args(3, 4)
    with pytest.raises(
        ValueError,
        match=r"lstm_lookup: `where` expected an int64 tensor of "
        r"shape \(N, T\)",
    ):
        lstm_lookup(table, where.int(), h0, c0, W_h)
    with pytest.raises(
        ValueError,
        match=r"lstm_lookup: `where` expected values in \[0, 7\) "
        r"\(rows of `table`\), received values in \[0, 7\]",
    ):
        bad = where.clone()
        bad[0, 0], bad[0, 1] = 7, 0
        lstm_lookup(table, bad, h0, c0, W_h)
    with pytest.raises(
        ValueError,
        match=r"lstm_lookup: `table` expected a tensor of shape "
        r"\(U, 4H\) = \(U, 20\)",
    ):
        lstm_lookup(table[:, :8], where, h0, c0, W_h)


@pytest.mark.parametrize("loop", ["compiled"], indirect=True)
@pytest.mark.parametrize("N", [3, 40])
def test_shared_padding_in_front_is_computed_once_and_exactly(loop, two_threads, N):
    """``pad_row``: rows join from the shared state after their padding in front; the result
    equals running every padded step (rows of all padding, and of none, included)."""
    T = 12
    table, where, h0, c0, W_h = lookup_args(N, T)
    where[where == 0] = 1
    leads = torch.randint(0, T + 1, (N,))
    leads[0], leads[-1] = T, 0  # all padding; no padding
    for n in range(N):
        where[n, : leads[n]] = 0
    h0, c0 = h0[:1].expand(N, H), c0[:1].expand(N, H)  # a state all rows share
    calls = []
    real = _ext.load().lstm_infer

    class Spy:
        def __getattr__(self, name):
            if name == "lstm_infer":
                return lambda *a: calls.append(a[8] is not None) or real(*a)
            return getattr(_ext.load(), name)

    with torch.no_grad():
        _, (h_ref, c_ref) = lstm_lookup(table, where, h0, c0, W_h, sequences=False)
        lstm_module._ext.loops_for, saved = (lambda *a, **k: Spy()), lstm_module._ext.loops_for
        try:
            y, (h_T, c_T) = lstm_lookup(table, where, h0, c0, W_h, sequences=False, pad_row=0)
        finally:
            lstm_module._ext.loops_for = saved
    assert calls == [True] and y is None
    torch.testing.assert_close(h_T, h_ref, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(c_T, c_ref, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loop", ["compiled"], indirect=True)
@pytest.mark.parametrize("N", [3, 40])
@pytest.mark.parametrize("y_used", [False, True])
@pytest.mark.parametrize("fewest", [0, 3])
def test_shared_padding_in_training_matches_reference(
    loop, two_threads, N, y_used, fewest, monkeypatch
):
    """With gradients, ``pad_row`` runs the shared padding once forward and carries its
    gradient back once: outputs and the gradients of the table and W_h equal the reference
    loop over every padded step. ``fewest``: every row has at least this much padding in
    front (the first steps then have no row past its padding)."""
    T = 10
    table, where, h0, c0, W_h = lookup_args(N, T)
    where[where == 0] = 1
    leads = torch.randint(fewest, T + 1, (N,))
    leads[0], leads[-1] = T, fewest
    for n in range(N):
        where[n, : leads[n]] = 0
    h0, c0 = torch.zeros(N, H), torch.zeros(N, H)
    starts = []
    real = _ext.load().lstm_forward

    class Spy:
        def __getattr__(self, name):
            if name == "lstm_forward":
                return lambda *a: starts.append(a[8]) or real(*a)
            return getattr(_ext.load(), name)

    upstream = [torch.randn(N, T, H) if y_used else None, torch.randn(N, H), torch.randn(N, H)]

    def kernel(table, where, h0, c0, W_h):
        return lstm_lookup(table, where, h0, c0, W_h, sequences=y_used, pad_row=0)

    def leaves_grads(fn):
        t, w = table.clone().requires_grad_(), W_h.clone().requires_grad_()
        y, (h_T, c_T) = fn(t, where, h0, c0, w)
        outputs = [y, h_T, c_T]
        loss = sum((o * u).sum() for o, u in zip(outputs, upstream) if u is not None)
        return [o.detach() for o in outputs if o is not None], torch.autograd.grad(loss, (t, w))

    monkeypatch.setattr(lstm_module._ext, "loops_for", lambda *a, **k: Spy())
    out_k, grads_k = leaves_grads(kernel)
    assert starts and starts[0] is not None, "the shared padding was not used"
    out_r, grads_r = leaves_grads(reference)
    out_r = out_r if y_used else out_r[1:]
    for k, r in zip(out_k, out_r):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL)
    for name, k, r in zip(["table", "W_h"], grads_k, grads_r):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"d{name}: {m}")


def test_shared_padding_gradcheck_float64():
    table, where, _, _, W_h = lookup_args(3, 5, torch.float64)
    where[where == 0] = 1
    where[0, :3] = 0  # rows with 3, 5 and 0 padded steps in front
    where[1, :] = 0
    h0 = torch.zeros(3, H, dtype=torch.float64)

    def fn(table, W_h):
        y, (h_T, c_T) = lstm_lookup(table, where, h0, h0, W_h, pad_row=0)
        return y, h_T, c_T

    assert torch.autograd.gradcheck(fn, [t.requires_grad_() for t in (table, W_h)])


@pytest.mark.parametrize("loop", ["compiled"], indirect=True)
@pytest.mark.parametrize("N", [1, 2, 4, 5, 9, 40])
@pytest.mark.parametrize("pad", [False, True])
def test_fused_step_matches_reference(loop, two_threads, N, pad):
    """H = 16: two blocks of 8 units (AVX2; one of 16 on AVX-512), row tiles of 3, 2 and 1 (N = 1, 2, 4, 5; 40 over two
    threads), with and without the shared padding in front: outputs and gradients of the
    training loop, and the inference loop's outputs, equal the reference loop."""
    Hf, T = 16, 9
    table, where, h0, c0, W_h = lookup_args(N, T, H=Hf)
    if _ext.isa() != "generic":
        assert _ext.load().lstm_fused(W_h), "the fused SIMD step was not used"
    pad_row = None
    if pad:
        where[where == 0] = 1
        leads = torch.randint(0, T + 1, (N,))
        leads[0] = T - 2
        for n in range(N):
            where[n, : leads[n]] = 0
        h0, c0, pad_row = torch.zeros(N, Hf), torch.zeros(N, Hf), 0
    upstream = [torch.randn(N, T, Hf), torch.randn(N, Hf), torch.randn(N, Hf)]

    def kernel(*args):
        return lstm_lookup(*args, pad_row=pad_row)

    out_k, grads_k = outputs_and_grads(kernel, table, where, h0, c0, W_h, upstream)
    out_r, grads_r = outputs_and_grads(reference, table, where, h0, c0, W_h, upstream)
    for name, k, r in zip(["y", "h_T", "c_T"], out_k, out_r):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"{name}: {m}")
    for name, k, r in zip(["table", "h0", "c0", "W_h"], grads_k, grads_r):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"d{name}: {m}")
    with torch.no_grad():
        for sequences in (True, False):
            y, (h_T, c_T) = lstm_lookup(
                table, where, h0, c0, W_h, sequences=sequences, pad_row=pad_row
            )
            if sequences:
                torch.testing.assert_close(y, out_r[0], rtol=RTOL, atol=ATOL)
            torch.testing.assert_close(h_T, out_r[1], rtol=RTOL, atol=ATOL)
            torch.testing.assert_close(c_T, out_r[2], rtol=RTOL, atol=ATOL)
        z = table[where]
        y, (h_T, c_T) = lstm_projected(z, h0, c0, W_h)
        torch.testing.assert_close(y, out_r[0], rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(c_T, out_r[2], rtol=RTOL, atol=ATOL)


def test_equal_rows_compares_the_bytes_of_the_rows_asked_for():
    """The check that a kept vocabulary table still matches its weights: exact, per row."""
    ops = _ext.load()
    if ops is None:
        pytest.skip("compiled step loops unavailable")
    a = torch.randn(6, 4)
    b = a.clone()
    ids = torch.tensor([4, 1, 1, 4])
    assert ops.equal_rows(a, b, None) and ops.equal_rows(a, b, ids)
    b[2, 3] += 1.0  # a row the ids do not read
    assert ops.equal_rows(a, b, ids) and not ops.equal_rows(a, b, None)
    b[1, 0] += 1.0  # a row they read
    assert not ops.equal_rows(a, b, ids)
    assert not ops.equal_rows(a, a[:5].clone(), None)  # another shape
    assert not ops.equal_rows(a, a.double(), None)  # another dtype
    with pytest.raises(RuntimeError, match="`ids` out of range"):
        ops.equal_rows(a, a.clone(), torch.tensor([6]))
