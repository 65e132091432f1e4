"""The summary printer (rnnkit.models.summary): Keras's table, and its ASCII fallback."""

import io
import sys

from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.models import Sequential
from rnnkit.models.summary import format_shape, memory, print_summary


def seed_model():
    return Sequential([Embedding(10000, 128), LSTM(128), Dense(1, activation="sigmoid")])


# 1. A console that cannot encode the box-drawing characters gets the same table in ASCII.
#    (Before: the fallback's translation table had 16 characters for 17 and raised ValueError.)
def test_ascii_fallback_on_a_console_without_box_drawing(monkeypatch):
    lines = []
    seed_model().summary(print_fn=lines.append)
    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buffer, encoding="ascii"))
    seed_model().summary()
    sys.stdout.flush()
    printed = buffer.getvalue().decode("ascii").splitlines()
    assert printed[1] == "+" + "+".join("=" * (w + 2) for w in (31, 22, 13)) + "+"
    assert (
        printed[2] == "| Layer (type)                    | Output Shape           |       Param # |"
    )
    assert printed[5] == "+" + "+".join("-" * (w + 2) for w in (31, 22, 13)) + "+"
    assert len(printed) == len(lines)
    assert [len(a) for a in printed[1:]] == [len(b) for b in lines[1:]]  # names differ


# 2. line_length widens the first column, as Keras's.
def test_line_length_widens_the_first_column():
    lines = []
    print_summary(seed_model(), line_length=100, print_fn=lines.append)
    assert len(lines[1]) == 100  # the first column: 100 - 22 - 13 - 10 = 55 wide
    assert lines[4].startswith("│ embedding (Embedding)" + " " * (55 - 21) + " │ (None, None, 128)")


# 3. The helpers.
def test_shapes_and_sizes():
    assert format_shape((None, None, 128)) == "(None, None, 128)"
    assert format_shape([(None, 8), (None, 8)]) == "[(None, 8), (None, 8)]"
    assert memory(0) == "0.00 B" and memory(1411713 * 4) == "5.39 MB" and memory(2048) == "2.00 KB"
