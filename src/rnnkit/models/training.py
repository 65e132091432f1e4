"""The training loop behind ``Sequential.fit`` / ``evaluate`` / ``predict``.

It works on a model's public surface: ``model(x, logits=...)``, ``model.parameters()``,
``model.layers`` (the last one decides whether the loss takes logits), ``model.train()`` /
``model.eval()``, ``model.build``, the settings ``compile`` stored (``loss_name``, ``loss_fn``,
``metric_names``, ``optimizer_spec``, ``optimizer``) and the flag ``stop_training`` that callbacks
set. ``evaluate`` and ``predict`` take their batches and the vocabulary table of the call from
:mod:`rnnkit.models.execution`.

One epoch of ``fit``::

    batches = shuffled row indices, cut in batch_size (or length buckets: models.padding)
    for each batch:  forward -> loss -> backward -> (finite loss?) clip -> optimizer step
                     running loss and metrics -> callbacks' on_train_batch_end
                     -> a backup every save_freq steps (BackupAndRestore)
    validation (evaluate on the held-out part) -> callbacks' on_epoch_end -> a backup

Checks made once, before the first step: the arguments, the labels against the loss
(:func:`check_labels`), and a backup to resume from (:class:`~.callbacks.BackupAndRestore`).
A non-finite loss stops training before its step is applied (:class:`~.callbacks.TerminateOnNaN`,
on by default).
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .. import _validation as V
from .. import constraints, regularizers, runtime
from ..layers import Dense
from . import callbacks as callbacks_module
from . import execution, padding
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .graph_inputs import GraphInputs
from .splits import split_last

# -- inputs -----------------------------------------------------------------------------------


def to_tensor(data, name: str, owner: str, device: torch.device | None = None) -> Tensor:
    """Array-like -> tensor on ``device``: integers as int64, floats as float32, bools kept.

    A tensor is used as it is (only its dtype and device may change); anything else goes
    through ``numpy.asarray``, which must give a rectangular array of numbers.
    """
    if data is None:
        raise ValueError(f"{owner}: `{name}` expected an array or tensor, received None.")
    if isinstance(data, GraphInputs):  # a functional model's several inputs, converted already
        return data if device is None else data.to(device)
    if isinstance(data, Tensor):
        t = data
    else:
        arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        if arr.dtype == object:
            raise ValueError(
                f"{owner}: `{name}` expected a rectangular array, received "
                f"ragged sequences (dtype object); pad them first with "
                f"rnnkit.text.pad_sequences."
            )
        if arr.dtype.kind not in "biuf":
            V.fail(owner, name, "an array of numbers", arr, TypeError)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dtype.is_floating_point and t.dtype != torch.float32:
        t = t.float()
    elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8):
        t = t.long()
    return t if device is None else t.to(device)


def device_of(model) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def verbosity(verbose, owner: str = "Sequential") -> int:
    """0, 1 or 2 from Keras's ``verbose``: 'auto' is a bar on a terminal, lines otherwise."""
    if verbose == "auto":
        return 1 if sys.stderr.isatty() else 2
    if verbose not in (0, 1, 2):
        V.fail(owner, "verbose", "0, 1, 2 or 'auto'", verbose)
    return verbose


# -- labels -----------------------------------------------------------------------------------


def _output_classes(model) -> int | None:
    """The size of the model's last output axis, where known (the classes of a softmax)."""
    shape = model.output_shape
    return shape[-1] if isinstance(shape, tuple) and shape and shape[-1] is not None else None


def _first(bad: Tensor, y: Tensor) -> str:
    """``<value> (sample <i>)`` for the first True of ``bad`` (same shape as ``y``)."""
    flat = int(bad.reshape(-1).to(torch.int8).argmax())
    per_sample = max(y[0].numel(), 1) if len(y) else 1
    value = y.reshape(-1)[flat].item()
    return f"{value!r} (sample {flat // per_sample})"


