"""Callbacks: History (always on), EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, as Keras."""

from __future__ import annotations

import copy
import math

from .. import _validation as V


class Callback:
    """Hooks called by ``fit``; ``self.model`` is the model being trained."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
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
    improves. Saves are atomic (see :meth:`Sequential.save`)."""

    def __init__(
        self,
        filepath: str,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ):
        self.filepath, self.monitor, self.save_best_only, self.verbose = (
            str(filepath),
            monitor,
            save_best_only,
            verbose,
        )
        self.mode, self._better = _better(mode, monitor, 0.0, "ModelCheckpoint")
        self.best = math.inf if self.mode == "min" else -math.inf

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
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")
