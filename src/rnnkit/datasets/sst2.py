"""The Stanford Sentiment Treebank, binary (GLUE's SST-2): 67,349 labelled phrases and
sentences for training, 872 labelled sentences for development (the test set's labels are not
public), from movie-review snippets of Rotten Tomatoes: short texts from another source than
IMDb's long reviews.

    from rnnkit.datasets import sst2

    data = sst2.load_texts()          # the chain of rnnkit.datasets.locate
    data.train.texts[0], data.train.labels[0]
    len(data.dev)                     # 872

Files: ``train.tsv`` and ``dev.tsv`` (header ``sentence<TAB>label``; GLUE's text is lower-cased
and tokenised, ``it 's``), each verified by its SHA-256 wherever it is found (``data_dir`` or
its ``sst2/`` folder, ``$RNNKIT_DATA_DIR``, the cache). Without them, GLUE's ``SST-2.zip`` is
downloaded (checked as a zip: GLUE publishes no checksum), and its two files are extracted
into the cache, where they must then match the SHA-256 of GLUE's files.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .. import _files
from ._download import DatasetNotFoundError, dataset_cache_dir
from ._locate import DatasetSpec, RemoteFile, check_zip, locate

URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
_FILES = {
    "train": (
        "train.tsv",
        "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
        3_806_081,
    ),
    "dev": ("dev.tsv", "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0", 94_931),
}
SPECS = {
    part: DatasetSpec(
        name="sst2",
        title=f"SST-2 {name}",
        files=(RemoteFile(name, sha256=sha256, size=size),),
        local_names=(f"SST-2/{name}",),
    )
    for part, (name, sha256, size) in _FILES.items()
}
ARCHIVE = DatasetSpec(
    name="sst2",
    title="GLUE SST-2 (SST-2.zip)",
    files=(RemoteFile("SST-2.zip", URL),),
    check=check_zip,
)


@dataclass(frozen=True, eq=False)
class TextSplit:
    """Texts and their labels (1 positive, 0 negative)."""

    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class SST2:
    """Result of :func:`load_texts`: ``train`` (67,349) and ``dev`` (872), with where they
    were read from and what was verified."""

    train: TextSplit
    dev: TextSplit
    location: str
    verified: str


def parse(text: str, origin: str) -> TextSplit:
    """The ``sentence<TAB>label`` lines of a GLUE SST-2 file (after its header)."""
    lines = text.split("\n")
    if lines[0].rstrip("\r") != "sentence\tlabel":
        raise ValueError(
            f"{origin}: expected the header 'sentence<TAB>label', received {lines[0][:40]!r}"
        )
    texts, labels = [], []
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line:
            continue
        sentence, tab, label = line.rpartition("\t")
        if not tab or label not in ("0", "1"):
            raise ValueError(
                f"{origin}: line {number} expected sentence<TAB>0 or 1, received {line[:60]!r}"
            )
        texts.append(sentence.strip())
        labels.append(int(label))
    return TextSplit(texts, np.asarray(labels, dtype=np.int64))


def _extract_from_archive() -> None:
    """Download GLUE's zip (through the chain) and write its train / dev files into the cache."""
    archive = locate(ARCHIVE).path
    cache = dataset_cache_dir("sst2")
    with zipfile.ZipFile(archive) as z:
        for name, _, size in _FILES.values():
            member = f"SST-2/{name}"
            if member not in z.namelist() or z.getinfo(member).file_size > 4 * size:
                raise DatasetNotFoundError(f"{archive} holds no {member} of the expected size")
            _files.write_bytes(cache / name, z.read(member))


def load_texts(data_dir: str | os.PathLike | None = None) -> SST2:
    """SST-2's training and development sets (see the module documentation for where the
    files are looked for)."""
    found = {}
    for part, spec in SPECS.items():
        try:
            found[part] = locate(spec, data_dir, download=False)
        except DatasetNotFoundError:
            if data_dir is not None:
                raise
            _extract_from_archive()
            found[part] = locate(spec, download=False)
    splits = {
        part: parse(located.path.read_bytes().decode("utf-8"), str(located.path))
        for part, located in found.items()
    }
    return SST2(
        splits["train"],
        splits["dev"],
        location=str(found["train"].path.parent),
        verified="; ".join(f"{loc.path.name}: {loc.verified}" for loc in found.values()),
    )
