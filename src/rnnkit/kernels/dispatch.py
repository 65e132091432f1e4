"""Which path runs a recurrent layer: the one place where rnnkit decides, with every threshold
and exactness rule stated once.

Layers hold parameters and call the entry points here (:func:`lstm`, :func:`gru`,
:func:`simple_rnn`, and :func:`lstm_ids` for an LSTM fed token ids by an Embedding); models
(:mod:`rnnkit.models.execution`) ask the rules here before they cut padding or keep a
vocabulary table. Nothing outside :mod:`rnnkit.kernels` imports a kernel module.

The paths, ``impl='auto' | 'native' | 'kernel' | 'reference'``
    * ``'reference'``: the readable time loop of :mod:`rnnkit.functional` (autograd backward).
    * ``'kernel'``: rnnkit's whole-sequence kernels with hand-written BPTT
      (:mod:`rnnkit.kernels.lstm`, ``.gru``, ``.simple_rnn``): compiled C++ step loops where
      they are built (:mod:`rnnkit.kernels._ext`), their Python loops otherwise. They serve
      every option: masks, recurrent dropout, every activation.
    * ``'native'``: PyTorch's fused operators (oneDNN / cuDNN), where the options allow
      (:func:`rnnkit.kernels.native.supports`).
    * ``'auto'``: the fastest path that computes exactly the same thing. Where both
      rnnkit's compiled kernel and PyTorch's fused operator can run a call (and, for an LSTM
      fed by an Embedding, the lookup path), the autotuner (:mod:`rnnkit.kernels.autotune`)
      times them once per signature class on this machine and keeps the fastest.
      ``RNNKIT_AUTOTUNE=0`` restores the fixed rules: rnnkit's kernel for the GRU when its
      compiled loops are available (measured faster than PyTorch's fused GRU,
      ``benchmarks/kernels_quick.py``); otherwise native where it applies, else the kernel;
      an LSTM fed by an Embedding takes the lookup path (:func:`lookup_applies`).

    Asking for ``'native'`` where it cannot apply raises an error that says why and what to
    use. ``grad_hook(t, dh_t)`` (how gradients vanish over time) is read from the kernel's own
    backward loop; asking for it selects the kernel.

Precision, ``precision=None | 'float32' | 'bf16'`` (:func:`runs_bf16`)
    ``'bf16'`` runs the layer's GEMMs with bfloat16 operands and float32 accumulation, the
    cell state, gates, parameters and gradients in float32 (:mod:`rnnkit.kernels.bf16`: the
    reference loop's structure, autograd backward). ``None`` follows the process's setting
    (:func:`rnnkit.runtime.set_precision`), except that a layer with an explicit
    ``impl='kernel'`` / ``'native'`` or a ``grad_hook`` then keeps its float32 path; a layer's
    own ``precision='bf16'`` with those is refused (:func:`check_precision`). With
    ``impl='auto'``, where the hardware multiplies bfloat16 (:func:`bf16_native`: CUDA, a CPU
    with avx512_bf16 or amx_bf16) and autotuning is on, the bf16 path is one more candidate of
    the autotuner, beside the float32 paths that compute the call (bf16 allows rnnkit to use
    bfloat16 where it is faster; it never makes a float32 layer bf16). Elsewhere (no such
    hardware, ``RNNKIT_AUTOTUNE=0``, ``impl='reference'``) a bf16 layer always runs the bf16
    path: what it asked for; on a CPU without bf16 hardware its GEMMs are emulated in float32
    (the same numbers, slower than the float32 kernel: :mod:`rnnkit.kernels.bf16`).
    An LSTM in bf16 does not take the embedding lookup below (its table and loop are float32).

The embedding lookup (an LSTM fed token ids by an Embedding)
    ``x_t @ W_x + b`` is then a row of ``E @ W_x + b``: the LSTM computes it once per distinct
    token of the batch (or reads it from a table of the whole vocabulary kept by predict and
    evaluate, :class:`VocabularyTable`) instead of once per step and row. Exact: the same
    rows, summed in the same order.

Shared padding (the one exactness rule, used by the lookup kernel and by models)
    Padding in front of a row (token 0, ``'pre'`` padding as Keras's ``pad_sequences``) read
    from an initial state that every row shares gives every row the same states until its
    first real token: they may be computed once, on one row, with each row joining from the
    shared state at its own first token, outputs and gradients unchanged. That holds when
    (:func:`shares_padding`): the padding is not masked (``mask_zero`` off: a masked step
    would carry the state instead), time runs forward (not ``go_backwards``), no per-row
    random mask enters the recurrence (no recurrent dropout in training) and the initial
    states are equal across rows (zeros, by default).
"""

