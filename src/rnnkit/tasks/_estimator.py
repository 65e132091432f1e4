"""scikit-learn's estimator protocol for rnnkit's task models, from their config dataclass.

A task model (``SentimentClassifier``, and every task that copies its scaffolding) holds its
settings in one :class:`~rnnkit.config.Config` dataclass. This mixin turns that dataclass into
scikit-learn's parameters: ``get_params`` lists its fields, ``set_params(epochs=5)`` replaces
them, and ``Model(epochs=5)`` / ``Model(config, epochs=5)`` build one, which is all
:func:`sklearn.base.clone`, ``cross_val_score``, ``GridSearchCV`` and pipelines need.
"""

from __future__ import annotations

import dataclasses

from .. import _validation as V
from ..config import Config


class ConfigEstimator:
    """Mixin: scikit-learn parameters are the fields of ``config_class``."""

    config_class: type[Config]

    def __init__(self, config: Config | None = None, **params):
        owner = type(self).__name__
        if config is not None and not isinstance(config, self.config_class):
            V.fail(owner, "config", f"a {self.config_class.__name__}", config, TypeError)
        self.config = config or self.config_class()
        if params:
            self.set_params(**params)

    def get_params(self, deep: bool = True) -> dict:
        """The config's fields, as scikit-learn's parameters."""
        return {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}

    def set_params(self, **params):
        """Replace config fields (``set_params(epochs=5)``); returns ``self``. An unknown name
        is scikit-learn's ``ValueError`` naming the valid ones."""
        valid = self.get_params()
        for name in params:
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )
        self.config = self.config.replace(**params)
        return self

    def __repr__(self) -> str:
        defaults = self.config_class()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if getattr(defaults, k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"
