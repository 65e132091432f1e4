"""Saving never loses data: what may be replaced, atomic replacement under concurrent loads,
leftovers of killed saves, permissions (issue #11, finding 1)."""

import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit import _files
from rnnkit.layers import LSTM, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential, load_model

SRC = str(Path(__file__).resolve().parents[2] / "src")


def small(units=3):
    return Sequential([Embedding(20, 4, input_shape=(None,)), LSTM(units), Dense(1)])


def refusal(path, what):
    return (
        f"save_model: `path` expected a new path or a folder rnnkit wrote, received "
        f"{str(path)!r}, {what}; pass overwrite=True to replace it (its contents are deleted)."
    )


# 1. A file at the path is refused (the old code deleted it), and replaced with overwrite=True.
def test_a_file_at_the_path_is_refused_unless_overwrite(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("precious")
    with pytest.raises(FileExistsError, match=re.escape(refusal(target, "a file"))) as e:
        small().save(target)
    assert str(e.value) == refusal(target, "a file")
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    small().save(target, overwrite=True)
    assert load_model(target).count_params() == small().count_params()


# 2. A folder of other things is refused (the old code deleted it with its contents).
def test_a_foreign_folder_is_refused_unless_overwrite(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError) as e:
        small().save(folder)
    assert str(e.value) == refusal(folder, "a folder that rnnkit did not write")
    assert (folder / "thesis.tex").read_text() == "years of work"
    small().save(folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


# 3. A symbolic link is refused, and its target untouched.
def test_a_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x").write_text("x")
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(FileExistsError) as e:
        small().save(tmp_path / "link")
    assert str(e.value) == refusal(tmp_path / "link", "a symbolic link")
    assert (tmp_path / "real" / "x").read_text() == "x"


# 4. An rnnkit model and an empty folder are replaced by default; a user's files inside a
#    model directory survive the replacement (the old code deleted them).
def test_model_replaced_by_default_and_user_files_inside_kept(tmp_path):
    (tmp_path / "empty").mkdir()
    small().save(tmp_path / "empty")
    small().save(tmp_path / "m")
    (tmp_path / "m" / "README.md").write_text("my notes")
    (tmp_path / "m" / "plots").mkdir()
    (tmp_path / "m" / "plots" / "loss.png").write_bytes(b"png")
    other = Sequential([Embedding(20, 4, input_shape=(None,)), SimpleRNN(2), Dense(1)])
    other.save(tmp_path / "m")
    assert load_model(tmp_path / "m").count_params() == other.count_params()
    assert (tmp_path / "m" / "README.md").read_text() == "my notes"
    assert (tmp_path / "m" / "plots" / "loss.png").read_bytes() == b"png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "m"]


# 5. Folders and files honour the umask (the old code made 0700 / 0600 whatever the umask).
@pytest.mark.parametrize(
    "mask, dir_mode, file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)]
)
def test_saved_model_honours_the_umask(tmp_path, mask, dir_mode, file_mode):
    old = os.umask(mask)
    try:
        small().save(tmp_path / "m")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == dir_mode
    for name in ("config.json", "model.safetensors"):
        assert stat.S_IMODE((tmp_path / "m" / name).stat().st_mode) == file_mode


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# 6. Leftovers of interrupted saves (dead writer) are removed by the next save; a live writer's
#    temporary folder, a user's look-alike file and other names are not.
def test_leftovers_are_cleaned_by_the_next_save(tmp_path):
    dead, live = dead_pid(), os.getppid()
    names = {
        "gone_new": f".m{_files.TEMP_MARK}-new-{dead}-0a1b2c3d",
        "gone_old": f".m{_files.TEMP_MARK}-old-{dead}-0a1b2c3d",
        "legacy": ".m.tmp-abc_1234",
        "live": f".m{_files.TEMP_MARK}-new-{live}-0a1b2c3d",
        "other_model": f".n{_files.TEMP_MARK}-new-{dead}-0a1b2c3d",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"x" * 100)
    (tmp_path / ".m.tmp-notadir").write_text("a user's file")
    small().save(tmp_path / "m")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["m", names["live"], names["other_model"], ".m.tmp-notadir"])


# 7. Loads in a loop while another thread saves repeatedly: every load succeeds and gives one
#    of the two models whole (the old code had an instant with no model at the path).
@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_concurrent_loads_never_fail(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(_files, "exchange", lambda a, b: False)
    models = [small(3), small(5)]
    sizes = {m.count_params() for m in models}
    models[0].save(tmp_path / "m")
    stop, errors, loads = threading.Event(), [], [0]

    def reader():
        while not stop.is_set():
            try:
                assert load_model(tmp_path / "m", compile=False).count_params() in sizes
                loads[0] += 1
            except Exception as e:
                errors.append(repr(e))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for k in range(40):
            models[k % 2].save(tmp_path / "m")
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert loads[0] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


# 8. A save killed (SIGKILL) in the middle of writing the weights: the old model still loads,
#    the leftover is recognisable, and the next save removes it.
def test_killed_save_keeps_the_old_model_and_is_cleaned_next_time(tmp_path):
    model = small(3)
    model.save(tmp_path / "m")
    x = torch.randint(0, 20, (2, 5))
    expected = model.predict(x)
    target = str(tmp_path / "m")
    child = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {SRC!r})
        import rnnkit.models.saving as saving
        from rnnkit.layers import Dense, Embedding, LSTM
        from rnnkit.models import Sequential
        real = saving.save_file
        def slow(tensors, filename, metadata=None):
            real(tensors, filename, metadata=metadata)
            print("writing", flush=True)
            time.sleep(60)
        saving.save_file = slow
        model = Sequential([Embedding(20, 4, input_shape=(None,)), LSTM(7), Dense(1)])
        model.save({target!r})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m"]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".m{_files.TEMP_MARK}-new-")
    assert np.array_equal(load_model(tmp_path / "m").predict(x), expected)
    small(4).save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


# 9. _files.write_dir for task folders (as tasks/sentiment writes them): a folder that is_ours
#    does not recognise is refused unless overwrite=True; one it recognises is replaced and the
#    user's extra entries (not in managed) are kept.
def test_write_dir_for_task_folders(tmp_path):
    def write(tmp):
        (tmp / "task.json").write_text("{}")
        (tmp / "vocab.json").write_text("[]")

    def save(**kwargs):
        _files.write_dir(tmp_path / "clf", write, owner="save", **kwargs)

    (tmp_path / "clf").mkdir()
    (tmp_path / "clf" / "notes.md").write_text("mine")
    with pytest.raises(FileExistsError) as e:
        save(is_ours=lambda p: False)
    assert str(e.value) == refusal(tmp_path / "clf", "a folder that rnnkit did not write").replace(
        "save_model:", "save:"
    )
    for _ in range(2):
        save(
            is_ours=lambda p: (p / "task.json").is_file() or (p / "notes.md").is_file(),
            managed=("task.json", "vocab.json", "model", "ngrams"),
        )
        assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == [
            "notes.md",
            "task.json",
            "vocab.json",
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf"]
