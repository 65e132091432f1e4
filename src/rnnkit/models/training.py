"""The training loop behind ``Sequential.fit`` / ``evaluate`` / ``predict``.

It works on a model's public surface: ``model(x, logits=...)``, ``model.parameters()``,
``model.layers`` (the last one decides whether the loss takes logits), ``model.train()`` /
``model.eval()``, ``model.build``, the settings ``compile`` stored (``loss_name``, ``loss_fn``,
``metric_names``, ``optimizer_spec``, ``optimizer``) and the flag ``stop_training`` that callbacks
set. ``evaluate`` and ``predict`` take their batches and the vocabulary table of the call from
:mod:`rnnkit.models.execution`.

Where the batches come from is a *feed*: :class:`ArrayFeed` for arrays (row indices drawn per
epoch, kept in the :class:`FitState` so a backup resumes mid-epoch), :class:`StreamFeed` for a
generator, an iterable of batches, a torch Dataset / DataLoader, or arrays with
``steps_per_epoch`` (:mod:`rnnkit.models.data`). One epoch of ``fit``::

    for (step, xb, yb, wb) in feed.batches(state):
                     forward -> loss (masked steps out) -> backward -> (finite loss?) clip
                     -> optimizer step -> running loss and metrics
                     -> callbacks' on_train_batch_end (stop_training: stop after this batch)
                     -> a backup every save_freq steps (BackupAndRestore, arrays only)
    validation (arrays or a stream) -> callbacks' on_epoch_end -> a backup

The loss of a batch is Keras's ``sum_over_batch_size``, with the steps masked in the model's
output (its ``_keras_mask``) left out, and the metrics skip them too (:func:`batch_loss`).

Checks made once, before the first step: the arguments, the labels against the loss
(:func:`check_labels`), and a backup to resume from (:class:`~.callbacks.BackupAndRestore`).
A non-finite loss stops training before its step is applied (:class:`~.callbacks.TerminateOnNaN`,
on by default).
"""

from __future__ import annotations

import contextlib
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
from .. import distributed as distributed_module
from ..layers import Dense
from . import callbacks as callbacks_module
from . import data as data_module
from . import execution, lean, padding
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .graph_inputs import GraphInputs
from .splits import split_last

# -- inputs -----------------------------------------------------------------------------------


to_tensor = data_module.to_tensor  # array-like -> tensor (ragged refused, bools as floats)


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

    A loss object is checked as the loss it computes (a
    ``SparseCategoricalCrossentropy(ignore_class=k)`` lets the id ``k`` pass); a loss given as a
    plain callable is not checked. Raises ``ValueError`` naming the first offending value and
    its sample, e.g. ``fit: `y` expected labels in [0, 1] for binary_crossentropy, received 2.0
    (sample 0).``
    """
    ignored = getattr(loss_name, "ignore_class", None)
    loss_name = losses_module.kind(loss_name)
    if loss_name is None or not y.numel():
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
        if ignored is not None:
            bad &= v != ignored
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
    """Whether the loss can take the last Dense layer's logits (exact and more stable): a
    cross-entropy on probabilities after a Dense layer with the matching activation."""
    last = model.layers[-1]
    return (
        isinstance(last, Dense)
        and not getattr(model.loss_fn, "from_logits", False)
        and losses_module.LOGIT_ACTIVATION.get(losses_module.kind(model.loss_name))
        == last.activation
    )


def output_mask(y_pred) -> Tensor | None:
    """The mask a model's output carries (``_keras_mask``: True where a time step counts),
    set where the output keeps the mask of its input (e.g. ``Embedding(mask_zero=True)`` then
    ``return_sequences=True``); None for an output without one."""
    return getattr(y_pred, "_keras_mask", None)


def loss_and_probs(model, xb, yb: Tensor, wb: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The batch's loss and the model's outputs (:func:`batch_loss` without the mask)."""
    loss, probs, _ = batch_loss(model, xb, yb, wb)
    return loss, probs