def check_labels(owner: str, name: str, y: Tensor, loss_name: str, classes: int | None) -> None:
    """Check that the labels ``y`` suit the loss, in one pass over them.

    * ``binary_crossentropy``: finite values in [0, 1];
    * ``sparse_categorical_crossentropy``: whole-number class ids in [0, classes);
    * ``categorical_crossentropy``: rows of ``classes`` values in [0, 1] summing to 1
      (one-hot, or probabilities for soft targets);
    * ``mse`` / ``mae`` (and their long names): finite values.

    A loss given as a callable is not checked. Raises ``ValueError`` naming the first offending
    value and its sample, e.g. ``fit: `y` expected labels in [0, 1] for binary_crossentropy,
    received 2.0 (sample 0).``
    """
    if not isinstance(loss_name, str) or loss_name not in losses_module.LOSSES or not y.numel():
        return
    v = y if y.dtype.is_floating_point else y.double()
    if loss_name == "binary_crossentropy":
        bad = ~((v >= 0) & (v <= 1))  # NaN compares False: caught too
        if bool(bad.any()):
            raise ValueError(
                f"{owner}: `{name}` expected labels in [0, 1] for binary_crossentropy, "
                f"received {_first(bad, y)}."
            )
    elif loss_name == "sparse_categorical_crossentropy":
        top = classes if classes is not None else math.inf
        bad = ~((v >= 0) & (v < top) & (v == v.floor()))
        if bool(bad.any()):
            ids = f"[0, {classes})" if classes is not None else "[0, classes)"
            raise ValueError(
                f"{owner}: `{name}` expected integer class ids in {ids} for "
                f"sparse_categorical_crossentropy, received {_first(bad, y)}."
            )
    elif loss_name == "categorical_crossentropy":
        if v.dim() < 2 or (classes is not None and v.shape[-1] != classes):
            width = classes if classes is not None else "C"
            raise ValueError(
                f"{owner}: `{name}` expected one-hot rows of shape (N, {width}) for "
                f"categorical_crossentropy, received shape {tuple(v.shape)}."
            )
        bad = ~((v >= 0) & (v <= 1))
        if bool(bad.any()):
            raise ValueError(
                f"{owner}: `{name}` expected one-hot rows (values in [0, 1] summing to 1) for "
                f"categorical_crossentropy, received {_first(bad, y)}."
            )
        sums = v.sum(dim=-1, dtype=torch.float64)  # (N, ...)
        off = (sums - 1).abs() > 1e-3
        if bool(off.any()):
            k = int(off.reshape(-1).to(torch.int8).argmax())
            per_sample = max(sums[0].numel(), 1)
            raise ValueError(
                f"{owner}: `{name}` expected one-hot rows (values in [0, 1] summing to 1) for "
                f"categorical_crossentropy, received a row summing to "
                f"{sums.reshape(-1)[k].item()!r} (sample {k // per_sample})."
            )
    else:  # mse, mae
        bad = ~torch.isfinite(v)
        if bool(bad.any()):
            raise ValueError(
                f"{owner}: `{name}` expected finite labels for {loss_name}, "
                f"received {_first(bad, y)}."
            )


# -- one step ---------------------------------------------------------------------------------


def require_compiled(model, method: str) -> None:
    if not getattr(model, "compiled", False):
        raise RuntimeError(
            f"Sequential.{method}: the model must be compiled first: call "
            "model.compile(optimizer=..., loss=...)."
        )


def optimizer_of(model) -> torch.optim.Optimizer:
    """The model's ``torch.optim`` optimizer, built from its spec on first use."""
    if model.optimizer is None:
        model.optimizer = model.optimizer_spec.build(
            [p for p in model.parameters() if p.requires_grad]
        )
    return model.optimizer


def uses_logits(model) -> bool:
    """Whether the loss can take the last Dense layer's logits (exact and more stable)."""
    last = model.layers[-1]
    return (
        isinstance(last, Dense)
        and losses_module.LOGIT_ACTIVATION.get(model.loss_name) == last.activation
    )


