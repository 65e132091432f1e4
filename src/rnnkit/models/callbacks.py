"""Callbacks, as Keras: History (always on), TerminateOnNaN (on by default), EarlyStopping,
ReduceLROnPlateau, ModelCheckpoint, BackupAndRestore, LambdaCallback, LearningRateScheduler,
CSVLogger, TensorBoard.

``fit`` honours ``model.stop_training`` after the current batch, as Keras: a callback that sets
it in ``on_train_batch_end`` ends the epoch there (validation and ``on_epoch_end`` still run)
and no further epoch starts.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import warnings

from .. import _validation as V


class Callback:
    """Hooks called by ``fit``; ``self.model`` is the model being trained and ``self.params``
    fit's ``{'epochs', 'steps', 'verbose'}``.

    ``state_dict`` / ``load_state_dict`` carry what a callback has counted so far (e.g.
    EarlyStopping's best value and wait), so that :class:`BackupAndRestore` resumes it exactly.
    """

    model = None
    params: dict = {}  # noqa: RUF012 - replaced, never mutated

    def set_model(self, model) -> None:
        self.model = model

    def state_dict(self) -> dict:
        """What this callback has counted during the current ``fit`` (tensors, numbers,
        strings, lists and dicts of them); empty for a callback that counts nothing."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back a :meth:`state_dict` (called after ``on_train_begin``)."""
        for k, v in state.items():
            setattr(self, k, v)

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...  # fit calls it only where overridden
    def on_train_batch_end(self, batch, logs=None): ...


class History(Callback):
    """Per-epoch logs: ``history.history['loss']``, ``history.epoch``, ``history.params``."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def state_dict(self) -> dict:
        return {"history": copy.deepcopy(self.history), "epoch": list(self.epoch)}


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite, as Keras.

    ``fit`` adds one unless ``terminate_on_nan=False``. While one is among the callbacks,
    ``fit`` checks each batch's loss *before* the optimizer step and does not apply the step
    of a non-finite loss, so the model keeps the weights of the last step whose loss was finite
    (not the NaN weights Keras's callback leaves). The epoch then ends as usual (validation,
    callbacks, its mean loss, NaN, in the history), training stops, and a ``RuntimeWarning``
    names the epoch and the step, e.g.::

        fit: the loss is nan at epoch 3, step 17 of 25; training stopped there, keeping the
        weights from before that step. ...

    ``stopped_epoch`` and ``stopped_step`` (0-based) say where, or are None.
    """

    def on_train_begin(self, logs=None):
        self.stopped_epoch = self.stopped_step = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        self.stopped_epoch, self.stopped_step = self._epoch, batch
        self.model.stop_training = True
        finite = all(bool(p.isfinite().all()) for p in self.model.parameters())
        kept = (
            "keeping the weights from before that step"
            if finite
            else "but the weights were already not finite (an earlier step had non-finite "
            "gradients)"
        )
        steps = self.params.get("steps", "?")
        warnings.warn(
            f"fit: the loss is {loss} at epoch {self._epoch + 1}, step {batch + 1} of {steps}; "
            f"training stopped there, {kept}. Lower the learning rate or clip the gradients "
            "(e.g. Adam(clipnorm=1.0)), and check the inputs.",
            RuntimeWarning,
            stacklevel=2,
        )


def _better(mode: str, monitor: str, min_delta: float, owner: str):
    mode = V.choice(owner, "mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        mode = (
            "max"
            if any(s in monitor for s in ("acc", "precision", "recall", "auc", "f1"))
            else "min"
        )
    if mode == "min":
        return mode, lambda current, best: current < best - min_delta
    return mode, lambda current, best: current > best + min_delta


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    with ``restore_best_weights`` the model ends with the weights of its best epoch."""

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ):
        if not isinstance(patience, int) or patience < 0:
            V.fail("EarlyStopping", "patience", "a non-negative integer", patience)
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.min_delta = abs(min_delta)
        self.mode, self._better = _better(mode, monitor, self.min_delta, "EarlyStopping")
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def state_dict(self) -> dict:
        names = ("wait", "stopped_epoch", "best_epoch", "best", "best_weights")
        return {k: getattr(self, k) for k in names}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping: `monitor` expected one of the logged values "
                f"{sorted(logs)}, received {self.monitor!r}."
            )
        if epoch < self.start_from_epoch:
            return
        current = logs[self.monitor]
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.state_dict())
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.load_state_dict(self.best_weights)
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: early stopping (best {self.monitor} "
                    f"{self.best:.4f} at epoch {self.best_epoch + 1})"
                )


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs (then wait ``cooldown`` epochs before counting
    again), never below ``min_lr``; the rate of each epoch is logged as ``learning_rate``."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        owner = "ReduceLROnPlateau"
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not 0 < factor < 1:
            V.fail(owner, "factor", "a number in (0, 1)", factor)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                V.fail(owner, name, "a non-negative integer", value)
        if not isinstance(min_lr, (int, float)) or min_lr < 0:
            V.fail(owner, "min_lr", "a non-negative number", min_lr)
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, float(min_lr)
        self.min_delta = abs(min_delta)
        self.mode, self._better = _better(mode, monitor, self.min_delta, owner)

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter = 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def state_dict(self) -> dict:
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter, "best": self.best}

    def _groups(self):
        return self.model.optimizer.param_groups

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.monitor not in logs:
            raise ValueError(
                f"ReduceLROnPlateau: `monitor` expected one of the logged values "
                f"{sorted(logs)}, received {self.monitor!r}."
            )
        logs["learning_rate"] = float(self._groups()[0]["lr"])
        current = logs[self.monitor]
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for group in self._groups():
                    old = float(group["lr"])
                    if old > self.min_lr:
                        group["lr"] = max(old * self.factor, self.min_lr)
                        reduced = True
                if reduced and self.verbose:
                    print(
                        f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                        f"{float(self._groups()[0]['lr']):.4g}."
                    )
                self.cooldown_counter, self.wait = self.cooldown, 0


class ModelCheckpoint(Callback):
    """Save the model after each epoch to ``filepath`` (may hold ``{epoch:02d}`` and log keys,
    e.g. ``'ckpt-{epoch:02d}-{val_loss:.3f}'``); with ``save_best_only``, only when ``monitor``
    improves (``mode`` 'min', 'max', or 'auto': 'max' for accuracies). Saves are atomic (see
    :meth:`Sequential.save`).

    ``save_weights_only``: write only the weights: Keras's ``.weights.h5`` through the model's
    ``save_weights`` when ``filepath`` ends so, else its ``state_dict`` as a safetensors file
    at ``filepath`` (read it back with ``safetensors.torch.load_file`` and
    ``model.load_state_dict``).
    """

    def __init__(
        self,
        filepath: str,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
        save_weights_only: bool = False,
    ):
        self.filepath, self.monitor, self.save_best_only, self.verbose = (
            str(filepath),
            monitor,
            save_best_only,
            verbose,
        )
        self.save_weights_only = V.boolean(
            "ModelCheckpoint", "save_weights_only", save_weights_only
        )
        self.mode, self._better = _better(mode, monitor, 0.0, "ModelCheckpoint")
        self.best = math.inf if self.mode == "min" else -math.inf

    def state_dict(self) -> dict:
        return {"best": self.best}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(
                    f"ModelCheckpoint: `monitor` expected one of the logged values "
                    f"{sorted(logs)}, received {self.monitor!r}."
                )
            if not self._better(logs[self.monitor], self.best):
                return
            self.best = logs[self.monitor]
        if not self.save_weights_only:
            self.model.save(path)
        elif hasattr(self.model, "save_weights") and str(path).endswith(".weights.h5"):
            self.model.save_weights(path, overwrite=True)  # Keras's file (its own path)
        else:
            from safetensors.torch import save

            from .. import _files

            weights = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
            _files.write_bytes(path, save(weights))
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class BackupAndRestore(Callback):
    """Back up everything training depends on, and resume from it after an interruption
    (a crash, Ctrl-C, ``kill -9``), as ``keras.callbacks.BackupAndRestore``.

    >>> model.fit(x, y, epochs=10, callbacks=[BackupAndRestore("run1-backup", save_freq=200)])
    ... # doctest: +SKIP

    Run the same script again after an interruption: ``fit`` finds the backup in
    ``backup_dir`` and goes on from where it was saved, mid-epoch included. On the CPU, with the
    same seed, data and settings, the resumed run ends with exactly the weights (and history)
    of a run that was never interrupted.

    A backup holds the weights (``model.safetensors``), the optimizer's state (its moments and
    learning rate), the state of Python's, NumPy's and PyTorch's random generators, the epoch,
    the batches of the epoch (the shuffled order) and how many are done, the running loss and
    metrics, the history so far and the counts of the other callbacks (EarlyStopping's best and
    wait, ReduceLROnPlateau's, ModelCheckpoint's best). It is written as a new folder that is
    then made current by rewriting a small pointer file atomically
    (:mod:`rnnkit.models.checkpoint`), so an interruption at any moment leaves the previous
    backup intact.

    Args:
        backup_dir: the folder for the backup (created when needed). Use one per training run.
        save_freq: ``"epoch"`` (back up at the end of each epoch) or a positive integer: also
            back up after every ``save_freq`` batches since the last backup.
        delete_checkpoint: delete the backup when ``fit`` ends (completed, or stopped by a
            callback); an interrupted ``fit`` leaves it for the next run.

    A backup made by a different ``fit`` (other number of samples, batch size, shuffle,
    bucketing, loss, callbacks or parameter shapes) is refused with a ``ValueError``.
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint: bool = True):
        if isinstance(backup_dir, bytes) or not isinstance(backup_dir, (str, os.PathLike)):
            V.fail("BackupAndRestore", "backup_dir", "a folder path", backup_dir, TypeError)
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0
        ):
            V.fail("BackupAndRestore", "save_freq", "'epoch' or a positive integer", save_freq)
        self.backup_dir = backup_dir
        self.save_freq = save_freq
        self.delete_checkpoint = V.boolean(
            "BackupAndRestore", "delete_checkpoint", delete_checkpoint
        )
        self.fingerprint: dict = {}  # set by fit: what must match for a backup to be resumed
        self._since_save = 0

    def on_train_begin(self, logs=None):
        self._since_save = 0

    def due_after_step(self, done: int, total: int) -> bool:
        """Whether to back up after ``done`` of the epoch's ``total`` batches (the last one is
        left to the backup at the epoch's end)."""
        if self.save_freq == "epoch":
            return False
        self._since_save += 1
        return self._since_save >= self.save_freq and done < total

    def save(self, state, callbacks, optimizer) -> None:
        """Write a backup of the fit at ``state`` (a :class:`~.training.FitState`)."""
        from . import checkpoint

        checkpoint.save_backup(
            self.backup_dir, self.model, optimizer, state, callbacks, self.fingerprint
        )
        self._since_save = 0

    def restore(self, state, callbacks, optimizer) -> bool:
        """Load the backup in ``backup_dir`` into the model, the optimizer, the generators,
        ``state`` and ``callbacks``, if there is one; returns whether there was."""
        from . import checkpoint

        return checkpoint.restore_backup(
            self.backup_dir, self.model, optimizer, state, callbacks, self.fingerprint
        )

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            from . import checkpoint

            checkpoint.delete_backup(self.backup_dir)


