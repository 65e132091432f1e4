"""The bfloat16 path of the recurrent layers (``precision='bf16'``): the matrix products in
bfloat16, everything else in float32.

What runs in bfloat16, what stays float32
    Each GEMM, the input projection ``x @ W_x`` (one product for all steps) and the recurrent
    product ``h_prev @ W_h`` (one per step), takes its two operands rounded to bfloat16 and
    accumulates in float32 (torch's bf16 GEMM: oneDNN on the CPU, cuBLAS on CUDA); its result
    comes back as torch's bf16 matmul gives it, rounded once to bfloat16, and enters float32
    from there on. The bias, the gate pre-activations' sums, the gate nonlinearities, the cell
    state ``c``, the hidden state ``h`` carried between steps, the outputs, the parameters
    (the master weights) and their gradients are float32. The backward products are bf16
    GEMMs too (``dz @ W^T`` and ``a^T @ dz`` with ``dz`` rounded to bfloat16), each step's
    weight gradient added to the float32 gradient of the master weight in float32.

    bfloat16 keeps float32's exponent and 8 bits of mantissa (7 stored): a rounded operand is
    off by at most 2^-9 (about 0.2%) of itself. Outputs differ from the float32 layer's by
    about 1e-2 after a few dozen steps; :mod:`rnnkit.kernels.dispatch` documents when the
    autotuner may take this path.

Where it is fast, and the emulation elsewhere
    Where the hardware multiplies bfloat16: CUDA, and x86 CPUs with AVX512_BF16 or AMX-BF16
    (:func:`hardware`); there the GEMMs are torch's bf16 GEMMs. Elsewhere the GEMMs are
    emulated (:data:`EMULATE`): the operands rounded to bfloat16 and kept in float32, a float32
    GEMM (a product of two bfloat16 numbers is exact in float32, the sums are float32 as in
    the bf16 GEMM), the result rounded to bfloat16: the same numbers up to the order of the
    float32 sums, at float32 GEMM speed plus the roundings (torch's own bf16 GEMM on such a
    CPU is about 40x slower than float32: 5 ms against 0.13 ms for (64, 128) @ (128, 512) on
    one AVX2 core). Either way this path is a Python time loop with an autograd backward:
    slower than rnnkit's float32 kernel; bf16 pays only where the hardware has it.

How
    :class:`MatMul` is the one product (an autograd function: bf16 operands, float32
    gradients for the float32 weight); :func:`lstm`, :func:`gru` and :func:`simple_rnn` run the
    reference time loop (:func:`rnnkit.functional.recurrent.scan`: masks, ``go_backwards``)
    over the precomputed input projection, with the cells' equations of
    :mod:`rnnkit.functional.cells` written on the pre-activations. Autograd differentiates the
    loop; nothing here is hand-derived.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._cpu import BF16_EXTENSIONS, cpu_info
from ..functional.cells import ACTIVATIONS, lstm_update
from ..functional.recurrent import scan

BF16 = torch.bfloat16

EMULATE: bool | None = None
"""None (default): torch's bf16 GEMM where the hardware multiplies bfloat16
(:func:`hardware`), the float32 emulation elsewhere; True / False force one (tests run both on
every machine)."""

_cpu_has_bf16: list[bool] = []  # /proc/cpuinfo read once


def hardware(device: torch.device | str = "cpu") -> bool:
    """Whether bfloat16 GEMMs run in hardware on ``device``: CUDA, or a CPU with avx512_bf16
    or amx_bf16 (:mod:`rnnkit._cpu`)."""
    if torch.device(device).type == "cuda":
        return True
    if not _cpu_has_bf16:
        _cpu_has_bf16.append(bool(set(BF16_EXTENSIONS) & set(cpu_info()["extensions"])))
    return _cpu_has_bf16[0]


def _emulated(device) -> bool:
    return not hardware(device) if EMULATE is None else EMULATE


def _round(t: Tensor, emulated: bool) -> Tensor:
    """``t`` rounded to bfloat16: a bfloat16 tensor, or (emulated) its float32 copy."""
    t_b = t.to(BF16)
    return t_b.to(t.dtype) if emulated else t_b


def _gemm(a_r: Tensor, W_r: Tensor, dtype: torch.dtype, emulated: bool) -> Tensor:
    """``a_r @ W_r`` of rounded operands, float32 accumulation, the result rounded once to
    bfloat16 and returned in ``dtype``. Emulated: a float32 GEMM (a product of two bfloat16
    numbers is exact in float32) then the rounding, as torch's bf16 GEMM does it in one."""
    z = a_r @ W_r
    return z.to(BF16).to(dtype) if emulated else z.to(dtype)


