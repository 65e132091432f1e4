"""IMDb movie-review sentiment data set (Maas et al., ACL 2011).

50,000 labelled reviews from the Large Movie Review Dataset v1.0, split
25,000 / 25,000 into training and test sets, each half positive (rating
>= 7 of 10) and half negative (rating <= 4).

Public API
----------
:func:`load_data`
    Word-id sequences with exactly the semantics of
    ``keras.datasets.imdb.load_data``.
:func:`get_word_index`
    Keras's word index (word -> frequency rank).
:func:`load_texts`
    The raw review texts with labels, star ratings and review ids.

Where the data comes from
-------------------------
Both files are found through the chain shared by every loader,
:func:`rnnkit.datasets.locate` (specs :data:`REVIEWS` and :data:`WORD_INDEX`):

1. ``data_dir`` if given, and only there (a wrong path raises instead of
   starting an 84 MB download, and never falls back to the sample),
2. ``$RNNKIT_DATA_DIR``: a path that does not exist is an error naming it;
   a folder without the IMDb files is passed over,
3. the cache, ``$RNNKIT_HOME/datasets/imdb/`` (``RNNKIT_HOME`` defaults to
   ``~/.cache/rnnkit``),
4. the official archive, downloaded into the cache and checked against its
   published SHA-256 (skipped when ``$RNNKIT_OFFLINE`` is set),
5. the small sample bundled with rnnkit (2,000 training and 1,000 test
   reviews), only if ``allow_sample`` is true and neither ``data_dir`` nor
   ``$RNNKIT_DATA_DIR`` is given; a :class:`SampleDataWarning` says so.

A local path (1 or 2) may be the tarball itself, or a folder that holds
``aclImdb_v1.tar.gz``, ``aclImdb_v1_labeled.tar.gz`` or an extracted
``aclImdb/`` folder, directly or in an ``imdb/`` subfolder (so
``RNNKIT_DATA_DIR`` can point at a folder with several data sets). The word
index ``imdb_word_index.json`` is looked for in ``data_dir`` and next to the
reviews, then in the same places, then downloaded from Keras's bucket.

Verification
------------
Every file is verified before it is parsed or cached: the official archive
by its SHA-256 (a file of the official size with another SHA-256 is
damaged); another tarball (e.g. the labelled-only repack) by reading its
gzip stream to the end, so that its CRC-32 and length are checked (tarfile
alone stops at the end-of-archive marker and never sees them); the word
index by its SHA-256 or, when it is formatted differently, by Keras's md5 of
its content. Damage raises :class:`CorruptDatasetError` naming the file and
what to do; what was verified is in :attr:`IMDbReviews.verified`, and
recorded so that an unchanged file is not hashed again.

Parsing and caching
-------------------
The archive is streamed once (nothing is extracted to disk) and the
reviews are cached as a compressed ``.npz`` in
``$RNNKIT_HOME/datasets/imdb/parsed/``, keyed by what they were made from
(the tarball's SHA-256, or the names, sizes and times of an extracted
folder's files) and storing it as ``made_from``, so a changed source is
parsed again. ``load_data`` additionally caches the word-rank sequences,
keyed by the reviews and the word index's SHA-256. Cache files are written
to a temporary file and renamed, so they are never half-written; an
unreadable cache file is ignored and rebuilt.

Order and tokenisation
----------------------
Before shuffling, each split lists the positive reviews sorted by file name
(``"0_10.txt" < "10000_8.txt" < "10001_10.txt" ...``), then the negative ones
sorted the same way. This is the order of Keras's ``imdb.npz``: with it
``load_data()`` reproduces Keras's published sequences exactly, shuffle
included. Words come from :meth:`rnnkit.text.Tokenizer.keras_imdb`, which
reproduces Keras's word index exactly on the training set; words absent
from the index (they occur only in test reviews) are left out, as in Keras.

Reviews are UTF-8; a review with invalid UTF-8 bytes is decoded with
``errors="replace"`` (each bad byte becomes U+FFFD). The official reviews
have none.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import json
import numbers
import os
import re
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from itertools import chain
from pathlib import Path

import numpy as np

from .. import _files
from .. import _validation as V
from ..text.tokenizer import Tokenizer
from . import _download, _locate
from ._download import (
    DATA_DIR_ENV,
    ChecksumError,
    CorruptDatasetError,
    DatasetNotFoundError,
)

__all__ = [
    "MAX_ID",
    "MAX_SEED",
    "MD5",
    "REVIEWS",
    "SHA256",
    "SIZE",
    "URL",
    "WORD_INDEX",
    "WORD_INDEX_MD5",
    "WORD_INDEX_SHA256",
    "WORD_INDEX_SIZE",
    "WORD_INDEX_URL",
    "IMDbReviews",
    "ReviewSplit",
    "SampleDataWarning",
    "get_word_index",
    "load_data",
    "load_texts",
]

#: Official archive of the Large Movie Review Dataset v1.0.
URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
#: SHA-256 and size of the official archive, as published beside each other in the Hugging Face
#: ``imdb`` dataset card (``checksum`` and ``num_bytes``) and by independent loaders (the Julia
#: DataDeps registration of MLDatasets.jl, ``sha256sum --check`` scripts); the size is also the
#: ``Content-Length`` that ai.stanford.edu serves. (The value first given in the project's issue,
#: ``c40f...2ef1c98``, differs in its second half and no published source confirms it.)
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
SIZE = 84_125_825
#: md5 of the official archive, as torchtext, PaddleNLP and others check it.
MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
#: Keras's word index for its IMDb data.
WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
#: md5 that Keras checks for the word index (of the file, which is ``json.dumps`` of the dict).
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"
#: SHA-256 and size of Keras's word-index file. Keras publishes only the md5; the file is
#: ``json.dumps`` of the index, and that text of the index in ``../shared/data`` has Keras's md5
#: and the 1,641,221 bytes Keras's download progress shows, so these are the file's.
WORD_INDEX_SHA256 = "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6"
WORD_INDEX_SIZE = 1_641_221

TARBALL_NAMES = ("aclImdb_v1_labeled.tar.gz", "aclImdb_v1.tar.gz")
WORD_INDEX_FILE = "imdb_word_index.json"
SAMPLE_FILE = "imdb_sample.json.gz"

_CACHE_NAME = "imdb"
_DOWNLOAD_NAME = "aclImdb_v1.tar.gz"
_SPLITS = ("train", "test")
# Keras's order: positive reviews first.
_FOLDERS = (("pos", 1), ("neg", 0))
_EXPECTED_PER_FOLDER = 12_500
# Bump when the parsed-reviews or sequences cache format or content changes.
_PARSE_VERSION = 1
_ENCODING_VERSION = 1

_MEMBER_RE = re.compile(r"(?:\./)?aclImdb/(train|test)/(pos|neg)/((\d+)_(\d+)\.txt)")
_FILE_RE = re.compile(r"(\d+)_(\d+)\.txt")
_KERAS_TOKENIZER = Tokenizer.keras_imdb()


class SampleDataWarning(UserWarning):
    """The full IMDb data set was unavailable and the bundled sample was used instead."""


# ---------------------------------------------------------------------------
# Public result types
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReviewSplit:
    """The reviews of one split.

    Attributes
    ----------
    texts : numpy.ndarray of str, shape (n,)
        Raw review texts (object array), HTML line breaks included.
    labels : numpy.ndarray of int64, shape (n,)
        1 for a positive review, 0 for a negative one.
    ratings : numpy.ndarray of int64, shape (n,)
        Star rating from 1 to 10, from the file name (positive reviews are
        rated 7 to 10, negative ones 1 to 4).
    ids : numpy.ndarray of int64, shape (n,)
        Review id from the file name (unique within a split and label only).
    """

    texts: np.ndarray
    labels: np.ndarray
    ratings: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class IMDbReviews:
    """Result of :func:`load_texts`.

    Unpacks like a pair: ``train, test = load_texts()``.

    Attributes
    ----------
    train, test : ReviewSplit
        The official 25,000 / 25,000 split (or the sample's 2,000 / 1,000).
    source : {"full", "sample"}
        Whether the full data set or the bundled sample was loaded.
    location : str
        The file or folder the reviews were read from.
    verified : str
        What was verified about that file or folder before it was read, in words (e.g.
        "SHA-256 equals the official aclImdb_v1.tar.gz's"; for a copy that is not the official
        file, the gzip CRC-32 and length read to the end).
    """

    train: ReviewSplit
    test: ReviewSplit
    source: str
    location: str
    verified: str = ""

    def __iter__(self) -> Iterator[ReviewSplit]:
        yield self.train
        yield self.test


# ---------------------------------------------------------------------------
# Internal representation of parsed reviews
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _RawSplit:
    """Reviews of one split in Keras's order, texts as one UTF-8 blob."""

    blob: np.ndarray  # uint8, the UTF-8 texts concatenated
    offsets: np.ndarray  # int64, shape (n + 1,)
    labels: np.ndarray  # int8
    ratings: np.ndarray  # int8
    ids: np.ndarray  # int32

    def texts(self) -> list[str]:
        data = self.blob.tobytes()
        bounds = self.offsets.tolist()
        return [data[a:b].decode("utf-8") for a, b in itertools.pairwise(bounds)]

    def to_arrays(self, split: str) -> dict[str, np.ndarray]:
        return {
            f"{split}_{name}": getattr(self, name)
            for name in ("blob", "offsets", "labels", "ratings", "ids")
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], split: str) -> _RawSplit:
        return cls(
            **{
                name: arrays[f"{split}_{name}"]
                for name in ("blob", "offsets", "labels", "ratings", "ids")
            }
        )

    @classmethod
    def from_records(cls, records: list[tuple[str, int, int, int]]) -> _RawSplit:
        """Build from ``(text, label, rating, id)`` records, keeping their order."""
        encoded = [text.encode("utf-8") for text, _, _, _ in records]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        return cls(
            blob=np.frombuffer(b"".join(encoded), dtype=np.uint8),
            offsets=offsets,
            labels=np.array([r[1] for r in records], dtype=np.int8),
            ratings=np.array([r[2] for r in records], dtype=np.int8),
            ids=np.array([r[3] for r in records], dtype=np.int32),
        )