from __future__ import annotations

import threading
import weakref
from typing import ClassVar

import torch
from torch import Tensor

from .. import _tracing, runtime
from .. import _validation as V
from .. import functional as F
from . import _ext, autotune, bf16, native, traceable
from . import gru as gru_kernel
from . import lstm as lstm_kernel
from . import simple_rnn as simple_rnn_kernel

IMPLS = ("auto", "native", "kernel", "reference")

LOOKUP_MIN_ROWS = 8
"""Training batches below this many rows run PyTorch's fused LSTM, which beats rnnkit's kernel
there (the kernel's backward pays a BLAS call per step). Without gradients the lookup runs at
every batch size: its inference loop multiplies a few rows by ``W_h`` itself and is faster than
the fused LSTM from one row on."""

TABLE_BYTES = 64 << 20
"""Largest vocabulary table ``E @ W_x + b`` that predict / evaluate keep (bytes)."""


# -- precision: float32 or bf16 ----------------------------------------------------------------
PRECISIONS = runtime.PRECISIONS


def bf16_native(device: torch.device | str = "cpu") -> bool:
    """Whether bfloat16 GEMMs run in hardware on ``device``: CUDA, or a CPU with
    avx512_bf16 or amx_bf16 (:func:`rnnkit.kernels.bf16.hardware`). Elsewhere the bf16 path
    emulates them in float32 GEMMs (the same numbers; never faster than float32)."""
    return bf16.hardware(device)


def check_precision(owner: str, precision, impl: str = "auto", grad_hook=None):
    """``precision`` checked (None, 'float32' or 'bf16') and refused where the path it must run
    cannot serve it: bfloat16 with an explicit ``impl`` 'kernel' / 'native' (float32 only) or
    with a ``grad_hook`` (read from the float32 kernel). Returns it."""
    if precision is not None and (not isinstance(precision, str) or precision not in PRECISIONS):
        V.fail(owner, "precision", "one of None, 'float32', 'bf16'", precision)
    if precision == "bf16" and impl in ("kernel", "native"):
        raise ValueError(
            f"{owner}: `impl` {impl!r} runs float32 GEMMs only, received precision='bf16'. "
            "Use impl='auto' (or 'reference') for bf16, or precision='float32'."
        )
    if precision == "bf16" and grad_hook is not None:
        raise ValueError(
            f"{owner}: `grad_hook` is read from rnnkit's float32 kernel only, received "
            "precision='bf16'. Use precision='float32' to record gradients."
        )
    return precision


def runs_bf16(precision: str | None, impl: str = "auto", grad_hook=None) -> bool:
    """Whether a layer with this ``precision`` (None: the process's,
    :func:`rnnkit.runtime.get_precision`), ``impl`` and ``grad_hook`` asks for bfloat16 GEMMs
    (the module's docstring; an explicit float32-only impl keeps float32 under the process's
    setting)."""
    if precision is None:
        precision = runtime.get_precision()
        return precision == "bf16" and impl in ("auto", "reference") and grad_hook is None
    return precision == "bf16"


def _bf16_path(cell: str, impl: str, x: Tensor, H: int, args, runs: dict) -> str:
    """``'bf16'``, or where the autotuner may choose (``impl='auto'``, autotuning on, bfloat16
    in hardware on ``x``'s device), the fastest of ``runs`` (``'bf16'`` and the float32 paths
    that compute the call) on this machine, in the class ``dtype`` 'float32+bf16'."""
    if impl != "auto" or len(runs) == 1 or not autotune.enabled() or not bf16_native(x.device):
        return "bf16"
    if x.dim() != 3 or x.numel() == 0:
        return "bf16"
    key = autotune.Key.of(cell, x.shape[0], x.shape[1], H, str(x.shape[2]), "float32+bf16")
    return autotune.tuner().choose(key, _candidates(args, runs))


