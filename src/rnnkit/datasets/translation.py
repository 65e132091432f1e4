"""Sentence pairs for translation: Tatoeba's English-French pairs (``fra-eng.zip``, as
ManyThings distributes them for Anki) and any UTF-8 file of ``source<TAB>target`` lines, with a
train / validation / test split **by distinct source sentence**.

One English sentence often has several French translations (116,830 distinct English sentences
in 167,130 pairs; up to 32 translations of one). A split of the pairs would put "Go." -> "Va !"
in training and "Go." -> "Marche." in the test set, and the test would measure memory, not
translation. :func:`split_by_source` puts every pair of a source sentence on one side, and
the test set keeps all translations of a sentence as its references (BLEU with several
references rewards any of them).

Typical use::

    from rnnkit.datasets import translation

    pairs = translation.load_pairs()                      # the chain of rnnkit.datasets
    splits = translation.split_by_source(pairs.pairs, seed=0)
    len(splits.train), len(splits.test)                   # pairs
    splits.test_references()                              # {source: [all its targets]}

The file is found through :func:`rnnkit.datasets.locate` (``data_dir`` ->
``$RNNKIT_DATA_DIR`` -> cache -> download). ManyThings updates ``fra-eng.zip`` in place, so the
download is checked as a zip (every member's CRC-32) rather than against one SHA-256; the
release of 2019-04-07 (the one Keras's ``lstm_seq2seq`` example and rnnkit's figures use) is
recognised by its SHA-256.
"""

from __future__ import annotations

import os
import random
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import _validation as V
from ._download import CorruptDatasetError
from ._locate import DatasetSpec, RemoteFile, check_zip, locate

URL = "https://www.manythings.org/anki/fra-eng.zip"
RELEASE_2019_SHA256 = "161c93f18da3a7e6df611ed961426613260de8af06ccf8c79c977afe5135ac44"
RELEASE_2019_SIZE = 3_424_571
MEMBER = "fra-eng/fra.txt"  # the pairs inside the zip (other members: licence, macOS entries)
MAX_BYTES = 512 * 2**20  # a pairs file larger than this is refused before it is read

# Spaces that are not U+0020 in the French side: no-break space and narrow no-break space
# before ! ? : ; and inside « », thin space. They become plain spaces, so that a model's
# output and the references are compared word for word.
_SPACES = re.compile("[\u00a0\u202f\u2009\u2007\u200b]")


def _check_copy(path: Path) -> str:
    """A local copy other than the 2019 release: a zip holding ``fra.txt`` (CRC-32 of every
    member), or a text file of ``source<TAB>target`` lines (its first line checked)."""
    if path.suffix.lower() == ".zip":
        checked = check_zip(path)
        with zipfile.ZipFile(path) as archive:
            if _member_name(archive) is None:
                raise CorruptDatasetError(f"it holds no {MEMBER} (or fra.txt)")
        return checked
    with open(path, "rb") as f:
        head = f.read(4096).split(b"\n", 1)[0]
    if b"\t" not in head:
        raise CorruptDatasetError("its first line has no tab: expected source<TAB>target lines")
    return "a text file of source<TAB>target lines (first line checked)"


SPEC = DatasetSpec(
    name="translation",
    title="English-French sentence pairs (Tatoeba, fra-eng.zip)",
    files=(
        RemoteFile("fra-eng.zip", URL),  # updated in place by the publisher: no fixed SHA-256
        RemoteFile("fra-eng.zip", sha256=RELEASE_2019_SHA256, size=RELEASE_2019_SIZE),
    ),
    local_names=("fra.txt", "fra-eng/fra.txt"),
    check=_check_copy,
)


@dataclass(frozen=True)
class Pairs:
    """Sentence pairs and where they came from.

    Attributes
    ----------
    pairs : list of (str, str)
        ``(source, target)`` in file order, spaces normalised (:func:`normalize`).
    location : pathlib.Path
        The file read.
    verified : str
        What was checked about it, in words.
    """

    pairs: list[tuple[str, str]]
    location: Path
    verified: str


def normalize(text: str) -> str:
    """``text`` in Unicode NFC with every kind of space as one plain space, trimmed."""
    text = unicodedata.normalize("NFC", _SPACES.sub(" ", text))
    return " ".join(text.split())


def source_key(source: str) -> str:
    """What makes two source sentences the same for the split: case-folded, spaces
    normalised ("Go." and "go. " are one sentence; "Go!" is another)."""
    return normalize(source).casefold()


def _member_name(archive: zipfile.ZipFile) -> str | None:
    names = [n for n in archive.namelist() if not n.startswith("__MACOSX/")]
    if MEMBER in names:
        return MEMBER
    return next((n for n in names if n.rsplit("/", 1)[-1] == "fra.txt"), None)


