"""Fixtures of the lab tests: data read offline from the bundled sample, in a private cache."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture
def sample_only(tmp_path, monkeypatch):
    """A private, empty ``RNNKIT_HOME``, no ``RNNKIT_DATA_DIR``, no network: IMDb comes from
    the sample bundled with rnnkit (its warning silenced)."""
    from rnnkit.datasets import SampleDataWarning

    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "rnnkit_home"))
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        yield
