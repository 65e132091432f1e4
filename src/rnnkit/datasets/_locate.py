"""Finding a data set's files and verifying them before anything reads them.

Every loader in :mod:`rnnkit.datasets` describes its data once, as a :class:`DatasetSpec`
(official files with URL, SHA-256 and size; other names a local copy may have; a check for
copies that are not the official file), and asks :func:`locate` for a verified local path.

The chain
---------
1. ``data_dir``, when the caller gives one, and only there: the path itself when it is the
   file (or a folder the spec accepts as a copy), else the spec's names in it or in its
   ``<subfolder>/``. A ``data_dir`` that does not hold the data is a
   :class:`DatasetNotFoundError` naming it; nothing else is tried.
2. ``$RNNKIT_DATA_DIR``, when set: a path that does not exist is an error naming it (a mistyped
   variable never falls through). A folder that exists but lacks this data set is passed over,
   since one folder may hold some data sets and not others, and is named in the error if the
   rest of the chain fails too.
3. The cache, ``$RNNKIT_HOME/datasets/<name>/`` (official file names only).
4. The official download into the cache, checked against its SHA-256 while it streams (never
   when ``$RNNKIT_OFFLINE`` is set).

When all of these fail, :func:`locate` raises :class:`DatasetNotFoundError`. A loader that
ships a small sample may use it then, but only when :func:`nothing_given` is true (neither
``data_dir`` nor ``$RNNKIT_DATA_DIR``): a location the user gave never turns silently into
different data.

Verification
------------
Every file is verified before it is returned, wherever it was found:

- its SHA-256 equals an official file's: verified, ``Located.official`` is true;
- it has an official file's size but another SHA-256: damaged (a flipped bit keeps the size),
  :class:`CorruptDatasetError` naming the file and what to do;
- otherwise it is a copy of the user's own (a repack, an extracted folder): the spec's
  ``check`` verifies what can be verified without a published checksum (:func:`check_gzip`
  reads a gzip stream to the end, so its CRC-32 and length are checked; :func:`check_zip`
  tests every member's CRC-32) and says so in ``Located.verified``.

What was verified is recorded in ``$RNNKIT_HOME/datasets/<name>/verified.json``, keyed by the
file's resolved path, size and modification time: the next load of an unchanged file reads the
record instead of hashing again (84 MB take about 0.3 s). Caches built from a file should be
keyed by ``Located.sha256`` so that they are rebuilt when the file's content changes.

A new loader
------------
Describe the files, then call :func:`locate`::

    TINY_SHAKESPEARE = DatasetSpec(
        name="tinyshakespeare",
        title="Tiny Shakespeare",
        files=(RemoteFile(
            "input.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            size=1_115_394,
        ),),
    )
    path = locate(TINY_SHAKESPEARE, data_dir).path

Penn Treebank needs three files that the official download holds inside a tarball: one spec per
text file (``ptb.train.txt`` with its SHA-256 and no URL, found in ``<data_dir>/ptb/`` or the
cache), and one spec for ``simple-examples.tgz`` (with URL) whose members the loader extracts
into ``dataset_cache_dir("ptb")`` when the text files are not found. Tatoeba's ``fra-eng.zip``
changes on the publisher's site, so its spec names the file and URL without a SHA-256 and uses
``check=check_zip``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import _files
from . import _download
from ._download import (
    DATA_DIR_ENV,
    CorruptDatasetError,
    DatasetNotFoundError,
    DownloadError,
)

__all__ = [
    "DatasetSpec",
    "Located",
    "RemoteFile",
    "check_gzip",
    "check_zip",
    "find_local",
    "locate",
    "nothing_given",
    "verify",
]

_RECORD_FILE = "verified.json"
_RECORD_VERSION = 1


@dataclass(frozen=True)
class RemoteFile:
    """One official file of a data set, as its publisher distributes it.

    Attributes
    ----------
    name : str
        The file's name, in a local folder and in the cache.
    url : str or None
        Official address; ``None`` when it is not downloadable.
    sha256 : str or None
        SHA-256 of the official bytes. Without it a local copy is verified by the spec's
        ``check`` only, and a download is not compared with anything but ``md5``.
    size : int or None
        Size of the official file in bytes. A local file of this size whose SHA-256 differs
        is damaged (a flipped bit keeps the size).
    md5 : str or None
        The publisher's own checksum, checked on download when ``sha256`` is ``None``.
    """

    name: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    md5: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set's files may be and how to verify them.

    Attributes
    ----------
    name : str
        The cache folder, ``$RNNKIT_HOME/datasets/<name>/``.
    title : str
        The data in words, for messages ("IMDb reviews").
    files : tuple of RemoteFile
        The official files, any one of which is the data; the first with a URL is downloaded.
    local_names : tuple of str
        Other paths, relative to a data folder, that a local copy may have; a name ending in
        ``/`` is a folder (e.g. an extracted archive).
    subfolder : str, optional
        The data folder's subfolder that may hold the files (default ``name``).
    check : callable, optional
        ``check(path) -> str`` verifies a file or folder that is not byte-identical to an
        official file: returns what it checked, in words, or raises
        :class:`CorruptDatasetError` with the reason (e.g. :func:`check_gzip`).
    is_copy : callable, optional
        ``is_copy(folder) -> bool``: whether a folder given as ``data_dir`` is itself a copy
        (e.g. an extracted archive under another name).
    layout : str
        The accepted local forms in words (default: built from the names).
    local_note : str
        Added after ``layout`` where an error says how to use a local copy.
    """

    name: str
    title: str
    files: tuple[RemoteFile, ...]
    local_names: tuple[str, ...] = ()
    subfolder: str | None = None
    check: Callable[[Path], str] | None = None
    is_copy: Callable[[Path], bool] | None = None
    layout: str = ""
    local_note: str = ""

    @property
    def candidates(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files) + self.local_names

    def describe_layout(self) -> str:
        if self.layout:
            return self.layout
        sub = self.subfolder or self.name
        return (
            f"{' or '.join(self.candidates)}, directly or in a {sub}/ subfolder, "
            "or the path of the file itself"
        )

    def download_file(self) -> RemoteFile | None:
        return next((f for f in self.files if f.url), None)


