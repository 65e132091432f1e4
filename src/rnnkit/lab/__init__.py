"""The lab: the vanishing gradient measured and shown, and where a simple RNN forgets what an
LSTM remembers.

* :func:`record_gradients` (:mod:`.readout`): dLoss/dh_t, dLoss/dc_t, dLoss/dx_t of every step
  from the layers' own backward pass.
"""

from .readout import Record, Recording, record_gradients

__all__ = ["Record", "Recording", "record_gradients"]
