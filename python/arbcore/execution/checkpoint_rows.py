"""The rows saved beside each ledger checkpoint, in its transaction (``residual_checkpoint``,
``daily_pnl``): one table each, its latest row the one a start reads, a ``format`` per layout.

Not in the journal's SCHEMA (as ``ledger_checkpoints``): a journal from before them has no such
table and is read in full, as before; a writable open adds it (:func:`table_schema`).
"""

from __future__ import annotations

import sqlite3


def table_schema(table: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {table} (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    format INTEGER NOT NULL,
    body   TEXT NOT NULL
) STRICT;
"""


def latest_row(conn: sqlite3.Connection, table: str) -> tuple[int, str] | None:
    """(format, body) of the latest row; None without one (or without the table: an older
    journal opened read-only)."""
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
    row = has and conn.execute(f"SELECT format, body FROM {table} ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def replace_row(conn: sqlite3.Connection, table: str, fmt: int, body: str) -> None:
    """Store ``body`` as the latest row, in the caller's transaction; the older one goes."""
    cur = conn.execute(f"INSERT INTO {table} (format, body) VALUES (?, ?)", (fmt, body))
    conn.execute(f"DELETE FROM {table} WHERE seq < ?", (cur.lastrowid,))


def row_id(conn: sqlite3.Connection, table: str, column: str, rowid: int) -> str:
    """``column`` of ``table``'s row ``rowid`` ("" without one): a row saved's position is checked
    by its id, a VACUUM renumbering the rowids of a table without an INTEGER PRIMARY KEY."""
    row = conn.execute(f"SELECT {column} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
    return str(row[0]) if row else ""
