"""rnnkit.datasets.sst2: GLUE's SST-2 files verified by SHA-256 through the locate chain, the
archive path (zip -> cache, then verified), damaged files and malformed lines refused."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from rnnkit.datasets import CorruptDatasetError, sst2


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    return tmp_path / "home"


def test_1_real_files(shared_data, home):
    data = sst2.load_texts(shared_data)  # the data root: found in its sst2/ folder
    # the data README: 67,349 phrases (37,569 positive), 872 dev sentences (444 positive)
    assert (len(data.train), int(data.train.labels.sum())) == (67_349, 37_569)
    assert (len(data.dev), int(data.dev.labels.sum())) == (872, 444)
    assert data.train.texts[0] == "hide new secretions from the parental units"
    assert data.dev.texts[0] == "it 's a charming and often affecting journey ."
    assert data.verified == (
        "train.tsv: SHA-256 equals the official train.tsv's; "
        "dev.tsv: SHA-256 equals the official dev.tsv's"
    )


def test_2_archive_extracted_into_the_cache(shared_data, home):
    """GLUE's zip (here built from the real files, placed in the cache as a download would
    be) is extracted, and its files verified by their SHA-256."""
    cache = home / "datasets" / "sst2"
    cache.mkdir(parents=True)
    with zipfile.ZipFile(cache / "SST-2.zip", "w") as z:
        for name in ("train.tsv", "dev.tsv", "test.tsv"):
            z.write(shared_data / "sst2" / name, f"SST-2/{name}")
    data = sst2.load_texts()
    assert len(data.train) == 67_349 and data.location == str(cache)
    assert sorted(p.name for p in cache.glob("*.tsv")) == ["dev.tsv", "train.tsv"]


def test_3_damaged_copy_refused(shared_data, home, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    raw = bytearray((shared_data / "sst2" / "dev.tsv").read_bytes())
    raw[100] ^= 1  # one flipped bit: same size, another SHA-256
    (folder / "dev.tsv").write_bytes(bytes(raw))
    (folder / "train.tsv").write_bytes((shared_data / "sst2" / "train.tsv").read_bytes())
    with pytest.raises(CorruptDatasetError, match=r"dev\.tsv"):
        sst2.load_texts(folder)


def test_4_malformed_lines_named():
    with pytest.raises(
        ValueError, match=r"x.tsv: line 3 expected sentence<TAB>0 or 1, received 'bad\\t2'"
    ):
        sst2.parse("sentence\tlabel\ngood \t1\nbad\t2\n", "x.tsv")
    with pytest.raises(ValueError, match="expected the header 'sentence<TAB>label'"):
        sst2.parse("index\tsentence\n0\tx\n", "x.tsv")
    split = sst2.parse("sentence\tlabel\r\nfine film \t1\r\n", "x.tsv")
    assert split.texts == ["fine film"] and np.array_equal(split.labels, [1])