def batch_loss(
    model, xb, yb: Tensor, wb: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """The batch's loss, the model's outputs (probabilities after the last activation) and
    their mask (None: every step counts).

    The loss is Keras's ``sum_over_batch_size`` reduction: ``sum(w_i * loss_i) / N`` with
    sample weights ``wb`` (:func:`rnnkit.models.losses.weighted`), and the time steps masked in
    the output left out: ``sum(loss over kept steps) / count(kept)``
    (:func:`rnnkit.models.losses.reduce`).
    """
    logits = uses_logits(model)
    out = model(xb, logits=True) if logits else model(xb)
    mask = output_mask(out)
    if wb is None and mask is None and not isinstance(model.loss_fn, losses_module.Loss):
        # a loss given by name or as a function, nothing to weigh: the plain function
        loss = model.loss_fn(yb, out, from_logits=True) if logits else model.loss_fn(yb, out)
    else:
        loss = losses_module.as_object(model.loss_name, model.loss_fn)(
            yb, out, sample_weight=wb, from_logits=True if logits else None
        )
    loss = regularizers.add_penalties(model, loss)  # + the layers' penalties (model.losses)
    if not logits:
        return loss, out, mask
    probs = (
        torch.sigmoid(out) if model.layers[-1].activation == "sigmoid" else torch.softmax(out, -1)
    )
    return loss, probs, mask


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
    if (
        not isinstance(model.loss_fn, losses_module.Loss)
        and losses_module.kind(model.loss_name) is None
    ):
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


def _steps(owner: str, name: str, value) -> int | None:
    """``steps_per_epoch`` / ``validation_steps`` / ``steps``: None or a positive integer."""
    return None if value is None else V.positive_int(owner, name, value)


class ArrayFeed:
    """``fit``'s batches from arrays: the row indices of each batch, drawn at the start of an
    epoch (shuffled, or by length with ``bucketing``) and kept in the :class:`FitState`, so
    that a backup resumes in the middle of an epoch."""

    resumable = True

    def __init__(self, x, y: Tensor, w: Tensor | None, batch_size: int, shuffle, bucketing):
        self.x, self.y, self.w = x, y, w
        self.batch_size, self.shuffle, self.bucketing = batch_size, shuffle, bucketing
        self.samples = data_module.num_samples(x, "fit")
        self.steps = math.ceil(self.samples / batch_size)
        self.ran_out = False

    def batches(self, state: FitState):
        """``(step, xb, yb, wb)`` for the steps of this epoch still to run."""
        if state.batches is None:  # a fresh epoch (else: resumed from a backup mid-epoch)
            if self.bucketing:
                state.batches = padding.length_batches(self.x, self.batch_size)
            else:
                n = self.samples
                order = torch.randperm(n) if self.shuffle else torch.arange(n)
                state.batches = list(order.split(self.batch_size))
        for step in range(state.step, len(state.batches)):
            idx = state.batches[step]
            wb = None if self.w is None else self.w[idx]
            yield step, data_module.take(self.x, idx), self.y[idx], wb


class StreamFeed:
    """``fit``'s batches from a :class:`~rnnkit.models.data.Stream` (generator, iterable,
    torch Dataset / DataLoader), ``steps_per_epoch`` at a time as Keras (see
    :meth:`~rnnkit.models.data.Stream.epoch`); each batch's labels are checked as it comes."""

    resumable = False

    def __init__(self, model, stream, steps_per_epoch: int | None, device, several: bool):
        self.model, self.stream, self.device, self.several = model, stream, device, several
        self.steps_per_epoch = steps_per_epoch
        self.steps = steps_per_epoch or stream.num_batches
        self.samples = None

    @property
    def ran_out(self) -> bool:
        return self.stream.ran_out

    def batches(self, state: FitState):
        state.batches = None
        for step, batch in enumerate(self.stream.epoch(self.steps_per_epoch), start=state.step):
            xb, yb, wb = self.stream.unpack(batch, self.device, self.several)
            if yb is None:
                raise ValueError(
                    f"fit: `x` expected a {self.stream.kind} of batches (x, y) or "
                    "(x, y, sample_weight), received a batch without targets."
                )
            check_labels("fit", "y", yb, self.model.loss_name, _output_classes(self.model))
            if wb is not None:
                wb = sample_weights("fit", self.model, yb, wb)
            yield step, xb, yb, wb


def _build_from(model, x) -> None:
    """Build ``model`` for inputs like ``x`` (a tensor) if it is not built yet."""
    if not model.built and isinstance(x, Tensor):
        model.build((None, *x.shape[1:]))


def _array_inputs(owner: str, model, x, y, device, several: bool):
    """``(x, y)`` tensors (``x`` possibly a list / dict of them), the same number of samples."""
    x = data_module.to_inputs(x, "x", owner, device, several)
    y = to_tensor(y, "y", owner, device)
    n = data_module.num_samples(x, owner)
    if n != len(y):
        raise ValueError(
            f"{owner}: `x` and `y` expected the same number of samples, received {n} and {len(y)}."
        )
    return x, y


def _validation(model, validation_data, validation_steps, batch_size, device, several):
    """What ``fit`` validates on: ``(x, y, w)`` tensors, or a Stream (a generator read once is
    kept, so that every epoch validates on the same batches), or None."""
    if validation_data is None:
        return None
    if data_module.is_stream(validation_data):
        stream = data_module.Stream("fit", validation_data, batch_size)
        if stream.one_shot and validation_steps is None:
            stream = data_module.Stream("fit", list(validation_data), batch_size)
        return stream
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        V.fail(
            "fit",
            "validation_data",
            "a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), or a generator, "
            "iterable of batches, torch Dataset or DataLoader",
            validation_data,
            TypeError,
        )
    x_val = data_module.to_inputs(validation_data[0], "validation_data", "fit", device, several)
    y_val = to_tensor(validation_data[1], "validation_data", "fit", device)
    w_val = None
    if len(validation_data) == 3 and validation_data[2] is not None:
        w_val = sample_weights("fit", model, y_val, validation_data[2])
    return x_val, y_val, w_val


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
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    validation_batch_size: int | None = None,
    distributed: bool = False,
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
    steps_per_epoch = _steps("fit", "steps_per_epoch", steps_per_epoch)
    validation_steps = _steps("fit", "validation_steps", validation_steps)
    val_batch_size = _steps("fit", "validation_batch_size", validation_batch_size) or batch_size
    device = device_of(model)
    group = distributed_module.group_of("fit", distributed, device)  # None: one process
    if group is not None:
        group.synchronize_random()  # every rank shuffles as rank 0
        verbose = verbose if group.writes else 0  # rank 0 prints
    several = data_module.input_count(model) > 1
    if data_module.is_stream(x) or steps_per_epoch is not None:
        feed = _stream_feed(
            model,
            x,
            y,
            sample_weight,
            class_weight,
            batch_size,
            shuffle,
            validation_split,
            bucketing,
            steps_per_epoch,
            device,
            several,
        )
        validation = _validation(
            model, validation_data, validation_steps, val_batch_size, device, several
        )
    else:
        x, y = _array_inputs("fit", model, x, y, device, several)
        if len(y) == 0:
            raise ValueError("fit: `x` expected at least one sample, received 0.")
        w = sample_weights("fit", model, y, sample_weight, class_weight)  # (N,) or None
        validation = _validation(
            model, validation_data, validation_steps, val_batch_size, device, several
        )
        if validation is None and validation_split:
            parts = split_last(validation_split, *((x, y) if w is None else (x, y, w)))
            if w is None:
                x, y, x_val, y_val = parts
                w_val = None
            else:
                x, y, w, x_val, y_val, w_val = parts
            validation = (x_val, y_val, w_val)
        if bucketing and (not isinstance(x, Tensor) or x.dim() != 2 or x.dtype.is_floating_point):
            raise ValueError(
                f"fit: `bucketing` expected token ids `x` of shape (N, T), received {_describe(x)}."
            )
        if bucketing and not shuffle:
            raise ValueError(
                "fit: `bucketing` expected shuffle=True (batches are drawn at "
                "random), received shuffle=False."
            )
        _build_from(model, x)
        check_labels("fit", "y", y, model.loss_name, _output_classes(model))
        feed = ArrayFeed(x, y, w, batch_size, shuffle, bucketing)
    if isinstance(validation, tuple):
        check_labels(
            "fit", "validation_data", validation[1], model.loss_name, _output_classes(model)
        )

    runtime.tune_allocator()
    optimizer = optimizer_of(model)
    history = callbacks_module.History()
    model.history = history  # Keras's `model.history`: the History of the last fit
    given = list(callbacks or [])
    if terminate_on_nan and not any(isinstance(c, callbacks_module.TerminateOnNaN) for c in given):
        given.append(callbacks_module.TerminateOnNaN())
    every = [*given, history]  # what a backup holds: the same list on every rank
    backups = [c for c in every if isinstance(c, callbacks_module.BackupAndRestore)]
    if len(backups) > 1:
        V.fail("fit", "callbacks", "at most one BackupAndRestore", list(callbacks or []))
    backup = backups[0] if backups else None
    if group is not None:  # rank 0 runs the callbacks that write; every rank restores
        given = [
            c for c in given if group.writes or type(c).__name__ not in distributed_module.WRITERS
        ]
        group.broadcast_parameters(model)
    cbs = [*given, history]  # History last, as Keras: it sees what the others log
    guard = any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs)
    saves = backup is not None and (group is None or group.writes)  # rank 0 writes backups
    if backup is not None and not feed.resumable and backup.save_freq != "epoch":
        raise ValueError(
            f"fit: `BackupAndRestore.save_freq` expected 'epoch' when `x` is a stream of "
            f"batches or `steps_per_epoch` is given (a stream cannot resume mid-epoch), "
            f"received {backup.save_freq!r}."
        )
    steps = feed.steps
    params = {"epochs": epochs, "steps": steps, "verbose": verbose}
    history.params = params
    for cb in cbs:
        cb.set_model(model)
        cb.params = params
        cb.on_train_begin()
    for cb in every:  # the callbacks rank 0 alone runs: a backup restores them on every rank
        if cb not in cbs:
            cb.set_model(model)
            cb.params = params
    model.stop_training = False
    state = FitState(epoch=initial_epoch)
    if backup is not None:
        backup.fingerprint = {
            "samples": feed.samples,
            "batch_size": batch_size,
            "shuffle": bool(shuffle),
            "bucketing": bool(bucketing),
            "loss": str(model.loss_name),
            "callbacks": [type(c).__name__ for c in every],
            "parameters": {k: list(v.shape) for k, v in model.state_dict().items()},
        }
        backup.restore(state, every, optimizer)

    base_begin = callbacks_module.Callback.on_train_batch_begin
    begins = [c for c in cbs if type(c).on_train_batch_begin is not base_begin]  # often none
    weights = [p for p in model.parameters() if p.requires_grad]
    clip = isinstance(model.optimizer_spec, optimizers_module.Optimizer)
    while state.epoch < epochs and not state.finished:
        epoch = state.epoch
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        model.train()
        if state.batches is None:  # a fresh epoch
            state.metrics = metric_objects(model)
            state.step, state.loss_sum, state.seen = 0, 0.0, 0
        metrics = state.metrics
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
        for step, xb, yb, wb in feed.batches(state):
            for cb in begins:
                cb.on_train_batch_begin(step)
            optimizer.zero_grad(set_to_none=True)
            n = len(yb)  # the global batch
            if group is not None:  # this rank's shard of it
                xb, yb, wb = group.shard(xb), group.shard(yb), group.shard(wb)
            loss, probs, mask = batch_loss(model, xb, yb, wb)
            loss.backward()
            value = loss.item()
            if group is not None:  # the global batch's gradients, loss and outputs
                group.reduce_gradients(weights, len(yb), n)
                value = group.mean_loss(value, len(yb), n, loss)
                yb, probs, mask = (group.gather(t, n) for t in (yb, probs.detach(), mask))
            if not guard or math.isfinite(value):  # a non-finite loss's step is not applied
                if clip:
                    model.optimizer_spec.clip(weights)
                optimizer.step()
                constraints.apply(model)  # as Keras: project constrained weights after a step
            loss_sum += value * n
            seen += n
            with torch.no_grad():
                for m in metrics:
                    m.update(yb, probs.detach(), mask)
            logs = {"loss": loss_sum / seen, **{m.name: m.result() for m in metrics}}
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            for cb in cbs:
                cb.on_train_batch_end(step, logs)
            if model.stop_training:
                break
            if saves and feed.resumable and backup.due_after_step(step + 1, len(state.batches)):
                state.step, state.loss_sum, state.seen = step + 1, loss_sum, seen
                backup.save(state, every, optimizer)
        if feed.ran_out:  # a stream with no batch left for this epoch: Keras's warning given
            bar.close()
            break
        if validation is not None:
            val = _evaluate_any(model, validation, val_batch_size, validation_steps, several)
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
        if saves:
            backup.save(state, every, optimizer)
    for cb in cbs:
        cb.on_train_end()
    model.eval()
    return history