@dataclass(frozen=True)
class _Source:
    kind: str  # "tarball" or "directory"
    path: Path
    sha256: str | None  # of the tarball (None for a folder)
    verified: str  # what was checked, in words


def _decode(data: bytes) -> str:
    """Decode review bytes as UTF-8, replacing invalid bytes by U+FFFD."""
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------
# Finding and verifying the files (through the shared chain of _locate)
# ---------------------------------------------------------------------------

_LOCAL_LAYOUT = (
    f"{' or '.join(TARBALL_NAMES)}, or the extracted aclImdb/ folder, "
    "directly or in an imdb/ subfolder, or the path of the tarball itself"
)


def _check_reviews(path: Path) -> str:
    """Verify a copy of the reviews that is not the official tarball."""
    if path.is_dir():
        return (
            "an extracted folder: its files have no published checksums; the number of reviews "
            "in each folder is checked when it is parsed"
        )
    return _locate.check_gzip(path)


def _is_extracted_folder(folder: Path) -> bool:
    return (folder / "train").is_dir() and (folder / "test").is_dir()


def _check_word_index(path: Path) -> str:
    """Verify a word index that is not byte-identical to Keras's file (e.g. pretty-printed)."""
    _read_word_index(path)
    return f"content equals Keras's word index (md5 {WORD_INDEX_MD5} of json.dumps of it)"


