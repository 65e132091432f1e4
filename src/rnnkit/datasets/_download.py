"""Download, checksum and cache helpers shared by rnnkit's data-set loaders.

Environment variables
---------------------
``RNNKIT_HOME``
    Root of rnnkit's cache (default ``~/.cache/rnnkit``). Data sets are cached
    under ``$RNNKIT_HOME/datasets/<name>/``.
``RNNKIT_DATA_DIR``
    A folder that holds local copies of data sets. Loaders look there before
    they look in the cache or try the network; a path that does not exist
    is an error (see :mod:`rnnkit.datasets._locate`).
``RNNKIT_OFFLINE``
    When set to ``1``, ``true`` or ``yes``, loaders never try the network.

Downloads are written through :func:`rnnkit._files.atomic_write` (a temporary file in the
destination folder, renamed only once the checksum matched), so a crash or an interrupted
download never leaves a half-written file behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .._files import atomic_write

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_HOME",
    "HOME_ENV",
    "OFFLINE_ENV",
    "ChecksumError",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "atomic_write",
    "dataset_cache_dir",
    "download",
    "env_data_dir",
    "file_digest",
    "is_offline",
    "rnnkit_home",
]

HOME_ENV = "RNNKIT_HOME"
DATA_DIR_ENV = "RNNKIT_DATA_DIR"
OFFLINE_ENV = "RNNKIT_OFFLINE"
DEFAULT_HOME = "~/.cache/rnnkit"

_CHUNK_SIZE = 1 << 20


# Indirection so that tests can replace the network with a fake.
_urlopen = urllib.request.urlopen


class DatasetNotFoundError(FileNotFoundError):
    """A data set is neither available locally nor downloadable."""


class DownloadError(ConnectionError):
    """A download failed for a network reason (no connection, HTTP error, timeout)."""


class ChecksumError(ValueError):
    """A file's checksum differs from the published one."""


class CorruptDatasetError(ValueError):
    """A local data-set file or folder is damaged, truncated or laid out unexpectedly."""


def rnnkit_home() -> Path:
    """Return rnnkit's cache root.

    Returns
    -------
    pathlib.Path
        ``$RNNKIT_HOME`` if that variable is set and not empty, otherwise
        ``~/.cache/rnnkit``. The folder is not created.
    """
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


def dataset_cache_dir(name: str) -> Path:
    """Return the cache folder of one data set.

    The folder is not created here; :func:`atomic_write` and
    :func:`download` create it when they first write into it.

    Parameters
    ----------
    name : str
        Data-set name, e.g. ``"imdb"``.

    Returns
    -------
    pathlib.Path
        ``rnnkit_home() / "datasets" / name``.
    """
    return rnnkit_home() / "datasets" / name


def env_data_dir() -> Path | None:
    """Return ``$RNNKIT_DATA_DIR`` as a path, or ``None`` when it is unset or empty."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~nosuchuser": used as it is (and reported if it does not exist)
        return Path(value)


def is_offline() -> bool:
    """Return whether ``$RNNKIT_OFFLINE`` forbids network access."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Return the hexadecimal digest of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or os.PathLike
        File to hash.
    algorithm : str, default "sha256"
        Any name accepted by :func:`hashlib.new`.

    Returns
    -------
    str
        Lower-case hexadecimal digest.
    """
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest``, verifying a checksum before the file appears.

    The body is streamed into a temporary file next to ``dest`` while being
    hashed; only when the digest matches is the file renamed to ``dest``.

    Parameters
    ----------
    url : str
        Address to fetch.
    dest : str or os.PathLike
        Final path of the file.
    sha256, md5 : str, optional
        Expected digest of the file (``sha256`` wins when both are given).
        With neither, the file is not verified.
    timeout : float, default 60.0
        Socket timeout in seconds.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        If ``$RNNKIT_OFFLINE`` is set, or the connection or transfer fails.
    ChecksumError
        If the downloaded bytes do not have the expected digest; nothing is
        written to ``dest`` in that case.
    """
    dest = Path(dest)
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5) if md5 else (None, None)
    if is_offline():
        raise DownloadError(f"not downloading {url}: ${OFFLINE_ENV} is set")
    hasher = hashlib.new(algorithm) if algorithm else None
    print(f"rnnkit: downloading {url} to {dest}", file=sys.stderr)
    n_bytes = 0
    try:
        with _urlopen(url, timeout=timeout) as response, atomic_write(dest) as f:
            while chunk := response.read(_CHUNK_SIZE):
                n_bytes += len(chunk)
                f.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)
            if hasher is not None and hasher.hexdigest() != expected.lower():
                raise ChecksumError(
                    f"checksum mismatch for {url}: expected {algorithm} {expected.lower()}, "
                    f"received {hasher.hexdigest()} ({n_bytes:,} bytes); "
                    f"the download was discarded and {dest} was not written"
                )
    except ChecksumError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise DownloadError(f"could not download {url} to {dest}: {exc}") from exc
    return dest