def _float32_runs(cell: str, x: Tensor, runs: dict, **options) -> dict:
    """The bf16 path's float32 rivals for the autotuner: ``runs`` ('native', 'kernel') where
    PyTorch's fused operator computes the call (:func:`rnnkit.kernels.native.supports`: no
    mask, no recurrent dropout), the kernel only where its loops are compiled for ``x``;
    none otherwise (the bf16 path then runs untimed)."""
    if not native.supports(cell, **options):
        return {}
    return {k: f for k, f in runs.items() if k == "native" or compiled(x.dtype, x.device)}


# -- native / kernel / reference ---------------------------------------------------------------
def compiled(dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> bool:
    """Whether rnnkit's compiled step loops serve tensors of ``dtype`` on ``device``
    (built, or buildable, here)."""
    if torch.device(device).type != "cpu" or (dtype is not None and dtype not in _ext.DTYPES):
        return False
    return _ext.load() is not None


def resolve(
    cell: str, impl: str, owner: str, grad_hook=None, device: torch.device | str = "cpu", **options
) -> str:
    """The path (``'native'``, ``'kernel'`` or ``'reference'``) that runs ``cell`` for
    ``impl`` and the call's ``options`` (``mask``, ``recurrent_mask``, ``activation``,
    ``reset_after``) on tensors on ``device`` (rnnkit's compiled loops serve the CPU only: a
    CUDA GRU goes to cuDNN's fused operator)."""
    if grad_hook is not None:
        if impl not in ("auto", "kernel"):
            raise ValueError(
                f"{owner}: `grad_hook` is read from rnnkit's kernel only, received "
                f"impl={impl!r}. Use impl='auto' or 'kernel'."
            )
        return "kernel"
    if impl in ("reference", "kernel"):
        return impl
    if impl == "native":
        if not native.supports(cell, **options):
            why = _native_refusal(cell, **options)
            raise ValueError(
                f"{owner}: `impl` 'native' cannot run this layer: {why}. "
                "Use impl='auto' (or 'kernel') to let rnnkit's own kernel run it."
            )
        return impl
    if cell == "gru" and compiled(device=device):
        return "kernel"  # the compiled GRU loop beats PyTorch's fused GRU (benchmarks/)
    return "native" if native.supports(cell, **options) else "kernel"


def _tuned(path: str, impl: str, grad_hook, cell: str, x: Tensor, H: int, args, runs) -> str:
    """``path`` (the fixed rules' choice) or, where the autotuner may choose (``impl='auto'``,
    no ``grad_hook``, both ``'native'`` and ``'kernel'`` able to run the call exactly), the
    faster of the two on this machine. ``runs``: name -> a function of copies of ``args``
    running that path (called only when the call's class is measured)."""
    if impl != "auto" or grad_hook is not None or not autotune.enabled():
        return path
    if x.dim() != 3 or x.numel() == 0 or not compiled(x.dtype, x.device):
        return path
    key = autotune.Key.of(cell, x.shape[0], x.shape[1], H, str(x.shape[2]), x.dtype)
    return autotune.tuner().choose(key, _candidates(args, runs))


def _candidates(args, runs: dict) -> dict:
    """Timing calls of each of ``runs`` on copies of ``args`` (made on the first call, shared:
    same values, their own gradients), each with its backward when gradients are on."""
    copies = []

    def get():
        if not copies:
            copies.append([_copy(t) for t in args])
        return copies[0]

    return {name: _timed(lambda run=run: run(*get())) for name, run in runs.items()}


def _copy(t: Tensor | None) -> Tensor | None:
    if t is None:
        return None
    return t.detach().clone().requires_grad_(t.requires_grad and torch.is_grad_enabled())


def _timed(run):
    """A timing call: ``run()`` (forward) and, with gradients, its backward."""
    grads = torch.is_grad_enabled()

    def call():
        out = run()
        if not grads:
            return
        tensors = [t for t in _flatten(out) if t is not None and t.requires_grad]
        if tensors:  # a scalar's backward (explicit output gradients import torch.fx)
            sum(t.sum() for t in tensors).backward()

    return call


def _flatten(out):
    if isinstance(out, (tuple, list)):
        for o in out:
            yield from _flatten(o)
    else:
        yield out


def autotune_report() -> dict:
    """What the autotuner decided in this process: ``enabled`` and ``decisions`` (each
    ``key``, ``choice``, ``times_ms``), for ``rnnkit bench``."""
    return {"enabled": autotune.enabled(), "decisions": autotune.tuner().report()}


def _native_refusal(
    cell, *, mask=None, recurrent_mask=None, activation="tanh", reset_after=True
) -> str:
    if mask is not None:
        return "PyTorch's fused operator takes no mask"
    if recurrent_mask is not None:
        return "PyTorch's fused operator has no recurrent dropout"
    if cell == "simple_rnn":
        return f"PyTorch's fused operator has no {activation!r} activation (only 'tanh', 'relu')"
    return "PyTorch's fused GRU only has reset_after=True"


def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "LSTM",
    grad_hook=None,
    precision: str | None = None,
):
    options = dict(mask=mask, go_backwards=go_backwards, recurrent_mask=recurrent_mask)
    if _tracing.active():  # export mode: plain ops only (rnnkit._tracing)
        return traceable.lstm(x, h0, c0, W_x, W_h, b, **options)
    check_precision(owner, precision, impl, grad_hook)
    args = (x, h0, c0, W_x, W_h, b)
    runs = {
        "native": lambda *a: native.lstm(*a, go_backwards),
        "kernel": lambda *a: lstm_kernel.lstm(*a, go_backwards=go_backwards),
    }
    if runs_bf16(precision, impl, grad_hook):
        runs = _float32_runs("lstm", x, runs, mask=mask, recurrent_mask=recurrent_mask)
        runs["bf16"] = lambda *a: bf16.lstm(*a, go_backwards=go_backwards)
        path = _bf16_path("lstm", impl, x, W_h.shape[0], args, runs)
        if path == "bf16":
            return bf16.lstm(*args, **options)
    else:
        path = resolve("lstm", impl, owner, grad_hook, mask=mask, recurrent_mask=recurrent_mask)
        if impl == "auto" and native.supports("lstm", mask=mask, recurrent_mask=recurrent_mask):
            path = _tuned(path, impl, grad_hook, "lstm", x, W_h.shape[0], args, runs)
    if path == "native":
        return native.lstm(x, h0, c0, W_x, W_h, b, go_backwards)
    if path == "reference":
        return F.lstm(x, h0, c0, W_x, W_h, b, **options)
    return lstm_kernel.lstm(x, h0, c0, W_x, W_h, b, **options, grad_hook=grad_hook)