#: The reviews: the official archive, the labelled-only repack, or an extracted folder.
REVIEWS = _locate.DatasetSpec(
    name=_CACHE_NAME,
    title="IMDb reviews",
    files=(_locate.RemoteFile(_DOWNLOAD_NAME, URL, sha256=SHA256, size=SIZE, md5=MD5),),
    local_names=("aclImdb_v1_labeled.tar.gz", "aclImdb/"),
    check=_check_reviews,
    is_copy=_is_extracted_folder,
    layout=_LOCAL_LAYOUT,
    local_note=f" (and {WORD_INDEX_FILE} for load_data / get_word_index)",
)

#: Keras's word index.
WORD_INDEX = _locate.DatasetSpec(
    name=_CACHE_NAME,
    title=f"Keras's IMDb word index ({WORD_INDEX_FILE})",
    files=(
        _locate.RemoteFile(
            WORD_INDEX_FILE,
            WORD_INDEX_URL,
            sha256=WORD_INDEX_SHA256,
            size=WORD_INDEX_SIZE,
            md5=WORD_INDEX_MD5,
        ),
    ),
    check=_check_word_index,
)


def _sample_hints(allow_sample: bool) -> str:
    if not allow_sample:
        return "\nTo use the small sample bundled with rnnkit instead, pass allow_sample=True."
    env = _download.env_data_dir()
    if env is not None and env.exists():  # (a path that does not exist is the error itself)
        return (
            f"\nThe sample bundled with rnnkit is not used because ${DATA_DIR_ENV}={env} is set; "
            "unset it to fall back to the sample."
        )
    return ""


def _find_reviews(data_dir: str | os.PathLike | None, allow_sample: bool) -> _Source:
    try:
        located = _locate.locate(REVIEWS, data_dir)
    except DatasetNotFoundError as exc:
        if data_dir is not None:
            raise
        raise DatasetNotFoundError(f"{exc}{_sample_hints(allow_sample)}") from exc
    kind = "directory" if located.path.is_dir() else "tarball"
    return _Source(kind, located.path, located.sha256, located.verified)


