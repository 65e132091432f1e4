"""Tests of rnnkit.datasets.imdb (loader semantics, sources, cache and errors).

Tests marked by the ``full_env``/``shared_data_dir`` fixtures use the real
data in ``<repo>/../shared/data`` and are skipped without it; the others use
miniature archives or the bundled sample and always run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import (
    ChecksumError,
    CorruptDatasetError,
    DatasetNotFoundError,
    SampleDataWarning,
    _download,
    imdb,
)
from rnnkit.text import Tokenizer, Vocabulary

# Published output of keras.datasets.imdb.load_data(num_words=5000) with the
# default seed 113: x_train[0], x_train[1], x_train[-1], x_test[0], x_test[-1].
# Labels: y_train[0, 1, -1] = 1, 0, 0; y_test[0, -1] = 0, 0.
KERAS_TRAIN_0 = [
    1,
    14,
    22,
    16,
    43,
    530,
    973,
    1622,
    1385,
    65,
    458,
    4468,
    66,
    3941,
    4,
    173,
    36,
    256,
    5,
    25,
    100,
    43,
    838,
    112,
    50,
    670,
    2,
    9,
    35,
    480,
    284,
    5,
    150,
    4,
    172,
    112,
    167,
    2,
    336,
    385,
    39,
    4,
    172,
    4536,
    1111,
    17,
    546,
    38,
    13,
    447,
    4,
    192,
    50,
    16,
    6,
    147,
    2025,
    19,
    14,
    22,
    4,
    1920,
    4613,
    469,
    4,
    22,
    71,
    87,
    12,
    16,
    43,
    530,
    38,
    76,
    15,
    13,
    1247,
    4,
    22,
    17,
    515,
    17,
    12,
    16,
    626,
    18,
    2,
    5,
    62,
    386,
    12,
    8,
    316,
    8,
    106,
    5,
    4,
    2223,
    2,
    16,
    480,
    66,
    3785,
    33,
    4,
    130,
    12,
    16,
    38,
    619,
    5,
    25,
    124,
    51,
    36,
    135,
    48,
    25,
    1415,
    33,
    6,
    22,
    12,
    215,
    28,
    77,
    52,
    5,
    14,
    407,
    16,
    82,
    2,
    8,
    4,
    107,
    117,
    2,
    15,
    256,
    4,
    2,
    7,
    3766,
    5,
    723,
    36,
    71,
    43,
    530,
    476,
    26,
    400,
    317,
    46,
    7,
    4,
    2,
    1029,
    13,
    104,
    88,
    4,
    381,
    15,
    297,
    98,
    32,
    2071,
    56,
    26,
    141,
    6,
    194,
    2,
    18,
    4,
    226,
    22,
    21,
    134,
    476,
    26,
    480,
    5,
    144,
    30,
    2,
    18,
    51,
    36,
    28,
    224,
    92,
    25,
    104,
    4,
    226,
    65,
    16,
    38,
    1334,
    88,
    12,
    16,
    283,
    5,
    16,
    4472,
    113,
    103,
    32,
    15,
    16,
    2,
    19,
    178,
    32,
]

KERAS_TRAIN_1 = [
    1,
    194,
    1153,
    194,
    2,
    78,
    228,
    5,
    6,
    1463,
    4369,
    2,
    134,
    26,
    4,
    715,
    8,
    118,
    1634,
    14,
    394,
    20,
    13,
    119,
    954,
    189,
    102,
    5,
    207,
    110,
    3103,
    21,
    14,
    69,
    188,
    8,
    30,
    23,
    7,
    4,
    249,
    126,
    93,
    4,
    114,
    9,
    2300,
    1523,
    5,
    647,
    4,
    116,
    9,
    35,
    2,
    4,
    229,
    9,
    340,
    1322,
    4,
    118,
    9,
    4,
    130,
    4901,
    19,
    4,
    1002,
    5,
    89,
    29,
    952,
    46,
    37,
    4,
    455,
    9,
    45,
    43,
    38,
    1543,
    1905,
    398,
    4,
    1649,
    26,
    2,
    5,
    163,
    11,
    3215,
    2,
    4,
    1153,
    9,
    194,
    775,
    7,
    2,
    2,
    349,
    2637,
    148,
    605,
    2,
    2,
    15,
    123,
    125,
    68,
    2,
    2,
    15,
    349,
    165,
    4362,
    98,
    5,
    4,
    228,
    9,
    43,
    2,
    1157,
    15,
    299,
    120,
    5,
    120,
    174,
    11,
    220,
    175,
    136,
    50,
    9,
    4373,
    228,
    2,
    5,
    2,
    656,
    245,
    2350,
    5,
    4,
    2,
    131,
    152,
    491,
    18,
    2,
    32,
    2,
    1212,
    14,
    9,
    6,
    371,
    78,
    22,
    625,
    64,
    1382,
    9,
    8,
    168,
    145,
    23,
    4,
    1690,
    15,
    16,
    4,
    1355,
    5,
    28,
    6,
    52,
    154,
    462,
    33,
    89,
    78,
    285,
    16,
    145,
    95,
]

KERAS_TRAIN_LAST = [
    1,
    17,
    6,
    194,
    337,
    7,
    4,
    204,
    22,
    45,
    254,
    8,
    106,
    14,
    123,
    4,
    2,
    270,
    2,
    5,
    2,
    2,
    732,
    2098,
    101,
    405,
    39,
    14,
    1034,
    4,
    1310,
    9,
    115,
    50,
    305,
    12,
    47,
    4,
    168,
    5,
    235,
    7,
    38,
    111,
    699,
    102,
    7,
    4,
    4039,
    2,
    9,
    24,
    6,
    78,
    1099,
    17,
    2345,
    2,
    21,
    27,
    2,
    2,
    5,
    2,
    1603,
    92,
    1183,
    4,
    1310,
    7,
    4,
    204,
    42,
    97,
    90,
    35,
    221,
    109,
    29,
    127,
    27,
    118,
    8,
    97,
    12,
    157,
    21,
    2,
    2,
    9,
    6,
    66,
    78,
    1099,
    4,
    631,
    1191,
    5,
    2642,
    272,
    191,
    1070,
    6,
    2,
    8,
    2197,
    2,
    2,
    544,
    5,
    383,
    1271,
    848,
    1468,
    2,
    497,
    2,
    8,
    1597,
    2,
    2,
    21,
    60,
    27,
    239,
    9,
    43,
    2,
    209,
    405,
    10,
    10,
    12,
    764,
    40,
    4,
    248,
    20,
    12,
    16,
    5,
    174,
    1791,
    72,
    7,
    51,
    6,
    1739,
    22,
    4,
    204,
    131,
    9,
]

KERAS_TEST_0 = [
    1,
    591,
    202,
    14,
    31,
    6,
    717,
    10,
    10,
    2,
    2,
    5,
    4,
    360,
    7,
    4,
    177,
    2,
    394,
    354,
    4,
    123,
    9,
    1035,
    1035,
    1035,
    10,
    10,
    13,
    92,
    124,
    89,
    488,
    2,
    100,
    28,
    1668,
    14,
    31,
    23,
    27,
    2,
    29,
    220,
    468,
    8,
    124,
    14,
    286,
    170,
    8,
    157,
    46,
    5,
    27,
    239,
    16,
    179,
    2,
    38,
    32,
    25,
    2,
    451,
    202,
    14,
    6,
    717,
]

KERAS_TEST_LAST = [
    1,
    6,
    52,
    2,
    430,
    22,
    9,
    220,
    2594,
    8,
    28,
    2,
    519,
    3227,
    6,
    769,
    15,
    47,
    6,
    3482,
    4067,
    8,
    114,
    5,
    33,
    222,
    31,
    55,
    184,
    704,
    2,
    2,
    19,
    346,
    3153,
    5,
    6,
    364,
    350,
    4,
    184,
    2,
    9,
    133,
    1810,
    11,
    2,
    2,
    21,
    4,
    2,
    2,
    570,
    50,
    2005,
    2643,
    9,
    6,
    1249,
    17,
    6,
    2,
    2,
    21,
    17,
    6,
    1211,
    232,
    1138,
    2249,
    29,
    266,
    56,
    96,
    346,
    194,
    308,
    9,
    194,
    21,
    29,
    218,
    1078,
    19,
    4,
    78,
    173,
    7,
    27,
    2,
    2,
    3406,
    718,
    2,
    9,
    6,
    2,
    17,
    210,
    5,
    3281,
    2,
    47,
    77,
    395,
    14,
    172,
    173,
    18,
    2740,
    2931,
    4517,
    82,
    127,
    27,
    173,
    11,
    6,
    392,
    217,
    21,
    50,
    9,
    57,
    65,
    12,
    2,
    53,
    40,
    35,
    390,
    7,
    11,
    4,
    3567,
    7,
    4,
    314,
    74,
    6,
    792,
    22,
    2,
    19,
    714,
    727,
    2,
    382,
    4,
    91,
    2,
    439,
    19,
    14,
    20,
    9,
    1441,
    2,
    1118,
    4,
    756,
    25,
    124,
    4,
    31,
    12,
    16,
    93,
    804,
    34,
    2005,
    2643,
]

LOCAL_LAYOUT = (
    "aclImdb_v1_labeled.tar.gz or aclImdb_v1.tar.gz, or the extracted aclImdb/ folder, "
    "directly or in an imdb/ subfolder, or the path of the tarball itself"
)


class FakeResponse(io.BytesIO):
    """Stands in for the object returned by urllib.request.urlopen."""


def fake_urlopen(payload: bytes):
    calls = []

    def urlopen(url, timeout):
        calls.append(url)
        return FakeResponse(payload)

    urlopen.calls = calls
    return urlopen


def no_network(url, timeout):
    raise urllib.error.URLError("no network")


def must_not_download(url, timeout):
    raise AssertionError(f"unexpected download of {url}")


def in_full_env(full_cache: Path, shared_data_dir: Path, fn):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNKIT_HOME", str(full_cache))
        mp.setenv("RNNKIT_DATA_DIR", str(shared_data_dir))
        mp.setenv("RNNKIT_OFFLINE", "1")
        return fn()


@pytest.fixture(scope="session")
def full_10k(full_cache, shared_data_dir):
    """load_data(num_words=10000) on the real data, once per session."""
    return in_full_env(full_cache, shared_data_dir, lambda: imdb.load_data(num_words=10000))


@pytest.fixture(scope="session")
def full_5k(full_cache, shared_data_dir):
    """load_data(num_words=5000) on the real data, once per session."""
    return in_full_env(full_cache, shared_data_dir, lambda: imdb.load_data(num_words=5000))


# ---------------------------------------------------------------------------
# load_data on the real data
# ---------------------------------------------------------------------------


def test_load_data_reproduces_published_keras_sequences(full_5k):
    (x_train, y_train), (x_test, y_test) = full_5k
    assert x_train[0] == KERAS_TRAIN_0
    assert x_train[1] == KERAS_TRAIN_1
    assert x_train[-1] == KERAS_TRAIN_LAST
    assert x_test[0] == KERAS_TEST_0
    assert x_test[-1] == KERAS_TEST_LAST
    assert (y_train[0], y_train[1], y_train[-1], y_test[0], y_test[-1]) == (1, 0, 0, 0, 0)


def test_load_data_shapes_labels_and_ids(full_10k):
    (x_train, y_train), (x_test, y_test) = full_10k
    for x, y in ((x_train, y_train), (x_test, y_test)):
        assert x.shape == (25000,) and x.dtype == object
        assert y.shape == (25000,) and y.dtype == np.int64
        assert np.bincount(y).tolist() == [12500, 12500]
        assert all(isinstance(s, list) and s[0] == 1 for s in x)
        flat = np.concatenate([np.asarray(s) for s in x])
        assert flat.min() == 1 and flat.max() == 9999
        assert not np.isin(flat, [0, 3]).any()  # padding and the unused id never occur
    assert type(x_train[0][1]) is int


def test_load_data_maxlen_drops_long_sequences(full_env, full_10k):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000, maxlen=100)
    (x_train_all, y_train_all), (x_test_all, y_test_all) = full_10k
    for x, y, x_all, y_all in (
        (x_train, y_train, x_train_all, y_train_all),
        (x_test, y_test, x_test_all, y_test_all),
    ):
        keep = np.array([len(s) < 100 for s in x_all])
        assert 0 < keep.sum() < len(x_all)
        assert list(x) == list(x_all[keep])
        assert y.tolist() == y_all[keep].tolist()


def test_load_data_skip_top_replaces_frequent_words_and_start(full_env, full_10k):
    (x_train, _), (x_test, _) = imdb.load_data(num_words=10000, skip_top=20)
    for x, x_all in ((x_train, full_10k[0][0]), (x_test, full_10k[1][0])):
        # As in Keras, ids below skip_top become oov_char, the start marker (1) included.
        assert list(x[:500]) == [[w if w >= 20 else 2 for w in s] for s in x_all[:500]]


def test_load_data_seed_reproducible(full_env, full_10k):
    first = imdb.load_data(num_words=10000, seed=7)
    again = imdb.load_data(num_words=10000, seed=7)
    for a, b, c in zip(first, again, full_10k):
        assert list(a[0]) == list(b[0]) and a[1].tolist() == b[1].tolist()
        assert list(a[0]) != list(c[0])
        assert sorted(map(tuple, a[0])) == sorted(map(tuple, c[0]))


def test_load_data_num_words_none_keeps_keras_quirk(full_env):
    (x_train, _), (x_test, _) = imdb.load_data()
    sequences = list(x_train) + list(x_test)
    n_index = len(imdb.get_word_index())
    # Keras bounds ids by the largest id in the data (exclusive), so that id becomes OOV.
    assert max(max(s) for s in sequences) == n_index + 3 - 1
    assert any(2 in s for s in sequences)


def test_get_word_index(full_env):
    word_index = imdb.get_word_index()
    assert len(word_index) == 88584
    assert (word_index["the"], word_index["br"], word_index["it's"]) == (1, 7, 42)


def test_load_texts_full(full_env, shared_data_dir):
    data = imdb.load_texts()
    assert data.source == "full"
    assert data.location == str(shared_data_dir / "imdb" / "aclImdb_v1_labeled.tar.gz")
    train, test = data
    for split in (train, test):
        assert len(split) == 25000 and len(split.texts) == 25000
        assert isinstance(split.texts[0], str)
        assert np.bincount(split.labels).tolist() == [12500, 12500]
        assert split.ratings[split.labels == 1].min() >= 7
        assert split.ratings[split.labels == 0].max() <= 4
        assert split.ratings.min() == 1 and split.ratings.max() == 10
        assert split.labels[:12500].all()  # positive reviews first (Keras's order)
    assert train.texts[0].startswith("Bromwell High is a cartoon comedy")
    assert (train.ids[0], train.ratings[0]) == (0, 9)


def test_load_texts_seed_aligns_with_load_data(full_env, full_5k):
    texts = imdb.load_texts(seed=113)
    (x_train, _), (x_test, y_test) = full_5k
    vocab = Vocabulary.from_keras_word_index(imdb.get_word_index(), num_words=5000)
    assert vocab.encode(texts.train.texts[:200], unknown="skip") == list(x_train[:200])
    assert vocab.encode(texts.test.texts[-200:], unknown="skip") == list(x_test[-200:])
    assert texts.test.labels.tolist() == y_test.tolist()


def test_cached_load_does_not_parse_again(full_env, full_cache, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(imdb, "_parse_source", fail)
    monkeypatch.setattr(imdb, "_encode", fail)
    monkeypatch.setattr(_download, "_urlopen", must_not_download)
    (x_train, _), _ = imdb.load_data(num_words=5000)
    assert x_train[0] == KERAS_TRAIN_0
    assert len(imdb.load_texts().train) == 25000
    parsed = full_cache / "datasets" / "imdb" / "parsed"
    names = sorted(p.name for p in parsed.iterdir())
    assert [n.split("-")[0] for n in names] == ["reviews", "sequences"]
    assert all(n.endswith(".npz") for n in names)


def test_sample_word_index_agrees_with_keras(shared_data_dir):
    payload = imdb._read_sample()
    full = imdb.get_word_index(data_dir=shared_data_dir)
    subset = payload["word_index"]
    assert all(full[w] == r for w, r in subset.items())
    tokenizer = Tokenizer.keras_imdb()
    used = {w for split in ("train", "test") for t in payload[split]["texts"] for w in tokenizer(t)}
    assert {w for w in used if w in full} == set(subset)


# ---------------------------------------------------------------------------
# Damaged or unexpected local files
# ---------------------------------------------------------------------------


def test_truncated_tarball_raises_clear_error(tmp_path, shared_data_dir, isolated_env):
    # Message changed by the verification before parsing (the gzip stream is read to the end).
    damaged = tmp_path / "aclImdb_v1.tar.gz"
    with open(shared_data_dir / "imdb" / "aclImdb_v1_labeled.tar.gz", "rb") as src:
        damaged.write_bytes(src.read(1_000_000))
    with pytest.raises(CorruptDatasetError) as info:
        imdb.load_texts(data_dir=tmp_path)
    assert str(info.value) == (
        f"{damaged} is damaged: reading its gzip stream to the end failed after 2,097,152 bytes "
        "(EOFError: Compressed file ended before the end-of-stream marker was reached). "
        f"Replace it with a good copy, e.g. the official aclImdb_v1.tar.gz from {imdb.URL} "
        f"(SHA-256 {imdb.SHA256})."
    )
    assert not list(isolated_env.rglob("*.npz"))


def test_not_a_gzip_file_raises_clear_error(tmp_path):
    bogus = tmp_path / "aclImdb_v1_labeled.tar.gz"
    bogus.write_bytes(b"<html>captive portal</html>")
    with pytest.raises(CorruptDatasetError) as info:
        imdb.load_texts(data_dir=tmp_path)
    assert str(info.value) == (
        f"{bogus} is damaged: it is not gzip-compressed (expected the gzip magic bytes 1f 8b, "
        f"found bytes 3c 68). Replace it with a good copy, e.g. the official aclImdb_v1.tar.gz "
        f"from {imdb.URL} (SHA-256 {imdb.SHA256})."
    )


def test_incomplete_layout_raises_clear_error(tmp_path, tiny_imdb):
    make_reviews, write_tarball = tiny_imdb
    reviews = {k: v for k, v in make_reviews().items() if "/test/neg/" not in k}
    archive = write_tarball(tmp_path / "aclImdb_v1.tar.gz", reviews)
    with pytest.raises(CorruptDatasetError) as info:
        imdb.load_texts(data_dir=archive)
    assert str(info.value) == (
        f"{archive} does not hold the IMDb reviews: expected 2 files "
        "aclImdb/test/neg/<id>_<rating>.txt, found 0"
    )


def test_tarball_and_extracted_folder_give_the_same_reviews(tmp_path, tiny_imdb):
    make_reviews, write_tarball = tiny_imdb
    reviews = make_reviews()
    archive = write_tarball(tmp_path / "archive" / "aclImdb_v1_labeled.tar.gz", reviews)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    from_tar = imdb.load_texts(data_dir=archive)
    from_dir = imdb.load_texts(data_dir=tmp_path / "extracted")
    assert from_dir.location == str(tmp_path / "extracted" / "aclImdb")
    for a, b in zip(from_tar, from_dir):
        assert a.texts.tolist() == b.texts.tolist()
        assert a.labels.tolist() == b.labels.tolist() == [1, 1, 0, 0]
        assert a.ratings.tolist() == b.ratings.tolist() == [10, 8, 1, 3]
        assert a.ids.tolist() == b.ids.tolist() == [0, 1, 0, 1]
    assert from_tar.train.texts[0] == "Train pos review 0.<br /><br />It's a film!"


def test_data_dir_forms_and_env_var(tmp_path, tiny_imdb, monkeypatch):
    make_reviews, write_tarball = tiny_imdb
    archive = write_tarball(tmp_path / "data" / "imdb" / "aclImdb_v1.tar.gz", make_reviews())
    for data_dir in (archive, archive.parent, tmp_path / "data"):
        assert imdb.load_texts(data_dir=data_dir).location == str(archive)
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(tmp_path / "data"))
    data = imdb.load_texts()
    assert (data.source, data.location) == ("full", str(archive))


def test_non_utf8_bytes_are_replaced(tmp_path, tiny_imdb):
    make_reviews, write_tarball = tiny_imdb
    reviews = make_reviews()
    reviews["aclImdb/train/pos/0_10.txt"] = b"Caf\xe9 society, \xff great"
    imdb.load_texts(data_dir=write_tarball(tmp_path / "aclImdb_v1.tar.gz", reviews))
    train, _ = imdb.load_texts(data_dir=tmp_path)
    assert train.texts[0] == "Caf\ufffd society, \ufffd great"


def test_cache_is_written_atomically_and_reused(tmp_path, tiny_imdb, monkeypatch, isolated_env):
    make_reviews, write_tarball = tiny_imdb
    archive = write_tarball(tmp_path / "aclImdb_v1.tar.gz", make_reviews())
    parsed = isolated_env / "datasets" / "imdb" / "parsed"
    real_write_array = np.lib.format.write_array

    def crash_midway(fp, array, **kwargs):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", crash_midway)
    with pytest.warns(RuntimeWarning, match="could not write the cache file"):
        data = imdb.load_texts(data_dir=archive)
    assert len(data.train) == 4  # the data is still returned
    assert list(parsed.iterdir()) == []  # no partial cache file, no temporary file

    monkeypatch.setattr(np.lib.format, "write_array", real_write_array)
    imdb.load_texts(data_dir=archive)
    assert [p.name.split("-")[0] for p in parsed.iterdir()] == ["reviews"]

    def fail(source):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(imdb, "_parse_source", fail)
    assert imdb.load_texts(data_dir=archive).train.texts.tolist() == data.train.texts.tolist()


def test_unreadable_cache_is_rebuilt(tmp_path, tiny_imdb, isolated_env):
    make_reviews, write_tarball = tiny_imdb
    archive = write_tarball(tmp_path / "aclImdb_v1.tar.gz", make_reviews())
    imdb.load_texts(data_dir=archive)
    (cache_file,) = (isolated_env / "datasets" / "imdb" / "parsed").iterdir()
    cache_file.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="ignoring unreadable cache file"):
        assert len(imdb.load_texts(data_dir=archive).test) == 4
    assert np.load(cache_file)["train_labels"].tolist() == [1, 1, 0, 0]


def test_changed_source_file_is_parsed_again(tmp_path, tiny_imdb):
    make_reviews, write_tarball = tiny_imdb
    archive = write_tarball(tmp_path / "aclImdb_v1.tar.gz", make_reviews())
    imdb.load_texts(data_dir=archive)
    reviews = make_reviews()
    reviews["aclImdb/test/neg/1_3.txt"] = b"A different, longer review text."
    write_tarball(archive, reviews)
    assert imdb.load_texts(data_dir=archive).test.texts[-1] == "A different, longer review text."


# ---------------------------------------------------------------------------
# Missing data, downloads, checksums, sample fallback
# ---------------------------------------------------------------------------


def test_missing_data_dir_raises(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_texts(data_dir=missing)
    assert str(info.value) == f"data_dir={str(missing)!r} does not exist; expected {LOCAL_LAYOUT}"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_data(data_dir=empty)  # an explicit data_dir never falls back to the sample
    assert str(info.value) == (
        f"no IMDb reviews in data_dir={str(empty)!r}: expected {LOCAL_LAYOUT}; "
        f"found none of these in {empty}"
    )


def test_no_data_and_no_network_raises(tmp_path, monkeypatch, isolated_env):
    monkeypatch.delenv("RNNKIT_OFFLINE")
    monkeypatch.setattr(_download, "_urlopen", no_network)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(empty))
    cache = isolated_env / "datasets" / "imdb"
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_texts(allow_sample=False)
    assert str(info.value) == (
        "IMDb reviews not found locally and could not be downloaded (could not download "
        f"{imdb.URL} to {cache / 'aclImdb_v1.tar.gz'}: <urlopen error no network>).\n"
        f"Looked in: $RNNKIT_DATA_DIR={empty}; the cache {cache}.\n"
        "To use a local copy, pass data_dir= or set $RNNKIT_DATA_DIR to a folder that holds "
        f"{LOCAL_LAYOUT} "
        "(and imdb_word_index.json for load_data / get_word_index).\n"
        "To use the small sample bundled with rnnkit instead, pass allow_sample=True."
    )
    assert not cache.exists() or not any(cache.rglob("*"))


def test_offline_mode_never_uses_the_network(monkeypatch):
    monkeypatch.setattr(_download, "_urlopen", must_not_download)
    with pytest.raises(DatasetNotFoundError, match=r"\$RNNKIT_OFFLINE is set"):
        imdb.load_texts(allow_sample=False)
    with pytest.raises(DatasetNotFoundError, match=r"Keras's IMDb word index"):
        imdb.get_word_index()


def test_no_data_falls_back_to_sample(monkeypatch):
    monkeypatch.delenv("RNNKIT_OFFLINE")
    monkeypatch.setattr(_download, "_urlopen", no_network)
    with pytest.warns(SampleDataWarning, match="Using the sample bundled with rnnkit"):
        data = imdb.load_texts()
    assert (data.source, len(data.train), len(data.test)) == ("sample", 2000, 1000)
    assert Path(data.location).name == "imdb_sample.json.gz" and Path(data.location).is_file()
    for split in data:
        assert np.bincount(split.labels).tolist() == [len(split) // 2] * 2
        assert split.ratings[split.labels == 1].min() >= 7
        assert split.ratings[split.labels == 0].max() <= 4
    with pytest.warns(SampleDataWarning):
        (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=1000)
    assert (len(x_train), len(y_train), len(x_test), len(y_test)) == (2000, 2000, 1000, 1000)
    assert max(max(s) for s in x_train) == 999 and all(s[0] == 1 for s in x_test)


def test_download_checksum_mismatch(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNKIT_OFFLINE")
    monkeypatch.setattr(_download, "_urlopen", fake_urlopen(b"not the file"))
    dest = tmp_path / "downloads" / "file.tar.gz"
    received = hashlib.sha256(b"not the file").hexdigest()
    with pytest.raises(ChecksumError) as info:
        _download.download("https://example.invalid/file.tar.gz", dest, sha256="ab" * 32)
    assert str(info.value) == (
        f"checksum mismatch for https://example.invalid/file.tar.gz: expected sha256 {'ab' * 32}, "
        f"received {received} (12 bytes); the download was discarded and {dest} was not written"
    )
    assert list(dest.parent.iterdir()) == []


def test_download_writes_verified_file(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNKIT_OFFLINE")
    monkeypatch.setattr(_download, "_urlopen", fake_urlopen(b"payload" * 1000))
    dest = tmp_path / "file.bin"
    md5 = hashlib.md5(b"payload" * 1000).hexdigest()
    assert _download.download("https://example.invalid/file.bin", dest, md5=md5) == dest
    assert dest.read_bytes() == b"payload" * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_imdb_download_with_bad_checksum_is_an_error(monkeypatch, isolated_env):
    monkeypatch.delenv("RNNKIT_OFFLINE")
    opener = fake_urlopen(b"<html>not the archive</html>")
    monkeypatch.setattr(_download, "_urlopen", opener)
    with pytest.raises(ChecksumError, match=f"expected sha256 {imdb.SHA256}"):
        imdb.load_texts()  # a corrupt download is not "no network": no sample fallback
    assert opener.calls == [imdb.URL]
    assert not any(p.is_file() for p in isolated_env.rglob("*"))


def test_downloaded_archive_is_cached_and_used(tmp_path, tiny_imdb, monkeypatch, isolated_env):
    make_reviews, write_tarball = tiny_imdb
    archive = write_tarball(tmp_path / "served.tar.gz", make_reviews())
    monkeypatch.delenv("RNNKIT_OFFLINE")
    served = dataclasses.replace(imdb.REVIEWS.files[0], sha256=_download.file_digest(archive))
    monkeypatch.setattr(imdb, "REVIEWS", dataclasses.replace(imdb.REVIEWS, files=(served,)))
    monkeypatch.setattr(_download, "_urlopen", fake_urlopen(archive.read_bytes()))
    data = imdb.load_texts()
    cached = isolated_env / "datasets" / "imdb" / "aclImdb_v1.tar.gz"
    assert (data.source, data.location) == ("full", str(cached))
    monkeypatch.setattr(_download, "_urlopen", must_not_download)
    assert imdb.load_texts().location == str(cached)


def test_word_index_that_is_not_keras_is_rejected(tmp_path):
    path = tmp_path / "imdb_word_index.json"
    path.write_text(json.dumps({"the": 1, "a": 2}))
    with pytest.raises(ChecksumError) as info:
        imdb.get_word_index(data_dir=tmp_path)
    received = hashlib.md5(json.dumps({"the": 1, "a": 2}).encode()).hexdigest()
    assert str(info.value) == (
        f"{path} is not Keras's IMDb word index: expected md5 bfafd718b763782e994055a2d397834f of "
        f"json.dumps(index), received {received}"
    )


# ---------------------------------------------------------------------------
# Keras semantics on the bundled sample (always available)
# ---------------------------------------------------------------------------


@pytest.fixture
def sample_data(monkeypatch):
    """load_data on the bundled sample, without the warning."""

    def load(**kwargs):
        with pytest.warns(SampleDataWarning):
            return imdb.load_data(**kwargs)

    return load


def test_sample_semantics_oov_and_start(sample_data):
    (base, y), _ = sample_data(num_words=500)
    (no_oov, y2), _ = sample_data(num_words=500, oov_char=None, start_char=None)
    assert y.tolist() == y2.tolist()
    assert list(no_oov) == [[w for w in s[1:] if w != 2] for s in base]


def test_sample_semantics_index_from(sample_data):
    (shifted, _), _ = sample_data(index_from=10, num_words=5010, start_char=None)
    (base, _), _ = sample_data(num_words=5003, start_char=None)
    assert list(shifted) == [[w + 7 if w != 2 else 2 for w in s] for s in base]


def test_sample_semantics_maxlen_too_small(sample_data):
    with pytest.raises(ValueError) as info:
        sample_data(maxlen=1)
    assert str(info.value) == (
        "After filtering for sequences shorter than maxlen=1, no sequence was kept. "
        "Increase maxlen."
    )


def test_load_data_validates_arguments():
    # Messages changed to the package's convention (rnnkit._validation).
    with pytest.raises(TypeError) as info:
        imdb.load_data(num_words="10")
    assert str(info.value) == (
        "imdb.load_data: `num_words` expected None or a non-negative integer, received '10'."
    )
    with pytest.raises(ValueError) as info:
        imdb.load_data(skip_top=-1)
    assert str(info.value) == (
        "imdb.load_data: `skip_top` expected a non-negative integer, received -1 (int)."
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            dict(num_words=-1),
            ValueError,
            "`num_words` expected None or a non-negative integer, received -1 (int).",
        ),
        (
            dict(num_words=10.0),
            TypeError,
            "`num_words` expected None or a non-negative integer, received 10.0 (float).",
        ),
        (
            dict(num_words=True),
            TypeError,
            "`num_words` expected None or a non-negative integer, received True (bool).",
        ),
        (
            dict(maxlen="100"),
            TypeError,
            "`maxlen` expected None or a non-negative integer, received '100'.",
        ),
        (
            dict(maxlen=-5),
            ValueError,
            "`maxlen` expected None or a non-negative integer, received -5 (int).",
        ),
        (
            dict(skip_top=None),
            TypeError,
            "`skip_top` expected a non-negative integer, received None (NoneType).",
        ),
        (
            dict(seed=-1),
            ValueError,
            "`seed` expected None or an integer from 0 to 4,294,967,295, received -1 (int).",
        ),
        (
            dict(seed=2**32),
            ValueError,
            "`seed` expected None or an integer from 0 to 4,294,967,295, "
            "received 4294967296 (int).",
        ),
        (
            dict(seed=1.5),
            TypeError,
            "`seed` expected None or an integer from 0 to 4,294,967,295, received 1.5 (float).",
        ),
        (
            dict(start_char=-1),
            ValueError,
            "`start_char` expected None or an integer from 0 to 2,147,483,647, received -1 (int).",
        ),
        (
            dict(oov_char=2**31),
            ValueError,
            "`oov_char` expected None or an integer from 0 to 2,147,483,647, "
            "received 2147483648 (int).",
        ),
        (
            dict(oov_char="2"),
            TypeError,
            "`oov_char` expected None or an integer from 0 to 2,147,483,647, received '2'.",
        ),
        (
            dict(index_from=None),
            TypeError,
            "`index_from` expected an integer from 0 to 2,147,483,647, received None (NoneType).",
        ),
        (
            dict(index_from=-3),
            ValueError,
            "`index_from` expected an integer from 0 to 2,147,483,647, received -3 (int).",
        ),
        (
            dict(data_dir=3),
            TypeError,
            "`data_dir` expected None, a str or an os.PathLike, received 3 (int).",
        ),
        (
            dict(allow_sample="yes"),
            TypeError,
            "`allow_sample` expected True or False, received 'yes'.",
        ),
    ],
)
def test_load_data_argument_errors(kwargs, error, message, monkeypatch):
    # Before: "x must be ...; received ..." for some, numpy's own error for a negative seed
    # (after the data was loaded), and no check at all for data_dir and allow_sample.
    monkeypatch.setattr(imdb, "_find_reviews", lambda *a: pytest.fail("checked after loading"))
    with pytest.raises(error) as info:
        imdb.load_data(**kwargs)
    assert str(info.value) == f"imdb.load_data: {message}"


def test_numpy_integers_are_accepted(sample_data):
    (x, _), _ = sample_data(num_words=np.int64(500), seed=np.uint32(7), index_from=np.int8(3))
    (y, _), _ = sample_data(num_words=500, seed=7)
    assert list(x) == list(y)


def test_load_texts_and_get_word_index_argument_errors():
    with pytest.raises(ValueError) as info:
        imdb.load_texts(seed=-2)
    assert str(info.value) == (
        "imdb.load_texts: `seed` expected None or an integer from 0 to 4,294,967,295, "
        "received -2 (int)."
    )
    with pytest.raises(TypeError) as info:
        imdb.get_word_index(data_dir=b"/data")
    assert str(info.value) == (
        "imdb.get_word_index: `data_dir` expected None, a str or an os.PathLike, received bytes."
    )


def test_odd_data_dir_strings_are_not_found_errors(tmp_path, monkeypatch):
    # Found by tests/datasets/test_fuzz_datasets.py: "~0" raised RuntimeError (no such user) and
    # a 300-character name OSError (file name too long) from the file-system calls.
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_texts(data_dir="~0")
    assert str(info.value) == f"data_dir='~0' does not exist; expected {LOCAL_LAYOUT}"
    long_name = "x" * 300
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_texts(data_dir=long_name)
    assert str(info.value) == (
        f"data_dir={long_name!r} cannot be used as a path ([Errno 36] File name too long: "
        f"{long_name!r}); expected {LOCAL_LAYOUT}"
    )
    monkeypatch.setenv("RNNKIT_DATA_DIR", "~0")
    with pytest.raises(DatasetNotFoundError, match=r"^\$RNNKIT_DATA_DIR=~0 does not exist"):
        imdb.load_data()
