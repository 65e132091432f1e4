"""The lab: the vanishing gradient measured and shown, and where a simple RNN forgets what an
LSTM remembers (``rnnkit lab gradients``, ``rnnkit lab memory``).

* :func:`record_gradients` (:mod:`.readout`): dLoss/dh_t, dLoss/dc_t, dLoss/dx_t of every step
  from the layers' own backward pass (the compiled LSTM/GRU loops included).
* :func:`gradient_profiles` (:mod:`.gradients`): per cell, the readout's norm against the
  distance from the loss, its decay per step, and the one-step Jacobian's spectral norm, at
  initialisation and after a short training.
* :func:`memory_experiment` (:mod:`.memory`): each cell trained on a long-dependency task
  (:mod:`.tasks`: the adding problem, recall, IMDb reviews followed by filler) at each length.
* :func:`plot_gradients`, :func:`plot_memory` (:mod:`.plots`): the figures; every report also
  has ``to_dict()`` (the JSON the CLI writes).
"""

from .._lazy import lazy

# imported on first use, so that `rnnkit lab --help` starts without torch
_LAZY = {
    "CellSpec": ".cells",
    "specs": ".cells",
    "GradientReport": ".gradients",
    "Profile": ".gradients",
    "gradient_profiles": ".gradients",
    "MemoryReport": ".memory",
    "MemoryRun": ".memory",
    "memory_experiment": ".memory",
    "plot_gradients": ".plots",
    "plot_memory": ".plots",
    "Record": ".readout",
    "Recording": ".readout",
    "record_gradients": ".readout",
    "RecallAlphabet": ".tasks",
    "adding_problem": ".tasks",
    "imdb_distance": ".tasks",
    "recall": ".tasks",
}
__getattr__, __dir__ = lazy(__name__, _LAZY)

__all__ = [
    "CellSpec",
    "GradientReport",
    "MemoryReport",
    "MemoryRun",
    "Profile",
    "RecallAlphabet",
    "Record",
    "Recording",
    "adding_problem",
    "gradient_profiles",
    "imdb_distance",
    "memory_experiment",
    "plot_gradients",
    "plot_memory",
    "recall",
    "record_gradients",
    "specs",
]
