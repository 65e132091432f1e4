"""keras-io example "Bidirectional LSTM on IMDB" (keras.io/examples/nlp/bidirectional_lstm_imdb,
Keras 3 version), with only its imports changed. The IMDb reviews are read from the shared data
folder (``RNNKIT_DATA_DIR``), as ``keras.datasets.imdb.load_data`` would download them.

Full size: ``python benchmarks/keras_io/bidirectional_lstm_imdb.py`` (25,000 reviews, 2 epochs).
"""

# The example's code as keras.io writes it (its style is kept, not ruff's):
# ruff: noqa: F401

import os

from _shared_data import shared_data

os.environ.setdefault("RNNKIT_DATA_DIR", shared_data(""))  # rnnkit: data (no download here)

import numpy as np

import rnnkit as keras  # was: import keras
from rnnkit import layers  # was: from keras import layers

max_features = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

(x_train, y_train), (x_val, y_val) = keras.datasets.imdb.load_data(num_words=max_features)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val))
