"""Keras's import path ``keras.optimizers``: the optimizers of :mod:`rnnkit.models.optimizers`.

``keras.optimizers.Adam(learning_rate=1e-3)``, ``RMSprop(1e-3)``, ``SGD(0.01, momentum=0.9)``,
and ``get(name)``.
"""

from .models.optimizers import SGD, Adam, Optimizer, RMSprop, get

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop", "get"]