class MatMul(torch.autograd.Function):
    """``a @ W`` with both operands rounded to bfloat16, float32 accumulation; the result and
    the gradients in the dtypes of ``a`` and ``W`` (float32). ``W_r`` is ``W`` already rounded
    (:func:`_round`, once per sequence, not per step); ``emulated``: float32 GEMMs on the
    rounded operands instead of torch's bf16 GEMM (the same numbers up to the order of the
    float32 sums; on a CPU without bf16 hardware far faster than torch's own emulation)."""

    @staticmethod
    def forward(ctx, a: Tensor, W: Tensor, W_r: Tensor, emulated: bool) -> Tensor:
        a_r = _round(a, emulated)
        ctx.save_for_backward(a_r, W_r)
        ctx.dtypes, ctx.emulated = (a.dtype, W.dtype), emulated
        return _gemm(a_r, W_r, W.dtype, emulated)  # (N, K) @ (K, M) -> (N, M)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dz: Tensor):
        a_r, W_r = ctx.saved_tensors
        (a_dtype, W_dtype), emulated = ctx.dtypes, ctx.emulated
        dz_r = _round(dz, emulated)
        need_a, need_W = ctx.needs_input_grad[:2]
        da = _gemm(dz_r, W_r.t(), a_dtype, emulated) if need_a else None  # (N, K)
        dW = _gemm(a_r.t(), dz_r, W_dtype, emulated) if need_W else None  # (K, M)
        return da, dW, None, None


def matmul(a: Tensor, W: Tensor, emulated: bool) -> Tensor:
    """``a @ W`` for ``a`` of any leading shape (..., K) through :class:`MatMul`."""
    lead = a.shape[:-1]
    W_r = _round(W.detach(), emulated)
    z = MatMul.apply(a.reshape(-1, a.shape[-1]), W, W_r, emulated)  # (prod(lead), M)
    return z.reshape(*lead, W.shape[1])


def _projection(x: Tensor, W_x: Tensor, b: Tensor | None, emulated: bool) -> Tensor:
    """``x @ W_x + b`` for every step at once: (N, T, G*H), float32."""
    xw = matmul(x, W_x, emulated)  # (N, T, G*H)
    return xw if b is None else xw + b


def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """:func:`rnnkit.functional.lstm` with its GEMMs in bfloat16 (the module's docstring)."""
    emulated = _emulated(x.device)
    xw = _projection(x, W_x, b, emulated)  # (N, T, 4H)
    W_h_r = _round(W_h.detach(), emulated)

    def step(xw_t, state):
        h_prev, c_prev = state
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        z = xw_t + MatMul.apply(h_in, W_h, W_h_r, emulated)  # (N, 4H), float32
        return lstm_update(z, c_prev)  # gates and the cell state in float32

    return scan(step, xw, (h0, c0), mask, go_backwards)


def gru(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None,
    b_h: Tensor | None,
    reset_after: bool = True,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor]]:
    """:func:`rnnkit.functional.gru` with its GEMMs in bfloat16 (the module's docstring); gates
    ``[z | r | n]`` as :func:`rnnkit.functional.gru_cell`."""
    H = h0.shape[1]
    emulated = _emulated(x.device)
    xw = _projection(x, W_x, b_x, emulated)  # (N, T, 3H)
    W_zr, W_n = W_h[:, : 2 * H], W_h[:, 2 * H :]  # (H, 2H), (H, H): views, gradients to W_h
    W_h_r = _round(W_h.detach(), emulated)
    W_zr_r, W_n_r = W_h_r[:, : 2 * H], W_h_r[:, 2 * H :]

    def step(xw_t, state):
        (h_prev,) = state
        h_rec = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        x_z, x_r, x_n = xw_t.chunk(3, dim=1)  # 3 x (N, H)
        if reset_after:
            h_proj = MatMul.apply(h_rec, W_h, W_h_r, emulated)  # (N, 3H)
            if b_h is not None:
                h_proj = h_proj + b_h
            h_z, h_r, h_n = h_proj.chunk(3, dim=1)  # 3 x (N, H)
            z = torch.sigmoid(x_z + h_z)  # update gate
            r = torch.sigmoid(x_r + h_r)  # reset gate
            n = torch.tanh(x_n + r * h_n)  # candidate state
        else:
            h_z, h_r = MatMul.apply(h_rec, W_zr, W_zr_r, emulated).chunk(2, dim=1)  # 2 x (N, H)
            z = torch.sigmoid(x_z + h_z)
            r = torch.sigmoid(x_r + h_r)
            n = torch.tanh(x_n + MatMul.apply(r * h_rec, W_n, W_n_r, emulated))
        return (z * h_prev + (1.0 - z) * n,)

    return scan(step, xw, (h0,), mask, go_backwards)


def simple_rnn(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    activation: str = "tanh",
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor]]:
    """:func:`rnnkit.functional.simple_rnn` with its GEMMs in bfloat16 (the module's
    docstring)."""
    act = ACTIVATIONS[activation]
    emulated = _emulated(x.device)
    xw = _projection(x, W_x, b, emulated)  # (N, T, H)
    W_h_r = _round(W_h.detach(), emulated)

    def step(xw_t, state):
        (h_prev,) = state
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        return (act(xw_t + MatMul.apply(h_in, W_h, W_h_r, emulated)),)

    return scan(step, xw, (h0,), mask, go_backwards)
