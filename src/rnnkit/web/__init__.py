"""``rnnkit serve``: the HTTP API and the page (see :mod:`rnnkit.web.app`)."""

from .app import Limits, create_app
from .batcher import Batcher
from .models import LoadedModel, find_models

__all__ = ["Batcher", "Limits", "LoadedModel", "create_app", "find_models"]