def _find_word_index(
    data_dir: str | os.PathLike | None, near: _Source | None, allow_sample: bool
) -> _locate.Located:
    """The word index in ``data_dir`` or next to the reviews; else through the shared chain."""
    bases = [_locate._expand(data_dir)] if data_dir is not None else []
    if near is not None:
        bases.append(near.path.parent)
    for base in bases:
        folder = base.parent if base.is_file() else base
        found = _locate.find_local(WORD_INDEX, folder)
        if found is not None:
            return _locate.verify(WORD_INDEX, found, "data_dir")
    try:
        return _locate.locate(WORD_INDEX)
    except DatasetNotFoundError as exc:
        if data_dir is not None:
            raise DatasetNotFoundError(
                f"{WORD_INDEX_FILE} is neither in data_dir={str(data_dir)!r} nor next to the "
                f"reviews, and: {exc}"
            ) from exc
        raise DatasetNotFoundError(f"{exc}{_sample_hints(allow_sample)}") from exc


def _read_word_index(path: Path, *, check: bool = True) -> dict[str, int]:
    """Load a word index and check it is Keras's (md5 of ``json.dumps`` of its content).

    ``check=False`` for a file that ``_locate.verify`` has passed (its SHA-256 is the official
    file's, or this check passed and was recorded): the content is not hashed again."""
    try:
        with open(path, encoding="utf-8") as f:
            word_index = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptDatasetError(f"{path} is not a JSON word index: {exc}") from exc
    if not check:
        return word_index
    received = hashlib.md5(json.dumps(word_index).encode("utf-8")).hexdigest()
    if received != WORD_INDEX_MD5:
        raise ChecksumError(
            f"{path} is not Keras's IMDb word index: expected md5 {WORD_INDEX_MD5} of "
            f"json.dumps(index), received {received}"
        )
    return word_index


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def _assemble(
    groups: dict[tuple[str, str], list[tuple[str, int, int, bytes]]], where: Path
) -> dict[str, _RawSplit]:
    """Check folder sizes and order reviews as Keras did: pos then neg, by file name."""
    for (split, folder), items in groups.items():
        if len(items) != _EXPECTED_PER_FOLDER:
            raise CorruptDatasetError(
                f"{where} does not hold the IMDb reviews: expected {_EXPECTED_PER_FOLDER:,} files "
                f"aclImdb/{split}/{folder}/<id>_<rating>.txt, found {len(items):,}"
            )
    splits = {}
    for split in _SPLITS:
        records = []
        for folder, label in _FOLDERS:
            for _, review_id, rating, data in sorted(groups[(split, folder)]):
                records.append((_decode(data), label, rating, review_id))
        splits[split] = _RawSplit.from_records(records)
    return splits