def gru(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None,
    b_h: Tensor | None,
    *,
    reset_after: bool = True,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "GRU",
    grad_hook=None,
    precision: str | None = None,
):
    if _tracing.active():  # export mode: plain ops only (rnnkit._tracing)
        return traceable.gru(
            x, h0, W_x, W_h, b_x, b_h, reset_after=reset_after, mask=mask,
            go_backwards=go_backwards, recurrent_mask=recurrent_mask,
        )  # fmt: skip
    check_precision(owner, precision, impl, grad_hook)
    options = dict(
        reset_after=reset_after,
        mask=mask,
        go_backwards=go_backwards,
        recurrent_mask=recurrent_mask,
    )
    exact = dict(mask=mask, recurrent_mask=recurrent_mask, reset_after=reset_after)
    args = (x, h0, W_x, W_h, b_x, b_h)
    runs = {
        "native": lambda *a: native.gru(*a, go_backwards),
        "kernel": lambda *a: gru_kernel.gru(*a, go_backwards=go_backwards),
    }
    if runs_bf16(precision, impl, grad_hook):
        runs = _float32_runs("gru", x, runs, **exact)
        runs["bf16"] = lambda *a: bf16.gru(*a, reset_after, go_backwards=go_backwards)
        path = _bf16_path("gru", impl, x, W_h.shape[0], args, runs)
        if path == "bf16":
            return bf16.gru(*args, **options)
    else:
        path = resolve("gru", impl, owner, grad_hook, device=x.device, **exact)
        if impl == "auto" and native.supports("gru", **exact):
            path = _tuned(path, impl, grad_hook, "gru", x, W_h.shape[0], args, runs)
    if path == "native":
        return native.gru(x, h0, W_x, W_h, b_x, b_h, go_backwards)
    if path == "reference":
        return F.gru(x, h0, W_x, W_h, b_x, b_h, **options)
    return gru_kernel.gru(x, h0, W_x, W_h, b_x, b_h, **options, grad_hook=grad_hook)


