"""Building the compiled step loops: one folder per build, one build at a time, said once.

1. The build folder is keyed by everything that makes two builds differ: torch's install
   folder (two virtual environments with the same torch version used to share, and rebuild,
   one folder), the compiler (path and ``--version``), the flags and the sources; the same
   inputs give the same folder, named ``torch<version>-py<XY>-<cpu>-<12 hex>``.
2. Building prints one line on stderr; loading a finished build prints nothing; a folder
   whose library is gone is built again. torch's own lock file, left by a killed build, is
   cleared first (torch would wait for it forever).
3. The lock: a second process says it waits, and waits; a holder that is killed frees it.
4. Two real processes into an empty ``RNNKIT_HOME``, both started while the test holds the
   lock: both say they wait; released, one builds, the other waits on and loads what it
   built (one compilation per source in ninja's log); a third process loads silently.
5. :func:`_ext.build` and ``python -m rnnkit.kernels.build``: ready, or why not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading

import filelock
import pytest
import torch

from rnnkit.kernels import _ext

posix_only = pytest.mark.skipif(os.name != "posix", reason="fake compilers are shell scripts")


def fake_compiler(path, version):
    """A "compiler" that only answers ``--version``."""
    path.write_text(f"#!/bin/sh\necho '{version}'\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """The extension as in a new process: nothing loaded, builds under ``tmp_path/home``."""
    monkeypatch.setattr(_ext, "HOME", tmp_path / "home")
    monkeypatch.setattr(_ext, "CACHE_DIR", None)
    monkeypatch.setattr(_ext, "_ops", None)
    monkeypatch.setattr(_ext, "_error", None)
    monkeypatch.setattr(_ext, "enabled", True)
    monkeypatch.setattr(_ext, "build_seconds", None)
    monkeypatch.setattr(_ext, "_find_tools", lambda: None)
    return tmp_path / "home"


@pytest.fixture
def fake_build(monkeypatch, fresh):
    """``_compile`` writes a stand-in library; ``load_library`` records what it is given."""
    calls = {"compiled": [], "loaded": []}

    def compile_(directory):
        calls["compiled"].append(sorted(p.name for p in directory.iterdir()))
        library = directory / "rnnkit_ext.so"
        library.write_bytes(b"not a library")
        return library

    monkeypatch.setattr(_ext, "_compile", compile_)
    monkeypatch.setattr(torch.ops, "load_library", calls["loaded"].append)
    return calls


# ---------------------------------------------------------------- 1. the key


def test_the_folder_differs_per_torch_install(monkeypatch):
    """The finding: two venvs with the same torch version shared one folder (and rebuilt it)."""
    here = _ext._cache_dir()
    monkeypatch.setattr(torch, "__file__", "/opt/other-venv/site-packages/torch/__init__.py")
    there = _ext._cache_dir()
    assert there != here
    assert there.parent == here.parent


@posix_only
def test_the_folder_differs_per_compiler(monkeypatch, tmp_path):
    folders = []
    for name, version in [("a", "g++ 12.2.0"), ("b", "g++ 13.1.0"), ("a", "g++ 12.2.0")]:
        monkeypatch.setenv("CXX", fake_compiler(tmp_path / f"g++-{name}", version))
        folders.append(_ext._cache_dir())
    assert folders[0] != folders[1]
    assert folders[0] == folders[2]


def test_the_folder_differs_per_flags(monkeypatch):
    here = _ext._cache_dir()
    flags = _ext._flags()
    monkeypatch.setattr(_ext, "_flags", lambda: [*flags, "-DNDEBUG"])
    assert _ext._cache_dir() != here


def test_the_folder_differs_per_sources(monkeypatch, tmp_path):
    """A hash of the sources' bytes, not their path: a second checkout of the same sources
    loads the first one's build."""
    here = _ext._cache_dir()
    copy = tmp_path / "_ext"
    shutil.copytree(_ext.HERE, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setattr(_ext, "HERE", copy)
    assert _ext._cache_dir() == here
    with open(copy / _ext.SOURCES[0], "a") as f:
        f.write("\n// an edit\n")
    assert _ext._cache_dir() != here


def test_the_folder_name_and_key():
    key = _ext.build_key()
    folder = _ext._cache_dir(key)
    tag = (
        f"torch{torch.__version__.replace('+', '_')}-py{sys.version_info[0]}"
        f"{sys.version_info[1]}-{_ext._capability().lower()}"
    )
    assert re.fullmatch(re.escape(tag) + r"-[0-9a-f]{12}", folder.name), folder.name
    assert folder.parent == _ext.HOME / "extensions"
    assert key["torch_dir"] == os.path.dirname(os.path.abspath(torch.__file__))
    assert key["cflags"] == " ".join(_ext._flags())
    assert _ext._cache_dir(key) == _ext._cache_dir()  # the same inputs, the same folder


# ---------------------------------------------------------------- 2. one line while building


def test_building_says_one_line_and_loading_from_the_cache_nothing(fake_build, capfd):
    directory = _ext.cache_dir()
    directory.mkdir(parents=True)
    (directory / "lock").write_text("")  # torch's lock file, as a killed build leaves it

    assert _ext._build() is torch.ops.rnnkit_ext
    assert capfd.readouterr().err == (
        f"rnnkit: building the compiled step loops for this machine (once, about 30 s) "
        f"in {directory} ...\n"
    )
    assert fake_build["compiled"] == [[_ext.LOCK_FILE]]  # torch's stale lock file cleared
    record = json.loads((directory / _ext.RECORD_FILE).read_text())
    assert record["library"] == "rnnkit_ext.so"
    assert record["key"] == _ext.build_key()

    _ext._build()  # the next process: loads, says nothing
    assert capfd.readouterr().err == ""
    assert len(fake_build["compiled"]) == 1
    assert fake_build["loaded"] == [str(directory / "rnnkit_ext.so")]

    # a finished build loads without the lock: a prebuilt folder this user cannot write serves
    (directory / _ext.LOCK_FILE).unlink()
    _ext._build()
    assert not (directory / _ext.LOCK_FILE).exists()
    assert capfd.readouterr().err == ""

    (directory / "rnnkit_ext.so").unlink()  # a build someone deleted is built again
    _ext._build()
    assert capfd.readouterr().err.startswith("rnnkit: building the compiled step loops")
    assert len(fake_build["compiled"]) == 2


def test_load_builds_once_per_process(fake_build, capfd):
    assert _ext.load() is torch.ops.rnnkit_ext
    assert _ext.load() is torch.ops.rnnkit_ext
    assert len(fake_build["compiled"]) == 1
    assert capfd.readouterr().err.count("rnnkit: building") == 1
    assert _ext.build_seconds is not None


# ---------------------------------------------------------------- 3. the lock

HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from rnnkit.kernels import _ext\n"
    "with _ext._build_lock(Path(sys.argv[1])):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(600)\n"
)


