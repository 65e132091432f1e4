"""Data-set loaders with checksummed downloads, verified local copies and an on-disk cache.

This subpackage depends on numpy only.

Every loader finds its files through one chain, :func:`locate` (``data_dir`` -> ``$RNNKIT_DATA_DIR``
-> cache -> official download), given a :class:`DatasetSpec` of its official files (URL,
SHA-256, size); every file is verified before it is read (see :mod:`rnnkit.datasets._locate`).

Environment variables: ``RNNKIT_DATA_DIR`` (local copies), ``RNNKIT_HOME``
(cache root, default ``~/.cache/rnnkit``), ``RNNKIT_OFFLINE`` (never use
the network). See :mod:`rnnkit.datasets._download`.
"""

from . import imdb, sst2, translation
from ._download import ChecksumError, CorruptDatasetError, DatasetNotFoundError, DownloadError
from ._locate import (
    DatasetSpec,
    Located,
    RemoteFile,
    check_gzip,
    check_zip,
    locate,
    nothing_given,
)
from .imdb import SampleDataWarning

__all__ = [
    "ChecksumError",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "Located",
    "RemoteFile",
    "SampleDataWarning",
    "check_gzip",
    "check_zip",
    "imdb",
    "locate",
    "nothing_given",
    "sst2",
    "translation",
]