def _describe(x) -> str:
    if isinstance(x, Tensor):
        return f"{x.dtype} of shape {tuple(x.shape)}"
    return f"{type(x).__name__} of {len(x)} inputs"


class _ArrayPasses:
    """Arrays as a re-iterable stream of batches (for ``steps_per_epoch`` with arrays): each
    pass is a new (shuffled) order, cut in ``batch_size``."""

    def __init__(self, x, y, w, batch_size: int, shuffle: bool):
        self.x, self.y, self.w = x, y, w
        self.batch_size, self.shuffle = batch_size, shuffle
        self.samples = data_module.num_samples(x, "fit")

    def __len__(self) -> int:
        return math.ceil(self.samples / self.batch_size)

    def __iter__(self):
        n = self.samples
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        for idx in order.split(self.batch_size):
            w = None if self.w is None else self.w[idx]
            yield data_module.take(self.x, idx), self.y[idx], w


def _stream_feed(
    model,
    x,
    y,
    sample_weight,
    class_weight,
    batch_size,
    shuffle,
    validation_split,
    bucketing,
    steps_per_epoch,
    device,
    several,
) -> StreamFeed:
    """The feed of a ``fit`` on a stream of batches (or on arrays with ``steps_per_epoch``)."""
    if bucketing:
        raise ValueError(
            "fit: `bucketing` expected arrays `x` without `steps_per_epoch`, received "
            f"{type(x).__name__}{' with steps_per_epoch' if steps_per_epoch else ''}."
        )
    if data_module.is_stream(x):
        kind = data_module.Stream("fit", x, batch_size, shuffle).kind
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                data_module.unsupported("fit", name, kind)
        if class_weight is not None:
            data_module.unsupported("fit", "class_weight", kind)
        if validation_split:
            raise ValueError(
                f"fit: `validation_split` expected 0 when `x` is a {kind} (only arrays can be "
                f"split), received {validation_split!r}; pass `validation_data` instead."
            )
        stream = data_module.Stream("fit", x, batch_size, shuffle)
    else:  # arrays with steps_per_epoch
        if validation_split:
            raise ValueError(
                "fit: `validation_split` expected 0 with `steps_per_epoch`, received "
                f"{validation_split!r}; pass `validation_data` instead."
            )
        xs, ys = _array_inputs("fit", model, x, y, device, several)
        if len(ys) == 0:
            raise ValueError("fit: `x` expected at least one sample, received 0.")
        w = sample_weights("fit", model, ys, sample_weight, class_weight)
        stream = data_module.Stream("fit", _ArrayPasses(xs, ys, w, batch_size, shuffle))
    first, _, _ = stream.unpack(stream.peek(), device, several)
    _build_from(model, first)
    return StreamFeed(model, stream, steps_per_epoch, device, several)


