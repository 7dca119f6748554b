"""Opening a journal's SQLite file for reading only (``Journal(path, readonly=True)``): nothing
is ever written to the file, whatever it holds.

``mode=ro`` takes a reader's locks, so a journal that a running engine writes (WAL mode) reads as
of its last commit, and one that a killed engine left with its ``-wal`` and ``-shm`` reads with
the commits only the ``-wal`` holds. A WAL-mode reader needs the ``-shm`` index: SQLite reads an
existing one, even without write access, or creates it (and an empty ``-wal``; both stay beside
the file, as any reader leaves them) when the directory is writable. When it can do neither:

- no ``-wal``, or an empty one: every commit is in the file itself, which is read as
  ``immutable`` (no locks: an engine that starts meanwhile writes to a new ``-wal``; the file
  changes only when that is checkpointed);
- a ``-wal`` with content: the commits only it holds cannot be read, and
  :class:`JournalOpenError` says so in one line.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from arbcore.execution.errors import JournalOpenError

#: the first 16 bytes of every SQLite database file
SQLITE_HEADER = b"SQLite format 3\x00"


def _wal_mode(path: Path) -> bool:
    """The file's header says WAL (its read and write versions are 2)."""
    try:
        with path.open("rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return header[:16] == SQLITE_HEADER and header[18:20] == b"\x02\x02"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # absent
        return 0


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that reads ``path`` and can never write it (see the module docstring)."""
    uri = path.absolute().as_uri()  # (percent-encoded: a "?" or "#" in the name stays in the name)
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # SQLite opens lazily: the header, the WAL
        return conn
    except sqlite3.Error as e:
        conn.close()
        # no -shm to read and none could be created: READONLY (no -wal either) or CANTOPEN (a -wal, no -shm)
        if e.sqlite_errorcode & 0xFF not in {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN} or not _wal_mode(path):
            raise
        wal = Path(f"{path}-wal")
        if _size(wal) > 0:
            raise JournalOpenError(
                f"{path}: cannot read the commits in its write-ahead log {wal.name} ({e}): that needs "
                f"{path.name}-shm beside it, readable, or write access to {path.parent} to create it"
            ) from None
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