@dataclass(frozen=True)
class Located:
    """A verified local copy, as :func:`locate` returns it.

    Attributes
    ----------
    path : pathlib.Path
        The file or folder.
    origin : {"data_dir", "RNNKIT_DATA_DIR", "cache", "download"}
        Where in the chain it was found.
    sha256 : str or None
        SHA-256 of the file (``None`` for a folder): key caches built from it by this.
    official : bool
        Whether its SHA-256 is an official file's.
    verified : str
        What was checked, in words.
    """

    path: Path
    origin: str
    sha256: str | None
    official: bool
    verified: str


# ---------------------------------------------------------------------------------------------
# Checks for copies without a published checksum
# ---------------------------------------------------------------------------------------------


def check_gzip(path: Path) -> str:
    """Read a gzip file to the end, so that its CRC-32 and length trailer are checked.

    ``tarfile`` stops reading at the end-of-archive marker and never reaches the trailer, so
    damage near the end of a ``.tar.gz`` passes unseen without this.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str
        What was checked, in words.

    Raises
    ------
    CorruptDatasetError
        If the file is not gzip-compressed, ends early, or fails its CRC-32 or length check.
    """
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic != b"\x1f\x8b":
        found = f"bytes {magic.hex(' ')}" if magic else "an empty file"
        raise CorruptDatasetError(
            f"it is not gzip-compressed (expected the gzip magic bytes 1f 8b, found {found})"
        )
    n_bytes = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(_download._CHUNK_SIZE):
                n_bytes += len(chunk)
    except (EOFError, OSError, zlib.error) as exc:
        raise CorruptDatasetError(
            f"reading its gzip stream to the end failed after {n_bytes:,} bytes "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return f"gzip CRC-32 and length checked to the end ({n_bytes:,} bytes uncompressed)"


def check_zip(path: Path) -> str:
    """Test the CRC-32 of every member of a zip file.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str
        What was checked, in words.

    Raises
    ------
    CorruptDatasetError
        If the file is not a readable zip file or a member fails its CRC-32 check.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            n_members = len(archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise CorruptDatasetError(
            f"it is not a readable zip file ({type(exc).__name__}: {exc})"
        ) from exc
    if bad is not None:
        raise CorruptDatasetError(f"its member {bad} fails its CRC-32 check")
    return f"zip CRC-32 of all {n_members:,} members checked"


# ---------------------------------------------------------------------------------------------
# Verification, with a record of what was verified
# ---------------------------------------------------------------------------------------------


def _spec_fingerprint(spec: DatasetSpec) -> str:
    known = [(f.name, f.sha256, f.size) for f in spec.files]
    return hashlib.sha256(repr((_RECORD_VERSION, known)).encode()).hexdigest()[:16]


def _record_path(spec: DatasetSpec) -> Path:
    return _download.dataset_cache_dir(spec.name) / _RECORD_FILE


def _read_records(spec: DatasetSpec) -> dict:
    try:
        records = json.loads(_record_path(spec).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _write_record(spec: DatasetSpec, key: str, entry: dict) -> None:
    """Add one entry to the record; a failure only means the file is verified again next time."""
    records = _read_records(spec)
    records[key] = entry
    with contextlib.suppress(OSError):
        _files.write_json(_record_path(spec), records)


def _advice(spec: DatasetSpec, origin: str) -> str:
    if origin in ("cache", "download"):
        return "Delete it: rnnkit downloads it again on the next call."
    official = spec.download_file() or (spec.files[0] if spec.files else None)
    if official is None:
        return "Replace it with a good copy."
    where = f" from {official.url}" if official.url else ""
    sha = f" (SHA-256 {official.sha256})" if official.sha256 else ""
    return f"Replace it with a good copy, e.g. the official {official.name}{where}{sha}."


def verify(spec: DatasetSpec, path: Path, origin: str = "data_dir") -> Located:
    """Verify one local file or folder of ``spec`` (see the module documentation).

    A file whose path, size and modification time match the record of an earlier verification
    (of the same spec) is not hashed again.

    Parameters
    ----------
    spec : DatasetSpec
        What the file should be.
    path : pathlib.Path
        The file or folder.
    origin : str, default "data_dir"
        Where it was found (kept in the result; a cached copy is advised to be deleted).

    Returns
    -------
    Located

    Raises
    ------
    CorruptDatasetError
        If the file has an official file's size but another SHA-256, or fails ``spec.check``.
    """
    path = Path(path)
    if path.is_dir():
        verified = spec.check(path) if spec.check else "a folder: its files are not checksummed"
        return Located(path, origin, None, False, verified)
    st = path.stat()
    key = str(path.resolve())
    fingerprint = _spec_fingerprint(spec)
    entry = _read_records(spec).get(key)
    if (
        isinstance(entry, dict)
        and entry.get("size") == st.st_size
        and entry.get("mtime_ns") == st.st_mtime_ns
        and entry.get("spec") == fingerprint
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("official"), bool)
        and isinstance(entry.get("verified"), str)
    ):
        return Located(path, origin, entry["sha256"], entry["official"], entry["verified"])

    sha256 = _download.file_digest(path, "sha256")
    official = next((f for f in spec.files if f.sha256 and f.sha256 == sha256), None)
    if official is not None:
        verified = f"SHA-256 equals the official {official.name}'s"
    else:
        same_size = next(
            (f for f in spec.files if f.sha256 and f.size == st.st_size and f.size), None
        )
        if same_size is not None:
            raise CorruptDatasetError(
                f"{path} is damaged: it has the size of the official {same_size.name} "
                f"({st.st_size:,} bytes) but not its SHA-256 (expected {same_size.sha256}, "
                f"received {sha256}). {_advice(spec, origin)}"
            )
        if spec.check is not None:
            try:
                checked = spec.check(path)
            except CorruptDatasetError as exc:
                raise CorruptDatasetError(
                    f"{path} is damaged: {exc}. {_advice(spec, origin)}"
                ) from exc
            verified = f"{checked}; not the official file, so no published checksum to compare"
        else:
            verified = "not the official file and no check for it: read as it is"
    _write_record(
        spec,
        key,
        {
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": sha256,
            "official": official is not None,
            "verified": verified,
            "spec": fingerprint,
        },
    )
    return Located(path, origin, sha256, official is not None, verified)


# ---------------------------------------------------------------------------------------------
# Finding
# ---------------------------------------------------------------------------------------------


def find_local(spec: DatasetSpec, base: str | os.PathLike) -> Path | None:
    """Return the copy of ``spec`` at ``base``, or ``None``; nothing is verified.

    The copy is ``base`` itself when it is a file, else the first of the spec's names (official
    first) in ``base`` or ``base/<subfolder>/``, else ``base`` or its subfolder when
    ``spec.is_copy`` accepts it.
    """
    base = _expand(base)
    if base.is_file():
        return base
    if not base.is_dir():
        return None
    for folder in (base, base / (spec.subfolder or spec.name)):
        for rel in spec.candidates:
            candidate = folder / rel.rstrip("/")
            if candidate.is_dir() if rel.endswith("/") else candidate.is_file():
                return candidate
        if spec.is_copy is not None and folder.is_dir() and spec.is_copy(folder):
            return folder
    return None


def _expand(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``~`` expanded; as it is when that names no home folder."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # "~nosuchuser"
        return Path(path)


def nothing_given(data_dir: str | os.PathLike | None) -> bool:
    """Return whether neither ``data_dir`` nor ``$RNNKIT_DATA_DIR`` names a location.

    The only case in which a loader may fall back to a bundled sample.
    """
    return data_dir is None and _download.env_data_dir() is None


def locate(
    spec: DatasetSpec, data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> Located:
    """Find and verify the data of ``spec``.

    Parameters
    ----------
    spec : DatasetSpec
        The data set.
    data_dir : str or os.PathLike, optional
        When given, the only place looked at. Otherwise ``$RNNKIT_DATA_DIR``, the cache and
        the official download, in that order (see the module documentation).
    download : bool, default True
        Whether the official file may be downloaded (never when ``$RNNKIT_OFFLINE`` is set).

    Returns
    -------
    Located
        The verified path, where it was found and what was verified.

    Raises
    ------
    DatasetNotFoundError
        Naming the given ``data_dir`` or ``$RNNKIT_DATA_DIR`` that does not hold the data, or
        listing where it looked and why the download failed.
    CorruptDatasetError
        A damaged file, named, with what to do.
    ChecksumError
        A download that is not the official file (nothing is written).
    """
    layout = spec.describe_layout()
    if data_dir is not None:
        base = _expand(data_dir)
        try:
            found = find_local(spec, base)
            exists = base.exists()
        except (OSError, ValueError) as exc:  # a name too long, a NUL character...
            raise DatasetNotFoundError(
                f"data_dir={str(data_dir)!r} cannot be used as a path ({exc}); expected {layout}"
            ) from exc
        if found is not None:
            return verify(spec, found, "data_dir")
        if not exists:
            raise DatasetNotFoundError(
                f"data_dir={str(data_dir)!r} does not exist; expected {layout}"
            )
        raise DatasetNotFoundError(
            f"no {spec.title} in data_dir={str(data_dir)!r}: expected {layout}; "
            f"found none of these in {base}"
        )

    looked = []
    env = _download.env_data_dir()
    if env is not None:
        try:
            exists = env.exists()
            found = find_local(spec, env) if exists else None
        except OSError as exc:  # a name too long...
            raise DatasetNotFoundError(
                f"${DATA_DIR_ENV}={env} cannot be used as a path ({exc}): set it to a folder "
                f"that holds {layout}, or unset it"
            ) from exc
        if not exists:
            raise DatasetNotFoundError(
                f"${DATA_DIR_ENV}={env} does not exist: set it to a folder that holds {layout}, "
                "or unset it"
            )
        if found is not None:
            return verify(spec, found, DATA_DIR_ENV)
        looked.append(f"${DATA_DIR_ENV}={env}")

    cache = _download.dataset_cache_dir(spec.name)
    for official in spec.files:
        if (cache / official.name).is_file():
            return verify(spec, cache / official.name, "cache")
    looked.append(f"the cache {cache}")

    remote = spec.download_file()
    if remote is None or not download:
        reason = "no download address is known" if remote is None else "downloads are off"
    else:
        dest = cache / remote.name
        try:
            _download.download(remote.url, dest, sha256=remote.sha256, md5=remote.md5)
        except DownloadError as exc:
            reason = str(exc)
        else:
            if remote.sha256 is None and spec.check is not None:
                try:
                    spec.check(dest)
                except CorruptDatasetError as exc:
                    dest.unlink()  # rnnkit wrote it a moment ago
                    raise CorruptDatasetError(
                        f"the download of {remote.url} is damaged or is not {spec.title}: {exc}; "
                        f"it was deleted"
                    ) from exc
            return verify(spec, dest, "download")
    raise DatasetNotFoundError(
        "\n".join(
            [
                f"{spec.title} not found locally and could not be downloaded ({reason}).",
                "Looked in: " + "; ".join(looked) + ".",
                f"To use a local copy, pass data_dir= or set ${DATA_DIR_ENV} to a folder that "
                f"holds {layout}{spec.local_note}.",
            ]
        )
    )
