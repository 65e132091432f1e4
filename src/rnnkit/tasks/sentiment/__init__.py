"""IMDb-style sentiment analysis from raw text: vocabulary, padding, model, training, metrics.

The default configuration is the seed's model: the 10,000 most frequent words, reviews padded
or truncated to 200 words (at the front, as ``keras.utils.pad_sequences``), then
``Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid)``, binary cross-entropy, Adam.

One module per job: :mod:`.config` (the settings, from which the CLI options are generated),
:mod:`.model` (the network), :mod:`.classifier` (training, the n-gram hybrid, prediction,
persistence), :mod:`.bag_of_words` (the scikit-learn baselines and their persistence),
:mod:`.plots` (figures; the history plot and the metrics are :mod:`rnnkit.reporting`'s).

>>> from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig
>>> clf = SentimentClassifier(SentimentConfig(epochs=1)).fit(texts, labels)  # doctest: +SKIP
>>> clf.predict_proba(["A wonderful, moving film."])  # doctest: +SKIP
array([0.93], dtype=float32)
"""

from ...reporting import classification_metrics
from .bag_of_words import BAG_KINDS, BagOfWords, bag_of_words_baseline
from .classifier import SAVED_NAMES, TASK_FILE, SentimentClassifier
from .config import SentimentConfig
from .model import CELLS, build_model
from .plots import plot_history, plot_trajectory

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