# -- evaluate, predict ------------------------------------------------------------------------


def _accumulate(model, batches, verbose: int, total: int | None) -> dict[str, float]:
    """Loss and metrics over ``(xb, yb, wb)`` batches: the loss averaged over the samples
    (each batch's weighted by its size), the metrics streamed over every batch."""
    metrics = metric_objects(model)
    loss_sum, seen = 0.0, 0
    for xb, yb, wb in tqdm(
        batches, disable=verbose != 1, file=sys.stderr, unit="step", total=total
    ):
        loss, probs, mask = batch_loss(model, xb, yb, wb)
        loss_sum += float(loss) * len(yb)
        seen += len(yb)
        for m in metrics:
            m.update(yb, probs, mask)
    return {"loss": loss_sum / max(seen, 1), **{m.name: m.result() for m in metrics}}


def _evaluate(
    model, x, y: Tensor, batch_size: int, verbose: int, w: Tensor | None = None
) -> dict[str, float]:
    """Loss and metrics on tensors already checked: ``{'loss': ..., '<metric>': ...}``; with
    sample weights ``w`` the loss is ``sum(w_i * loss_i) / N`` (the metrics unweighted)."""
    model.eval()
    tensor = isinstance(x, Tensor)
    shape = model.output_shape
    per_sample = isinstance(shape, tuple) and len(shape) == 2  # no time axis: no mask either
    batches = (
        execution.inference_batches(x, batch_size, model)  # by length: skips padding, same result
        if tensor and per_sample
        else list(torch.arange(len(y)).split(batch_size))  # in order: a masked mean per batch
    )
    table = (
        execution.vocabulary_table(model, x, len(batches)) if tensor else contextlib.nullcontext()
    )
    rows = ((data_module.take(x, idx), y[idx], None if w is None else w[idx]) for idx in batches)
    with torch.no_grad(), table:
        return _accumulate(model, rows, verbose, len(batches))