class LambdaCallback(Callback):
    """A callback made of plain functions, as ``keras.callbacks.LambdaCallback``.

    >>> LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    ... # doctest: +SKIP

    Each argument is a function or None: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_batch_begin(batch, logs)``,
    ``on_batch_end(batch, logs)`` (also accepted under Keras 3's names ``on_train_batch_begin``
    / ``on_train_batch_end``), ``on_train_begin(logs)``, ``on_train_end(logs)``. ``fit`` calls
    them in this order: train begin; per epoch: epoch begin, then per batch: batch begin, batch
    end; then epoch end; train end.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_batch_begin=None,
        on_batch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
    ):
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, fn in given.items():
            if fn is not None and not callable(fn):
                V.fail("LambdaCallback", name, "a function or None", fn, TypeError)
        for old, new in (
            ("on_batch_begin", "on_train_batch_begin"),
            ("on_batch_end", "on_train_batch_end"),
        ):
            if given[old] is not None and given[new] is not None:
                raise ValueError(
                    f"LambdaCallback: `{new}` expected None when `{old}` is given (the same "
                    f"hook), received {given[new]!r}."
                )
        self._fns = {
            "epoch_begin": on_epoch_begin,
            "epoch_end": on_epoch_end,
            "batch_begin": on_batch_begin or on_train_batch_begin,
            "batch_end": on_batch_end or on_train_batch_end,
            "train_begin": on_train_begin,
            "train_end": on_train_end,
        }

    def _call(self, hook, *args, logs=None):
        fn = self._fns[hook]
        if fn is not None:
            fn(*args, logs if logs is not None else {})

    def on_train_begin(self, logs=None):
        self._call("train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("batch_end", batch, logs=logs)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``, as
    ``keras.callbacks.LearningRateScheduler``.

    ``epoch`` is 0-based and ``lr`` the optimizer's current rate (a one-argument
    ``schedule(epoch)`` is accepted too, as Keras). The new rate is given to every param group
    of the optimizer, and each epoch's rate is logged as ``learning_rate`` (as
    :class:`ReduceLROnPlateau` does), so it lands in the history.

    >>> LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)
    ... # doctest: +SKIP

    Resumed by :class:`BackupAndRestore` in the middle of an epoch, the rate of that epoch
    (restored with the optimizer) is not scheduled a second time.
    """

    def __init__(self, schedule, verbose: int = 0):
        if not callable(schedule):
            V.fail(
                "LearningRateScheduler",
                "schedule",
                "a function (epoch, lr) -> lr",
                schedule,
                TypeError,
            )
        self.schedule, self.verbose = schedule, verbose
        self.scheduled_epoch = None

    def on_train_begin(self, logs=None):
        self.scheduled_epoch = None

    def state_dict(self) -> dict:
        return {"scheduled_epoch": self.scheduled_epoch}

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.scheduled_epoch:
            return  # resumed mid-epoch: this epoch's rate is already in the optimizer
        groups = self.model.optimizer.param_groups
        lr = float(groups[0]["lr"])
        try:
            new = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch alone, as Keras accepts
            new = self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, (int, float)) or not math.isfinite(new):
            V.fail("LearningRateScheduler", "schedule", "to return a finite number", new)
        for group in groups:
            group["lr"] = float(new)
        self.scheduled_epoch = epoch
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.param_groups[0]["lr"])


