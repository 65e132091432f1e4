"""Language models from raw text: next-word and next-character prediction, text generation and
perplexity, with a Kneser-Ney n-gram baseline.

The network is ``Embedding -> LSTM x layers (return_sequences) -> Dense(vocabulary)`` trained
with truncated back-propagation through time, the LSTM state carried from batch to batch and
detached (Zaremba et al. 2014). One module per job: :mod:`.config` (the settings, from which the
CLI options are generated), :mod:`.model` (the network), :mod:`.language_model` (training,
prediction, sampling, perplexity, persistence), :mod:`.kneser_ney` (the baseline),
:mod:`.plots` (figures).

>>> from rnnkit.datasets import load_ptb
>>> from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig
>>> lm = LanguageModel(LanguageModelConfig(minutes=5)).fit(load_ptb())  # doctest: +SKIP
>>> lm.next_words("i grew up in tokyo . therefore i speak fluent", 5)  # doctest: +SKIP
"""

from ..._lazy import lazy
from .config import LanguageModelConfig

# The rest is imported on first use (PEP 562), so that the CLI starts without importing torch.
_LAZY = {
    "KneserNey": ".kneser_ney",
    "LanguageModel": ".language_model",
    "LanguageModelNet": ".model",
    "SAVED_NAMES": ".language_model",
    "TASK_FILE": ".language_model",
    "is_saved_model": ".language_model",
    "plot_perplexity": ".plots",
}


__getattr__, __dir__ = lazy(__name__, _LAZY)


__all__ = [
    "SAVED_NAMES",
    "TASK_FILE",
    "KneserNey",
    "LanguageModel",
    "LanguageModelConfig",
    "LanguageModelNet",
    "is_saved_model",
    "plot_perplexity",
]