def _evaluate_stream(model, stream, steps, verbose: int, several: bool, owner="fit"):
    """Loss and metrics over the batches of a :class:`~rnnkit.models.data.Stream`."""
    model.eval()

    def rows():
        for batch in stream.epoch(steps, warn=steps is not None):
            xb, yb, wb = stream.unpack(batch, device_of(model), several)
            if yb is None:
                raise ValueError(
                    f"{owner}: `x` expected a {stream.kind} of batches (x, y) or "
                    "(x, y, sample_weight), received a batch without targets."
                )
            check_labels(owner, "y", yb, model.loss_name, _output_classes(model))
            if wb is not None:
                wb = sample_weights(owner, model, yb, wb)
            yield xb, yb, wb

    with torch.no_grad():
        return _accumulate(model, rows(), verbose, steps or stream.num_batches)


def _evaluate_any(model, validation, batch_size, steps, several) -> dict[str, float]:
    if isinstance(validation, data_module.Stream):
        return _evaluate_stream(model, validation, steps, 0, several)
    x_val, y_val, w_val = validation
    return _evaluate(model, x_val, y_val, batch_size, 0, w_val)


def evaluate(
    model,
    x=None,
    y=None,
    batch_size: int = 32,
    verbose="auto",
    return_dict=False,
    sample_weight=None,
    steps: int | None = None,
):
    """Loss and metrics of ``model`` on ``(x, y)``; the arguments are
    :meth:`rnnkit.models.Sequential.evaluate`'s."""
    require_compiled(model, "evaluate")
    reset_metrics(model)
    batch_size = V.positive_int("evaluate", "batch_size", batch_size)
    verbose = verbosity(verbose)
    steps = _steps("evaluate", "steps", steps)
    device = device_of(model)
    several = data_module.input_count(model) > 1
    if data_module.is_stream(x):
        stream = data_module.Stream("evaluate", x, batch_size)
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                data_module.unsupported("evaluate", name, stream.kind)
        results = _evaluate_stream(model, stream, steps, verbose, several, "evaluate")
    else:
        x, y = _array_inputs("evaluate", model, x, y, device, several)
        check_labels("evaluate", "y", y, model.loss_name, _output_classes(model))
        w = sample_weights("evaluate", model, y, sample_weight)
        if steps is not None:  # as Keras: the first `steps` batches
            keep = min(len(y), steps * batch_size)
            x, y = data_module.take(x, torch.arange(keep)), y[:keep]
            w = None if w is None else w[:keep]
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


