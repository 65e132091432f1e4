"""English -> French translation (issue #15): data from :mod:`rnnkit.datasets.translation`,
word tokens (:mod:`.text`), BLEU and chrF with several references (:mod:`.scoring`, on
sacrebleu) and the floors every model is reported beside (:mod:`.baselines`: the source copied,
and a word-by-word dictionary learned from the training pairs).

Names are imported on first use, so that ``rnnkit`` starts without sacrebleu.
"""

from ..._lazy import lazy

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


__getattr__, __dir__ = lazy(__name__, _LAZY)
