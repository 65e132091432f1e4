"""Keras's import path ``keras.preprocessing``: ``text`` (the legacy ``Tokenizer``),
``sequence`` (``pad_sequences``) and ``timeseries_dataset_from_array``."""

from ..utils import timeseries_dataset_from_array
from . import sequence, text

__all__ = ["sequence", "text", "timeseries_dataset_from_array"]