def _predict_stream(model, x, batch_size: int, verbose: int, steps) -> list[Tensor]:
    stream = data_module.Stream("predict", x, batch_size)
    several = data_module.input_count(model) > 1
    device = device_of(model)
    outs = []
    batches = stream.epoch(steps, warn=steps is not None)
    for batch in tqdm(batches, disable=verbose != 1, file=sys.stderr, unit="step"):
        xb, _, _ = stream.unpack(batch, device, several, with_y=False)
        _build_from(model, xb)
        model.eval()
        outs.append(model(xb))
    return outs


@torch.no_grad()
def predict(model, x, batch_size: int = 32, verbose=0, steps: int | None = None) -> np.ndarray:
    """Outputs of ``model`` for ``x`` in batches, as a NumPy array in the order of ``x``."""
    batch_size = V.positive_int("predict", "batch_size", batch_size)
    verbose = verbosity(verbose)
    steps = _steps("predict", "steps", steps)
    runtime.tune_allocator()
    if verbose == 0 and steps is None and runtime.settings.lean_predict:
        out = lean.predict(model, x, batch_size)  # one small batch of ids: the lean path
        if out is not None:
            return out
    if data_module.is_stream(x):
        outs = _predict_stream(model, x, batch_size, verbose, steps)
        if not outs:
            raise ValueError("predict: `x` expected at least one batch, received none.")
        return _finite(torch.cat(outs).cpu().numpy())
    several = data_module.input_count(model) > 1
    x = data_module.to_inputs(x, "x", "predict", device_of(model), several)
    if steps is not None:  # as Keras: the first `steps` batches
        n = data_module.num_samples(x, "predict")
        x = data_module.take(x, torch.arange(min(n, steps * batch_size)))
    _build_from(model, x)
    model.eval()
    n = data_module.num_samples(x, "predict")
    if isinstance(x, (Tensor, GraphInputs)):
        batches = execution.inference_batches(x, batch_size, model)
        progress = tqdm(batches, file=sys.stderr, unit="step") if verbose == 1 else batches
        with execution.vocabulary_table(model, x, len(batches)):
            outs = [model(x if len(batches) == 1 else x[idx]) for idx in progress]
    else:  # a list / dict of inputs, in order
        batches = list(torch.arange(n).split(batch_size))
        outs = [model(data_module.take(x, idx)) for idx in batches]
    if outs and isinstance(outs[0], dict):  # named outputs: a dict of arrays, as Keras
        shapes = model.output_shape
        return {
            key: _predictions([o[key] for o in outs], batches, n, shapes[k])
            for k, key in enumerate(outs[0])
        }
    if outs and isinstance(outs[0], (list, tuple)):  # a functional model's several outputs
        shapes = model.output_shape
        return [
            _predictions([o[k] for o in outs], batches, n, shapes[k]) for k in range(len(outs[0]))
        ]
    return _predictions(outs, batches, n, model.output_shape)


