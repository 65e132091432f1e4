"""rnnkit.datasets.translation: the real Tatoeba file through the data-locating chain, the
split by distinct source sentence (no sentence on two sides), and the errors of bad files."""

from __future__ import annotations

import zipfile

import pytest

from rnnkit.datasets import translation as tr


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNKIT_HOME", str(tmp_path_factory.mktemp("home")))
        return tr.load_pairs(shared_data)  # the data root: found in its translation/ folder


def test_1_real_file_found_verified_and_read(real):
    assert len(real.pairs) == 167_130
    assert real.location.name == "fra-eng.zip"
    assert real.verified == "SHA-256 equals the official fra-eng.zip's"
    # "Va\u00a0!" in the file: the no-break space before "!" is a plain space
    assert real.pairs[0] == ("Go.", "Va !")
    assert not any("\u202f" in t or "\u00a0" in t for _, t in real.pairs)


def test_2_split_by_distinct_source(real):
    splits = tr.split_by_source(real.pairs, seed=0, max_source_words=10)
    parts = (splits.train, splits.validation, splits.test)
    # the data README: 157,920 pairs have at most 10 English words
    assert sum(map(len, parts)) == 157_920
    keys = [{tr.source_key(s) for s, _ in part} for part in parts]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    # about 5% of the distinct sentences each for validation and test
    distinct = sum(map(len, keys))
    assert abs(len(keys[2]) - 0.05 * distinct) <= 1 and abs(len(keys[1]) - 0.05 * distinct) <= 1
    refs = splits.test_references()
    assert sum(map(len, refs.values())) == len(splits.test)
    # every translation of a test sentence in the data is among its references
    some = next(s for s, r in refs.items() if len(r) > 2)
    assert sorted(refs[some]) == sorted(t for s, t in real.pairs if s == some)
    again = tr.split_by_source(real.pairs, seed=0, max_source_words=10)
    assert again == splits
    assert tr.split_by_source(real.pairs, seed=1, max_source_words=10).test != splits.test


def test_3_sources_differing_in_case_or_spaces_stay_together():
    pairs = [("Go.", "Va !"), ("go. ", "Allez !"), ("Run!", "Cours !"), ("Hi.", "Salut !")]
    pairs += [(f"Sentence {k}.", f"Phrase {k}.") for k in range(40)]
    for seed in range(10):
        splits = tr.split_by_source(pairs, seed=seed)
        sides = [
            name
            for name in ("train", "validation", "test")
            if any(s.lower().strip() == "go." for s, _ in getattr(splits, name))
        ]
        assert len(sides) == 1


def test_4_user_file_and_third_column(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text(
        "Hello.\tBonjour.\tCC-BY 2.0 (France) Attribution: tatoeba.org\n\nBye.\tSalut.\n"
    )
    assert tr.load_pairs(path).pairs == [("Hello.", "Bonjour."), ("Bye.", "Salut.")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Hello.\tBonjour.\nno tab here\n",
            "line 2 expected source<TAB>target, received 'no tab here' (no tab)",
        ),
        ("Hello.\t \n", "line 1 expected two sentences, its target is empty"),
        ("\n\n", "expected source<TAB>target lines, received none"),
    ],
)
def test_5_bad_lines_are_named(tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        tr.read_pairs(path)
    assert str(info.value) == f"{path}: {message}"


def test_6_not_utf8_and_zip_without_pairs(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("Caf\u00e9.\tCaf\u00e9.\n".encode("latin-1"))
    with pytest.raises(
        ValueError, match=r"expected UTF-8 text, received a byte b'\\xe9' at offset 3"
    ):
        tr.read_pairs(path)
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "nothing")
    with pytest.raises(ValueError, match=r"expected a zip holding fra-eng/fra\.txt"):
        tr.read_pairs(archive)


def test_7_split_arguments_checked():
    pairs = [(f"s{k}", f"t{k}") for k in range(10)]
    with pytest.raises(ValueError, match=r"`test` expected a fraction in \[0, 1\), received 1.5"):
        tr.split_by_source(pairs, test=1.5)
    with pytest.raises(ValueError, match=r"`validation \+ test` expected less than 1"):
        tr.split_by_source(pairs, validation=0.5, test=0.5)
    with pytest.raises(ValueError, match="at least 3 distinct source sentences"):
        tr.split_by_source(pairs[:2])
