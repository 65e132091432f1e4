"""Text corpora through the one data-locating path: Penn Treebank and Tiny Shakespeare from the
real files (verified by SHA-256), the default split, a user's file or folder, bad files."""

from __future__ import annotations

import re

import pytest

from rnnkit.datasets import CorruptDatasetError, DatasetNotFoundError, text_corpora
from rnnkit.datasets.text_corpora import (
    load_corpus,
    load_ptb,
    load_text,
    load_tiny_shakespeare,
    split_text,
)


def test_1_ptb_is_mikolovs_split_verified(shared_data):
    corpus = load_ptb(shared_data)
    assert [len(corpus.split(s).split()) for s in ("train", "valid", "test")] == [
        887_521,
        70_390,
        78_669,
    ]
    assert corpus.source.count("SHA-256 equals the official") == 3
    assert corpus.level == "word"


def test_2_ptb_through_rnnkit_data_dir(shared_data, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(shared_data))
    assert load_corpus("ptb").valid == (shared_data / "ptb" / "ptb.valid.txt").read_text()


def test_3_damaged_ptb_copy_is_refused(shared_data, tmp_path):
    folder = tmp_path / "ptb"
    folder.mkdir()
    for split in ("train", "test"):
        (folder / f"ptb.{split}.txt").symlink_to(shared_data / "ptb" / f"ptb.{split}.txt")
    data = bytearray((shared_data / "ptb" / "ptb.valid.txt").read_bytes())
    data[1000] ^= 1  # a flipped bit keeps the size
    (folder / "ptb.valid.txt").write_bytes(bytes(data))
    with pytest.raises(
        CorruptDatasetError,
        match=re.escape(
            "ptb.valid.txt is damaged: it has the size of the official ptb.valid.txt (399,782 bytes)"
        ),
    ):
        load_ptb(tmp_path)


def test_4_missing_ptb_names_the_folder(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=re.escape(f"no Penn Treebank (ptb.train.txt) in data_dir={str(tmp_path)!r}"),
    ):
        load_ptb(tmp_path)


def test_5_offline_without_a_copy_says_where_it_looked():
    with pytest.raises(
        DatasetNotFoundError, match="Tiny Shakespeare not found locally and could not be downloaded"
    ):
        load_tiny_shakespeare()


def test_6_tiny_shakespeare_default_split_keeps_lines_whole(shared_data):
    corpus = load_tiny_shakespeare(shared_data)
    text = (shared_data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    assert corpus.train + corpus.valid + corpus.test == text and len(text) == 1_115_394
    assert corpus.train.endswith("\n") and corpus.valid.endswith("\n")
    assert (
        abs(len(corpus.train) - 0.9 * len(text)) < 200
        and abs(len(corpus.valid) - 0.05 * len(text)) < 200
    )
    assert "SHA-256 equals the official input.txt's" in corpus.source


def test_7_split_text_by_hand():
    assert split_text("aa\nbb\ncc\ndd\n", (0.5, 0.25, 0.25)) == ("aa\nbb\n", "cc\n", "dd\n")
    assert split_text("abcdefghij", (0.8, 0.1, 0.1)) == ("abcdefghij", "", "")  # no line break
    with pytest.raises(
        ValueError,
        match=re.escape(
            "split_text: `split` expected three fractions >= 0 that sum to 1, received (0.5, 0.5, 0.5)."
        ),
    ):
        split_text("x", (0.5, 0.5, 0.5))


def test_8_user_file_folder_and_presplit_folder(tmp_path):
    (tmp_path / "a.txt").write_text("one two\n" * 10, encoding="utf-8")
    single = load_text(tmp_path / "a.txt")
    assert single.train + single.valid + single.test == "one two\n" * 10
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "2.txt").write_text("second", encoding="utf-8")
    (folder / "1.txt").write_text("first\n", encoding="utf-8")
    joined = load_text(folder)
    assert joined.train + joined.valid + joined.test == "first\nsecond\n"
    pre = tmp_path / "pre"
    pre.mkdir()
    for name in ("train", "valid", "test"):
        (pre / f"x.{name}.txt").write_text(name, encoding="utf-8")
    assert (load_text(pre).train, load_text(pre).valid, load_text(pre).test) == (
        "train",
        "valid",
        "test",
    )


def test_9_bad_user_texts(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"load_text: `path` expected UTF-8 text, received {str(tmp_path / 'latin1.txt')!r}, which is not UTF-8 (byte 3: b'\\xe9')."
        ),
    ):
        load_text(tmp_path / "latin1.txt")
    (tmp_path / "empty.txt").write_text(" \n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="which holds no text"):
        load_text(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError, match="which does not exist"):
        load_text(tmp_path / "nope.txt")
    (tmp_path / "d").mkdir()
    with pytest.raises(ValueError, match="which holds none"):
        load_text(tmp_path / "d")


def test_10_specs_name_the_official_files():
    assert text_corpora.TINY_SHAKESPEARE.files[0].url.endswith(
        "char-rnn/master/data/tinyshakespeare/input.txt"
    )
    assert [
        s.files[0].md5
        for s in (text_corpora.PTB_TRAIN, text_corpora.PTB_VALID, text_corpora.PTB_TEST)
    ] == [
        "f26c4b92c5fdc7b3f8c7cdcb991d8420",
        "aa0affc06ff7c36e977d7cd49e3839bf",
        "8b80168b89c18661a38ef683c0dc3721",
    ]