def _predictions(outs: list[Tensor], batches, n: int, shape) -> np.ndarray:
    """The batches' outputs ``outs`` as one array in the order of the inputs (``n`` rows)."""
    if not outs:
        return np.zeros((0, *shape[1:]), dtype=np.float32)
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    if len(outs) > 1:
        order = torch.cat(batches)
        if not torch.equal(order, torch.arange(n)):
            out = out[torch.argsort(order)]  # back to the order of x
    return _finite(out.cpu().numpy())


def _finite(out: np.ndarray) -> np.ndarray:
    """``out``, with a warning if some outputs are NaN or infinite."""
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


def _batch_logs(
    model, value: float, n: int, yb: Tensor, probs: Tensor, mask: Tensor | None = None
) -> dict[str, float]:
    """Add one batch to the running loss and metrics kept since the last reset (as Keras 3:
    the loss is the mean over those batches weighted by their sizes), and return them."""
    state = getattr(model, "_batch_state", None)
    if state is None:
        state = model._batch_state = {"loss_sum": 0.0, "seen": 0, "metrics": metric_objects(model)}
    state["loss_sum"] += value * n
    state["seen"] += n
    with torch.no_grad():
        for m in state["metrics"]:
            m.update(yb, probs.detach(), mask)
    loss = state["loss_sum"] / max(state["seen"], 1)
    return {"loss": loss, **{m.name: m.result() for m in state["metrics"]}}


def _batch_inputs(owner: str, model, x, y, sample_weight, class_weight):
    require_compiled(model, owner)
    several = data_module.input_count(model) > 1
    x, y = _array_inputs(owner, model, x, y, device_of(model), several)
    if len(y) == 0:
        raise ValueError(f"{owner}: `x` expected at least one sample, received 0.")
    _build_from(model, x)
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
    loss, probs, mask = batch_loss(model, x, y, w)
    loss.backward()
    if isinstance(model.optimizer_spec, optimizers_module.Optimizer):
        model.optimizer_spec.clip([p for p in model.parameters() if p.requires_grad])
    optimizer.step()
    constraints.apply(model)
    model.eval()
    return _batch_result(_batch_logs(model, loss.item(), len(y), y, probs, mask), return_dict)


@torch.no_grad()
def test_on_batch(model, x, y, sample_weight=None, return_dict: bool = False):
    """Loss and metrics on exactly ``(x, y)``, no step; the arguments are
    :meth:`rnnkit.models.Sequential.test_on_batch`'s."""
    x, y, w = _batch_inputs("test_on_batch", model, x, y, sample_weight, None)
    model.eval()
    loss, probs, mask = batch_loss(model, x, y, w)
    return _batch_result(_batch_logs(model, loss.item(), len(y), y, probs, mask), return_dict)


@torch.no_grad()
def predict_on_batch(model, x) -> np.ndarray:
    """The model's outputs for exactly the batch ``x``, as a NumPy array (one forward pass)."""
    several = data_module.input_count(model) > 1
    x = data_module.to_inputs(x, "x", "predict_on_batch", device_of(model), several)
    _build_from(model, x)
    model.eval()
    return model(x).cpu().numpy()
