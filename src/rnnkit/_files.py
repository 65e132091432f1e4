"""Writing files safely: the one owner of "temporary file, then rename" in rnnkit.

Every file rnnkit writes (reports, plots, vocabularies, downloads, caches) goes through
:func:`atomic_write`: the bytes go to a hidden temporary file in the destination's folder, are
flushed and fsync-ed, and only then renamed over the destination (``os.replace`` is atomic on
one file system). An interrupted write leaves the old file, or none, never half a file. New
files get the permissions the user's umask allows (``0o666 & ~umask``), as ``open`` would.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMP_MARK = ".rnnkit-tmp"
"""Part of the name of every temporary file or folder rnnkit makes beside a destination, so
that leftovers of interrupted writes can be recognised (and only those are ever cleaned)."""

_umask_lock = threading.Lock()


def umask() -> int:
    """The process's current umask (read without changing it for other threads)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions of a new file under the current umask (``0o666 & ~umask``)."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """Permissions of a new folder under the current umask (``0o777 & ~umask``)."""
    return 0o777 & ~umask()


@contextlib.contextmanager
def atomic_write(
    dest: str | os.PathLike, mode: str = "wb", encoding: str | None = None
) -> Iterator[IO]:
    """Open a temporary file that replaces ``dest`` only if the block succeeds.

    The temporary file lives in ``dest``'s folder (so the final rename is atomic), is flushed
    and fsync-ed before the rename, and is deleted if the block raises. Parent folders are
    created if needed.

    >>> with atomic_write("report.json", "w") as f:   # doctest: +SKIP
    ...     f.write("{}")
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: `mode` expected 'wb' or 'w', received {mode!r}.")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=TEMP_MARK)
    try:
        if mode == "w" and encoding is None:
            encoding = "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, file_mode())
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_write(dest, "wb") as f:
        f.write(data)


def write_text(dest: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``dest`` atomically."""
    with atomic_write(dest, "w") as f:
        f.write(text)


def write_json(dest: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON (UTF-8, final newline) to ``dest`` atomically."""
    write_text(dest, json.dumps(data, indent=2) + "\n")
