"""Writing files so that no reader ever sees half of one, and folders made on the way.

Out of the reading path: model files, checkpoints, history files, run folders and the data
cache all write through :func:`atomic_write`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def new_temp_file(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty hidden file ``.NAME.<random>.part`` in ``folder``: (open fd, path).

    Not :func:`tempfile.mkstemp`: its files are private (0600), and a file renamed into a
    shared cache or next to the user's own files should get the usual mode that the umask
    leaves, as ``open(path, "w")`` would give it.
    """
    tmp = folder / f".{name}.{secrets.token_hex(8)}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(tmp, flags, 0o666), tmp


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those it created, deepest first.

    If one cannot be made, those made before it are removed again and the error raised.
    """
    # "a/../b" spelled out, so that only folders really missing count as made (not
    # resolve(): it follows a dangling link and would make folders where it points).
    folder = Path(os.path.abspath(folder))
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        missing.append(candidate)
    made: list[Path] = []
    try:
        for candidate in reversed(missing):
            try:
                candidate.mkdir()
            except FileExistsError:  # made by another process meanwhile: not ours
                if not candidate.is_dir():
                    raise
                continue
            made.insert(0, candidate)
    except OSError:
        remove_empty_folders(made)
        raise
    return made


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove what :func:`make_folders` created, where nothing has been put in it since."""
    for folder in folders:
        with contextlib.suppress(OSError):  # (rmdir refuses a folder that holds files)
            folder.rmdir()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", durable: bool = True) -> Iterator:
    """Open a temporary file beside ``path``; on success fsync it and rename it to ``path``.

    ``durable=False`` skips the fsyncs: for a cache, which is checked when read and can be
    rebuilt, a power cut costs nothing worth the wait.

    >>> with atomic_write("out.json", "w") as f:   # doctest: +SKIP
    ...     f.write("{}")

    If the block raises, the temporary file is removed and ``path`` is left untouched.
    A file that ``path`` replaces keeps its permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_temp_file(path.parent, path.name)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        with contextlib.suppress(OSError):  # (no file there yet, or not ours to chmod)
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    # The rename itself is only durable once the directory entry is on disk too.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
