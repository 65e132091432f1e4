"""Sequential: a stack of layers with Keras's summary / compile / fit / evaluate / predict.

It stays a plain ``torch.nn.Module``: ``model(x)`` runs the layers, ``model.parameters()``
feeds any PyTorch training loop.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .. import _validation as V
from .. import runtime
from ..layers import RNN, Dense, Dropout, Embedding, Input, Layer
from ..layers.base import unique_name
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import padding
from .splits import split_last

TABLE_BYTES = 64 << 20
"""Largest vocabulary table ``E @ W_x + b`` that predict / evaluate keep (bytes)."""


class Sequential(nn.Module):
    """A linear stack of layers.

    >>> from rnnkit.models import Sequential
    >>> from rnnkit.layers import Embedding, LSTM, Dense
    >>> model = Sequential()
    >>> model.add(Embedding(input_dim=10000, output_dim=128))
    >>> model.add(LSTM(units=128))
    >>> model.add(Dense(units=1, activation='sigmoid'))
    >>> model.count_params()
    1411713
    """

    def __init__(self, layers: list[Layer] | None = None, name: str | None = None):
        super().__init__()
        self.name = name or unique_name("sequential")
        self.layers = nn.ModuleList()
        self.input_shape_hint: tuple | None = None  # without the batch axis
        self.stop_training = False
        self.compiled = False
        for layer in layers or []:
            self.add(layer)

    # -- building -----------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append ``layer``; build it now if the shape of its input is already known."""
        if not isinstance(layer, Layer):
            V.fail("Sequential.add", "layer", "an rnnkit layer", layer, TypeError)
        if isinstance(layer, Input):
            if len(self.layers):
                raise ValueError("Sequential.add: an `Input` must come before every other layer.")
            self.input_shape_hint = layer.shape
            return
        if not len(self.layers) and layer.input_shape_hint is not None:
            self.input_shape_hint = layer.input_shape_hint
        names = {existing.name for existing in self.layers}
        if layer.name in names:
            raise ValueError(
                f"Sequential.add: layer names must be unique; a layer named "
                f"{layer.name!r} is already in the model."
            )
        shape = self.output_shape
        self.layers.append(layer)
        if not layer.built and shape is not None and shape[-1] is not None:
            layer.build(shape)

    def pop(self) -> Layer:
        return self.layers.pop(-1) if len(self.layers) else None

    def _input_shape(self) -> tuple | None:
        """The model's input shape with the batch axis, where known."""
        if self.input_shape_hint is not None:
            return (None, *self.input_shape_hint)
        if len(self.layers) and isinstance(self.layers[0], Embedding):
            return (None, None)
        return None

    def _shapes(self) -> list:
        """Output shape of every layer, or None from the first unknown one on."""
        shape, shapes = self._input_shape(), []
        for layer in self.layers:
            shape = (
                layer.compute_output_shape(shape)
                if shape is not None and (layer.built or shape[-1] is not None)
                else None
            )
            shapes.append(shape)
        return shapes

    @property
    def output_shape(self):
        if not len(self.layers):
            return self._input_shape()
        return self._shapes()[-1]

    @property
    def built(self) -> bool:
        return len(self.layers) > 0 and all(layer.built for layer in self.layers)

    def build(self, input_shape: tuple) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included)."""
        self.input_shape_hint = tuple(input_shape[1:])
        dummy_shape = [2 if d is None else d for d in input_shape]
        if not self.built:
            first = self.layers[0]
            dummy = (
                torch.zeros(dummy_shape, dtype=torch.long)
                if isinstance(first, Embedding)
                else torch.zeros(dummy_shape)
            )
            with torch.no_grad():
                self.eval()
                self(dummy)

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- the call -----------------------------------------------------------------------------
    def forward(self, x: Tensor, mask: Tensor | None = None, logits: bool = False) -> Tensor:
        """Run the layers in order, passing each one's mask to the next (as Keras).

        With ``logits=True`` a final sigmoid / softmax ``Dense`` returns its pre-activation.
        Columns of token ids that are padding in every row are skipped where that gives
        exactly the same result (see :mod:`rnnkit.models.padding`).
        """
        if not len(self.layers):
            raise ValueError("Sequential: the model has no layers; add some with `add`.")
        if mask is None and runtime.settings.trim_padding:
            y = padding.forward_without_padding(self, x, logits)
            if y is not None:
                return y
        return self.run_layers(x, mask, logits)

    def run_layers(
        self, x: Tensor, mask: Tensor | None = None, logits: bool = False, start: int = 0
    ) -> Tensor:
        """Run layers ``start, start + 1, ...`` on ``x`` (the plain, padded computation)."""
        last = len(self.layers) - 1
        k = start
        while k <= last:
            layer = self.layers[k]
            j = self._rnn_after_embedding(k)
            if j is not None and isinstance(x, Tensor) and x.dim() == 2:
                x, mask = self._embedding_into_rnn(layer, self.layers[j], x, mask)
                k = j + 1
                continue
            inputs = x
            if logits and k == last and isinstance(layer, Dense):
                x = layer.logits(x)
            elif layer.supports_masking:
                x = layer(x, mask=mask)
            else:
                x = layer(x)
            mask = layer.compute_mask(inputs, mask)
            k += 1
        return x

    def _rnn_after_embedding(self, k: int) -> int | None:
        """If layer ``k`` is an Embedding whose output goes straight into a recurrent layer
        (past Dropout layers that are identity now), that layer's index; else None."""
        layers = self.layers
        if not isinstance(layers[k], Embedding):
            return None
        j = k + 1
        while (
            j < len(layers)
            and isinstance(layers[j], Dropout)
            and (not layers[j].training or layers[j].rate == 0)
        ):
            j += 1
        return j if j < len(layers) and isinstance(layers[j], RNN) else None

    @staticmethod
    def _embedding_into_rnn(embedding, rnn, ids, mask):
        """``rnn(embedding(ids))`` with the input projection looked up (``RNN.sequence_ids``);
        returns the output and the mask after both layers."""
        mask = embedding.compute_mask(ids, mask)
        y, final = rnn.sequence_ids(embedding, ids, mask, sequences=rnn.return_sequences)
        out = y if rnn.return_sequences else final[0]
        if rnn.return_state:
            out = [out, *final]
        return out, (mask if rnn.return_sequences else None)

    # -- summary ------------------------------------------------------------------------------
    def summary(self, line_length: int | None = None, print_fn=None) -> None:
        """Print Keras's table: ``Layer (type) | Output Shape | Param #``, then the totals.

        ``print_fn`` receives each line (default: ``print``), so tests and logs can catch it.
        """
        print_fn = print_fn or _print_utf8
        rows = []
        for layer, shape in zip(self.layers, self._shapes()):
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    "?" if shape is None else _format_shape(shape),
                    params,
                )
            )
        widths = [31, 22, 13]
        for row in rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row)]
        if line_length:
            widths[0] = max(widths[0], line_length - sum(widths[1:]) - 10)

        def line(left, fill, mid, right):
            return left + mid.join(fill * (w + 2) for w in widths) + right

        def cells(values, bar):
            texts = [
                f" {values[0]:<{widths[0]}} ",
                f" {values[1]:<{widths[1]}} ",
                f" {values[2]:>{widths[2]}} ",
            ]
            return bar + bar.join(texts) + bar

        print_fn(f'Model: "{self.name}"')
        print_fn(line("┏", "━", "┳", "┓"))
        print_fn(cells(("Layer (type)", "Output Shape", "Param #"), "┃"))
        print_fn(line("┡", "━", "╇", "┩"))
        for k, row in enumerate(rows):
            print_fn(cells(row, "│"))
            if k < len(rows) - 1:
                print_fn(line("├", "─", "┼", "┤"))
        print_fn(line("└", "─", "┴", "┘"))
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.parameters() if not p.requires_grad)
        size = 4  # bytes per float32 parameter, as Keras reports
        print_fn(f" Total params: {trainable + frozen:,} ({_memory((trainable + frozen) * size)})")
        print_fn(f" Trainable params: {trainable:,} ({_memory(trainable * size)})")
        print_fn(f" Non-trainable params: {frozen:,} ({_memory(frozen * size)})")

    # -- training -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics, as ``keras.Model.compile``.

        Args:
            optimizer: 'adam', 'sgd', 'rmsprop' (Keras's defaults), an optimizer from
                :mod:`rnnkit.models.optimizers` (``Adam(learning_rate=..., clipnorm=...)``), or
                a ``torch.optim.Optimizer`` already holding this model's parameters.
            loss: 'binary_crossentropy', 'categorical_crossentropy',
                'sparse_categorical_crossentropy', 'mse', 'mae', or ``f(y_true, y_pred)``.
            metrics: list of 'accuracy', 'mae', 'mse', 'precision', 'recall', ...
        """
        if loss is None:
            raise ValueError("compile: `loss` expected a loss name or a callable, received None.")
        self.optimizer_spec = optimizers_module.get(optimizer)
        self.loss_name, self.loss_fn = losses_module.get(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            V.fail("compile", "metrics", "a list of metric names", metrics, TypeError)
        self.metric_names = list(metrics or [])
        for m in self.metric_names:
            metrics_module.get(m, self.loss_name)  # validate now, not at the first epoch
        self.optimizer = (
            self.optimizer_spec if isinstance(self.optimizer_spec, torch.optim.Optimizer) else None
        )
        self.compiled = True

    def _ensure_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            self.optimizer = self.optimizer_spec.build(
                [p for p in self.parameters() if p.requires_grad]
            )
        return self.optimizer

    def _use_logits(self) -> bool:
        """Whether the loss can take the last Dense layer's logits (exact and more stable)."""
        last = self.layers[-1]
        return (
            isinstance(last, Dense)
            and losses_module.LOGIT_ACTIVATION.get(self.loss_name) == last.activation
        )

    def _loss_and_probs(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
        if self._use_logits():
            z = self(xb, logits=True)
            loss = self.loss_fn(yb, z, from_logits=True)
            probs = (
                torch.sigmoid(z)
                if self.layers[-1].activation == "sigmoid"
                else torch.softmax(z, dim=-1)
            )
            return loss, probs
        y_pred = self(xb)
        return self.loss_fn(yb, y_pred), y_pred

    def _require_compiled(self, method: str) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"Sequential.{method}: the model must be compiled first: call "
                "model.compile(optimizer=..., loss=...)."
            )

    def fit(
        self,
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
    ):
        """Train for ``epochs`` passes over ``(x, y)``; returns a :class:`History`.

        Args:
            x, y: arrays or tensors; token ids ``(N, T)`` for a model that starts with an
                Embedding, else floats ``(N, T, D)``. Use ``pad_sequences`` for ragged lists.
            batch_size: samples per gradient step.
            epochs: index of the last epoch (training runs ``initial_epoch .. epochs - 1``).
            verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, 'auto' a bar
                on a terminal and lines otherwise.
            callbacks: e.g. ``[EarlyStopping(...), ModelCheckpoint(...)]``.
            validation_split: fraction of the data, taken from the end before shuffling, held
                out for validation (as Keras).
            validation_data: ``(x_val, y_val)``, used instead of ``validation_split``.
            shuffle: reshuffle the training samples each epoch (with PyTorch's generator, so
                :func:`rnnkit.utils.set_random_seed` makes runs repeatable).
            bucketing: (rnnkit) for token ids, put reviews of similar length in the same batch
                (within pools of 50 batches; batch order shuffled) so that padding costs no
                compute: each batch's loss and gradients equal those of its padded batch
                (:mod:`rnnkit.models.padding`). Needs ``shuffle``.
        """
        self._require_compiled("fit")
        batch_size = V.positive_int("fit", "batch_size", batch_size)
        epochs = V.positive_int("fit", "epochs", epochs)
        verbose = _verbosity(verbose)
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            V.fail("fit", "validation_split", "a number in [0, 1)", validation_split)
        x, y = self._tensors(x, "x"), self._tensors(y, "y")
        if len(x) != len(y):
            raise ValueError(
                f"fit: `x` and `y` expected the same number of samples, received "
                f"{len(x)} and {len(y)}."
            )
        if len(x) == 0:
            raise ValueError("fit: `x` expected at least one sample, received 0.")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                V.fail(
                    "fit", "validation_data", "a tuple (x_val, y_val)", validation_data, TypeError
                )
            x_val, y_val = (self._tensors(v, "validation_data") for v in validation_data)
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
        if not self.built:
            self.build((None, *x.shape[1:]))
        runtime.tune_allocator()
        optimizer = self._ensure_optimizer()
        history = callbacks_module.History()
        cbs = [*(callbacks or []), history]  # History last, as Keras: it sees what others log
        steps = math.ceil(len(x) / batch_size)
        history.params = {"epochs": epochs, "steps": steps, "verbose": verbose}
        for cb in cbs:
            cb.set_model(self)
            cb.on_train_begin()
        self.stop_training = False
        params = [p for p in self.parameters() if p.requires_grad]
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            self.train()
            metrics = [metrics_module.get(m, self.loss_name) for m in self.metric_names]
            if bucketing:
                batches = padding.length_batches(x, batch_size)
            else:
                order = torch.randperm(len(x)) if shuffle else torch.arange(len(x))
                batches = order.split(batch_size)
            loss_sum, seen, start = 0.0, 0, time.perf_counter()
            if verbose == 1:
                print(f"Epoch {epoch + 1}/{epochs}", file=sys.stderr)
            bar = tqdm(
                total=steps,
                disable=verbose != 1,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
                leave=True,
            )
            for step, idx in enumerate(batches):
                xb, yb = x[idx], y[idx]
                optimizer.zero_grad(set_to_none=True)
                loss, probs = self._loss_and_probs(xb, yb)
                loss.backward()
                if isinstance(self.optimizer_spec, optimizers_module.Optimizer):
                    self.optimizer_spec.clip(params)
                optimizer.step()
                n = len(idx)
                loss_sum += loss.item() * n
                seen += n
                with torch.no_grad():
                    for m in metrics:
                        m.update(yb, probs.detach())
                logs = {"loss": loss_sum / seen, **{m.name: m.result() for m in metrics}}
                bar.update(1)
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
                for cb in cbs:
                    cb.on_train_batch_end(step, logs)
            if x_val is not None:
                val = self.evaluate(
                    x_val, y_val, batch_size=batch_size, verbose=0, return_dict=True
                )
                logs.update({f"val_{k}": v for k, v in val.items()})
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            bar.close()
            if verbose == 2:
                took = time.perf_counter() - start
                text = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
                print(f"Epoch {epoch + 1}/{epochs} - {took:.0f}s - {text}", file=sys.stderr)
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        self.eval()
        return history

    @torch.no_grad()
    def evaluate(
        self, x=None, y=None, batch_size: int = 32, verbose="auto", return_dict: bool = False
    ):
        """Loss and metrics on ``(x, y)``: a float if there are no metrics, else
        ``[loss, *metrics]`` (or a dict with ``return_dict=True``), as Keras."""
        self._require_compiled("evaluate")
        batch_size = V.positive_int("evaluate", "batch_size", batch_size)
        x, y = self._tensors(x, "x"), self._tensors(y, "y")
        if len(x) != len(y):
            raise ValueError(
                f"evaluate: `x` and `y` expected the same number of samples, "
                f"received {len(x)} and {len(y)}."
            )
        self.eval()
        metrics = [metrics_module.get(m, self.loss_name) for m in self.metric_names]
        loss_sum = 0.0
        batches = self._inference_batches(x, batch_size)
        with self._vocabulary_table(x, len(batches)):
            for idx in tqdm(
                batches, disable=_verbosity(verbose) != 1, file=sys.stderr, unit="step"
            ):
                xb, yb = x[idx], y[idx]
                loss, probs = self._loss_and_probs(xb, yb)
                loss_sum += float(loss) * len(xb)
                for m in metrics:
                    m.update(yb, probs)
        results = {"loss": loss_sum / max(len(x), 1), **{m.name: m.result() for m in metrics}}
        if return_dict:
            return results
        return results["loss"] if not metrics else list(results.values())

    @torch.no_grad()
    def predict(self, x, batch_size: int = 32, verbose=0) -> np.ndarray:
        """Outputs for ``x``, computed in batches of ``batch_size``, as a NumPy array."""
        batch_size = V.positive_int("predict", "batch_size", batch_size)
        x = self._tensors(x, "x")
        if not self.built:
            self.build((None, *x.shape[1:]))
        runtime.tune_allocator()
        self.eval()
        batches = self._inference_batches(x, batch_size)
        progress = (
            tqdm(batches, file=sys.stderr, unit="step") if _verbosity(verbose) == 1 else batches
        )
        with self._vocabulary_table(x, len(batches)):
            outs = [self(x if len(batches) == 1 else x[idx]) for idx in progress]
        if not outs:
            return np.zeros((0, *self.output_shape[1:]), dtype=np.float32)
        if len(outs) == 1:
            return outs[0].cpu().numpy()
        out = torch.cat(outs)
        order = torch.cat(batches)
        if not torch.equal(order, torch.arange(len(x))):
            out = out[torch.argsort(order)]  # back to the order of x
        return out.cpu().numpy()

    @contextlib.contextmanager
    def _vocabulary_table(self, x: Tensor, batches: int):
        """While predict / evaluate run token ids, an LSTM fed by the first Embedding may look
        its input projection up in ``E @ W_x + b`` for the whole vocabulary (see
        :meth:`rnnkit.layers.LSTM.hold_vocabulary_table`: made once it pays, used by a later
        call only while the weights it reads are unchanged, compared exactly)."""
        rnn = None
        j = self._rnn_after_embedding(0) if len(self.layers) else None
        if (
            j is not None
            and x.dim() == 2
            and not x.dtype.is_floating_point
            and hasattr(self.layers[j], "hold_vocabulary_table")
            and self.layers[j].takes_ids_from(self.layers[0])
        ):
            E = self.layers[0].E
            if E.shape[0] * self.layers[j].W_x.shape[1] * E.element_size() <= TABLE_BYTES:
                rnn = self.layers[j]
                rnn.hold_vocabulary_table(E, x, batches)
        try:
            yield
        finally:
            if rnn is not None:
                rnn.release_vocabulary_table()

    def _inference_batches(self, x: Tensor, batch_size: int) -> list[Tensor]:
        """Row indices of each batch of evaluate / predict. Token ids go in order of length
        (when padding is skipped, :mod:`.padding`), so a batch of short rows skips its padding
        columns; the results are put back in the order of ``x``."""
        if (
            runtime.settings.trim_padding
            and x.dim() == 2
            and not x.dtype.is_floating_point
            and len(x) > batch_size
        ):
            return list(torch.argsort(padding.spans(x), stable=True).split(batch_size))
        return list(torch.arange(len(x)).split(batch_size))

    def _tensors(self, data, name: str) -> Tensor:
        """Array-like -> tensor on the model's device: integer ids as int64, floats as float32."""
        if data is None:
            raise ValueError(f"Sequential: `{name}` expected an array or tensor, received None.")
        if isinstance(data, Tensor):
            t = data
        else:
            arr = np.asarray(data) if not isinstance(data, np.ndarray) else data
            if arr.dtype == object:
                raise ValueError(
                    f"Sequential: `{name}` expected a rectangular array, received "
                    f"ragged sequences (dtype object); pad them first with "
                    f"rnnkit.text.pad_sequences."
                )
            t = torch.from_numpy(np.ascontiguousarray(arr))
        if t.dtype.is_floating_point and t.dtype != torch.float32:
            t = t.float()
        elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8):
            t = t.long()
        device = next(self.parameters(), torch.empty(0)).device
        return t.to(device)

    # -- saving -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {
            "name": self.name,
            "input_shape": None if self.input_shape_hint is None else list(self.input_shape_hint),
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    def compile_config(self) -> dict | None:
        if (
            not self.compiled
            or not isinstance(self.loss_name, str)
            or self.loss_name not in losses_module.LOSSES
            or not isinstance(self.optimizer_spec, optimizers_module.Optimizer)
        ):
            return None
        return {
            "optimizer": self.optimizer_spec.get_config(),
            "loss": self.loss_name,
            "metrics": self.metric_names,
        }

    def save(self, path, overwrite: bool = False) -> None:
        """Save to the directory ``path``: ``config.json`` and ``model.safetensors``.

        An rnnkit model already at ``path`` is replaced atomically (files a user added to its
        directory are kept); a file or any other non-empty folder is refused with a
        ``FileExistsError`` unless ``overwrite=True``. See :func:`rnnkit.models.save_model`.
        """
        from .saving import save_model  # the writer; it does not import this module

        save_model(self, path, overwrite=overwrite)


def _format_shape(shape) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _memory(n_bytes: int) -> str:
    """Keras's readable sizes: 1024-based, two decimals."""
    units = ["B", "KB", "MB", "GB", "TB"]
    value, k = float(n_bytes), 0
    while value >= 1024 and k < len(units) - 1:
        value /= 1024
        k += 1
    return f"{value:.2f} {units[k]}"


def _print_utf8(line: str) -> None:
    try:
        print(line)
    except UnicodeEncodeError:  # a console that cannot show box-drawing characters
        table = str.maketrans("┏┳┓┃┡╇┩│├┼┤└┴┘━─", "+++|+++|+++++++=-")
        print(line.translate(table))


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1 if sys.stderr.isatty() else 2
    if verbose not in (0, 1, 2):
        V.fail("Sequential", "verbose", "0, 1, 2 or 'auto'", verbose)
    return verbose
