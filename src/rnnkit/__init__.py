"""rnnkit: recurrent neural networks written from their equations, with a Keras-style API."""

__version__ = "0.1.0"
