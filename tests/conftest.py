"""Shared fixtures: where the real data sets lie (``../shared/data`` beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Autotuning times real calls: results would depend on the machine's load. The suite runs the
# fixed rules; tests/kernels/test_autotune.py switches it on with a fake clock.
os.environ["RNNKIT_AUTOTUNE"] = "0"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not found at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_names_and_seed():
    """Every test starts with Keras-style names from zero and a fixed seed."""
    from rnnkit.utils import clear_session

    clear_session()
    torch.manual_seed(0)
    yield


# Property-based tests (Hypothesis): a small sample in CI, >= 10,000 inputs per target under
# the "fuzz" profile (benchmarks/fuzz.py runs it: HYPOTHESIS_PROFILE=fuzz).
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile(
        "fuzz", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover - the dev extra installs it
    pass
