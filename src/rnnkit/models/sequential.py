"""Sequential: a stack of layers with Keras's summary / compile / fit / evaluate / predict.

It stays a plain ``torch.nn.Module``: ``model(x)`` runs the layers, ``model.parameters()``
feeds any PyTorch training loop. The table of ``summary`` is printed by
:mod:`rnnkit.models.summary`; ``fit`` / ``evaluate`` / ``predict`` run the loop of
:mod:`rnnkit.models.training`, which uses only what a model shows to its users.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .. import _validation as V
from ..layers import Embedding, Input, Layer
from ..layers.base import unique_name
from . import execution, training
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .saving import save_model  # the writer; it does not import this module
from .summary import print_summary


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

    def get_weights(self) -> list[np.ndarray]:
        """Every layer's :meth:`~rnnkit.layers.Layer.get_weights`, in layer order (Keras's
        layouts, so a Keras model's ``get_weights()`` goes straight into ``set_weights``)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Set every layer's weights from one flat list in :meth:`get_weights`'s order.

        The length and every shape are checked before anything is written.
        """
        if isinstance(weights, (str, bytes, Tensor)) or not isinstance(weights, (list, tuple)):
            V.fail("Sequential.set_weights", "weights", "a list of arrays", weights, TypeError)
        counts = [len(layer._keras_weights()) for layer in self.layers]
        if len(weights) != sum(counts):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight "
                f"list of length {len(weights)}, but the layer was expecting "
                f"{sum(counts)} weights."
            )
        checked, start = [], 0
        for layer, n in zip(self.layers, counts):
            checked.append(layer._check_weights(list(weights[start : start + n])))
            start += n
        for layer, values in zip(self.layers, checked):
            layer._assign_weights(values)

    # -- the call -----------------------------------------------------------------------------
    def forward(self, x: Tensor, mask: Tensor | None = None, logits: bool = False) -> Tensor:
        """Run the layers in order, passing each one's mask to the next (as Keras).

        With ``logits=True`` a final sigmoid / softmax ``Dense`` returns its pre-activation.
        Columns of token ids that are padding in every row are skipped where that gives
        exactly the same result (see :mod:`rnnkit.models.execution`).
        """
        if self.input_shape_hint is None and isinstance(x, Tensor) and x.dim() >= 2:
            # as Keras, the first call fixes the input shape (time axes left open), so that a
            # model built by calling it saves a config that rebuilds it
            features = () if not x.dtype.is_floating_point else (x.shape[-1],)
            self.input_shape_hint = (None,) * (x.dim() - 1 - len(features)) + features
        return execution.forward(self, x, mask, logits)

    # -- summary ------------------------------------------------------------------------------
    def summary(self, line_length: int | None = None, print_fn=None) -> None:
        """Print Keras's table: ``Layer (type) | Output Shape | Param #``, then the totals.

        ``print_fn`` receives each line (default: ``print``), so tests and logs can catch it.
        See :func:`rnnkit.models.summary.print_summary`.
        """
        print_summary(self, line_length, print_fn)

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
        training.reset_metrics(self)

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
        terminate_on_nan: bool = True,
        sample_weight=None,
        class_weight=None,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
    ):
        """Train for ``epochs`` passes over ``(x, y)``; returns a :class:`History`.

        Args:
            x, y: arrays or tensors; token ids ``(N, T)`` for a model that starts with an
                Embedding, else floats ``(N, T, D)``. Use ``pad_sequences`` for ragged lists.
                Or, as Keras, ``x`` alone as a stream of batches: a generator or any iterable
                of ``(x, y)`` / ``(x, y, sample_weight)`` batches, a
                ``torch.utils.data.DataLoader``, or a ``torch.utils.data.Dataset`` (batched
                with ``batch_size``); see :mod:`rnnkit.models.data`.
                The labels are checked against the loss before the first step (binary
                cross-entropy: values in [0, 1]; sparse: integer ids in [0, classes);
                categorical: one-hot rows; mse / mae: finite values), see
                :func:`rnnkit.models.training.check_labels`.
            batch_size: samples per gradient step.
            epochs: index of the last epoch (training runs ``initial_epoch .. epochs - 1``).
            verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, 'auto' a bar
                on a terminal and lines otherwise.
            callbacks: e.g. ``[EarlyStopping(...), ModelCheckpoint(...)]``;
                ``BackupAndRestore(backup_dir)`` backs the whole state up and resumes an
                interrupted fit exactly.
            validation_split: fraction of the data, taken from the end before shuffling, held
                out for validation (as Keras).
            validation_data: ``(x_val, y_val)``, used instead of ``validation_split``.
            shuffle: reshuffle the training samples each epoch (with PyTorch's generator, so
                :func:`rnnkit.utils.set_random_seed` makes runs repeatable).
            initial_epoch: the epoch to start from (a backup found by ``BackupAndRestore``
                takes precedence).
            bucketing: (rnnkit) for token ids, put reviews of similar length in the same batch
                (within pools of 50 batches; batch order shuffled) so that padding costs no
                compute: each batch's loss and gradients equal those of its padded batch
                (:mod:`rnnkit.models.padding`). Needs ``shuffle``.
            terminate_on_nan: (rnnkit) stop at the first batch whose loss is NaN or infinite,
                without applying its step: the model keeps the weights of the last finite
                step, the epoch ends as usual, and a ``RuntimeWarning`` names the epoch and
                the step (a :class:`~rnnkit.models.callbacks.TerminateOnNaN` is added to the
                callbacks). ``False`` trains on, as Keras does without that callback.
            sample_weight: ``(N,)`` non-negative weights, one per sample (``(N, T)`` for a
                sequence output): each sample's loss is multiplied by its weight and the batch
                loss is ``sum(w_i * loss_i) / batch_size`` (Keras's ``sum_over_batch_size``:
                divided by the number of samples, not by the sum of the weights). Split with
                ``validation_split`` as ``x`` and ``y``; ``validation_data`` may carry its own
                as a third item. The metrics stay unweighted (Keras weighs only
                ``weighted_metrics``, which rnnkit's ``compile`` does not take). Needs a loss
                given by name.
            class_weight: ``{class: weight}`` for binary labels, class ids or one-hot rows: a
                sample weighs its class's weight (1.0 for a class left out), as Keras. Not
                together with ``sample_weight``.
            steps_per_epoch: batches per epoch, as Keras: None is a whole pass; given, each
                epoch takes that many batches, going on where the last one stopped (an input
                that runs out ends the epoch with Keras's warning, and one with nothing left
                ends training). Needed for an endless generator.
            validation_steps: batches of ``validation_data`` per validation (None: all).
            validation_batch_size: batch size for validation arrays (default ``batch_size``).
        """
        return training.fit(
            self,
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            initial_epoch=initial_epoch,
            bucketing=bucketing,
            terminate_on_nan=terminate_on_nan,
            sample_weight=sample_weight,
            class_weight=class_weight,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            validation_batch_size=validation_batch_size,
        )

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size: int = 32,
        verbose="auto",
        return_dict: bool = False,
        sample_weight=None,
        steps: int | None = None,
    ):
        """Loss and metrics on ``(x, y)``: a float if there are no metrics, else
        ``[loss, *metrics]`` (or a dict with ``return_dict=True``), as Keras. The labels are
        checked against the loss first, as in :meth:`fit`. ``sample_weight`` weighs the loss
        as in :meth:`fit` (``sum(w_i * loss_i) / N``); the metrics stay unweighted. ``x`` may be
        a stream of batches as in :meth:`fit`; ``steps`` limits the batches (None: all)."""
        return training.evaluate(self, x, y, batch_size, verbose, return_dict, sample_weight, steps)

    def predict(self, x, batch_size: int = 32, verbose=0, steps: int | None = None) -> np.ndarray:
        """Outputs for ``x``, computed in batches of ``batch_size``, as a NumPy array; ``x`` may
        be a stream of batches as in :meth:`fit`, ``steps`` limits the batches (None: all)."""
        return training.predict(self, x, batch_size, verbose, steps)

    def train_on_batch(
        self, x, y, sample_weight=None, class_weight=None, return_dict: bool = False
    ):
        """One optimizer step on exactly the batch ``(x, y)`` (no shuffling, no splitting), as
        ``keras.Model.train_on_batch``.

        Returns the loss (a float) if the model has no metrics, else ``[loss, *metrics]``, or a
        dict with ``return_dict=True``. As Keras 3, these are *running* values: the loss and
        metrics of every ``train_on_batch`` / ``test_on_batch`` batch since the last
        :meth:`reset_metrics` (or ``compile`` / ``fit`` / ``evaluate``), the loss averaged
        over them weighted by batch size. Call ``reset_metrics()`` before each call for the
        values of that batch alone. ``sample_weight`` / ``class_weight`` weigh the loss as in
        :meth:`fit`; the metrics are unweighted. The step is applied even if its loss is not
        finite (no TerminateOnNaN here, as Keras).
        """
        return training.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict: bool = False):
        """Loss and metrics on exactly the batch ``(x, y)``, without a step, as
        ``keras.Model.test_on_batch``: running values shared with :meth:`train_on_batch`
        (see there)."""
        return training.test_on_batch(self, x, y, sample_weight, return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        """Outputs for exactly the batch ``x`` (one forward pass), as a NumPy array."""
        return training.predict_on_batch(self, x)

    def reset_metrics(self) -> None:
        """Start the running loss and metrics of :meth:`train_on_batch` /
        :meth:`test_on_batch` afresh."""
        training.reset_metrics(self)

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
        save_model(self, path, overwrite=overwrite)
