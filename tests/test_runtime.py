"""The tuned runtime: each part on by default, each one can be turned off."""

import sys

import pytest
import torch

from rnnkit import runtime
from rnnkit.layers import LSTM, Dense
from rnnkit.models import Sequential
from rnnkit.models.optimizers import Adam


@pytest.fixture
def restore_settings():
    saved = (runtime.settings.malloc, runtime.settings.fused_optimizer)
    yield
    runtime.configure(*saved)


def test_adam_is_fused_by_default_and_can_be_turned_off(restore_settings):
    model = Sequential([LSTM(4, input_shape=(None, 3)), Dense(1)])
    runtime.configure(fused_optimizer=True)
    assert Adam().build(model.parameters()).defaults["fused"] is True
    runtime.configure(fused_optimizer=False)
    assert not Adam().build(model.parameters()).defaults["fused"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_allocator_is_tuned_on_linux(restore_settings):
    runtime.configure(malloc=True)
    assert runtime.tune_allocator() is True
    # Still correct afterwards: allocations of every size work.
    assert torch.ones(1 << 22).sum().item() == 1 << 22
