"""Data-set loaders with checksummed downloads, local copies and an on-disk cache.

This subpackage depends on numpy only.

Environment variables: ``RNNKIT_DATA_DIR`` (local copies), ``RNNKIT_HOME``
(cache root, default ``~/.cache/rnnkit``), ``RNNKIT_OFFLINE`` (never use
the network). See :mod:`rnnkit.datasets._download`.
"""

from . import imdb
from ._download import ChecksumError, CorruptDatasetError, DatasetNotFoundError, DownloadError
from .imdb import SampleDataWarning

__all__ = [
    "ChecksumError",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "SampleDataWarning",
    "imdb",
]
