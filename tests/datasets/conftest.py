"""Fixtures for the data-set tests.

Every test runs with its own empty ``RNNKIT_HOME``, without the user's
``RNNKIT_DATA_DIR`` and with ``RNNKIT_OFFLINE=1``, so no test reads or
writes the user's cache or touches the network. Tests on the real IMDb data
use the copy in ``<repo>/../shared/data`` and are skipped when it is absent;
that copy is parsed once per session into a session-wide cache.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
IMDB_DIR = SHARED_DATA / "imdb"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Private cache, no data dir from the environment, no network."""
    home = tmp_path / "rnnkit_home"
    monkeypatch.setenv("RNNKIT_HOME", str(home))
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """``<repo>/../shared/data``, or skip when the real IMDb files are not there."""
    needed = [IMDB_DIR / "aclImdb_v1_labeled.tar.gz", IMDB_DIR / "imdb_word_index.json"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        pytest.skip(f"real IMDb data not available (missing {', '.join(missing)})")
    return SHARED_DATA


@pytest.fixture(scope="session")
def full_cache(shared_data_dir, tmp_path_factory) -> Path:
    """An RNNKIT_HOME in which the full data set has been parsed (once per session)."""
    from rnnkit.datasets import imdb

    home = tmp_path_factory.mktemp("imdb_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNKIT_HOME", str(home))
        mp.setenv("RNNKIT_OFFLINE", "1")
        mp.delenv("RNNKIT_DATA_DIR", raising=False)
        imdb.load_data(data_dir=shared_data_dir)
    return home


@pytest.fixture
def full_env(full_cache, shared_data_dir, monkeypatch) -> Path:
    """Point RNNKIT_DATA_DIR at the shared data and RNNKIT_HOME at the session cache."""
    monkeypatch.setenv("RNNKIT_HOME", str(full_cache))
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(shared_data_dir))
    return shared_data_dir


def tiny_reviews(per_folder: int = 2) -> dict[str, bytes]:
    """Member name -> content of a miniature aclImdb layout."""
    reviews = {}
    for split in ("train", "test"):
        for folder, ratings in (("pos", (10, 8, 7, 9)), ("neg", (1, 3, 4, 2))):
            for i in range(per_folder):
                text = f"{split.title()} {folder} review {i}.<br /><br />It's a film!"
                reviews[f"aclImdb/{split}/{folder}/{i}_{ratings[i % 4]}.txt"] = text.encode()
    return reviews


def write_tarball(path: Path, reviews: dict[str, bytes]) -> Path:
    """Write ``reviews`` (member name -> bytes) as a gzip-compressed tar archive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in reviews.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def tiny_imdb(monkeypatch):
    """Make the loader accept archives with 2 reviews per folder; return the writer helpers."""
    from rnnkit.datasets import imdb

    monkeypatch.setattr(imdb, "_EXPECTED_PER_FOLDER", 2)
    return tiny_reviews, write_tarball
