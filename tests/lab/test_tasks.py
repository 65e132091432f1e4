"""The lab's data generators, checked against what each task means (rnnkit.lab.tasks)."""

from __future__ import annotations

import re

import pytest
import torch

from rnnkit.lab import RecallAlphabet, adding_problem, imdb_distance, recall
from rnnkit.lab.tasks import with_filler


def test_01_adding_problem_target_is_the_sum_of_the_two_marked_numbers():
    x, y = adding_problem(64, 30, seed=3)
    assert x.shape == (64, 30, 2) and y.shape == (64, 1)
    values, marks = x[..., 0], x[..., 1]
    assert torch.equal(marks.sum(dim=1), torch.full((64,), 2.0))  # exactly two marks a row
    assert torch.equal(marks[:, :15].sum(dim=1), torch.ones(64))  # one in the first half
    for n in range(64):
        marked = values[n][marks[n] == 1.0]  # by hand, row by row
        assert y[n, 0].item() == pytest.approx(marked.sum().item(), abs=1e-6)
    assert bool(((values >= 0) & (values < 1)).all())


def test_02_adding_problem_is_reproducible_and_its_baseline_is_one_sixth():
    a, b = adding_problem(8, 10, seed=1), adding_problem(8, 10, seed=1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], adding_problem(8, 10, seed=2)[0])
    _, y = adding_problem(20_000, 10, seed=0)
    assert float(((y - 1) ** 2).mean()) == pytest.approx(1 / 6, abs=0.01)  # Var(U + U')


def test_03_recall_answer_is_the_first_token():
    alphabet = RecallAlphabet(keys=5, distractors=7)
    x, y = recall(100, 12, seed=4, alphabet=alphabet)
    assert x.shape == (100, 12) and x.dtype == torch.int64
    assert torch.equal(y, x[:, 0])
    assert bool((y < 5).all()) and len(set(y.tolist())) == 5
    middle = x[:, 1:-1]
    assert bool(((middle >= 5) & (middle < 12)).all())  # distractors: never a key
    assert bool((x[:, -1] == alphabet.query).all()) and alphabet.query == 12


def test_04_generators_check_their_arguments():
    with pytest.raises(
        ValueError, match=re.escape("adding_problem: `length` expected an integer >= 2, received 1")
    ):
        adding_problem(4, 1)
    with pytest.raises(ValueError, match=re.escape("recall: `n` expected")):
        recall(0, 5)


def test_05_with_filler_puts_the_review_first_and_filler_after():
    assert with_filler([7, 8, 9, 10], 3, 2, 99) == [7, 8, 9, 99, 99]
    assert with_filler([7], 3, 1, 99) == [0, 0, 7, 99]  # a short review is padded in front


def test_06_imdb_distance_from_the_bundled_sample(sample_only):
    from rnnkit.datasets import imdb

    (x, y), (xt, _), vocabulary = imdb_distance(
        7, review_len=20, num_words=500, n_train=30, n_test=10
    )
    assert x.shape == (30, 27) and xt.shape == (10, 27) and vocabulary == 501
    assert bool((x[:, 20:] == 500).all())  # the filler: a token no review uses
    assert bool((x[:, :20] < 500).all())
    (xa, ya), _ = imdb.load_data(num_words=500, seed=113)
    for n in range(30):  # the review's first words, then the filler; the label unchanged
        assert x[n].tolist() == with_filler(list(xa[n]), 20, 7, 500)
        assert y[n, 0].item() == float(ya[n])
