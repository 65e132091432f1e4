"""Cut the small IMDb sample that rnnkit ships as an offline fallback.

The sample holds a balanced random subset of the official split (by
default 1,000 positive + 1,000 negative training reviews and 500 + 500 test
reviews) with their labels, ratings and ids, plus the part of Keras's word
index that those reviews use, so that ``rnnkit.datasets.imdb.load_data``
gives the same word ids for them as on the full data set.

Usage (from the repository root)::

    .venv/bin/python scripts/make_imdb_sample.py
    .venv/bin/python scripts/make_imdb_sample.py --data-dir ../shared/data \\
        --train 2000 --test 1000 --seed 0

The output is deterministic (gzip header time 0), so re-running the script
on the same data reproduces the committed file byte for byte.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

from rnnkit import _files
from rnnkit.datasets import _download, imdb
from rnnkit.text import Tokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "src" / "rnnkit" / "data" / imdb.SAMPLE_FILE
MAX_BYTES = 2 * 1024 * 1024


def pick(labels: np.ndarray, n: int, rng: np.random.RandomState) -> np.ndarray:
    """Indices of ``n // 2`` positive and ``n // 2`` negative reviews, in their original order."""
    if n % 2:
        raise SystemExit(f"sample sizes must be even (balanced classes); received {n}")
    chosen = [
        rng.choice(np.flatnonzero(labels == label), n // 2, replace=False) for label in (1, 0)
    ]
    return np.sort(np.concatenate(chosen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="local IMDb copy (default: %(default)s)",
    )
    parser.add_argument(
        "--train", type=int, default=2000, help="training reviews to keep (default: %(default)s)"
    )
    parser.add_argument(
        "--test", type=int, default=1000, help="test reviews to keep (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the selection (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output file (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    reviews = imdb.load_texts(data_dir=args.data_dir, allow_sample=False)
    word_index = imdb.get_word_index(data_dir=args.data_dir)
    tokenizer = Tokenizer.keras_imdb()
    rng = np.random.RandomState(args.seed)

    payload: dict = {
        "format": "rnnkit-imdb-sample",
        "version": 1,
        "description": (
            "Balanced random sample of the Large Movie Review Dataset v1.0 "
            "(Maas et al., ACL 2011), official train/test split, with the entries of "
            "Keras's imdb_word_index.json its reviews use. Written by scripts/make_imdb_sample.py."
        ),
        "source": {
            "file": Path(reviews.location).name,
            "sha256": _download.file_digest(reviews.location),
            "seed": args.seed,
        },
    }
    used_words: set[str] = set()
    for name, split, n in (("train", reviews.train, args.train), ("test", reviews.test, args.test)):
        keep = pick(split.labels, n, rng)
        texts = [str(t) for t in split.texts[keep]]
        for text in texts:
            used_words.update(tokenizer(text))
        payload[name] = {
            "ids": split.ids[keep].tolist(),
            "labels": split.labels[keep].tolist(),
            "ratings": split.ratings[keep].tolist(),
            "texts": texts,
        }
    payload["word_index"] = {
        w: r for w, r in sorted(word_index.items(), key=lambda kv: kv[1]) if w in used_words
    }

    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with (
        _files.atomic_write(args.out) as f,
        gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0) as gz,
    ):
        gz.write(raw)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size:,} bytes; {args.train:,} train + {args.test:,} test reviews, "
        f"{len(payload['word_index']):,} word-index entries)"
    )
    if size > MAX_BYTES:
        print(f"error: {args.out} is larger than {MAX_BYTES:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
