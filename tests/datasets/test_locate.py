"""Tests of the shared data-locating chain (rnnkit.datasets.locate) and of the verification of
every data-set file before it is parsed (issue #11, "damage accepted"; issue #10, one chain).

Each test that reproduces a finding says so and which old behaviour it pins against.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from rnnkit.datasets import (
    ChecksumError,
    CorruptDatasetError,
    DatasetNotFoundError,
    DatasetSpec,
    RemoteFile,
    SampleDataWarning,
    _download,
    _locate,
    check_gzip,
    check_zip,
    imdb,
    locate,
)

GOOD = b"the official bytes of a small data set\n" * 100
URL = "https://example.invalid/data/good.txt"


def official_spec(**changes) -> DatasetSpec:
    """A data set of one official file, ``good.txt`` (GOOD), downloadable from URL."""
    fields = dict(
        name="toy",
        title="the toy data",
        files=(
            RemoteFile("good.txt", URL, sha256=hashlib.sha256(GOOD).hexdigest(), size=len(GOOD)),
        ),
    )
    fields.update(changes)
    return DatasetSpec(**fields)


class FakeResponse(io.BytesIO):
    pass


def serve(payload: bytes):
    calls = []

    def urlopen(url, timeout):
        calls.append(url)
        return FakeResponse(payload)

    urlopen.calls = calls
    return urlopen


def flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------------------------------
# The chain
# ---------------------------------------------------------------------------------------------


def test_1_data_dir_file_folder_and_subfolder(tmp_path):
    (tmp_path / "toy").mkdir()
    path = tmp_path / "toy" / "good.txt"
    path.write_bytes(GOOD)
    spec = official_spec()
    for data_dir in (path, tmp_path / "toy", tmp_path):
        found = locate(spec, data_dir)
        assert (found.path, found.origin, found.official) == (path, "data_dir", True)
        assert found.sha256 == hashlib.sha256(GOOD).hexdigest()
        assert found.verified == "SHA-256 equals the official good.txt's"


def test_2_data_dir_without_the_data_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_download, "_urlopen", serve(GOOD))
    monkeypatch.delenv("RNNKIT_OFFLINE")
    with pytest.raises(DatasetNotFoundError) as info:
        locate(official_spec(), tmp_path)
    assert str(info.value) == (
        f"no the toy data in data_dir={str(tmp_path)!r}: expected good.txt, directly or in a toy/ "
        f"subfolder, or the path of the file itself; found none of these in {tmp_path}"
    )
    assert _download._urlopen.calls == []  # a given data_dir is never replaced by a download


def test_3_mistyped_env_is_an_error_naming_it(tmp_path, monkeypatch):
    """Finding (issue #11): a mistyped RNNKIT_DATA_DIR fell through to the cache, the download
    and then the sample without naming the path. Now an error naming it."""
    wrong = tmp_path / "dat"
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(wrong))
    with pytest.raises(DatasetNotFoundError) as info:
        locate(official_spec())
    assert str(info.value) == (
        f"$RNNKIT_DATA_DIR={wrong} does not exist: set it to a folder that holds good.txt, "
        "directly or in a toy/ subfolder, or the path of the file itself, or unset it"
    )


def test_4_env_then_cache_then_download(tmp_path, monkeypatch, isolated_env):
    spec = official_spec()
    other = tmp_path / "other_sets"  # RNNKIT_DATA_DIR that holds other data sets only
    other.mkdir()
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(other))
    monkeypatch.delenv("RNNKIT_OFFLINE")
    opener = serve(GOOD)
    monkeypatch.setattr(_download, "_urlopen", opener)
    found = locate(spec)
    cached = isolated_env / "datasets" / "toy" / "good.txt"
    assert (found.path, found.origin, found.official) == (cached, "download", True)
    assert opener.calls == [URL]
    assert locate(spec).origin == "cache"
    (other / "good.txt").write_bytes(GOOD)
    assert locate(spec).origin == "RNNKIT_DATA_DIR"
    assert opener.calls == [URL]


def test_5_nothing_found_lists_where_it_looked(tmp_path, monkeypatch, isolated_env):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(empty))
    with pytest.raises(DatasetNotFoundError) as info:
        locate(official_spec())
    cache = isolated_env / "datasets" / "toy"
    assert str(info.value) == (
        f"the toy data not found locally and could not be downloaded (not downloading {URL}: "
        f"$RNNKIT_OFFLINE is set).\nLooked in: $RNNKIT_DATA_DIR={empty}; the cache {cache}.\n"
        "To use a local copy, pass data_dir= or set $RNNKIT_DATA_DIR to a folder that holds "
        "good.txt, directly or in a toy/ subfolder, or the path of the file itself."
    )


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------


def test_6_official_size_with_another_sha256_is_damage(tmp_path):
    path = tmp_path / "good.txt"
    path.write_bytes(GOOD)
    flip(path, len(GOOD) - 5)
    received = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CorruptDatasetError) as info:
        locate(official_spec(), tmp_path)
    assert str(info.value) == (
        f"{path} is damaged: it has the size of the official good.txt ({len(GOOD):,} bytes) but "
        f"not its SHA-256 (expected {hashlib.sha256(GOOD).hexdigest()}, received {received}). "
        f"Replace it with a good copy, e.g. the official good.txt from {URL} "
        f"(SHA-256 {hashlib.sha256(GOOD).hexdigest()})."
    )


def test_7_damaged_cache_copy_says_delete_it(isolated_env):
    cached = isolated_env / "datasets" / "toy" / "good.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(GOOD)
    flip(cached, 3)
    with pytest.raises(CorruptDatasetError, match=r"Delete it: rnnkit downloads it again"):
        locate(official_spec())


def test_8_unofficial_copy_is_checked_and_says_so(tmp_path, tiny_imdb):
    tiny_reviews, write_tarball = tiny_imdb
    path = write_tarball(tmp_path / "good.txt", tiny_reviews())
    found = locate(official_spec(check=check_gzip), tmp_path)
    with gzip.open(path) as f:
        n_bytes = len(f.read())
    assert (found.official, found.origin) == (False, "data_dir")
    assert found.verified == (
        f"gzip CRC-32 and length checked to the end ({n_bytes:,} bytes uncompressed); "
        "not the official file, so no published checksum to compare"
    )
    plain = tmp_path / "plain" / "good.txt"
    plain.parent.mkdir()
    plain.write_bytes(b"my own text")
    assert locate(official_spec(), plain).verified == (
        "not the official file and no check for it: read as it is"
    )


def test_9_gzip_crc_is_checked(tmp_path, tiny_imdb):
    """Finding (issue #11): the gzip CRC was never checked, because tarfile stops at the
    end-of-archive marker. A flipped bit in the CRC trailer parsed silently before."""
    tiny_reviews, write_tarball = tiny_imdb
    path = write_tarball(tmp_path / "aclImdb_v1.tar.gz", tiny_reviews())
    flip(path, path.stat().st_size - 6)  # inside the CRC-32 of the gzip trailer
    with pytest.raises(CorruptDatasetError) as info:
        check_gzip(path)
    assert str(info.value).startswith(
        "reading its gzip stream to the end failed after 0 bytes (BadGzipFile: CRC check failed"
    )


def test_10_zip_members_are_checked(tmp_path):
    path = tmp_path / "fra-eng.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("fra-eng/fra.txt", "Go.\tVa !\n" * 50)
        archive.writestr("fra-eng/_about.txt", "licence")
    assert check_zip(path) == "zip CRC-32 of all 2 members checked"
    data = bytearray(path.read_bytes())
    data[data.index(b"Va !") + 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptDatasetError) as info:
        check_zip(path)
    assert str(info.value) == "its member fra-eng/fra.txt fails its CRC-32 check"
    (tmp_path / "not.zip").write_bytes(b"PK? no")
    with pytest.raises(CorruptDatasetError, match=r"^it is not a readable zip file \(BadZipFile"):
        check_zip(tmp_path / "not.zip")


def test_11_verification_is_recorded_and_redone_when_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "good.txt"
    path.write_bytes(GOOD)
    spec = official_spec()
    first = locate(spec, tmp_path)
    real_digest = _download.file_digest

    def must_not_hash(*args, **kwargs):
        raise AssertionError("an unchanged, verified file was hashed again")

    monkeypatch.setattr(_download, "file_digest", must_not_hash)
    assert locate(spec, tmp_path) == first
    flip(path, 0)  # same size, new content and modification time
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    monkeypatch.setattr(_download, "file_digest", real_digest)
    with pytest.raises(CorruptDatasetError, match=r"is damaged: it has the size of the official"):
        locate(spec, tmp_path)


def test_11b_a_damaged_record_means_verifying_again(tmp_path, isolated_env):
    path = tmp_path / "good.txt"
    path.write_bytes(GOOD)
    spec = official_spec()
    first = locate(spec, tmp_path)
    record = isolated_env / "datasets" / "toy" / "verified.json"
    entries = json.loads(record.read_text())
    assert entries[str(path.resolve())]["sha256"] == first.sha256
    for damaged in ("{not json", json.dumps([1]), json.dumps({str(path.resolve()): {"size": 1}})):
        record.write_text(damaged)
        assert locate(spec, tmp_path) == first
    entries[str(path.resolve())].pop("verified")
    record.write_text(json.dumps(entries))
    assert locate(spec, tmp_path) == first


def test_12_unverifiable_download_is_deleted(monkeypatch, isolated_env):
    spec = official_spec(
        files=(RemoteFile("good.tar.gz", URL),), check=check_gzip, name="toy"
    )  # no published checksum (like fra-eng.zip, which changes on its site)
    monkeypatch.delenv("RNNKIT_OFFLINE")
    monkeypatch.setattr(_download, "_urlopen", serve(b"<html>rate limited</html>"))
    with pytest.raises(CorruptDatasetError) as info:
        locate(spec)
    assert str(info.value) == (
        f"the download of {URL} is damaged or is not the toy data: it is not gzip-compressed "
        "(expected the gzip magic bytes 1f 8b, found bytes 3c 68); it was deleted"
    )
    assert not (isolated_env / "datasets" / "toy" / "good.tar.gz").exists()


def test_13_download_with_wrong_sha256_is_not_kept(monkeypatch, isolated_env):
    monkeypatch.delenv("RNNKIT_OFFLINE")
    monkeypatch.setattr(_download, "_urlopen", serve(GOOD + b"!"))
    with pytest.raises(ChecksumError, match=r"the download was discarded"):
        locate(official_spec())
    assert not any(p.is_file() for p in isolated_env.rglob("*"))


# ---------------------------------------------------------------------------------------------
# IMDb through the chain
# ---------------------------------------------------------------------------------------------


def test_14_imdb_bit_flip_near_the_end_is_caught(tmp_path, shared_data_dir, isolated_env):
    """Finding (issue #11): a bit flip at 99.9% of the IMDb tarball changed 14 training reviews
    and loaded without a word (and the parse was cached). Now CorruptDatasetError before any
    parse, naming the file; nothing is cached."""
    damaged = tmp_path / "aclImdb_v1_labeled.tar.gz"
    shutil.copyfile(shared_data_dir / "imdb" / "aclImdb_v1_labeled.tar.gz", damaged)
    flip(damaged, int(damaged.stat().st_size * 0.999))
    with pytest.raises(CorruptDatasetError) as info:
        imdb.load_texts(tmp_path)
    message = str(info.value)
    assert message.startswith(
        f"{damaged} is damaged: reading its gzip stream to the end failed after "
    )
    assert "(BadGzipFile: CRC check failed" in message
    assert message.endswith(
        f"Replace it with a good copy, e.g. the official "
        f"aclImdb_v1.tar.gz from {imdb.URL} (SHA-256 {imdb.SHA256})."
    )
    assert not list(isolated_env.rglob("*.npz"))


def test_15_imdb_mistyped_env_never_falls_back_to_the_sample(tmp_path, monkeypatch):
    """Finding (issue #11): load_texts() and load_data() returned the bundled sample with a
    warning that did not name the mistyped $RNNKIT_DATA_DIR. Now an error naming it."""
    wrong = tmp_path / "shared" / "dta"
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(wrong))
    expected = (
        f"$RNNKIT_DATA_DIR={wrong} does not exist: set it to a folder that holds "
        "aclImdb_v1_labeled.tar.gz or aclImdb_v1.tar.gz, or the extracted aclImdb/ folder, "
        "directly or in an imdb/ subfolder, or the path of the tarball itself, or unset it"
    )
    for load in (imdb.load_texts, imdb.load_data):
        with pytest.raises(DatasetNotFoundError) as info:
            load()
        assert str(info.value) == expected


def test_16_imdb_env_without_the_data_never_falls_back_to_the_sample(
    tmp_path, monkeypatch, isolated_env
):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(other))
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_texts()
    assert str(info.value).endswith(
        f"\nThe sample bundled with rnnkit is not used because $RNNKIT_DATA_DIR={other} is set; "
        "unset it to fall back to the sample."
    )
    assert f"Looked in: $RNNKIT_DATA_DIR={other}; the cache " in str(info.value)


def test_17_imdb_sample_only_when_nothing_was_given(monkeypatch):
    with pytest.warns(SampleDataWarning):
        data = imdb.load_texts()
    assert (data.source, data.verified) == ("sample", "the sample bundled with rnnkit")


def test_18_imdb_reports_what_was_verified(tmp_path, tiny_imdb):
    make_reviews, write = tiny_imdb
    archive = write(tmp_path / "aclImdb_v1.tar.gz", make_reviews())
    data = imdb.load_texts(archive)
    with gzip.open(archive) as f:
        n_bytes = len(f.read())
    assert data.verified == (
        f"gzip CRC-32 and length checked to the end ({n_bytes:,} bytes uncompressed); "
        "not the official file, so no published checksum to compare"
    )
    folder = tmp_path / "aclImdb"
    for name, content in make_reviews().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    assert imdb.load_texts(folder).verified.startswith("an extracted folder: its files have no")


def test_19_imdb_parse_cache_is_keyed_by_content(tmp_path, tiny_imdb, monkeypatch, isolated_env):
    make_reviews, write = tiny_imdb
    first = write(tmp_path / "a" / "aclImdb_v1.tar.gz", make_reviews())
    second = tmp_path / "b" / "aclImdb_v1.tar.gz"
    second.parent.mkdir()
    shutil.copyfile(first, second)
    imdb.load_texts(first)

    def must_not_parse(source):
        raise AssertionError("the same content was parsed again")

    monkeypatch.setattr(imdb, "_parse_source", must_not_parse)
    assert imdb.load_texts(second).train.texts[0] == "Train pos review 0.<br /><br />It's a film!"
    (cache,) = (isolated_env / "datasets" / "imdb" / "parsed").iterdir()
    with __import__("numpy").load(cache) as archive:
        made_from = str(archive["made_from"])
    assert made_from == f"imdb-reviews-v1|tarball|sha256:{_download.file_digest(first)}"


def test_20_official_word_index_sha256(tmp_path, shared_data_dir):
    """The word index's SHA-256 and size in rnnkit are those of Keras's file: json.dumps of the
    index has Keras's published md5 and the size Keras's download shows."""
    index = json.loads((shared_data_dir / "imdb" / "imdb_word_index.json").read_text())
    official = tmp_path / "imdb_word_index.json"
    official.write_text(json.dumps(index))
    data = official.read_bytes()
    assert hashlib.md5(data).hexdigest() == imdb.WORD_INDEX_MD5
    assert len(data) == imdb.WORD_INDEX_SIZE
    found = _locate.locate(imdb.WORD_INDEX, tmp_path)
    assert (found.official, found.sha256) == (True, imdb.WORD_INDEX_SHA256)
    shared = _locate.locate(imdb.WORD_INDEX, shared_data_dir)  # pretty-printed: checked by content
    assert shared.official is False
    assert shared.verified.startswith("content equals Keras's word index (md5 bfafd718")
