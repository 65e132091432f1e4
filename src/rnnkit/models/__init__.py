"""Models: Sequential with compile / fit / evaluate / predict, losses, metrics, callbacks.

``training`` holds the loop behind fit / evaluate / predict, ``summary`` the summary table,
``checkpoint`` the format of BackupAndRestore's backups, ``keras_layout`` / ``keras_format``
Keras's files (weights in and out / whole models in).
"""

from . import callbacks, losses, metrics, optimizers
from .callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
)
from .functional import Model
from .keras_format import load_keras
from .loading import load_model
from .saving import save_model
from .sequential import Sequential

Functional = Model  # Keras's class name for a model built with the functional API

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "Functional",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "Model",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "Sequential",
    "TensorBoard",
    "TerminateOnNaN",
    "callbacks",
    "load_keras",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "save_model",
]
