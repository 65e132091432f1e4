"""``keras.preprocessing.text``: Keras's legacy :class:`Tokenizer` (see
:mod:`rnnkit.text.legacy`)."""

from ..text.legacy import Tokenizer, text_to_word_sequence, tokenizer_from_json

__all__ = ["Tokenizer", "text_to_word_sequence", "tokenizer_from_json"]
