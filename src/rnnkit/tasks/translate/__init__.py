"""English -> French translation (issue #15): data from :mod:`rnnkit.datasets.translation`,
word tokens (:mod:`.text`), BLEU and chrF with several references (:mod:`.scoring`, on
sacrebleu) and the floors every model is reported beside (:mod:`.baselines`: the source copied,
and a word-by-word dictionary learned from the training pairs).

Names are imported on first use, so that ``rnnkit`` starts without sacrebleu.
"""

from importlib import import_module

_LAZY = {
    "tokenize": ".text",
    "detokenize": ".text",
    "score": ".scoring",
    "CopyBaseline": ".baselines",
    "DictionaryBaseline": ".baselines",
    "TranslateConfig": ".config",
    "Translator": ".translator",
    "TokenVocab": ".vocab",
    "plot_attention": ".plots",
    "SAVED_NAMES": ".translator",
    "TASK_FILE": ".translator",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
