"""``keras.preprocessing.sequence``: :func:`pad_sequences` and
:func:`timeseries_dataset_from_array`."""

from ..text.sequence import pad_sequences
from ..utils import timeseries_dataset_from_array

__all__ = ["pad_sequences", "timeseries_dataset_from_array"]
