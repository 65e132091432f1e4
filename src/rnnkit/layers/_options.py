"""Keras's per-weight options on a layer: ``<weight>_regularizer``, ``<weight>_constraint`` and
``activity_regularizer``.

A layer lists the Keras names of its weights in ``KERAS_WEIGHTS`` (``(("kernel", "W"), ("bias",
"b"))``: Keras name, rnnkit attribute); :class:`WeightOptions` then

* stores ``kernel_regularizer``, ``bias_constraint``, ... (:meth:`_init_options`) and writes them
  into the layer's config (:meth:`_options_config`);
* gives the layer's penalties, Keras's ``layer.losses`` (:meth:`penalties`): the activity
  penalties of the last call (:meth:`_record_activity`), then each regularizer on its weight in
  Keras's layout;
* projects the constrained weights (:meth:`apply_constraints`, called by ``fit`` after each
  optimizer step through :func:`rnnkit.constraints.apply`).

A layer whose Keras weight is not one rnnkit tensor (the GRU's ``(2, 3H)`` bias) overrides
:meth:`keras_weight` and :meth:`_set_keras_weight`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import constraints as C
from .. import regularizers as R


class WeightOptions:
    KERAS_WEIGHTS: tuple[tuple[str, str], ...] = ()  # (Keras name, attribute)

    def _init_options(self, owner: str, activity_regularizer=None, **options) -> None:
        """Store ``activity_regularizer`` and each ``<weight>_regularizer`` /
        ``<weight>_constraint`` of ``options``, checked (None: none)."""
        for key, value in options.items():
            get = R.argument if key.endswith("_regularizer") else C.argument
            setattr(self, key, get(owner, key, value))
        self.activity_regularizer = R.argument(owner, "activity_regularizer", activity_regularizer)
        self._activity_losses: list[Tensor] = []

    def _options_config(self, config: dict) -> dict:
        """``config`` with every regularizer and constraint serialized (Keras's layout)."""
        for key in list(config):
            if key.endswith("_regularizer"):
                config[key] = R.config_of(getattr(self, key))
            elif key.endswith("_constraint"):
                config[key] = C.config_of(getattr(self, key))
        return config

    # -- the weights in Keras's layout ----------------------------------------------------------
    def keras_weight(self, name: str) -> Tensor | None:
        """Keras's weight ``name`` ('kernel', 'bias', ...) as a tensor (None: absent)."""
        return getattr(self, dict(self.KERAS_WEIGHTS)[name], None)

    def keras_variable(self, name: str):
        """Keras's weight attribute (``layer.kernel``, ``layer.embeddings``): rnnkit's parameter,
        carrying Keras's ``Variable.constraint`` (the layer's ``<name>_constraint``, or None) as
        an attribute. (Read through the Keras name only; the layer's own code uses its tensor.)"""
        param = getattr(self, dict(self.KERAS_WEIGHTS)[name], None)
        if param is not None:
            param.constraint = getattr(self, name + "_constraint", None)
        return param

    def _set_keras_weight(self, name: str, value: Tensor) -> None:
        getattr(self, dict(self.KERAS_WEIGHTS)[name]).copy_(value)

    # -- regularizers ---------------------------------------------------------------------------
    def _record_activity(self, outputs) -> None:
        """Keep ``activity_regularizer(y) / batch_size`` of each output ``y`` of this call (as
        Keras, the penalty of the last call only)."""
        if self.activity_regularizer is None:
            return
        tensors = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        self._activity_losses = [
            self.activity_regularizer(y) / y.shape[0]
            for y in tensors
            if isinstance(y, Tensor) and y.dim() > 0
        ]

    def penalties(self) -> list[Tensor]:
        """Keras's ``layer.losses``: the activity penalties of the last call, then each weight
        regularizer on its (current) weight."""
        out = list(self._activity_losses) if self.activity_regularizer is not None else []
        if not getattr(self, "built", False):
            return out
        for name, _ in self.KERAS_WEIGHTS:
            regularizer = getattr(self, name + "_regularizer", None)
            if regularizer is not None and (w := self.keras_weight(name)) is not None:
                out.append(regularizer(w))
        return out

    @property
    def losses(self) -> list[Tensor]:
        """The penalties this layer adds to the training loss (:meth:`penalties`)."""
        return self.penalties()

    # -- constraints ----------------------------------------------------------------------------
    def apply_constraints(self) -> None:
        """Replace each constrained weight by its projection (Keras's layout in and out)."""
        todo = [
            (name, constraint)
            for name, _ in self.KERAS_WEIGHTS
            if (constraint := getattr(self, name + "_constraint", None)) is not None
        ]
        if not todo or not getattr(self, "built", False):
            return
        with torch.no_grad():
            for name, constraint in todo:
                w = self.keras_weight(name)
                if w is not None:
                    self._set_keras_weight(name, torch.as_tensor(constraint(w.detach())))
