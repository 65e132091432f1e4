"""A real ``kill -9`` of a training process, then the same script again: it resumes from its
BackupAndRestore backup and ends with weights bit-identical to an uninterrupted run (CPU)."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit import runtime

CHILD = r'''
"""Train a small model with BackupAndRestore; ``mode`` 'step' / 'save' freezes mid-training
(between backups / inside one) for the parent to kill. Also imported by the parent."""
import json, sys, time
from pathlib import Path
import numpy as np
import torch
from safetensors.torch import save_file
from rnnkit import runtime
from rnnkit.layers import LSTM, Dense, Dropout, Embedding
from rnnkit.models import Sequential, checkpoint
from rnnkit.models.callbacks import BackupAndRestore, Callback
from rnnkit.utils import set_random_seed


def train(mode, folder, bucketing):
    ready = folder / "ready"

    def freeze():
        ready.write_text("")  # tell the parent, then wait for its SIGKILL
        time.sleep(600)

    class Count(Callback):
        """Counts the batches this process trains; in mode 'step' freezes after batch 5 of
        epoch 1 (two batches after its last backup, made after batch 3)."""

        def on_train_begin(self, logs=None):
            self.batches = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if mode == "step" and (self.epoch, batch) == (1, 5):
                freeze()

    if mode == "save":  # freeze inside the 4th backup: its folder written, the pointer not yet
        real, calls = checkpoint._write_pointer, [0]

        def pointer_then_freeze(backup_dir, pointer):
            calls[0] += 1
            if calls[0] == 4:
                freeze()
            real(backup_dir, pointer)

        checkpoint._write_pointer = pointer_then_freeze

    set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 40, size=(128, 16))
    x[:64, :8] = 0
    y = (x == 7).any(axis=1).astype("float32")
    model = Sequential([Embedding(40, 8), LSTM(8), Dropout(0.3), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    count = Count()
    history = model.fit(
        x, y, batch_size=16, epochs=3, verbose=0, bucketing=bucketing,
        callbacks=[count, BackupAndRestore(folder / "backup", save_freq=4)],
    )
    weights = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    result = {"batches": count.batches, "history": history.history,
              "runtime": vars(runtime.settings), "threads": torch.get_num_threads()}
    return weights, result


if __name__ == "__main__":
    torch.set_num_threads(1)
    mode, folder, bucketing = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
    weights, result = train(mode, folder, bucketing)
    save_file(weights, str(folder / "weights.safetensors"))
    (folder / "result.json").write_text(json.dumps(result))
'''


def start(script, mode, folder, bucketing):
    """Run the training script in a new Python process, on the rnnkit under test."""
    folder.mkdir(exist_ok=True)
    source = str(Path(rnnkit.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": source + (os.pathsep + path if path else "")}
    return subprocess.Popen(
        [sys.executable, str(script), mode, str(folder), "1" if bucketing else "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def finish(process, folder):
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    result = json.loads((folder / "result.json").read_text())
    return load_file(str(folder / "weights.safetensors")), result


def kill_when_frozen(process, folder):
    """SIGKILL ``process`` once it says it is frozen mid-training (a hang guard, not a timing)."""
    deadline = time.monotonic() + 600
    while not (folder / "ready").exists():
        if process.poll() is not None:
            pytest.fail(
                f"the training process ended before it was killed:\n{process.stdout.read()}"
            )
        assert time.monotonic() < deadline, "the training process never reached its freeze"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    (folder / "ready").unlink()


def reference(script, folder, bucketing, settings):
    """The uninterrupted run, in this process, as the script runs it (one thread, the
    script's runtime settings)."""
    folder.mkdir()
    spec = importlib.util.spec_from_file_location("rnnkit_kill_child", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads, saved = torch.get_num_threads(), dict(vars(runtime.settings))
    torch.set_num_threads(1)
    runtime.configure(**{k: v for k, v in settings.items() if k != "malloc"})
    try:
        return module.train("none", folder, bucketing)
    finally:
        torch.set_num_threads(threads)
        runtime.configure(**{k: v for k, v in saved.items() if k != "malloc"})


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(CHILD)
    # Runs killed (a) between backups, without bucketing, (b) inside a backup, with bucketing.
    runs = {
        "step": start(script, "step", tmp_path / "step", False),
        "save": start(script, "save", tmp_path / "save", True),
    }
    kill_when_frozen(runs["step"], tmp_path / "step")
    kill_when_frozen(runs["save"], tmp_path / "save")
    # (a) the last backup was made after batch 3 of epoch 1 (0-based), two batches before.
    pointer = json.loads((tmp_path / "step" / "backup" / "checkpoint.json").read_text())
    assert (pointer["epoch"], pointer["step"]) == (1, 4)
    # (b) killed after the 4th backup's folder (the end of epoch 1) was written, before its
    #     pointer: the 3rd backup (after batch 3 of epoch 1) is the current one.
    backup = tmp_path / "save" / "backup"
    pointer = json.loads((backup / "checkpoint.json").read_text())
    assert (pointer["folder"], pointer["epoch"], pointer["step"]) == ("backup-000003", 1, 4)
    assert (backup / "backup-000004").is_dir()
    # The same script again, in each folder: it resumes.
    resumed = {
        "step": start(script, "none", tmp_path / "step", False),
        "save": start(script, "none", tmp_path / "save", True),
    }
    step, step_result = finish(resumed["step"], tmp_path / "step")
    save, save_result = finish(resumed["save"], tmp_path / "save")
    assert step_result["batches"] == save_result["batches"] == 24 - 12  # from batch 4 of 1
    assert step_result["threads"] == 1
    # Uninterrupted runs with the same seed, here.
    plain, plain_result = reference(script, tmp_path / "plain", False, step_result["runtime"])
    bucketed, bucketed_result = reference(
        script, tmp_path / "bucketed", True, save_result["runtime"]
    )
    assert plain_result["batches"] == bucketed_result["batches"] == 24  # 3 epochs of 8
    for ref, got in ((plain, step), (bucketed, save)):
        assert sorted(ref) == sorted(got)
        for name in ref:
            assert torch.equal(ref[name], got[name]), name
    assert step_result["history"] == plain_result["history"]
    assert save_result["history"] == bucketed_result["history"]
    assert not torch.equal(plain["layers.0.E"], bucketed["layers.0.E"])  # two different runs
    assert not (tmp_path / "step" / "backup").exists()  # deleted after the resumed fit
