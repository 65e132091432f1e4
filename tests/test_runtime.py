"""The tuned runtime: each part on by default, each one can be turned off."""

import ctypes
import ctypes.util
import json
import os
import subprocess
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


class FakeLibc:
    """Stands in for glibc: records each ``mallopt(param, value)`` and answers ``ok``."""

    def __init__(self, ok=1):
        self.calls, self.ok = [], ok

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.ok


@pytest.fixture
def fake_libc(monkeypatch, restore_settings):
    """tune_allocator with glibc replaced by a recorder, as if the process were fresh."""
    libc = FakeLibc()
    monkeypatch.setattr(runtime, "_malloc_done", False)
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    monkeypatch.setattr(runtime.ctypes, "CDLL", lambda name: libc)
    runtime.configure(malloc=True)
    return libc


M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's malloc.h


def test_tune_allocator_sets_the_documented_thresholds_once(fake_libc):
    assert runtime.tune_allocator() is True
    assert fake_libc.calls == [
        (M_MMAP_THRESHOLD, 1 << 30),  # buffers up to 1 GiB come from the heap, not mmap
        (M_TRIM_THRESHOLD, 1 << 30),  # and the heap is not returned below 1 GiB free
        (M_TOP_PAD, 64 << 20),  # it grows 64 MiB at a time
    ]
    assert runtime.tune_allocator() is True
    assert len(fake_libc.calls) == 3  # once per process


def test_tune_allocator_reports_a_refused_setting_and_tries_again(fake_libc):
    fake_libc.ok = 0
    assert runtime.tune_allocator() is False
    fake_libc.ok = 1
    assert runtime.tune_allocator() is True
    assert len(fake_libc.calls) == 6


def test_tune_allocator_does_nothing_when_turned_off_or_not_glibc(fake_libc, monkeypatch):
    runtime.configure(malloc=False)
    assert runtime.tune_allocator() is False
    runtime.configure(malloc=True)
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert runtime.tune_allocator() is False
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    monkeypatch.setattr(runtime.ctypes, "CDLL", lambda name: object())  # musl: no mallopt
    assert runtime.tune_allocator() is False
    assert fake_libc.calls == []


# What the tuning is for, observed in a fresh process through glibc's own counters
# (mallinfo2: `hblkhd` = bytes in mmapped blocks, `arena` = bytes of heap): a 64 MiB buffer,
# above glibc's largest default mmap threshold (32 MiB), is mmapped and unmapped on free
# before tuning; after it, it comes from the heap and stays there when freed.
ALLOCATOR_PROBE = """
import ctypes, ctypes.util, json

class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def big_buffer():
    before = libc.mallinfo2()
    p = libc.malloc(64 << 20)
    during = libc.mallinfo2()
    libc.free(p)
    after = libc.mallinfo2()
    return {"mmapped": during.hblkhd - before.hblkhd,
            "heap_grew": during.arena - before.arena,
            "heap_kept": after.arena - before.arena}

out = {"before": big_buffer()}
from rnnkit import runtime
out["applied"] = runtime.tune_allocator()
out["after"] = big_buffer()
print(json.dumps(out))
"""


def probe_allocator(tuned_runtime="1"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["RNNKIT_TUNED_RUNTIME"] = tuned_runtime
    done = subprocess.run(
        [sys.executable, "-c", ALLOCATOR_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def has_mallinfo2():
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallinfo2")
    except OSError:
        return False


needs_glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not has_mallinfo2(),
    reason="observes glibc >= 2.33's mallinfo2",
)
MiB = 1 << 20


@needs_glibc
def test_large_buffers_stay_in_the_heap_once_tuned():
    seen = probe_allocator()
    assert seen["before"]["mmapped"] >= 64 * MiB  # glibc's default: an mmap per buffer
    assert seen["before"]["heap_kept"] < 64 * MiB
    assert seen["applied"] is True
    assert seen["after"]["mmapped"] == 0  # from the heap instead
    assert seen["after"]["heap_grew"] >= 64 * MiB
    assert seen["after"]["heap_kept"] >= 64 * MiB  # and not returned to the kernel on free


@needs_glibc
def test_rnnkit_tuned_runtime_0_leaves_the_allocator_alone():
    seen = probe_allocator(tuned_runtime="0")
    assert seen["applied"] is False
    assert seen["after"]["mmapped"] >= 64 * MiB
    assert seen["after"]["heap_kept"] < 64 * MiB


@pytest.mark.parametrize("method", ["fit", "predict"])
def test_every_user_gets_the_tuned_allocator_from_fit_and_predict(fake_libc, method):
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    x = torch.randn(8, 3)
    model.fit(x, torch.randn(8), verbose=0) if method == "fit" else model.predict(x)
    assert fake_libc.calls == [
        (M_MMAP_THRESHOLD, 1 << 30),
        (M_TRIM_THRESHOLD, 1 << 30),
        (M_TOP_PAD, 64 << 20),
    ]
