"""rnnkit.tasks.translate: word tokens, BLEU / chrF with several references (sacrebleu), and
the copy and dictionary baselines (by hand on toy pairs, and their floor on real data)."""

from __future__ import annotations

import pytest
import sacrebleu

from rnnkit.tasks.translate import CopyBaseline, DictionaryBaseline, detokenize, score, tokenize


def test_1_tokens_and_back():
    assert tokenize("J’ai payé.") == ["j'", "ai", "payé", "."]
    assert tokenize("Qu'est-ce que c'est ?") == ["qu'", "est", "-", "ce", "que", "c'", "est", "?"]
    assert detokenize(["j'", "ai", "payé", "."]) == "j'ai payé."
    assert detokenize(["qu'", "est", "-", "ce", "que", "c'", "est", "?"]) == "qu'est-ce que c'est?"


def test_2_any_reference_counts():
    refs = [["Tu dois être juste avec eux !", "Vous devez être justes avec eux !"], ["Va-t'en !"]]
    # each hypothesis is the second (or only) reference of its sentence: a perfect score
    perfect = score(["Vous devez être justes avec eux !", "Va-t'en !"], refs)
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["chrf"] == pytest.approx(100.0)
    one = score(["Vous devez être justes avec eux !", "Va-t'en !"], [refs[0][:1], refs[1]])
    assert one["bleu"] < 60
    # with one reference each, the figure is sacrebleu's own
    hyp, ref = ["le chat est sur le tapis", "il pleut"], ["le chat est sur un tapis", "il pleut"]
    ours = score(hyp, [[r] for r in ref], lowercase=False)
    assert ours["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyp, [ref]).score)
    assert ours["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyp, [ref]).score)
    assert "nrefs:1" in ours["bleu_signature"] and "case:mixed" in ours["bleu_signature"]
    assert "nrefs:var" in score(["Va !", "x"], refs[::-1])["bleu_signature"]


def test_3_score_checks_its_arguments():
    with pytest.raises(
        ValueError, match=r"score: `references` expected one list per hypothesis \(2\)"
    ):
        score(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match=r"`references\[0\]` expected a non-empty list of strings"):
        score(["a"], [[]])


def test_4_dictionary_by_hand():
    pairs = [("the cat", "le chat"), ("the dog", "le chien"), ("a cat", "un chat")]
    d = DictionaryBaseline(min_count=1).fit(pairs)
    # Dice: the/le 2*2/(2+2) = 1; cat/chat 1; dog/chien 2*1/(1+1) = 1 > dog/le 2*1/(1+2)
    assert d.dictionary_["the"] == "le" and d.dictionary_["dog"] == "chien"
    assert d.dictionary_["cat"] == "chat" and d.dictionary_["a"] == "un"
    assert d.translate(["The dog, a cat!", "zebra"]) == ["le chien, un chat!", "zebra"]
    assert DictionaryBaseline(min_count=2).fit(pairs).dictionary_ == {"the": "le", "cat": "chat"}
    with pytest.raises(RuntimeError, match="call fit"):
        DictionaryBaseline().translate(["x"])


def test_5_floors_on_real_pairs(shared_data, tmp_path, monkeypatch):
    from rnnkit.datasets import translation as tr

    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path))
    pairs = tr.load_pairs(shared_data).pairs
    splits = tr.split_by_source(pairs[::8], seed=0, max_source_words=10)  # 1 in 8, ~20k pairs
    refs = splits.test_references()
    sources = list(refs)
    references = [refs[s] for s in sources]
    copy = score(CopyBaseline().translate(sources), references)
    words = score(DictionaryBaseline().fit(splits.train).translate(sources), references)
    # copying English scores almost nothing; a word-by-word dictionary is a real floor
    assert copy["bleu"] < 2 < words["bleu"] and copy["chrf"] < words["chrf"]
