"""Text preprocessing: tokenisation, vocabularies and sequence padding.

This subpackage depends on numpy only.
"""

from .sequence import pad_sequences
from .tokenizer import KERAS_FILTERS, Tokenizer, tokenize
from .vocab import TokenVocabulary, Vocabulary

__all__ = [
    "KERAS_FILTERS",
    "TokenVocabulary",
    "Tokenizer",
    "Vocabulary",
    "pad_sequences",
    "tokenize",
]
