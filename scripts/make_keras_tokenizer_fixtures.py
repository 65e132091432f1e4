"""Regenerate tests/text/fixtures/keras_tokenizer.json: Keras 3's legacy Tokenizer
(``keras.src.legacy.preprocessing.text``) on small texts, for rnnkit.preprocessing.text.

    KERAS_BACKEND=torch /work/kvenv/bin/python scripts/make_keras_tokenizer_fixtures.py
"""

import json
from pathlib import Path

from keras.src.legacy.preprocessing.text import Tokenizer, text_to_word_sequence

OUT = Path(__file__).resolve().parents[1] / "tests" / "text" / "fixtures" / "keras_tokenizer.json"

TEXTS = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "A cat and a dog: friends? Maybe; maybe not...",
    "It's the DOG's bone, isn't it?\tYes\nit is",
]
PROBE = ["the cat and the bird", "unknown words only", "", "Dog dog DOG"]
SETTINGS = {
    "default": {},
    "num_words=5": {"num_words": 5},
    "num_words=5,oov": {"num_words": 5, "oov_token": "<OOV>"},
    "oov": {"oov_token": "<OOV>"},
    "lower=False": {"lower": False},
    "char_level": {"char_level": True, "num_words": 10},
    "filters='',split=','": {"filters": "", "split": ","},
}


def run(settings):
    t = Tokenizer(**settings)
    t.fit_on_texts(TEXTS)
    seqs = t.texts_to_sequences(PROBE + TEXTS)
    return {
        "settings": settings,
        "word_index": t.word_index,
        "word_counts": dict(t.word_counts),
        "index_word": {str(k): v for k, v in t.index_word.items()},
        "document_count": t.document_count,
        "sequences": seqs,
        "texts": t.sequences_to_texts(seqs + [[1, 2, 99, 3]]),
        "matrix": {
            m: t.texts_to_matrix(PROBE + TEXTS, mode=m).tolist()
            for m in ("binary", "count", "tfidf", "freq")
        },
        "json": t.to_json(),
    }


if __name__ == "__main__":
    data = {
        "texts": TEXTS,
        "probe": PROBE,
        "words": [text_to_word_sequence(t) for t in TEXTS],
        "cases": {name: run(s) for name, s in SETTINGS.items()},
    }
    OUT.write_text(json.dumps(data) + "\n")
    print(OUT, OUT.stat().st_size)
