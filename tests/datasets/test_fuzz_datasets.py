"""Property-based tests (Hypothesis) of the data-set arguments (issue #11, item 8).

Every call either returns Keras-shaped data or raises one of the documented errors with the
package's message format; nothing else. The data is the bundled sample (the full data set is
not parsed here), so the 'ci' profile (200 examples per test) runs in seconds; the 'fuzz'
profile (``HYPOTHESIS_PROFILE=fuzz``) runs 10,000.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.datasets import CorruptDatasetError, DatasetNotFoundError, SampleDataWarning, imdb

# The autouse fixture of tests/datasets/conftest.py (private cache, offline) is function-scoped;
# it sets the same environment for every example, which is what these tests want.
_settings = settings(
    suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture]
)

ARGUMENT_ERROR = re.compile(r"imdb\.load_(data|texts): `[a-z_]+` expected .+, received .+\.")
MAXLEN_ERROR = re.compile(
    r"After filtering for sequences shorter than maxlen=\d+, no sequence was kept\. "
    r"Increase maxlen\."
)

# Mostly small valid values (so that the data path runs), with every kind of bad value mixed in.
small = st.integers(min_value=0, max_value=12_000)
anything = st.one_of(
    st.none(),
    small,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.builds(np.int64, small),
    st.builds(np.int32, st.integers(min_value=-5, max_value=5)),
    st.lists(small, max_size=2),
)


def call(fn, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        return fn(**kwargs)


@_settings
@given(
    num_words=st.one_of(small, anything),
    skip_top=st.one_of(st.integers(0, 40), anything),
    maxlen=st.one_of(st.none(), st.integers(0, 400), anything),
    seed=st.one_of(small, anything),
    start_char=st.one_of(st.integers(0, 5), st.none(), anything),
    oov_char=st.one_of(st.integers(0, 5), st.none(), anything),
    index_from=st.one_of(st.integers(0, 10), anything),
)
def test_load_data_arguments(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from):
    kwargs = dict(
        num_words=num_words,
        skip_top=skip_top,
        maxlen=maxlen,
        seed=seed,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
    )
    try:
        (x_train, y_train), (x_test, y_test) = call(imdb.load_data, **kwargs)
    except (TypeError, ValueError) as exc:
        assert ARGUMENT_ERROR.fullmatch(str(exc)) or MAXLEN_ERROR.fullmatch(str(exc)), str(exc)
        return
    for x, y in ((x_train, y_train), (x_test, y_test)):
        assert x.dtype == object and y.dtype == np.int64 and len(x) == len(y) > 0
        assert set(np.unique(y)) <= {0, 1}
        for sequence in x[:50]:
            assert isinstance(sequence, list)
            assert all(type(w) is int for w in sequence)
            if maxlen:
                # sequences are dropped, not cut: the kept ones (start marker included) are short
                assert len(sequence) < maxlen
            if num_words:
                assert all(w < num_words or w == oov_char for w in sequence)
            assert all(w >= skip_top or w == oov_char for w in sequence)


@_settings
@given(seed=anything, allow_sample=st.one_of(st.booleans(), anything))
def test_load_texts_arguments(seed, allow_sample):
    try:
        data = call(imdb.load_texts, seed=seed, allow_sample=allow_sample)
    except (TypeError, ValueError) as exc:
        assert ARGUMENT_ERROR.fullmatch(str(exc)), str(exc)
        return
    except DatasetNotFoundError:
        assert allow_sample is False  # the only documented way to refuse the sample here
        return
    assert data.source == "sample"
    assert sorted(data.train.ids.tolist()) == sorted(imdb._read_sample()["train"]["ids"])


@_settings
@given(data_dir=st.one_of(st.text(max_size=300), st.binary(max_size=20), anything))
def test_data_dir_argument(data_dir):
    try:
        call(imdb.load_texts, data_dir=data_dir)
    except (TypeError, ValueError) as exc:
        assert ARGUMENT_ERROR.fullmatch(str(exc)), str(exc)
    except DatasetNotFoundError as exc:
        assert "data_dir=" in str(exc)
    except CorruptDatasetError as exc:  # a path that names some other file (e.g. README.md)
        assert " is damaged: " in str(exc)
