"""Writing files safely: the one owner of "temporary file, then rename" in rnnkit.

Every file rnnkit writes (reports, plots, vocabularies, downloads, caches) goes through
:func:`atomic_write`: the bytes go to a hidden temporary file in the destination's folder, are
flushed and fsync-ed, and only then renamed over the destination (``os.replace`` is atomic on
one file system). An interrupted write leaves the old file, or none, never half a file. New
files get the permissions the user's umask allows (``0o666 & ~umask``), as ``open`` would.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
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


# -- directories ------------------------------------------------------------------------------
# A directory (a saved model, a task folder) is written whole into a hidden temporary folder
# beside its destination, fsync-ed, and only then swapped in. On Linux the swap is one
# ``renameat2(RENAME_EXCHANGE)``: at every instant the destination is either the complete old
# directory or the complete new one. Elsewhere (or on file systems without the exchange) the old
# directory is renamed aside and the new one renamed in, a gap of two system calls.


def _temp_name(dest: Path, kind: str) -> Path:
    """``.<name>.rnnkit-tmp-<kind>-<pid>-<random>`` beside ``dest``."""
    token = os.urandom(4).hex()
    return dest.parent / f".{dest.name}{TEMP_MARK}-{kind}-{os.getpid()}-{token}"


def _leftover_pid(dest: Path, entry: str) -> int | None:
    """The pid in a temporary name made by :func:`_temp_name` for ``dest``, else None."""
    prefix = f".{dest.name}{TEMP_MARK}-"
    if not entry.startswith(prefix):
        return None
    parts = entry[len(prefix) :].split("-")
    if len(parts) != 3 or parts[0] not in ("new", "old") or not parts[1].isdigit():
        return None
    return int(parts[1])


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def clean_leftovers(dest: str | os.PathLike) -> list[Path]:
    """Remove the temporary folders that interrupted writes of ``dest`` left beside it.

    Only names made by this module for ``dest`` (``.<name>.rnnkit-tmp-{new,old}-<pid>-<hex>``)
    whose process has ended are removed; a concurrent writer's folder is left alone. So are the
    folders earlier rnnkit versions' saves left (``.<name>.tmp-XXXXXXXX``, ``.<name>.old-XXXXXXXX``).
    Returns what was removed.
    """
    dest = Path(dest)
    removed = []
    try:
        entries = os.listdir(dest.parent)
    except FileNotFoundError:
        return removed
    legacy = re.compile(rf"\.{re.escape(dest.name)}\.(tmp|old)-[a-z0-9_]{{8}}")
    for entry in entries:
        pid = _leftover_pid(dest, entry)
        if (pid is not None and not _alive(pid)) or (
            legacy.fullmatch(entry) and (dest.parent / entry).is_dir()
        ):
            _remove(dest.parent / entry)
            removed.append(dest.parent / entry)
    return removed


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _renameat2()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap the paths ``a`` and ``b`` atomically (both must exist); False where unsupported."""
    if _RENAMEAT2 is None:
        return False
    rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(a), None, os.fspath(b))


def fsync_tree(root: str | os.PathLike) -> None:
    """fsync every file and folder under ``root`` (``root`` included)."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fsync_dir(folder)


def fsync_dir(folder: str | os.PathLike) -> None:
    """fsync a folder, so that renames inside it survive a crash (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def carry(src: Path, dst: Path) -> None:
    """Put a copy of ``src`` (file, symlink or folder) at ``dst``, by hard links where the file
    system allows (no data is copied, and ``src`` is left untouched)."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(src), str(dst))


def write_dir(
    dest: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    owner: str,
    is_ours: Callable[[Path], bool],
    managed: Iterable[str] = (),
    overwrite: bool = False,
    check_first: bool = True,
) -> None:
    """Write the folder ``dest`` whole: ``write(tmp)`` fills a new temporary folder, which then
    replaces ``dest`` atomically.

    What may be replaced: nothing (``dest`` absent), an empty folder, or a folder
    ``is_ours(dest)`` recognises as one rnnkit wrote. Anything else (a file, a symlink, a folder
    of other things) is refused with a ``FileExistsError`` unless ``overwrite=True``. Inside a
    folder of ours, the entries that the new write does not produce and that are not in
    ``managed`` (names rnnkit writes there) are the user's: they are carried into the new folder
    (hard links), never deleted. Leftovers of interrupted writes of ``dest`` are removed first.
    New folders and files honour the umask. ``check_first=False`` checks what is at ``dest``
    only after ``write`` (for an ``is_ours`` that needs the new folder's entries).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(dest)
    replacing = _check_replace(dest, owner, is_ours, overwrite) if check_first else None
    tmp = _temp_name(dest, "new")
    os.mkdir(tmp)  # mode 0o777 & ~umask
    swapped = False
    try:
        write(tmp)
        replacing = _check_replace(dest, owner, is_ours, overwrite)  # it may have changed
        if replacing == "ours":
            written, keep = set(os.listdir(tmp)), set(managed)
            for entry in sorted(os.listdir(dest)):
                if entry not in written and entry not in keep and TEMP_MARK not in entry:
                    carry(dest / entry, tmp / entry)
        fsync_tree(tmp)
        if replacing is None:
            os.rename(tmp, dest)
            swapped = True
        elif exchange(tmp, dest):
            swapped = True  # tmp now holds the old one
        else:
            aside = _temp_name(dest, "old")
            os.rename(dest, aside)
            try:
                os.rename(tmp, dest)
            except BaseException:
                os.rename(aside, dest)  # put the old one back
                raise
            swapped = True
            tmp = aside
        fsync_dir(dest.parent)
    finally:
        if not swapped or replacing is not None:
            _remove(tmp)


def _check_replace(dest: Path, owner: str, is_ours, overwrite: bool) -> str | None:
    """None (nothing there), "ours" (an empty folder or one of ours) or "other" (allowed by
    ``overwrite``); raises FileExistsError for anything else."""
    if not os.path.lexists(dest):
        return None
    if not dest.is_symlink() and dest.is_dir():
        if not any(e for e in os.listdir(dest) if TEMP_MARK not in e) or is_ours(dest):
            return "ours"
        what = "a folder that rnnkit did not write"
    elif dest.is_symlink():
        what = "a symbolic link"
    else:
        what = "a file"
    if overwrite:
        return "other"
    raise FileExistsError(
        f"{owner}: `path` expected a new path or a folder rnnkit wrote, received "
        f"{str(dest)!r}, {what}; pass overwrite=True to replace it (its contents are deleted)."
    )
