"""``rnnkit serve``: the HTTP API and the page (see :mod:`rnnkit.web.app`)."""

from .app import Batcher, Limits, create_app, find_models

__all__ = ["Batcher", "Limits", "create_app", "find_models"]