def simple_rnn(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    activation: str = "tanh",
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    impl: str = "auto",
    owner: str = "SimpleRNN",
    grad_hook=None,
    precision: str | None = None,
):
    if _tracing.active():  # export mode: plain ops only (rnnkit._tracing)
        return traceable.simple_rnn(
            x, h0, W_x, W_h, b, activation=activation, mask=mask, go_backwards=go_backwards,
            recurrent_mask=recurrent_mask,
        )  # fmt: skip
    check_precision(owner, precision, impl, grad_hook)
    options = dict(
        activation=activation,
        mask=mask,
        go_backwards=go_backwards,
        recurrent_mask=recurrent_mask,
    )
    exact = dict(mask=mask, recurrent_mask=recurrent_mask, activation=activation)
    args = (x, h0, W_x, W_h, b)
    runs = {
        "native": lambda *a: native.simple_rnn(*a, activation, go_backwards),
        "kernel": lambda *a: simple_rnn_kernel.simple_rnn(
            *a, activation=activation, go_backwards=go_backwards
        ),
    }
    if runs_bf16(precision, impl, grad_hook):
        runs = _float32_runs("simple_rnn", x, runs, **exact)
        runs["bf16"] = lambda *a: bf16.simple_rnn(*a, activation, go_backwards=go_backwards)
        path = _bf16_path("simple_rnn", impl, x, W_h.shape[0], args, runs)
        if path == "bf16":
            return bf16.simple_rnn(*args, **options)
    else:
        path = resolve("simple_rnn", impl, owner, grad_hook, **exact)
        if impl == "auto" and native.supports("simple_rnn", **exact):
            path = _tuned(path, impl, grad_hook, "simple_rnn", x, W_h.shape[0], args, runs)
    if path == "native":
        return native.simple_rnn(x, h0, W_x, W_h, b, activation, go_backwards)
    if path == "reference":
        return F.simple_rnn(x, h0, W_x, W_h, b, **options)
    return simple_rnn_kernel.simple_rnn(x, h0, W_x, W_h, b, **options, grad_hook=grad_hook)


# -- one step: generation ----------------------------------------------------------------------
STEP_PATHS = ("ops", "kernel")
"""The paths of :func:`lstm_step`: ``'ops'``, the reference cell
(:func:`rnnkit.functional.lstm_cell`: two matrix-vector products and the gates in torch ops);
``'kernel'``, rnnkit's compiled loop on a sequence of one step (its fused SIMD cell; it
re-lays ``W_h`` for its micro-kernel at every call above 1 MiB of ``W_h``)."""


