"""The gateway's files are its own: its data directory is ``0700`` and every file in it ``0600``.

The embedded database holds every submitted value and the audit trail, the key directory the signing key, the
demo's directory personal data of simulated citizens: nobody but the gateway's user reads them. The ``gateway``
command sets the process's umask to ``077`` so that whatever it (or a library: SQLite's journal files, the demo's
seeding, prometheus-client's multiprocess files) creates is private; the helpers below make the directories and
database files private explicitly, and tighten them when they already exist (an installation made before).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
#: The files SQLite keeps beside a database (write-ahead log, shared memory, rollback journal).
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def restrict_umask() -> None:
    """Make every file and directory this process creates from now on private to its user."""
    os.umask(PRIVATE_UMASK)


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it ``0700``."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    if path.stat().st_mode & 0o777 != DIRECTORY_MODE:
        path.chmod(DIRECTORY_MODE)
    return path


def replace_file(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` whole or not at all: into a new file beside it (``mode``), flushed to disk, then
    renamed over it, so that a reader sees the old content or the new, never part of it. Raises ``OSError``; the new
    file is removed when it could not be completed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite database file ``path`` empty if it is absent (SQLite then gives its journal files the
    same mode), its directory too, and make it and its companions ``0600``."""
    if not path.parent.exists():
        private_directory(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        with contextlib.suppress(FileNotFoundError, PermissionError):  # absent, or not the gateway's to change
            if candidate.stat().st_mode & 0o777 != FILE_MODE:
                candidate.chmod(FILE_MODE)