def test_a_waiter_says_so_and_a_killed_holder_frees_the_lock(monkeypatch, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(filelock.Timeout):
            filelock.FileLock(tmp_path / _ext.LOCK_FILE).acquire(timeout=0)

        said, entered = [], threading.Event()
        waiting = threading.Event()
        monkeypatch.setattr(_ext, "_say", lambda line: (said.append(line), waiting.set()))

        def wait_for_the_lock():
            with _ext._build_lock(tmp_path):
                entered.set()

        waiter = threading.Thread(target=wait_for_the_lock)
        waiter.start()
        assert waiting.wait(timeout=120), "the waiter never said it waits"
        assert said == [
            f"rnnkit: waiting for another process building the compiled step loops "
            f"in {tmp_path} ..."
        ]
        assert not entered.is_set()
    finally:
        holder.kill()  # as SIGKILL or the OOM killer would: no clean-up runs
        holder.wait()
    waiter.join(timeout=120)
    assert entered.is_set(), "the lock of a killed process was not freed"


# ---------------------------------------------------------------- 4. two real processes

CHILD = (
    "import torch\n"
    "from rnnkit import functional as F\n"
    "from rnnkit.kernels import _ext\n"
    "from rnnkit.kernels.lstm import lstm\n"
    "ops = _ext.load()\n"
    "args = [torch.randn(2, 5, 3), torch.zeros(2, 4), torch.zeros(2, 4),\n"
    "        torch.randn(3, 16), torch.randn(4, 16), torch.randn(16)]\n"
    "same = torch.allclose(lstm(*args)[0], F.lstm(*args)[0], atol=1e-5)\n"
    "print(ops is not None and _ext._error is None, same, _ext.cache_dir())\n"
)


def test_two_processes_build_once_the_other_waits_then_loads(monkeypatch, tmp_path):
    """One real build (15-30 s). The test holds the lock first, so that both processes
    demonstrably wait; released, exactly one of them compiles."""
    if os.environ.get(_ext.ENV) == "0":
        pytest.skip(f"{_ext.ENV}=0: the compiled loops are switched off")
    if (missing := _ext._find_tools()) is not None:
        pytest.skip(missing)
    home = tmp_path / "home"
    monkeypatch.setattr(_ext, "HOME", home)
    directory = _ext._cache_dir()
    directory.mkdir(parents=True)
    env = dict(os.environ, RNNKIT_HOME=str(home), **{_ext.ENV: "1"})

    def start():
        return subprocess.Popen(
            [sys.executable, "-c", CHILD],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    waiting = _ext.WAITING.format(directory) + "\n"
    building = _ext.BUILDING.format(directory) + "\n"

    with _ext._build_lock(directory):
        children = [start(), start()]
        for child in children:
            first = [child.stderr.readline()]
            while first[-1] not in (waiting, ""):
                first.append(child.stderr.readline())
            assert first[-1] == waiting, first
    results = [child.communicate(timeout=1800) for child in children]

    for out, _err in results:
        assert out == f"True True {directory}\n"
    assert sorted(err for _out, err in results) == ["", building]
    log = (directory / ".ninja_log").read_text().splitlines()[1:]  # "# ninja log v5", then rows
    outputs = [row.split("\t")[3] for row in log]  # start, end, mtime, output, command hash
    compiled = sorted(output for output in outputs if output.endswith(".o"))
    assert compiled == sorted(name.replace(".cpp", ".o") for name in _ext.SOURCES)
    record = json.loads((directory / _ext.RECORD_FILE).read_text())
    assert _ext._cache_dir(record["key"]) == directory  # the record names the folder's key

    later = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600
    )
    assert (later.stdout, later.stderr) == (f"True True {directory}\n", "")


# ---------------------------------------------------------------- 5. building ahead of time


def test_build_command_builds_and_says_where(fake_build, capsys):
    from rnnkit.kernels import build as build_command

    assert build_command.main() == 0
    out, err = capsys.readouterr()
    assert out == f"rnnkit: the compiled step loops are ready in {_ext.cache_dir()}\n"
    assert err.startswith("rnnkit: building the compiled step loops")
    assert _ext.load() is torch.ops.rnnkit_ext  # the process's later calls use it


def test_build_command_says_why_not(monkeypatch, fresh, capsys):
    from rnnkit.kernels import build as build_command

    monkeypatch.setattr(_ext, "_find_tools", lambda: "ninja was not found (pip install ninja)")
    assert build_command.main() == 1
    assert capsys.readouterr().err == (
        "rnnkit: the compiled step loops cannot be built: ninja was not found (pip install "
        "ninja). Install a C++ compiler and ninja, or set RNNKIT_CPP=0 to use the Python "
        "loops.\n"
    )
    with pytest.raises(_ext.ExtensionUnavailableError):
        _ext.build()