def parse_pairs(text: str, origin: str = "pairs") -> list[tuple[str, str]]:
    """``(source, target)`` pairs from lines ``source<TAB>target[<TAB>anything]``.

    Columns after the second (newer ManyThings files add an attribution) are ignored; blank
    lines are skipped. A line without a tab, or with an empty side, is an error naming its
    line number.
    """
    pairs = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValueError(
                f"{origin}: line {number} expected source<TAB>target, received "
                f"{line[:60]!r} (no tab)"
            )
        source, target = normalize(parts[0]), normalize(parts[1])
        if not source or not target:
            side = "source" if not source else "target"
            raise ValueError(f"{origin}: line {number} expected two sentences, its {side} is empty")
        pairs.append((source, target))
    if not pairs:
        raise ValueError(f"{origin}: expected source<TAB>target lines, received none")
    return pairs


def read_pairs(path: str | os.PathLike) -> list[tuple[str, str]]:
    """The pairs of a zip holding ``fra.txt`` (Anki layout) or of a UTF-8 text file of
    ``source<TAB>target`` lines (see :func:`parse_pairs`)."""
    path = Path(path)
    if not path.is_file():
        V.fail("read_pairs", "path", "a file of source<TAB>target lines or a zip", str(path))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = _member_name(archive)
            if member is None:
                raise ValueError(
                    f"read_pairs: `path` expected a zip holding {MEMBER}, received {str(path)!r}"
                )
            if archive.getinfo(member).file_size > MAX_BYTES:
                raise ValueError(f"read_pairs: {member} in {str(path)!r} is over 512 MiB")
            raw = archive.read(member)
        origin = f"{path}:{member}"
    else:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"read_pairs: {str(path)!r} is over 512 MiB")
        raw = path.read_bytes()
        origin = str(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{origin}: expected UTF-8 text, received a byte {raw[e.start : e.start + 1]!r} "
            f"at offset {e.start} that is not UTF-8"
        ) from None
    return parse_pairs(text, origin)


def load_pairs(data_dir: str | os.PathLike | None = None) -> Pairs:
    """Tatoeba's English-French pairs, found through the chain of :func:`~rnnkit.datasets.locate`
    (``data_dir`` may be the folder holding ``fra-eng.zip`` or a ``translation/`` folder, or
    the file itself, or any file of ``source<TAB>target`` lines)."""
    if data_dir is not None and Path(data_dir).is_file():
        path = Path(data_dir)
        return Pairs(read_pairs(path), path, _check_copy(path))
    located = locate(SPEC, data_dir)
    return Pairs(read_pairs(located.path), located.path, located.verified)


@dataclass(frozen=True)
class Splits:
    """Pairs split by distinct source sentence: no source sentence is on two sides."""

    train: list[tuple[str, str]]
    validation: list[tuple[str, str]]
    test: list[tuple[str, str]]

    def references(self, part: str = "test") -> dict[str, list[str]]:
        """``{source: [every target of it in part]}``, sources in first-seen order: the
        references a translation of ``source`` is scored against."""
        refs: dict[str, list[str]] = {}
        for source, target in getattr(self, part):
            refs.setdefault(source, []).append(target)
        return refs

    def test_references(self) -> dict[str, list[str]]:
        return self.references("test")


def split_by_source(
    pairs: list[tuple[str, str]],
    validation: float = 0.05,
    test: float = 0.05,
    seed: int = 0,
    max_source_words: int | None = None,
) -> Splits:
    """Split ``pairs`` into train / validation / test by distinct source sentence.

    The distinct sources (compared by :func:`source_key`) are shuffled with ``seed``; the
    first ``test`` fraction of them goes to the test set with all their pairs, the next
    ``validation`` fraction to validation, the rest to training. Pairs keep their file order
    within each part. ``max_source_words``: keep only pairs whose source has at most this
    many words (split on spaces), before splitting.
    """
    owner = "split_by_source"
    for name, value in (("validation", validation), ("test", test)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
            V.fail(owner, name, "a fraction in [0, 1)", value)
    if validation + test >= 1:
        V.fail(owner, "validation + test", "less than 1", validation + test)
    if max_source_words is not None:
        max_source_words = V.positive_int(owner, "max_source_words", max_source_words)
        pairs = [p for p in pairs if len(p[0].split()) <= max_source_words]
    keys = list(dict.fromkeys(source_key(source) for source, _ in pairs))
    if len(keys) < 3 and (validation or test):
        V.fail(owner, "pairs", "at least 3 distinct source sentences", f"{len(keys)}")
    random.Random(seed).shuffle(keys)
    n_test = round(len(keys) * test)
    n_val = round(len(keys) * validation)
    part = {k: "test" for k in keys[:n_test]}
    part.update({k: "validation" for k in keys[n_test : n_test + n_val]})
    out: dict[str, list[tuple[str, str]]] = {"train": [], "validation": [], "test": []}
    for pair in pairs:
        out[part.get(source_key(pair[0]), "train")].append(pair)
    return Splits(**out)