class CSVLogger(Callback):
    """Write each epoch's logs to a CSV file, as ``keras.callbacks.CSVLogger``.

    Keras's layout: a header ``epoch,<keys>`` with the log keys sorted, then one row per epoch
    (``epoch`` 0-based, values as Python writes floats), lines ending in ``\\r\\n`` (the csv
    module's ``excel`` dialect). The keys are those of the first epoch; a key missing later is
    written ``NA``. Each row is flushed as soon as it is written.

    Args:
        filename: the CSV file (its folder must exist).
        separator: the one-character separator between values.
        append: add to an existing file (its header kept: none is written unless the file is
            empty) instead of replacing it.

    With :class:`BackupAndRestore`, a resumed ``fit`` rewrites the file as it was at the backup
    (what was there before the first run, then the rows of the epochs backed up).
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        if isinstance(filename, bytes) or not isinstance(filename, (str, os.PathLike)):
            V.fail("CSVLogger", "filename", "a file path", filename, TypeError)
        if not isinstance(separator, str) or len(separator) != 1:
            V.fail("CSVLogger", "separator", "a single character", separator)
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = V.boolean("CSVLogger", "append", append)
        self.keys = None
        self._file = None

    def on_train_begin(self, logs=None):
        self.keys = None
        self._text = ""  # what this fit has written
        exists = os.path.exists(self.filename)
        self._start = os.path.getsize(self.filename) if self.append and exists else 0
        self._header = not self._start
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")

    def state_dict(self) -> dict:
        return {"keys": self.keys, "text": self._text, "start": self._start, "header": self._header}

    def load_state_dict(self, state: dict) -> None:
        self._file.close()
        os.truncate(self.filename, state["start"])
        self._file = open(self.filename, "a", newline="", encoding="utf-8")
        self._file.write(state["text"])
        self._file.flush()
        self.keys, self._text = state["keys"], state["text"]
        self._start, self._header = state["start"], state["header"]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.sep)
        if self.keys is None:
            self.keys = sorted(logs)
            if self._header:
                writer.writerow(["epoch", *self.keys])
        writer.writerow([epoch, *(logs.get(k, "NA") for k in self.keys)])
        text = buffer.getvalue()
        self._file.write(text)
        self._file.flush()
        self._text += text

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoard(Callback):
    """Write the logs of ``fit`` as TensorBoard scalar events, as ``keras.callbacks.TensorBoard``.

    Keras's layout: ``log_dir/train`` gets ``epoch_<name>`` for each training log (and
    ``epoch_learning_rate``) at step ``epoch``; ``log_dir/validation`` gets the ``val_`` logs
    without their prefix (``epoch_loss``, ``epoch_accuracy``, ...). With ``update_freq="batch"``
    or an integer ``n``, ``batch_<name>`` of the running logs is also written every ``n``
    batches, at the global batch number (counted from 1 over the whole fit).
    ``histogram_freq=n`` writes a histogram of every weight every ``n`` epochs (tag
    ``<layer name>/<weight>/histogram``). Events are written with
    ``torch.utils.tensorboard.SummaryWriter`` (TensorBoard must be installed); read them with
    ``tensorboard --logdir log_dir`` or tensorboard's ``EventAccumulator``.
    """

    def __init__(self, log_dir="logs", histogram_freq: int = 0, update_freq="epoch"):
        if isinstance(log_dir, bytes) or not isinstance(log_dir, (str, os.PathLike)):
            V.fail("TensorBoard", "log_dir", "a folder path", log_dir, TypeError)
        if (
            isinstance(histogram_freq, bool)
            or not isinstance(histogram_freq, int)
            or histogram_freq < 0
        ):
            V.fail("TensorBoard", "histogram_freq", "a non-negative integer", histogram_freq)
        if update_freq not in ("epoch", "batch") and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq <= 0
        ):
            V.fail(
                "TensorBoard", "update_freq", "'epoch', 'batch' or a positive integer", update_freq
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers: dict = {}

    def _writer(self, part: str):
        if part not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            self._writers[part] = SummaryWriter(os.path.join(self.log_dir, part))
        return self._writers[part]

    def on_train_begin(self, logs=None):
        self._global_batch = 0
        self._writer("train")

    def state_dict(self) -> dict:
        return {"_global_batch": self._global_batch}

    def on_train_batch_end(self, batch, logs=None):
        self._global_batch += 1
        if self.update_freq == "epoch" or self._global_batch % self.update_freq:
            return
        writer = self._writer("train")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", value, self._global_batch)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        optimizer = getattr(self.model, "optimizer", None)
        if "learning_rate" not in logs and hasattr(optimizer, "param_groups"):
            logs["learning_rate"] = float(optimizer.param_groups[0]["lr"])
        for name, value in logs.items():
            part = "validation" if name.startswith("val_") else "train"
            tag = name[4:] if part == "validation" else name
            self._writer(part).add_scalar(f"epoch_{tag}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for layer in getattr(self.model, "layers", []):
                for weight, value in layer.named_parameters():
                    tag = f"{layer.name}/{weight}/histogram"
                    writer.add_histogram(tag, value.detach().cpu(), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