def _parse_tarball(path: Path) -> dict[str, _RawSplit]:
    """Stream the archive once; the gzip stream is read to its end so its CRC-32 is checked."""
    groups: dict[tuple[str, str], list] = {(s, f): [] for s in _SPLITS for f, _ in _FOLDERS}
    n_read = 0
    try:
        with gzip.open(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r:") as tar:
            for member in tar:
                match = _MEMBER_RE.fullmatch(member.name)
                if match is None or not member.isfile():
                    continue
                split, folder, name, review_id, rating = match.groups()
                data = tar.extractfile(member).read()
                groups[(split, folder)].append((name, int(review_id), int(rating), data))
                n_read += 1
            # tarfile stops at the end-of-archive marker; the CRC-32 is checked only at the end.
            while stream.read(_download._CHUNK_SIZE):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise CorruptDatasetError(
            f"{path} is damaged or truncated: expected a complete gzip-compressed tar archive of "
            f"the IMDb reviews, but reading stopped after {n_read:,} reviews with "
            f"{type(exc).__name__}: {exc}. Delete or replace the file (official archive: {URL})."
        ) from exc
    return _assemble(groups, path)


def _parse_directory(root: Path) -> dict[str, _RawSplit]:
    groups: dict[tuple[str, str], list] = {}
    for split in _SPLITS:
        for folder, _ in _FOLDERS:
            directory = root / split / folder
            if not directory.is_dir():
                raise CorruptDatasetError(
                    f"{root} is not an extracted aclImdb folder: expected a subfolder "
                    f"{split}/{folder}/ with {_EXPECTED_PER_FOLDER:,} reviews, found no such folder"
                )
            items = []
            with os.scandir(directory) as entries:
                for entry in entries:
                    match = _FILE_RE.fullmatch(entry.name)
                    if match and entry.is_file():
                        with open(entry.path, "rb") as f:
                            items.append((entry.name, int(match[1]), int(match[2]), f.read()))
            groups[(split, folder)] = items
    return _assemble(groups, root)


def _parse_source(source: _Source) -> dict[str, _RawSplit]:
    if source.kind == "tarball":
        return _parse_tarball(source.path)
    return _parse_directory(source.path)


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------


def _source_key(source: _Source) -> str:
    """What a cache was made from: the tarball's SHA-256 (its content, wherever it lies), or the
    name, size and modification time of every review file of a folder."""
    if source.kind == "tarball":
        return f"imdb-reviews-v{_PARSE_VERSION}|tarball|sha256:{source.sha256}"
    hasher = hashlib.sha256()
    for split in _SPLITS:
        for folder, _ in _FOLDERS:
            directory = source.path / split / folder
            if not directory.is_dir():
                continue  # _parse_directory reports it
            with os.scandir(directory) as entries:
                stats = sorted(
                    (e.name, st.st_size, st.st_mtime_ns) for e in entries for st in [e.stat()]
                )
            hasher.update(repr((split, folder, stats)).encode())
    return f"imdb-reviews-v{_PARSE_VERSION}|directory|{source.path.resolve()}|{hasher.hexdigest()}"


def _cache_name(prefix: str, made_from: str) -> str:
    return f"{prefix}-{hashlib.sha256(made_from.encode()).hexdigest()[:20]}.npz"


def _parsed_dir() -> Path:
    return _download.dataset_cache_dir(_CACHE_NAME) / "parsed"


def _save_npz(path: Path, arrays: dict[str, np.ndarray], made_from: str) -> None:
    """Write a cache ``.npz`` atomically; a failure only warns (the data is still returned).

    ``made_from`` (what the arrays were built from) is stored beside them as ``made_from``.

    Like :func:`numpy.savez_compressed`, but with zlib level 1: about as
    small for these arrays and several times faster to write.
    """
    try:
        with _files.atomic_write(path) as f:
            with zipfile.ZipFile(
                f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
            ) as archive:
                arrays = {**arrays, "made_from": np.array(made_from)}
                for name, array in arrays.items():
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    except OSError as exc:
        warnings.warn(
            f"could not write the cache file {path} ({exc}); "
            "the data will be parsed again next time",
            RuntimeWarning,
            stacklevel=4,
        )


def _load_npz(path: Path, keys: list[str], made_from: str) -> dict[str, np.ndarray] | None:
    """Read a cache file; ``None`` if it is missing, unreadable or made from something other than
    ``made_from`` (it is then rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "made_from" not in archive.files or str(archive["made_from"]) != made_from:
                return None
            return {key: archive[key] for key in keys}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        warnings.warn(
            f"ignoring unreadable cache file {path} ({exc}); rebuilding it",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _raw_keys() -> list[str]:
    return [f"{s}_{n}" for s in _SPLITS for n in ("blob", "offsets", "labels", "ratings", "ids")]


def _load_raw(source: _Source) -> dict[str, _RawSplit]:
    """Parsed reviews of ``source``, from the cache or by parsing (then cached)."""
    made_from = _source_key(source)
    path = _parsed_dir() / _cache_name("reviews", made_from)
    arrays = _load_npz(path, _raw_keys(), made_from)
    if arrays is not None:
        return {split: _RawSplit.from_arrays(arrays, split) for split in _SPLITS}
    splits = _parse_source(source)
    arrays = {k: v for split in _SPLITS for k, v in splits[split].to_arrays(split).items()}
    _save_npz(path, arrays, made_from)
    return splits


# ---------------------------------------------------------------------------
# Encoding to Keras word ranks
# ---------------------------------------------------------------------------

_Encoded = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # split -> (ranks, offsets, labels)


def _encode(raw: dict[str, _RawSplit], word_index: dict[str, int]) -> _Encoded:
    """Word ranks of every review; words missing from the index are left out (as Keras did)."""
    get = word_index.get
    encoded = {}
    for split in _SPLITS:
        sequences = [
            [r for r in map(get, _KERAS_TOKENIZER(text)) if r is not None]
            for text in raw[split].texts()
        ]
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in sequences], out=offsets[1:])
        ranks = np.fromiter(chain.from_iterable(sequences), dtype=np.int32, count=int(offsets[-1]))
        encoded[split] = (ranks, offsets, raw[split].labels)
    return encoded


def _load_encoded_full(source: _Source, word_index: _locate.Located) -> _Encoded:
    made_from = "|".join(
        [
            f"imdb-sequences-v{_ENCODING_VERSION}",
            _source_key(source),
            f"word-index-sha256:{word_index.sha256}",
            json.dumps(_KERAS_TOKENIZER.get_config(), sort_keys=True),
        ]
    )
    path = _parsed_dir() / _cache_name("sequences", made_from)
    keys = [f"{s}_{n}" for s in _SPLITS for n in ("ranks", "offsets", "labels")]
    arrays = _load_npz(path, keys, made_from)
    if arrays is None:
        encoded = _encode(_load_raw(source), _read_word_index(word_index.path, check=False))
        arrays = {
            f"{s}_{n}": a
            for s in _SPLITS
            for n, a in zip(("ranks", "offsets", "labels"), encoded[s])
        }
        _save_npz(path, arrays, made_from)
    return {
        s: (arrays[f"{s}_ranks"], arrays[f"{s}_offsets"], arrays[f"{s}_labels"]) for s in _SPLITS
    }


# ---------------------------------------------------------------------------
# Bundled sample
# ---------------------------------------------------------------------------


def _sample_resource():
    return resources.files("rnnkit").joinpath("data", SAMPLE_FILE)


@functools.lru_cache(maxsize=1)
def _read_sample() -> dict:
    """The bundled sample's content (read once per process; treat as read-only)."""
    with _sample_resource().open("rb") as f, gzip.open(f, "rt", encoding="utf-8") as text:
        return json.load(text)


def _sample_raw(payload: dict) -> dict[str, _RawSplit]:
    splits = {}
    for split in _SPLITS:
        part = payload[split]
        records = list(zip(part["texts"], part["labels"], part["ratings"], part["ids"]))
        splits[split] = _RawSplit.from_records(records)
    return splits


@functools.lru_cache(maxsize=1)
def _sample_encoded() -> _Encoded:
    """The sample's word ranks (computed once per process; treat as read-only)."""
    payload = _read_sample()
    return _encode(_sample_raw(payload), payload["word_index"])


def _warn_sample(reason: DatasetNotFoundError, payload: dict) -> None:
    summary = str(reason).splitlines()[0]
    warnings.warn(
        f"The full IMDb data set is unavailable: {summary} Using the sample bundled with rnnkit "
        f"instead ({len(payload['train']['labels']):,} training and "
        f"{len(payload['test']['labels']):,} test reviews); results on it are not comparable with "
        "results on the full data set. Point rnnkit at a local copy with data_dir= or "
        f"${DATA_DIR_ENV}, or pass allow_sample=False to get an error.",
        SampleDataWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


#: Largest id accepted for ``start_char``, ``oov_char`` and ``index_from`` (the int32 range).
MAX_ID = 2**31 - 1
#: Largest ``seed`` (``np.random.RandomState`` takes 32-bit seeds).
MAX_SEED = 2**32 - 1


def _check_int(
    owner: str, name: str, value: object, *, allow_none: bool = False, maximum: int | None = None
) -> None:
    """``value`` is an integer (not a bool) from 0 to ``maximum``, or ``None`` if allowed."""
    if value is None and allow_none:
        return
    bound = "a non-negative integer" if maximum is None else f"an integer from 0 to {maximum:,}"
    expected = f"None or {bound}" if allow_none else bound
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        V.fail(owner, name, expected, value, TypeError)
    if value < 0 or (maximum is not None and value > maximum):
        V.fail(owner, name, expected, value)


def _check_data_dir(owner: str, data_dir: object) -> None:
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        V.fail(owner, "data_dir", "None, a str or an os.PathLike", data_dir, TypeError)


def _shuffled(rng: np.random.RandomState, n: int) -> np.ndarray:
    order = np.arange(n)
    rng.shuffle(order)
    return order


def get_word_index(data_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """Return Keras's IMDb word index.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder (or tarball, whose folder is used) to look in first for
        ``imdb_word_index.json``, directly or in an ``imdb/`` subfolder.
        Then ``$RNNKIT_DATA_DIR``, the cache, and finally Keras's URL.

    Returns
    -------
    dict of str to int
        Word to frequency rank in the training reviews (1 = most frequent),
        88,584 words. Add ``index_from`` (3 by default) to get the ids used
        by :func:`load_data`.

    Raises
    ------
    DatasetNotFoundError
        If the file is not found and cannot be downloaded.
    ChecksumError
        If the file is not Keras's index (md5 of ``json.dumps`` of its
        content differs from Keras's).
    """
    _check_data_dir("imdb.get_word_index", data_dir)
    return _read_word_index(_find_word_index(data_dir, None, allow_sample=True).path, check=False)


def load_texts(
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int | None = None,
    allow_sample: bool = True,
) -> IMDbReviews:
    """Load the raw reviews with their labels, star ratings and ids.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Local copy to read (see the module documentation for the accepted
        layouts). When given, nothing else is tried.
    seed : int, optional
        If given, shuffle each split with ``np.random.RandomState(seed)``
        exactly as :func:`load_data` does, so that ``load_texts(seed=s)``
        and ``load_data(seed=s)`` (without ``maxlen``) list the reviews in the
        same order. ``None`` keeps the unshuffled order: positive reviews
        sorted by file name, then negative ones.
    allow_sample : bool, default True
        If the full data set is neither local nor downloadable, return the
        bundled sample (2,000 training and 1,000 test reviews, balanced) and
        emit a :class:`SampleDataWarning`. Ignored when ``data_dir`` or
        ``$RNNKIT_DATA_DIR`` is given: a location the user gave that does not
        hold the data is an error naming it.

    Returns
    -------
    IMDbReviews
        ``.train`` and ``.test`` (:class:`ReviewSplit`, each with ``texts``,
        ``labels``, ``ratings`` and ``ids`` arrays), ``.source`` (``"full"``
        or ``"sample"``) and ``.location``.

    Raises
    ------
    TypeError, ValueError
        If ``seed`` is not ``None`` or an integer from 0 to 2**32 - 1, or
        ``allow_sample`` not a bool ("imdb.load_texts: `seed` expected ...,
        received ...").
    DatasetNotFoundError
        If no data is found (and the sample is not allowed), or a given
        ``data_dir`` or ``$RNNKIT_DATA_DIR`` does not hold it.
    CorruptDatasetError
        If a file or folder is damaged or incomplete (checked before it is
        parsed: see "Verification" in the module documentation).
    ChecksumError
        If a download does not match the published checksum.

    Examples
    --------
    >>> train, test = load_texts()  # doctest: +SKIP
    >>> train.texts[0][:40], train.labels[0], train.ratings[0]  # doctest: +SKIP
    ('Bromwell High is a cartoon comedy. It ra', 1, 9)
    """
    owner = "imdb.load_texts"
    _check_data_dir(owner, data_dir)
    _check_int(owner, "seed", seed, allow_none=True, maximum=MAX_SEED)
    V.boolean(owner, "allow_sample", allow_sample)
    try:
        source = _find_reviews(data_dir, allow_sample)
    except DatasetNotFoundError as exc:
        if not (allow_sample and _locate.nothing_given(data_dir)):
            raise
        payload = _read_sample()
        _warn_sample(exc, payload)
        raw, kind, location = _sample_raw(payload), "sample", str(_sample_resource())
        verified = "the sample bundled with rnnkit"
    else:
        raw, kind, location = _load_raw(source), "full", str(source.path)
        verified = source.verified
    rng = np.random.RandomState(seed) if seed is not None else None
    splits = []
    for split in _SPLITS:
        part = raw[split]
        order = _shuffled(rng, len(part.labels)) if rng is not None else np.arange(len(part.labels))
        texts = np.empty(len(order), dtype=object)
        texts[:] = part.texts()
        splits.append(
            ReviewSplit(
                texts=texts[order],
                labels=part.labels.astype(np.int64)[order],
                ratings=part.ratings.astype(np.int64)[order],
                ids=part.ids.astype(np.int64)[order],
            )
        )
    return IMDbReviews(
        train=splits[0], test=splits[1], source=kind, location=location, verified=verified
    )


def load_data(
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int | None = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    data_dir: str | os.PathLike | None = None,
    *,
    allow_sample: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the reviews as word-id sequences, exactly like ``keras.datasets.imdb.load_data``.

    Each review is a list of word ids: the word of frequency rank ``r`` in
    Keras's word index has id ``r + index_from``; words absent from the
    index (they occur only in test reviews) are left out.

    Parameters
    ----------
    num_words : int, optional
        Ids ``>= num_words`` become ``oov_char``. ``None`` (or 0) keeps all
        words, except that, as in Keras, the bound is then the largest id in
        the data, so that one id also becomes ``oov_char``.
    skip_top : int, default 0
        Ids ``< skip_top`` become ``oov_char``. As in Keras the comparison is
        on ids (ranks plus ``index_from``) and also applies to
        ``start_char``: ``skip_top > start_char`` replaces the start marker.
    maxlen : int, optional
        Keep only sequences shorter than ``maxlen`` (length including the
        start marker; sequences are dropped, not truncated). ``None`` (or 0)
        keeps all.
    seed : int, default 113
        Seed of the ``np.random.RandomState`` that shuffles the training set,
        then the test set.
    start_char : int or None, default 1
        Id put at the start of every sequence; ``None`` for none.
    oov_char : int or None, default 2
        Id that replaces words cut by ``num_words`` or ``skip_top``; ``None``
        drops those words instead.
    index_from : int, default 3
        Offset added to word ranks.
    data_dir : str or os.PathLike, optional
        Local copy of the reviews to read; see :func:`load_texts`. The word
        index is looked for there (and next to the reviews) first, then in
        ``$RNNKIT_DATA_DIR``, the cache and at Keras's URL.
    allow_sample : bool, default True
        Fall back to the bundled sample (with a :class:`SampleDataWarning`)
        when the data is neither local nor downloadable; see
        :func:`load_texts`.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x_*`` are 1-D object arrays of lists of int, ``y_*`` are int64
        arrays of labels (1 = positive). With the full data set both splits
        have 25,000 reviews (fewer with ``maxlen``).

    Raises
    ------
    TypeError, ValueError
        If an argument is not of the documented type or range: every integer
        argument is an integer (numpy integers included, bools not) and not
        negative; ``seed`` is at most 2**32 - 1 and ``start_char``,
        ``oov_char`` and ``index_from`` at most 2**31 - 1 (:data:`MAX_SEED`,
        :data:`MAX_ID`). Message: "imdb.load_data: `name` expected ...,
        received ...".
    ValueError
        If ``maxlen`` filters out every sequence of a split.
    DatasetNotFoundError, CorruptDatasetError, ChecksumError
        See :func:`load_texts` and :func:`get_word_index`.

    Notes
    -----
    Reproduces Keras's published sequences exactly (e.g. ``x_train[0]`` of
    ``load_data(num_words=5000)``). The sequences are cached, so only the
    first call parses the reviews.
    """
    owner = "imdb.load_data"
    _check_int(owner, "num_words", num_words, allow_none=True)
    _check_int(owner, "skip_top", skip_top)
    _check_int(owner, "maxlen", maxlen, allow_none=True)
    _check_int(owner, "seed", seed, allow_none=True, maximum=MAX_SEED)
    _check_int(owner, "start_char", start_char, allow_none=True, maximum=MAX_ID)
    _check_int(owner, "oov_char", oov_char, allow_none=True, maximum=MAX_ID)
    _check_int(owner, "index_from", index_from, maximum=MAX_ID)
    _check_data_dir(owner, data_dir)
    V.boolean(owner, "allow_sample", allow_sample)

    try:
        source = _find_reviews(data_dir, allow_sample)
        word_index = _find_word_index(data_dir, source, allow_sample)
    except DatasetNotFoundError as exc:
        if not (allow_sample and _locate.nothing_given(data_dir)):
            raise
        _warn_sample(exc, _read_sample())
        encoded = _sample_encoded()
    else:
        encoded = _load_encoded_full(source, word_index)
    return _keras_semantics(
        encoded, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from
    )


def _keras_semantics(
    encoded: _Encoded,
    num_words: int | None,
    skip_top: int,
    maxlen: int | None,
    seed: int | None,
    start_char: int | None,
    oov_char: int | None,
    index_from: int,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Apply ``keras.datasets.imdb.load_data``'s steps to rank sequences, vectorised."""
    rng = np.random.RandomState(seed)
    n_start = 0 if start_char is None else 1
    parts = []
    for split in _SPLITS:
        ranks, offsets, labels = encoded[split]
        order = _shuffled(rng, len(labels))
        starts, lengths, labels = (
            offsets[:-1][order],
            np.diff(offsets)[order],
            labels[order].astype(np.int64),
        )
        if maxlen:
            keep = lengths + n_start < maxlen
            starts, lengths, labels = starts[keep], lengths[keep], labels[keep]
        parts.append((ranks, starts, lengths, labels))
    if maxlen and any(len(labels) == 0 for *_, labels in parts):
        raise ValueError(
            f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
            "Increase maxlen."
        )

    # Lay every split out as one flat array of ids with the start markers in place.
    flats = []
    for ranks, starts, lengths, _labels in parts:
        sizes = lengths + n_start
        ends = np.cumsum(sizes)
        begins = ends - sizes
        n_words = int(lengths.sum())
        within = np.arange(n_words) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
        source_pos = np.repeat(starts, lengths) + within
        flat[np.repeat(begins + n_start, lengths) + within] = (
            ranks[source_pos].astype(np.int64) + index_from
        )
        if n_start:
            flat[begins] = start_char
        flats.append((flat, sizes))

    if not num_words:
        num_words = max((int(flat.max()) for flat, _ in flats if flat.size), default=0)
    result = []
    for (flat, sizes), (*_, labels) in zip(flats, parts):
        valid = (flat >= skip_top) & (flat < num_words)
        if oov_char is not None:
            flat = np.where(valid, flat, oov_char)
        else:
            owner = np.repeat(np.arange(len(sizes)), sizes)
            flat, sizes = flat[valid], np.bincount(owner[valid], minlength=len(sizes))
        x = np.empty(len(sizes), dtype=object)
        values = flat.tolist()  # one conversion, then Python slices (3x faster than np.split)
        bounds = [0, *np.cumsum(sizes).tolist()]
        for i, (begin, end) in enumerate(itertools.pairwise(bounds)):
            x[i] = values[begin:end]
        result.append((x, labels))
    return result[0], result[1]