def lstm_step(
    x_t: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    impl: str = "auto",
) -> tuple[Tensor, Tensor]:
    """One LSTM step without gradients, ``(h, c)`` each (N, H), for a caller that feeds one
    token at a time and carries the state (generation). ``x_t`` (N, D); the other arguments
    as :func:`rnnkit.functional.lstm_cell`. Nothing is checked here beyond what torch checks:
    the caller owns the shapes (no per-token validation).

    ``impl``: ``'ops'`` or ``'kernel'`` (:data:`STEP_PATHS`), or ``'auto'``: the autotuner's
    choice for this class (``lstm infer N~ T~1 H in:step:D``), measured once per machine;
    with autotuning off (``RNNKIT_AUTOTUNE=0``) or without the compiled loops, ``'ops'``.
    Both compute the same equations; they agree to float rounding.
    """
    if impl == "auto":
        impl = "ops"
        if autotune.enabled() and compiled(x_t.dtype, x_t.device):
            key = autotune.Key.of(
                "lstm", x_t.shape[0], 1, W_h.shape[0], _step_input(x_t), x_t.dtype
            )
            runs = {"ops": F.lstm_cell, "kernel": _kernel_step}
            impl = autotune.tuner().choose(
                key, _candidates((x_t, h_prev, c_prev, W_x, W_h, b), runs)
            )
    if impl == "kernel":
        return _kernel_step(x_t, h_prev, c_prev, W_x, W_h, b)
    return F.lstm_cell(x_t, h_prev, c_prev, W_x, W_h, b)


def _step_input(x_t: Tensor) -> str:
    return f"step:{x_t.shape[1]}"


def _kernel_step(x_t, h_prev, c_prev, W_x, W_h, b) -> tuple[Tensor, Tensor]:
    """:func:`lstm_step` on rnnkit's compiled loop: a sequence of one step."""
    _, final = lstm_kernel.lstm(x_t.unsqueeze(1), h_prev, c_prev, W_x, W_h, b)
    return final


# -- token ids: the embedding lookup -----------------------------------------------------------
def lookup_applies(
    *,
    cell: str,
    impl: str,
    input_dropout: bool,
    E: Tensor,
    ids: Tensor | None = None,
    weights: tuple[Tensor, Tensor, Tensor | None] | None = None,
    native_ok: bool = False,
    sequences: bool = True,
    table: Tensor | None = None,
    precision: str | None = None,
) -> bool:
    """Whether a ``cell`` layer fed by an Embedding's table ``E`` runs the lookup path.

    Only the LSTM, in float32 (``precision``: not bf16, :func:`runs_bf16`), with ``impl``
    'auto' or 'kernel', the embedding lookup switched on
    (:func:`rnnkit.runtime.configure`), no input dropout this call (``x * keep`` is not a row
    of ``E @ W_x``), and the compiled loops serving ``E``'s dtype on the CPU. With ``ids``
    (N, T), for ``impl='auto'``: where the autotuner may choose (``weights``, the layer's
    ``(W_x, W_h, b)``, are given and ``native_ok``: PyTorch's fused operator computes this
    call exactly, no mask and no recurrent dropout), the faster of the lookup and the fused
    operator on ``embedding(ids)`` for this call's class (``sequences``: whether the outputs
    at every step are wanted; ``table``: the vocabulary table predict holds); otherwise the
    fixed rule: not a training batch of fewer than :data:`LOOKUP_MIN_ROWS` rows.
    """
    if cell != "lstm" or impl not in ("auto", "kernel") or input_dropout:
        return False
    if runs_bf16(precision, impl):
        return False
    if _tracing.active():  # export mode: no lookup (rnnkit._tracing)
        return False
    if not runtime.settings.embedding_lookup or not compiled(E.dtype, E.device):
        return False
    if ids is None:
        return True
    if ids.dim() != 2:
        return False
    tune = impl == "auto" and weights is not None and native_ok and ids.numel() > 0
    if tune and autotune.enabled():
        return _tuned_lookup(E, ids, weights, sequences, table) == "lookup"
    return not (ids.shape[0] < LOOKUP_MIN_ROWS and torch.is_grad_enabled())


