"""Models: Sequential with compile / fit / evaluate / predict, losses, metrics, callbacks.

``training`` holds the loop behind fit / evaluate / predict, ``summary`` the summary table,
``checkpoint`` the format of BackupAndRestore's backups.
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
from .loading import load_model
from .saving import save_model
from .sequential import Sequential

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "Sequential",
    "TensorBoard",
    "TerminateOnNaN",
    "callbacks",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "save_model",
]
