"""rnnkit models for tools outside rnnkit: ONNX files, and the export mode that
``torch.export``, ``torch.jit.trace`` and ``torch.compile`` see.

    from rnnkit import export

    export.onnx(model, "model.onnx", x)   # dynamic batch and length; onnxruntime runs it
    with export.exporting():              # the plain-op path, as an exporter sees it
        y = model(x)

Export mode (:mod:`rnnkit._tracing`): while a model is exported, traced or compiled (or inside
:func:`exporting`), its layers run plain PyTorch ops with no decision taken on the data: the
padding trim, the vocabulary table, the embedding lookup and rnnkit's compiled loops are
skipped; each recurrent layer runs PyTorch's fused operator where it computes the same thing
(no mask, no recurrent dropout, a tanh / relu SimpleRNN, a ``reset_after=True`` GRU), else a
time loop of plain ops (:mod:`rnnkit.kernels.traceable`). The numbers equal the fast paths'
to rounding.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from . import _files
from . import _validation as V
from ._tracing import active as is_exporting
from ._tracing import exporting

__all__ = [
    "DecoderStep",
    "Encoder",
    "ForecastEnsemble",
    "LanguageModelStep",
    "exporting",
    "is_exporting",
    "onnx",
]

OPSET = 17


def onnx(
    model: nn.Module,
    path,
    example,
    *,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes: dict | None = None,
    opset: int = OPSET,
) -> Path:
    """Write ``model`` (an ``nn.Module``: a Sequential, a functional Model, a task's network)
    to the ONNX file ``path``, written atomically (a temporary file in the same folder, then
    renamed); returns the path.

    Args:
        example: the input (a tensor) or inputs (a tuple) of one call; their values do not
            matter, their ranks and dtypes do.
        input_names, output_names: names in the file (default ``input_0, ...`` and
            ``output_0, ...``; a model returning nested lists of tensors has them flattened).
        dynamic_axes: ``{name: {axis: "label"}}`` as ``torch.onnx.export``; the default
            makes axis 0 of every input and output the batch, and axis 1 the length for
            integer ids ``(N, T)`` and for every 3-D tensor ``(N, T, ...)`` (a 2-D float
            input or output, a state ``(N, H)``, keeps its width).
        opset: the ONNX operator set (default 17).

    The model runs in inference mode (``eval``) and export mode (:func:`exporting`); its
    mode is restored after. Traced by the TorchScript exporter (``dynamo=False``): a layer
    with a mask keeps a loop over the length (ONNX ``Loop``), one without runs ONNX's
    ``LSTM`` / ``GRU`` / ``RNN`` operator.
    """
    if not isinstance(model, nn.Module):
        V.fail(
            "export.onnx", "model", "a torch.nn.Module (an rnnkit model or network)", model,
            TypeError,
        )  # fmt: skip
    args = example if isinstance(example, tuple) else (example,)
    if not args or not all(isinstance(a, Tensor) for a in args):
        V.fail("export.onnx", "example", "a tensor or a tuple of tensors", example, TypeError)
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), exporting():
            outputs = _flatten(model(*args))
            input_names = list(input_names or [f"input_{k}" for k in range(len(args))])
            output_names = list(output_names or [f"output_{k}" for k in range(len(outputs))])
            if dynamic_axes is None:
                dynamic_axes = {
                    **{n: _axes(a) for n, a in zip(input_names, args)},
                    **{n: _axes(o) for n, o in zip(output_names, outputs)},
                }
            buffer = io.BytesIO()
            with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice,
                warnings.simplefilter("ignore", DeprecationWarning)  # and the tracer's notes
                warnings.simplefilter("ignore", FutureWarning)  # on shapes read as numbers:
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # export mode's job
                torch.onnx.export(
                    model,
                    args,
                    buffer,
                    input_names=input_names,
                    output_names=output_names,
                    dynamic_axes=dynamic_axes,
                    opset_version=opset,
                    dynamo=False,
                )
    finally:
        model.train(training)
    path = Path(path)
    _files.write_bytes(path, buffer.getvalue())
    return path


def _axes(t: Tensor) -> dict[int, str]:
    """The default dynamic axes of a tensor: batch, and length for ids and 3-D tensors."""
    if t.dim() >= 3 or (t.dim() == 2 and not t.dtype.is_floating_point):
        return {0: "batch", 1: "length"}
    return {0: "batch"} if t.dim() >= 1 else {}


def _flatten(out) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [t for item in out for t in _flatten(item)]


class Encoder(nn.Module):
    """A translator's encoder as one module: ``source`` (N, S) ids -> encoder outputs
    (N, S, H), the source mask (N, S) and the encoder's final states (N, H) each
    (:func:`rnnkit.tasks.translate.model.encode`)."""

    def __init__(self, translator):
        super().__init__()
        self.net = _net(translator)
        for name in ("source_embedding", "encoder"):
            self.add_module(name, getattr(self.net, name))

    def forward(self, source: Tensor):
        mask = source != 0
        enc, *state = self.encoder(self.source_embedding(source), mask=mask)
        return (enc, mask, *state)


class DecoderStep(nn.Module):
    """A translator's decoder step as one module: ``prev`` (N,) ids, the encoder outputs,
    the source mask and the decoder states -> log-probabilities (N, V) and the new states
    (:func:`rnnkit.tasks.translate.model.decode_step`)."""

    def __init__(self, translator):
        super().__init__()
        self.net = _net(translator)
        for name in ("target_embedding", "decoder", "attention", "combine", "output"):
            layer = getattr(self.net, name)
            if layer is not None:
                self.add_module(name, layer)

    def forward(self, prev: Tensor, enc: Tensor, mask: Tensor, *state: Tensor):
        from .tasks.translate.model import decode_step

        logp, new_state = decode_step(self.net, prev, list(state), enc, mask)
        return (logp, *new_state)


def _net(translator):
    net = getattr(translator, "net_", None)
    net = translator if net is None else net  # a Translator, or its Seq2Seq
    if not hasattr(net, "decoder"):
        V.fail("export", "translator", "a fitted rnnkit Translator", translator, TypeError)
    return net


class LanguageModelStep(nn.Module):
    """A language model's network with its states as inputs and outputs: ``ids`` (N, T) and
    ``h_1, c_1, ..., h_L, c_L`` (N, units) each -> logits (N, T, V) and the states after the
    last step (zeros to start; the outputs fed back carry the text on, as
    :meth:`rnnkit.tasks.language_model.LanguageModel.generate` does)."""

    def __init__(self, language_model):
        super().__init__()
        net = getattr(language_model, "net_", language_model)  # a LanguageModel, or its net
        if not hasattr(net, "lstms"):
            V.fail(
                "export", "language_model", "a fitted rnnkit LanguageModel", language_model,
                TypeError,
            )  # fmt: skip
        self.net = net

    def forward(self, ids: Tensor, *state: Tensor):
        pairs = [(state[2 * k], state[2 * k + 1]) for k in range(len(state) // 2)]
        logits, new_state = self.net(ids, pairs)
        return (logits, *[t for pair in new_state for t in pair])

    def zero_state(self, batch: int) -> tuple[Tensor, ...]:
        """The starting states of ``batch`` rows: zeros ``(batch, units)``, two per layer."""
        units = self.net.lstms[0].units
        weight = next(self.net.parameters())
        return tuple(weight.new_zeros(batch, units) for _ in range(2 * len(self.net.lstms)))


class ForecastEnsemble(nn.Module):
    """A fitted forecaster's networks as one module: windows ``x`` (N, L, C) as
    :meth:`rnnkit.tasks.forecast.Forecaster.network_input` gives them -> the ensemble's mean
    (N, H) and calibrated standard deviation (N, H), in the scaled units (mean of the members'
    means; variance = mean of their variances + variance of their means; times ``kappa_``, one
    factor per step). A blended forecaster's mean is ``w mean + (1 - w) anchor``: with the
    ``"window"`` scaling the anchor (the drift forecast relative to the window's last value,
    ``h slope_ / scale``) does not depend on the window, so it is a constant of the file."""

    def __init__(self, forecaster):
        super().__init__()
        nets = getattr(forecaster, "nets_", None)
        if not nets:
            V.fail("export", "forecaster", "a fitted rnnkit Forecaster", forecaster, TypeError)
        weight = float(getattr(forecaster, "weight_", 1.0))
        if weight != 1.0 and forecaster.scaler_.kind != "window":
            V.fail(
                "export",
                "forecaster",
                "a forecaster without blending, or blended with the 'window' scaling (the "
                "anchor of another scaling's blend is not in the file)",
                f"blend weight {weight} with scaling {forecaster.scaler_.kind!r}",
            )
        self.members = nn.ModuleList(nets)
        kappa = torch.as_tensor(getattr(forecaster, "kappa_", 1.0), dtype=torch.float32)
        self.register_buffer("kappa", kappa.reshape(-1).clone())  # (H,): one factor per step
        H = self.kappa.shape[0]
        steps = torch.arange(1, H + 1, dtype=torch.float32)  # (H,)
        slope = float(getattr(forecaster, "slope_", 0.0))
        anchor = steps * slope / forecaster.scaler_.scale if weight != 1.0 else 0.0 * steps
        self.register_buffer("weight", torch.tensor(weight, dtype=torch.float32))
        self.register_buffer("anchor", anchor)  # (H,) the blend's anchor in the scaled units

    def forward(self, x: Tensor):
        outs = [member(x) for member in self.members]
        means = torch.stack([m for m, _ in outs])  # (K, N, H)
        variances = torch.stack([s * s for _, s in outs])  # (K, N, H)
        mean = means.mean(0)  # (N, H)
        spread = ((means - mean) ** 2).mean(0)  # (N, H) the variance of the means
        blended = self.weight * mean + (1 - self.weight) * self.anchor  # (N, H)
        return blended, self.kappa * torch.sqrt(variances.mean(0) + spread)
