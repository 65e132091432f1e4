"""What Keras models share: summary, compile, fit, evaluate, predict, the ``*_on_batch``
methods and save, for :class:`~rnnkit.models.Sequential` and the functional
:class:`~rnnkit.models.Model` alike.

``fit`` / ``evaluate`` / ``predict`` run the one loop of :mod:`rnnkit.models.training`, which
uses only what a model shows to its users (``model(x, logits=...)``, ``layers``, ``built``,
``output_shape``, ``parameters()``, ``train()`` / ``eval()``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from .. import _validation as V
from .. import regularizers
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import training
from .saving import save_model  # the writer; it does not import the models
from .summary import print_summary


class ModelAPI:
    """Keras's model methods; the class using it is an ``nn.Module`` with ``layers``."""

    def _model_inputs(self, x, owner: str = "fit"):
        """``x`` as the training loop takes it (a functional model with several inputs
        wraps them); a Sequential takes it as it is."""
        return x

    def _model_targets(self, y, owner: str = "fit"):
        """``y`` as the training loop takes it (a functional model with several outputs
        wraps them); a Sequential takes it as it is."""
        return y

    @property
    def losses(self) -> list[Tensor]:
        """Keras's ``model.losses``: the penalties of the layers' regularizers (the activity
        ones of the last call, then the weights'), which ``fit`` adds to the loss
        (:func:`rnnkit.regularizers.layer_losses`)."""
        return regularizers.layer_losses(self)

    def get_weights(self) -> list[np.ndarray]:
        """Every layer's :meth:`~rnnkit.layers.Layer.get_weights`, in layer order (Keras's
        layouts, so a Keras model's ``get_weights()`` goes straight into ``set_weights``)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Set every layer's weights from one flat list in :meth:`get_weights`'s order.

        The length and every shape are checked before anything is written.
        """
        if isinstance(weights, (str, bytes, Tensor)) or not isinstance(weights, (list, tuple)):
            V.fail(
                f"{type(self).__name__}.set_weights",
                "weights",
                "a list of arrays",
                weights,
                TypeError,
            )
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
        distributed: bool = False,
        device=None,
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
            distributed: (rnnkit) data-parallel training on torch.distributed (launched with
                torchrun or spawned): each global batch is split across the ranks, gradients
                averaged, loss and metrics those of the global batch, only rank 0 prints and
                writes (:mod:`rnnkit.distributed`).
            device: (rnnkit) move the model there first (``'cpu'``, ``'cuda'``,
                ``'cuda:1'``, a ``torch.device``); the data follows the model. None: where
                the model is.
        """
        self._move_to("fit", device)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
            validation_data = (
                self._model_inputs(validation_data[0], "fit"),
                self._model_targets(validation_data[1], "fit"),
                *validation_data[2:],
            )
        return training.fit(
            self,
            self._model_inputs(x, "fit"),
            self._model_targets(y, "fit"),
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
            distributed=distributed,
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
        device=None,
    ):
        """Loss and metrics on ``(x, y)``: a float if there are no metrics, else
        ``[loss, *metrics]`` (or a dict with ``return_dict=True``), as Keras. The labels are
        checked against the loss first, as in :meth:`fit`. ``sample_weight`` weighs the loss
        as in :meth:`fit` (``sum(w_i * loss_i) / N``); the metrics stay unweighted. ``x`` may be
        a stream of batches as in :meth:`fit`; ``steps`` limits the batches (None: all);
        ``device`` as in :meth:`fit`."""
        self._move_to("evaluate", device)
        x, y = self._model_inputs(x, "evaluate"), self._model_targets(y, "evaluate")
        return training.evaluate(self, x, y, batch_size, verbose, return_dict, sample_weight, steps)

    def predict(
        self, x, batch_size: int = 32, verbose=0, steps: int | None = None, device=None
    ) -> np.ndarray:
        """Outputs for ``x``, computed in batches of ``batch_size``, as a NumPy array; ``x`` may
        be a stream of batches as in :meth:`fit`, ``steps`` limits the batches (None: all);
        ``device`` as in :meth:`fit`."""
        self._move_to("predict", device)
        return training.predict(self, self._model_inputs(x, "predict"), batch_size, verbose, steps)

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
        x, y = self._model_inputs(x, "train_on_batch"), self._model_targets(y, "train_on_batch")
        return training.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict: bool = False):
        """Loss and metrics on exactly the batch ``(x, y)``, without a step, as
        ``keras.Model.test_on_batch``: running values shared with :meth:`train_on_batch`
        (see there)."""
        x, y = self._model_inputs(x, "test_on_batch"), self._model_targets(y, "test_on_batch")
        return training.test_on_batch(self, x, y, sample_weight, return_dict)

    def _move_to(self, owner: str, device) -> None:
        """``self.to(device)`` for the ``device`` argument of fit / evaluate / predict."""
        if device is None:
            return
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError):
            V.fail(owner, "device", "a torch device such as 'cpu' or 'cuda:0'", device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"{owner}: `device` expected an available device, received {str(device)!r} "
                "(torch.cuda.is_available() is False)."
            )
        self.to(device)

    def predict_on_batch(self, x) -> np.ndarray:
        """Outputs for exactly the batch ``x`` (one forward pass), as a NumPy array."""
        return training.predict_on_batch(self, self._model_inputs(x, "predict_on_batch"))

    def reset_metrics(self) -> None:
        """Start the running loss and metrics of :meth:`train_on_batch` /
        :meth:`test_on_batch` afresh."""
        training.reset_metrics(self)

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
        A name ending in ``.keras`` writes a Keras 3 archive instead, as Keras does
        (:func:`rnnkit.models.keras_layout.save_keras`), for a Sequential model; a functional
        model's Keras config is not written yet, so its ``.keras`` path gets rnnkit's folder
        (which :func:`~rnnkit.models.load_model` reads back) and a warning that says so.
        """
        from . import keras_layout  # not imported at the top: it is loaded on first use

        if keras_layout.is_keras_path(path):
            if keras_layout.writes_keras_archive(self):
                return keras_layout.save_keras(self, path, overwrite=overwrite)
            warnings.warn(
                f"save: a {type(self).__name__} is not written as a Keras archive yet; "
                f"{str(path)!r} is an rnnkit model folder (rnnkit.models.load_model reads it; "
                "save_weights writes Keras's .weights.h5)",
                UserWarning,
                stacklevel=2,
            )
        save_model(self, path, overwrite=overwrite)

    def save_weights(self, filepath, overwrite: bool = False) -> None:
        """Write the weights as a Keras 3 ``.weights.h5`` file, which ``keras.Model.load_weights``
        reads (see :func:`rnnkit.models.keras_layout.save_weights`; h5py needed)."""
        from . import keras_layout

        keras_layout.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath) -> None:
        """Set the weights from a Keras 3 ``.weights.h5`` file or ``.keras`` archive of a model
        of the same layers (see :func:`rnnkit.models.keras_layout.load_weights`)."""
        from . import keras_layout

        keras_layout.load_weights(self, filepath)
