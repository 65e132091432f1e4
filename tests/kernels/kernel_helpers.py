"""Shared helpers of the kernel tests: sizes and tolerances, random inputs, masks, and the
comparison of a kernel with its reference loop (outputs and every gradient).

The fixtures (one thread, the step loop chosen) are in ``conftest.py`` next to this file.
"""

from __future__ import annotations

import torch

from rnnkit import functional as F
from rnnkit.kernels.gru import gru as gru_kernel
from rnnkit.kernels.lstm import lstm as lstm_kernel
from rnnkit.kernels.simple_rnn import simple_rnn as simple_rnn_kernel

N, T, D, H = 3, 6, 4, 5
RTOL = ATOL = 1e-5
LOOPS = ["python", "compiled"]
"""``@pytest.mark.parametrize("loop", LOOPS, indirect=True)``: a test run with each step loop
(the ``loop`` fixture of ``conftest.py``)."""
MASKS = [None, "pad_end", "pad_start", "holes"]


def make_mask(kind: str | None, N: int, T: int) -> torch.Tensor | None:
    """A bool (N, T) mask; every kind includes a fully real row and one with a single real step."""
    steps = torch.arange(T).unsqueeze(0)  # (1, T)
    if kind is None:
        return None
    if kind == "pad_end":  # lengths T, T//2, 1
        lengths = torch.tensor([T, T // 2, 1][:N] + [T] * max(0, N - 3))
        return steps < lengths.unsqueeze(1)
    if kind == "pad_start":
        starts = torch.tensor([0, T // 2, T - 1][:N] + [0] * max(0, N - 3))
        return steps >= starts.unsqueeze(1)
    mask = torch.rand(N, T) > 0.4  # random holes
    mask[0] = True
    mask[-1] = False
    mask[-1, T // 2] = True
    return mask


def make_args(cell: str, bias: bool, N=N, T=T, D=D, H=H, dtype=torch.float32):
    """The kernel's positional tensors (x, h0, [c0], W_x, W_h, biases...) as float leaves."""
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
    kw = dict(dtype=dtype)
    x = torch.randn(N, T, D, **kw)
    h0 = torch.randn(N, H, **kw) * 0.5
    W_x = torch.randn(D, G * H, **kw) * 0.6
    W_h = torch.randn(H, G * H, **kw) * 0.6
    b = torch.randn(G * H, **kw) * 0.3 if bias else None
    if cell == "lstm":
        return [x, h0, torch.randn(N, H, **kw) * 0.5, W_x, W_h, b]
    if cell == "gru":
        return [x, h0, W_x, W_h, b, torch.randn(G * H, **kw) * 0.3 if bias else None]
    return [x, h0, W_x, W_h, b]


def make_recurrent_mask(N=N, H=H, dtype=torch.float32) -> torch.Tensor:
    keep = 0.7
    return (torch.rand(N, H) < keep).to(dtype) / keep  # scaled dropout mask


def run(fn, args, kwargs, upstream):
    """Outputs and the gradients of ``sum(upstream * outputs)`` w.r.t. every tensor argument."""
    leaves = [a.detach().clone().requires_grad_() if a is not None else None for a in args]
    y, states = fn(*leaves, **kwargs)
    outputs = [y, *states]
    loss = sum((o * u).sum() for o, u in zip(outputs, upstream))
    tensors = [a for a in leaves if a is not None]
    grads = torch.autograd.grad(loss, tensors, allow_unused=True)
    return [o.detach() for o in outputs], list(grads)


def assert_same(cell, args, kwargs, kernel, reference):
    N_, T_ = args[0].shape[:2]
    H_ = args[1].shape[1]
    n_states = 2 if cell == "lstm" else 1
    upstream = [torch.randn(N_, T_, H_)] + [torch.randn(N_, H_) for _ in range(n_states)]
    out_k, grads_k = run(kernel, args, kwargs, upstream)
    out_r, grads_r = run(reference, args, kwargs, upstream)
    names = ["y"] + ["h_T", "c_T"][:n_states]
    for name, k, r in zip(names, out_k, out_r):
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"{name}: {m}")
    for i, (k, r) in enumerate(zip(grads_k, grads_r)):
        if r is None:  # unused by the reference (b_h of the reset-before GRU)
            assert k is None or torch.count_nonzero(k) == 0, f"gradient {i}"
            continue
        assert k is not None, f"gradient {i} missing"
        torch.testing.assert_close(k, r, rtol=RTOL, atol=ATOL, msg=lambda m: f"grad {i}: {m}")


KERNELS = {
    "lstm": (lstm_kernel, F.lstm),
    "gru": (gru_kernel, F.gru),
    "simple_rnn": (simple_rnn_kernel, F.simple_rnn),
}