def _tuned_lookup(E: Tensor, ids: Tensor, weights, sequences: bool, table: Tensor | None) -> str:
    """'lookup' or 'native': the faster, here, for the class of this call (see
    :func:`lookup_applies`), timed on copies of the weights and the call's own ids."""
    W_x, W_h, b = weights
    (N, T), H = ids.shape, W_h.shape[0]
    if table is not None and (torch.is_grad_enabled() or table.shape[0] != E.shape[0]):
        table = None  # (lstm_ids reads a table only without gradients)
    # how often each distinct token recurs (the lookup's saving): IMDb ~4-8, uniform ids ~1
    repeats = recurrence(ids)
    source = f"ids:{E.shape[1]}/rep{repeats}" + ("+table" if table is not None else "")
    key = autotune.Key.of("lstm", N, T, H, source, E.dtype)
    zeros = E.new_zeros(N, H)

    def lookup(E_, W_x_, W_h_, b_):
        y, (h, _) = lstm_ids(
            E_, ids, zeros, zeros, W_x_, W_h_, b_, shared_padding=True, sequences=sequences,
            table=table,
        )  # fmt: skip
        return (y, h) if sequences else h

    def fused(E_, W_x_, W_h_, b_):
        x = torch.nn.functional.embedding(ids.long(), E_)  # as the Embedding layer
        y, (h, _) = native.lstm(x, zeros, zeros, W_x_, W_h_, b_)
        return (y, h) if sequences else h

    runs = {"lookup": lookup, "native": fused}
    return autotune.tuner().choose(key, _candidates((E, W_x, W_h, b), runs))


def tuning_state() -> tuple:
    """What the decisions of :func:`lookup_applies` depend on beyond the call's class: the
    autotuner (on or off, which one, its generation), the embedding-lookup setting, the thread
    count, the gradient mode and the process's precision (:func:`rnnkit.runtime.get_precision`). A caller that memoizes a decision for a class keys it with
    this too (:mod:`rnnkit.models.lean`)."""
    t = autotune.tuner()
    return (
        autotune.enabled(),
        id(t),
        t.generation,
        runtime.settings.embedding_lookup,
        torch.get_num_threads(),
        torch.is_grad_enabled(),
        runtime.get_precision(),
    )