def loss_and_probs(
    model, xb: Tensor, yb: Tensor, wb: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The batch's loss and the model's outputs (probabilities after the last activation).

    With sample weights ``wb`` the loss is Keras's weighted ``sum_over_batch_size``:
    ``sum(w_i * loss_i) / N`` (:func:`rnnkit.models.losses.weighted`).
    """
    if uses_logits(model):
        z = model(xb, logits=True)
        if wb is None:
            loss = model.loss_fn(yb, z, from_logits=True)
        else:
            values = losses_module.per_sample(model.loss_name, yb, z, from_logits=True)
            loss = losses_module.weighted(values, wb)
        probs = (
            torch.sigmoid(z) if model.layers[-1].activation == "sigmoid" else torch.softmax(z, -1)
        )
        return regularizers.add_penalties(model, loss), probs  # + the layers' penalties
    y_pred = model(xb)
    if wb is None:
        return regularizers.add_penalties(model, model.loss_fn(yb, y_pred)), y_pred
    values = losses_module.per_sample(model.loss_name, yb, y_pred)
    return regularizers.add_penalties(model, losses_module.weighted(values, wb)), y_pred


# -- sample weights ---------------------------------------------------------------------------


def sample_weights(
    owner: str, model, y: Tensor, sample_weight=None, class_weight=None
) -> Tensor | None:
    """The per-sample weights of ``(sample_weight, class_weight)``, checked, or None.

    ``sample_weight``: ``(N,)`` (or ``(N, T)`` for a sequence output, one weight per step) of
    finite, non-negative numbers. ``class_weight``: ``{class: weight}``; a sample weighs the
    weight of its label (a binary label rounded, a one-hot row's argmax, a class id); classes
    left out weigh 1.0, as Keras. Both at once are refused, as Keras.
    """
    if sample_weight is None and class_weight is None:
        return None
    if not isinstance(model.loss_name, str) or model.loss_name not in losses_module.LOSSES:
        raise ValueError(
            f"{owner}: `sample_weight` / `class_weight` expected a loss given by name "
            f"(its per-sample values are needed), received the callable {model.loss_name!r}."
        )
    if sample_weight is not None and class_weight is not None:
        raise ValueError(
            f"{owner}: `class_weight` expected None when `sample_weight` is given (as Keras), "
            f"received {class_weight!r}."
        )
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            V.fail(owner, "class_weight", "a dict {class: weight}", class_weight, TypeError)
        labels = y
        if labels.dim() > 1 and labels.shape[-1] > 1:
            labels = labels.argmax(dim=-1)  # one-hot rows -> class ids
        elif labels.dim() > 1:
            labels = labels.squeeze(-1)
        if labels.dim() != 1:
            raise ValueError(
                f"{owner}: `class_weight` expected one label per sample, received labels of "
                f"shape {tuple(y.shape)}; use `sample_weight` for sequence targets."
            )
        ids = labels.double().round().long().cpu()  # (N,)
        table = torch.ones(int(ids.max()) + 1 if len(ids) else 1, dtype=torch.float64)
        for label, weight in class_weight.items():
            if not 0 <= int(label) < len(table):
                continue
            table[int(label)] = float(weight)
        w = table[ids.clamp(min=0)].float().to(y.device)
    else:
        w = to_tensor(sample_weight, "sample_weight", owner, y.device).float()
    if w.dim() == 0 or len(w) != len(y):
        raise ValueError(
            f"{owner}: `sample_weight` expected one weight per sample ({len(y)}), "
            f"received shape {tuple(w.shape)}."
        )
    bad = ~(torch.isfinite(w) & (w >= 0))
    if bool(bad.any()):
        raise ValueError(
            f"{owner}: `sample_weight` expected finite, non-negative weights, "
            f"received {_first(bad, w)}."
        )
    return w


# -- fit --------------------------------------------------------------------------------------


@dataclass
class FitState:
    """Where a ``fit`` is: what a backup saves and a resumed ``fit`` starts from."""

    epoch: int  # the epoch running, or the next one to run (0-based)
    step: int = 0  # batches of this epoch done
    batches: list[Tensor] | None = None  # this epoch's row indices per batch; None: not drawn
    loss_sum: float = 0.0  # sum over the batches done of loss * batch size
    seen: int = 0  # samples of the batches done
    metrics: list = field(default_factory=list)  # this epoch's running metrics
    finished: bool = False  # a callback stopped training: no further epoch


def fit(
    model,
    x=None,
    y=None,
    batch_size: int = 32,
    epochs: int = 1,
    verbose="auto",
    callbacks=None,
    validation_split: float = 0.0,
    validation_data=None,
    shuffle: bool = True,
    initial_epoch: int = 0,
    bucketing: bool = False,
    terminate_on_nan: bool = True,
    sample_weight=None,
    class_weight=None,
) -> callbacks_module.History:
    """Train ``model``; the arguments are :meth:`rnnkit.models.Sequential.fit`'s."""
    require_compiled(model, "fit")
    reset_metrics(model)  # as Keras: fit starts the running metrics of *_on_batch afresh
    batch_size = V.positive_int("fit", "batch_size", batch_size)
    epochs = V.positive_int("fit", "epochs", epochs)
    verbose = verbosity(verbose)
    V.boolean("fit", "terminate_on_nan", terminate_on_nan)
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        V.fail("fit", "validation_split", "a number in [0, 1)", validation_split)
    device = device_of(model)
    x, y = to_tensor(x, "x", "fit", device), to_tensor(y, "y", "fit", device)
    if len(x) != len(y):
        raise ValueError(
            f"fit: `x` and `y` expected the same number of samples, received {len(x)} and {len(y)}."
        )
    if len(x) == 0:
        raise ValueError("fit: `x` expected at least one sample, received 0.")
    w = sample_weights("fit", model, y, sample_weight, class_weight)  # (N,) or None
    w_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            V.fail(
                "fit",
                "validation_data",
                "a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)",
                validation_data,
                TypeError,
            )
        x_val, y_val = (to_tensor(v, "validation_data", "fit", device) for v in validation_data[:2])
        if len(validation_data) == 3 and validation_data[2] is not None:
            w_val = sample_weights("fit", model, y_val, validation_data[2])
    elif validation_split and w is not None:
        x, y, w, x_val, y_val, w_val = split_last(validation_split, x, y, w)
    elif validation_split:
        x, y, x_val, y_val = split_last(validation_split, x, y)
    else:
        x_val = y_val = None
    if bucketing and (x.dim() != 2 or x.dtype.is_floating_point):
        raise ValueError(
            f"fit: `bucketing` expected token ids `x` of shape (N, T), received "
            f"{x.dtype} of shape {tuple(x.shape)}."
        )
    if bucketing and not shuffle:
        raise ValueError(
            "fit: `bucketing` expected shuffle=True (batches are drawn at "
            "random), received shuffle=False."
        )
    if not model.built:
        model.build((None, *x.shape[1:]))
    classes = _output_classes(model)
    check_labels("fit", "y", y, model.loss_name, classes)
    if y_val is not None:
        check_labels("fit", "validation_data", y_val, model.loss_name, classes)

    runtime.tune_allocator()
    optimizer = optimizer_of(model)
    history = callbacks_module.History()
    given = list(callbacks or [])
    if terminate_on_nan and not any(isinstance(c, callbacks_module.TerminateOnNaN) for c in given):
        given.append(callbacks_module.TerminateOnNaN())
    cbs = [*given, history]  # History last, as Keras: it sees what the others log
    guard = any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs)
    backups = [c for c in cbs if isinstance(c, callbacks_module.BackupAndRestore)]
    if len(backups) > 1:
        V.fail("fit", "callbacks", "at most one BackupAndRestore", given)
    backup = backups[0] if backups else None
    steps = math.ceil(len(x) / batch_size)
    params = {"epochs": epochs, "steps": steps, "verbose": verbose}
    history.params = params
    for cb in cbs:
        cb.set_model(model)
        cb.params = params
        cb.on_train_begin()
    model.stop_training = False
    state = FitState(epoch=initial_epoch)
    if backup is not None:
        backup.fingerprint = {
            "samples": len(x),
            "batch_size": batch_size,
            "shuffle": bool(shuffle),
            "bucketing": bool(bucketing),
            "loss": str(model.loss_name),
            "callbacks": [type(c).__name__ for c in cbs],
            "parameters": {k: list(v.shape) for k, v in model.state_dict().items()},
        }
        backup.restore(state, cbs, optimizer)

    base_begin = callbacks_module.Callback.on_train_batch_begin
    begins = [c for c in cbs if type(c).on_train_batch_begin is not base_begin]  # often none
    weights = [p for p in model.parameters() if p.requires_grad]
    clip = isinstance(model.optimizer_spec, optimizers_module.Optimizer)
    while state.epoch < epochs and not state.finished:
        epoch = state.epoch
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        model.train()
        if state.batches is None:  # a fresh epoch (else: resumed from a backup mid-epoch)
            state.metrics = metric_objects(model)
            if bucketing:
                state.batches = padding.length_batches(x, batch_size)
            else:
                order = torch.randperm(len(x)) if shuffle else torch.arange(len(x))
                state.batches = list(order.split(batch_size))
            state.step, state.loss_sum, state.seen = 0, 0.0, 0
        metrics, batches = state.metrics, state.batches
        loss_sum, seen = state.loss_sum, state.seen
        logs = {"loss": loss_sum / seen, **{m.name: m.result() for m in metrics}} if seen else {}
        start = time.perf_counter()
        if verbose == 1:
            print(f"Epoch {epoch + 1}/{epochs}", file=sys.stderr)
        bar = tqdm(
            total=steps,
            initial=state.step,
            disable=verbose != 1,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
            leave=True,
        )
        for step in range(state.step, len(batches)):
            for cb in begins:
                cb.on_train_batch_begin(step)
            idx = batches[step]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            loss, probs = loss_and_probs(model, xb, yb, None if w is None else w[idx])
            loss.backward()
            value = loss.item()
            if not guard or math.isfinite(value):  # a non-finite loss's step is not applied
                if clip:
                    model.optimizer_spec.clip(weights)
                optimizer.step()
                constraints.apply(model)  # as Keras: project constrained weights after a step
            n = len(idx)
            loss_sum += value * n
            seen += n
            with torch.no_grad():
                for m in metrics:
                    m.update(yb, probs.detach())
            logs = {"loss": loss_sum / seen, **{m.name: m.result() for m in metrics}}
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            for cb in cbs:
                cb.on_train_batch_end(step, logs)
            if model.stop_training:
                break
            if backup is not None and backup.due_after_step(step + 1, len(batches)):
                state.step, state.loss_sum, state.seen = step + 1, loss_sum, seen
                backup.save(state, cbs, optimizer)
        if x_val is not None:
            val = _evaluate(model, x_val, y_val, batch_size, verbose=0, w=w_val)
            logs.update({f"val_{k}": v for k, v in val.items()})
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
        bar.close()
        if verbose == 2:
            took = time.perf_counter() - start
            text = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {took:.0f}s - {text}", file=sys.stderr)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        state.epoch, state.step, state.batches = epoch + 1, 0, None
        state.loss_sum, state.seen, state.metrics = 0.0, 0, []
        state.finished = bool(model.stop_training)
        if backup is not None:
            backup.save(state, cbs, optimizer)
    for cb in cbs:
        cb.on_train_end()
    model.eval()
    return history


# -- evaluate, predict ------------------------------------------------------------------------


def _evaluate(
    model, x: Tensor, y: Tensor, batch_size: int, verbose: int, w: Tensor | None = None
) -> dict[str, float]:
    """Loss and metrics on tensors already checked: ``{'loss': ..., '<metric>': ...}``; with
    sample weights ``w`` the loss is ``sum(w_i * loss_i) / N`` (the metrics unweighted)."""
    model.eval()
    metrics = metric_objects(model)
    loss_sum = 0.0
    batches = execution.inference_batches(x, batch_size, model)
    with torch.no_grad(), execution.vocabulary_table(model, x, len(batches)):
        for idx in tqdm(batches, disable=verbose != 1, file=sys.stderr, unit="step"):
            xb, yb = x[idx], y[idx]
            loss, probs = loss_and_probs(model, xb, yb, None if w is None else w[idx])
            loss_sum += float(loss) * len(xb)
            for m in metrics:
                m.update(yb, probs)
    return {"loss": loss_sum / max(len(x), 1), **{m.name: m.result() for m in metrics}}


def evaluate(
    model,
    x=None,
    y=None,
    batch_size: int = 32,
    verbose="auto",
    return_dict=False,
    sample_weight=None,
):
    """Loss and metrics of ``model`` on ``(x, y)``; the arguments are
    :meth:`rnnkit.models.Sequential.evaluate`'s."""
    require_compiled(model, "evaluate")
    reset_metrics(model)
    batch_size = V.positive_int("evaluate", "batch_size", batch_size)
    verbose = verbosity(verbose)
    device = device_of(model)
    x, y = to_tensor(x, "x", "evaluate", device), to_tensor(y, "y", "evaluate", device)
    if len(x) != len(y):
        raise ValueError(
            f"evaluate: `x` and `y` expected the same number of samples, "
            f"received {len(x)} and {len(y)}."
        )
    check_labels("evaluate", "y", y, model.loss_name, _output_classes(model))
    w = sample_weights("evaluate", model, y, sample_weight)
    results = _evaluate(model, x, y, batch_size, verbose, w)
    if not math.isfinite(results["loss"]):
        warnings.warn(
            f"evaluate: the loss is {results['loss']}: the model's weights or the inputs are "
            "not finite, so its metrics describe no real predictions.",
            RuntimeWarning,
            stacklevel=3,
        )
    if return_dict:
        return results
    return results["loss"] if len(results) == 1 else list(results.values())


@torch.no_grad()
def predict(model, x, batch_size: int = 32, verbose=0) -> np.ndarray:
    """Outputs of ``model`` for ``x`` in batches, as a NumPy array in the order of ``x``."""
    batch_size = V.positive_int("predict", "batch_size", batch_size)
    verbose = verbosity(verbose)
    x = to_tensor(x, "x", "predict", device_of(model))
    if not model.built:
        model.build((None, *x.shape[1:]))
    runtime.tune_allocator()
    model.eval()
    batches = execution.inference_batches(x, batch_size, model)
    progress = tqdm(batches, file=sys.stderr, unit="step") if verbose == 1 else batches
    with execution.vocabulary_table(model, x, len(batches)):
        outs = [model(x if len(batches) == 1 else x[idx]) for idx in progress]
    if outs and isinstance(outs[0], (list, tuple)):  # a functional model's several outputs
        shapes = model.output_shape
        return [
            _predictions([o[k] for o in outs], batches, len(x), shapes[k])
            for k in range(len(outs[0]))
        ]
    return _predictions(outs, batches, len(x), model.output_shape)


def _predictions(outs: list[Tensor], batches, n: int, shape) -> np.ndarray:
    """The batches' outputs ``outs`` as one array in the order of the inputs (``n`` rows)."""
    if not outs:
        return np.zeros((0, *shape[1:]), dtype=np.float32)
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    if len(outs) > 1:
        order = torch.cat(batches)
        if not torch.equal(order, torch.arange(n)):
            out = out[torch.argsort(order)]  # back to the order of x
    out = out.cpu().numpy()
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        warnings.warn(
            f"predict: {bad} of {out.size} outputs are NaN or infinite: the model's weights or "
            "the inputs are not finite.",
            RuntimeWarning,
            stacklevel=4,
        )
    return out


def metric_objects(model) -> list:
    """Fresh metric objects for the names ``compile`` stored, each under its own name in the
    logs: a name given twice is logged as ``name``, ``name_1``, ... (as Keras)."""
    metrics, seen = [], {}
    for spec in model.metric_names:
        m = metrics_module.get(spec, model.loss_name)
        base = m.name
        if base in seen:
            seen[base] += 1
            m.name = f"{base}_{seen[base]}"
        else:
            seen[base] = 0
        metrics.append(m)
    return metrics


# -- one batch: train_on_batch, test_on_batch, predict_on_batch ---------------------------------


def reset_metrics(model) -> None:
    """Forget the running loss and metrics of ``train_on_batch`` / ``test_on_batch``."""
    model._batch_state = None


def _batch_logs(model, value: float, n: int, yb: Tensor, probs: Tensor) -> dict[str, float]:
    """Add one batch to the running loss and metrics kept since the last reset (as Keras 3:
    the loss is the mean over those batches weighted by their sizes), and return them."""
    state = getattr(model, "_batch_state", None)
    if state is None:
        state = model._batch_state = {"loss_sum": 0.0, "seen": 0, "metrics": metric_objects(model)}
    state["loss_sum"] += value * n
    state["seen"] += n
    with torch.no_grad():
        for m in state["metrics"]:
            m.update(yb, probs.detach())
    loss = state["loss_sum"] / max(state["seen"], 1)
    return {"loss": loss, **{m.name: m.result() for m in state["metrics"]}}


def _batch_inputs(owner: str, model, x, y, sample_weight, class_weight):
    require_compiled(model, owner)
    device = device_of(model)
    x, y = to_tensor(x, "x", owner, device), to_tensor(y, "y", owner, device)
    if len(x) != len(y):
        raise ValueError(
            f"{owner}: `x` and `y` expected the same number of samples, "
            f"received {len(x)} and {len(y)}."
        )
    if len(x) == 0:
        raise ValueError(f"{owner}: `x` expected at least one sample, received 0.")
    if not model.built:
        model.build((None, *x.shape[1:]))
    check_labels(owner, "y", y, model.loss_name, _output_classes(model))
    w = sample_weights(owner, model, y, sample_weight, class_weight)
    return x, y, w


def _batch_result(logs: dict, return_dict: bool):
    if return_dict:
        return logs
    return logs["loss"] if len(logs) == 1 else list(logs.values())


def train_on_batch(model, x, y, sample_weight=None, class_weight=None, return_dict: bool = False):
    """One optimizer step on exactly ``(x, y)``; the arguments are
    :meth:`rnnkit.models.Sequential.train_on_batch`'s."""
    x, y, w = _batch_inputs("train_on_batch", model, x, y, sample_weight, class_weight)
    optimizer = optimizer_of(model)
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss, probs = loss_and_probs(model, x, y, w)
    loss.backward()
    if isinstance(model.optimizer_spec, optimizers_module.Optimizer):
        model.optimizer_spec.clip([p for p in model.parameters() if p.requires_grad])
    optimizer.step()
    constraints.apply(model)
    model.eval()
    return _batch_result(_batch_logs(model, loss.item(), len(x), y, probs), return_dict)


@torch.no_grad()
def test_on_batch(model, x, y, sample_weight=None, return_dict: bool = False):
    """Loss and metrics on exactly ``(x, y)``, no step; the arguments are
    :meth:`rnnkit.models.Sequential.test_on_batch`'s."""
    x, y, w = _batch_inputs("test_on_batch", model, x, y, sample_weight, None)
    model.eval()
    loss, probs = loss_and_probs(model, x, y, w)
    return _batch_result(_batch_logs(model, loss.item(), len(x), y, probs), return_dict)


@torch.no_grad()
def predict_on_batch(model, x) -> np.ndarray:
    """The model's outputs for exactly the batch ``x``, as a NumPy array (one forward pass)."""
    x = to_tensor(x, "x", "predict_on_batch", device_of(model))
    if not model.built:
        model.build((None, *x.shape[1:]))
    model.eval()
    return model(x).cpu().numpy()
