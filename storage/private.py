"""The files that hold tagwire's data are readable and writable by their owner only: the
database holds the generated webhook secret, with which anyone could post a forged update."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def create_private(path: Path) -> bool:
    """Create `path` empty with mode 0600, whatever the umask, unless something is there
    already; True when it was created. An empty file is an empty SQLite database, and SQLite
    gives the files it makes beside a database, then or later (its -wal, -shm and -journal),
    the database file's own mode: they are private too."""
    try:
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_MODE
        )
    except FileExistsError:
        return False
    try:
        # The umask may have taken bits of the mode away: set it whole.
        os.fchmod(descriptor, PRIVATE_MODE)
    finally:
        os.close(descriptor)
    return True