def recurrence(ids: Tensor) -> int:
    """How often each distinct id of ``ids`` recurs, rounded down to a power of two: the
    ``repR`` of the autotuner's class of a lookup call."""
    return autotune.bucket(ids.numel() // max(1, torch.unique(ids).numel()))


def lstm_table_final(table: Tensor, ids: Tensor, W_h: Tensor) -> Tensor:
    """``lstm_ids(E, ids, zeros, zeros, W_x, W_h, b, shared_padding=True, sequences=False,
    table=table)``'s final ``h`` (1, H) for one row of ids (1, T), without gradients: the
    same compiled call with the same arguments, without the Python around it. The caller
    has checked the ids (in range of ``table``, the vocabulary table of :class:`VocabularyTable`)
    and that the lookup path applies (:func:`lookup_applies`)."""
    H = W_h.shape[0]
    zeros = table.new_zeros(1, H)
    where = ids.transpose(0, 1).contiguous()  # (T, 1): time-major, as lstm_lookup passes it
    h_T, _, _ = _ext.load().lstm_infer(
        None, table, where, zeros, zeros, W_h.contiguous(), None, False, None, 0
    )
    return h_T


def shares_padding(
    *, mask_zero: bool, go_backwards: bool, recurrent_dropout: bool, states=()
) -> bool:
    """The shared-padding rule (module docstring): whether the padding in front of the rows
    may be computed once for all rows, exactly. ``states``: the initial states, if given."""
    if mask_zero or go_backwards or recurrent_dropout:
        return False
    return all(torch.equal(s, s[:1].expand_as(s)) for s in states)


def lstm_ids(
    E: Tensor,
    ids: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    *,
    mask: Tensor | None = None,
    go_backwards: bool = False,
    recurrent_mask: Tensor | None = None,
    shared_padding: bool = False,
    sequences: bool = True,
    table: Tensor | None = None,
) -> tuple[Tensor | None, tuple[Tensor, Tensor]]:
    """The LSTM over ``E[ids]`` with the input projection looked up (the lookup path).

    Args:
        E: the embedding (V, D); ``ids`` int (N, T), checked by the caller.
        h0, c0, W_x, W_h, b, mask, go_backwards, recurrent_mask: as :func:`lstm`.
        shared_padding: the padding in front (token 0) runs once (:func:`shares_padding`
            said so for this call).
        sequences: False when only the final states are wanted (``y`` may come back None).
        table: ``E @ W_x + b`` for the whole vocabulary (V, 4H), from
            :meth:`VocabularyTable.hold`; used only without gradients.
    """
    if table is not None and table.shape[0] == E.shape[0] and not torch.is_grad_enabled():
        where, pad_row = ids.long(), 0
    else:
        tokens, where = torch.unique(ids, return_inverse=True)  # the batch's distinct tokens
        table = E[tokens] @ W_x  # (U, 4H): x @ W_x for each distinct token
        if b is not None:
            table = table + b
        pad_row = 0 if tokens.numel() and int(tokens[0]) == 0 else None  # token 0 is row 0
    return lstm_kernel.lstm_lookup(
        table,
        where,
        h0,
        c0,
        W_h,
        mask,
        go_backwards,
        recurrent_mask,
        sequences=sequences,
        pad_row=pad_row if shared_padding else None,
    )


class VocabularyTable:
    """``E @ W_x + b`` for the whole vocabulary, kept for the calls of predict / evaluate that
    run token ids through an LSTM without changing its weights.

    A call uses the table only if ``W_x``, ``b`` and the rows of ``E`` of the call's tokens
    equal the copy it was made from, compared exactly (an optimizer may change weights in
    place without a version bump, as fused Adam does); else it is dropped. Until it is made,
    each batch computes the rows of its own distinct tokens; it is made once calls with
    unchanged weights would have computed as many rows as the table has, this call included,
    counted as ``batches`` times its distinct tokens, at most its ids (the rent-or-buy rule:
    by then the calls have spent what the table costs, so they never spend more than twice the
    best choice made in hindsight). Tables over :data:`TABLE_BYTES` are never made.
    """

    _kept: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()  # layer -> table
    _lock = threading.Lock()

    def __init__(self, E: Tensor, W_x: Tensor, b: Tensor | None):
        weights = (E, W_x, b)
        self.weights = tuple(None if w is None else w.detach().clone() for w in weights)
        self.rows = 0  # rows computed without the table, with these weights
        self.table: Tensor | None = None

    @classmethod
    def hold(
        cls, layer, E: Tensor, W_x: Tensor, b: Tensor | None, ids: Tensor, batches: int = 1
    ) -> Tensor | None:
        """The table for a call that runs ``ids`` through ``layer`` in ``batches`` batches, or
        None while it does not pay yet (or is too large)."""
        if ids.numel() == 0 or E.shape[0] * W_x.shape[1] * E.element_size() > TABLE_BYTES:
            return None
        lo, hi = (int(v) for v in torch.aminmax(ids))
        if lo < 0 or hi >= E.shape[0]:
            return None  # the call itself reports bad ids
        ids = ids.reshape(-1).long()
        with cls._lock:
            kept = cls._kept.get(layer)
            if kept is not None:
                E_, W_x_, b_ = kept.weights
                if not (_same(W_x, W_x_) and _same(b, b_) and _same(E, E_, ids)):
                    kept = None
            if kept is None:
                kept = cls._kept[layer] = cls(E, W_x, b)
            if kept.table is None:
                # rows this call computes without the table: each batch its own distinct tokens
                distinct = int(torch.bincount(ids, minlength=E.shape[0]).count_nonzero())
                kept.rows += min(ids.numel(), distinct * batches)
                if kept.rows < E.shape[0]:
                    return None
                E_, W_x_, b_ = kept.weights
                with torch.no_grad():
                    kept.table = E_ @ W_x_ if b_ is None else torch.addmm(b_, E_, W_x_)
            return kept.table


def _same(a: Tensor | None, b: Tensor | None, rows: Tensor | None = None) -> bool:
    """Whether two optional tensors are equal (bit for bit with the compiled ops, else element
    for element); with ``rows`` (int64 ids), only those rows of theirs."""
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    a = a.detach()
    if a.device.type == "cpu" and a.is_contiguous() and b.is_contiguous():
        ops = _ext.load()
        if ops is not None:
            return bool(ops.equal_rows(a, b, rows))
    if rows is not None:
        a, b = a.index_select(0, rows), b.index_select(0, rows)
    return torch.equal(a, b)
