"""IMDb-style sentiment analysis from raw text: vocabulary, padding, model, training, metrics.

The seed's model is ``SentimentConfig(recipe='seed')``: the 10,000 most frequent words, reviews
padded or truncated to 200 words (at the front, as ``keras.utils.pad_sequences``), then
``Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid)``, binary cross-entropy, Adam. The
default recipe trains the same layers over 500 words with dropout, target replication
(:mod:`.replication`) and a 6-minute budget; ``recipe='best'`` is a bidirectional LSTM with max
and mean pooling over time (:data:`.config.RECIPE_TABLE`).

One module per job: :mod:`.config` (the settings, from which the CLI options are generated),
:mod:`.model` (the network), :mod:`.classifier` (training, the n-gram hybrid, prediction,
persistence), :mod:`.bag_of_words` (the scikit-learn baselines and their persistence),
:mod:`.plots` (figures; the history plot and the metrics are :mod:`rnnkit.reporting`'s),
:mod:`.replication` (target replication during training).

>>> from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig
>>> clf = SentimentClassifier(SentimentConfig(epochs=1)).fit(texts, labels)  # doctest: +SKIP
>>> clf.positive_probability(["A wonderful, moving film."])  # doctest: +SKIP
array([0.93], dtype=float32)
"""

from ..._lazy import lazy
from .config import SentimentConfig

# The rest is imported on first use (PEP 562), so that the CLI, which reads SentimentConfig to
# build its options, starts without importing torch and scikit-learn.
_LAZY = {
    "classification_metrics": "...reporting",
    "BAG_KINDS": ".bag_of_words",
    "BagOfWords": ".bag_of_words",
    "bag_of_words_baseline": ".bag_of_words",
    "SAVED_NAMES": ".classifier",
    "TASK_FILE": ".classifier",
    "SentimentClassifier": ".classifier",
    "CELLS": ".model",
    "build_model": ".model",
    "plot_history": ".plots",
    "plot_trajectory": ".plots",
}


__getattr__, __dir__ = lazy(__name__, _LAZY)


__all__ = [
    "BAG_KINDS",
    "CELLS",
    "SAVED_NAMES",
    "TASK_FILE",
    "BagOfWords",
    "SentimentClassifier",
    "SentimentConfig",
    "bag_of_words_baseline",
    "build_model",
    "classification_metrics",
    "plot_history",
    "plot_trajectory",
]
