"""Port of keras-team/keras keras/src/utils/sequence_utils_test.py (imports and harness only:
``self.assert*`` as plain assertions)."""

import numpy as np
import pytest
from keras_harness import assert_all_close

from rnnkit.preprocessing.sequence import pad_sequences


def assert_all_equal(actual, expected):
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


def test_pad_sequences():
    a = [[1], [1, 2], [1, 2, 3]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre")
    assert_all_close(b, [[0, 0, 1], [0, 1, 2], [1, 2, 3]])
    b = pad_sequences(a, maxlen=3, padding="post")
    assert_all_close(b, [[1, 0, 0], [1, 2, 0], [1, 2, 3]])

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre")
    assert_all_close(b, [[0, 1], [1, 2], [2, 3]])
    b = pad_sequences(a, maxlen=2, truncating="post")
    assert_all_close(b, [[0, 1], [1, 2], [1, 2]])

    # test value
    b = pad_sequences(a, maxlen=3, value=1)
    assert_all_close(b, [[1, 1, 1], [1, 1, 2], [1, 2, 3]])


def test_pad_sequences_float():
    a = [[1.2], [1.2, 2.3], [1.2, 2.3, 3.4]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre", dtype="float32")
    assert_all_close(b, [[0, 0, 1.2], [0, 1.2, 2.3], [1.2, 2.3, 3.4]])
    b = pad_sequences(a, maxlen=3, padding="post", dtype="float32")
    assert_all_close(b, [[1.2, 0, 0], [1.2, 2.3, 0], [1.2, 2.3, 3.4]])

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre", dtype="float32")
    assert_all_close(b, [[0, 1.2], [1.2, 2.3], [2.3, 3.4]])
    b = pad_sequences(a, maxlen=2, truncating="post", dtype="float32")
    assert_all_close(b, [[0, 1.2], [1.2, 2.3], [1.2, 2.3]])

    # test value
    b = pad_sequences(a, maxlen=3, value=1, dtype="float32")
    assert_all_close(b, [[1, 1, 1.2], [1, 1.2, 2.3], [1.2, 2.3, 3.4]])


def test_pad_sequences_str():
    a = [["1"], ["1", "2"], ["1", "2", "3"]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre", value="pad", dtype=object)
    assert_all_equal(b, [["pad", "pad", "1"], ["pad", "1", "2"], ["1", "2", "3"]])
    b = pad_sequences(a, maxlen=3, padding="post", value="pad", dtype="<U3")
    assert_all_equal(b, [["1", "pad", "pad"], ["1", "2", "pad"], ["1", "2", "3"]])

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre", value="pad", dtype=object)
    assert_all_equal(b, [["pad", "1"], ["1", "2"], ["2", "3"]])
    b = pad_sequences(a, maxlen=2, truncating="post", value="pad", dtype="<U3")
    assert_all_equal(b, [["pad", "1"], ["1", "2"], ["1", "2"]])

    # Keras's text: "`dtype` int32 is not compatible with `value`'s type"; rnnkit's
    # argument / expected / received message (the harness's rule, README):
    with pytest.raises(ValueError, match="`value` expected a value dtype 'int32' can hold"):
        pad_sequences(a, maxlen=2, truncating="post", value="pad")


def test_pad_sequences_vector():
    a = [[[1, 1]], [[2, 1], [2, 2]], [[3, 1], [3, 2], [3, 3]]]

    # test padding
    b = pad_sequences(a, maxlen=3, padding="pre")
    assert_all_close(
        b,
        [
            [[0, 0], [0, 0], [1, 1]],
            [[0, 0], [2, 1], [2, 2]],
            [[3, 1], [3, 2], [3, 3]],
        ],
    )
    b = pad_sequences(a, maxlen=3, padding="post")
    assert_all_close(
        b,
        [
            [[1, 1], [0, 0], [0, 0]],
            [[2, 1], [2, 2], [0, 0]],
            [[3, 1], [3, 2], [3, 3]],
        ],
    )

    # test truncating
    b = pad_sequences(a, maxlen=2, truncating="pre")
    assert_all_close(b, [[[0, 0], [1, 1]], [[2, 1], [2, 2]], [[3, 2], [3, 3]]])

    b = pad_sequences(a, maxlen=2, truncating="post")
    assert_all_close(b, [[[0, 0], [1, 1]], [[2, 1], [2, 2]], [[3, 1], [3, 2]]])

    # test value
    b = pad_sequences(a, maxlen=3, value=1)
    assert_all_close(
        b,
        [
            [[1, 1], [1, 1], [1, 1]],
            [[1, 1], [2, 1], [2, 2]],
            [[3, 1], [3, 2], [3, 3]],
        ],
    )
