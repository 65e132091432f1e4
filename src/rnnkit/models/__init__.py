"""Models: Sequential with compile / fit / evaluate / predict, losses, metrics, callbacks."""

from . import callbacks, losses, metrics, optimizers
from .callbacks import Callback, EarlyStopping, History, ModelCheckpoint, ReduceLROnPlateau
from .loading import load_model
from .saving import save_model
from .sequential import Sequential

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "Sequential",
    "callbacks",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "save_model",
]
