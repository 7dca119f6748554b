"""The journal's SQLite schema (see ``journal.py``): STRICT tables, amounts as integer decimal
text (u64 quantities and u128 notionals do not fit SQLite's signed 64-bit INTEGER)."""

from __future__ import annotations

import re
import sqlite3

#: indexes are not part of the version: a journal without a later one (an older engine's, read
#: only) reads the same, by scanning; a writable open adds it
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id   TEXT PRIMARY KEY,
    created_ns  INTEGER NOT NULL,
    instrument  TEXT NOT NULL,
    buy_venue   TEXT NOT NULL,
    sell_venue  TEXT NOT NULL,
    detail      TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS tickets_by_created ON tickets(created_ns);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    ticket_id       TEXT NOT NULL REFERENCES tickets(ticket_id),
    leg_id          TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    venue           TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    instrument      TEXT NOT NULL,
    base_asset      TEXT NOT NULL,
    quote_asset     TEXT NOT NULL,
    price_decimals  INTEGER NOT NULL,
    qty_decimals    INTEGER NOT NULL,
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type      TEXT NOT NULL CHECK (order_type IN ('limit', 'market')),
    tif             TEXT NOT NULL CHECK (tif IN ('GTC', 'IOC', 'FOK')),
    post_only       INTEGER NOT NULL,
    qty             TEXT NOT NULL,
    limit_price     TEXT,
    state           TEXT NOT NULL,
    filled_qty      TEXT NOT NULL,
    venue_order_id  TEXT,
    created_ns      INTEGER NOT NULL,
    updated_ns      INTEGER NOT NULL,
    UNIQUE (ticket_id, leg_id, attempt)
) STRICT;
CREATE INDEX IF NOT EXISTS orders_by_state ON orders(state);
CREATE TABLE IF NOT EXISTS order_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
    kind            TEXT NOT NULL,
    local_ns        INTEGER NOT NULL,
    venue_ns        INTEGER,
    state_after     TEXT NOT NULL,
    fill_id         TEXT,
    fill_qty        TEXT,
    fill_price      TEXT,
    fee             TEXT,
    fee_asset       TEXT,
    fee_decimals    INTEGER,
    venue_order_id  TEXT,
    detail          TEXT NOT NULL,
    UNIQUE (client_order_id, fill_id)
) STRICT;
CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events(client_order_id, seq);
CREATE TABLE IF NOT EXISTS ledger_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    local_ns INTEGER NOT NULL,
    body     TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS balance_snapshots (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    local_ns INTEGER NOT NULL,
    venue    TEXT NOT NULL,
    source   TEXT NOT NULL,
    asset    TEXT NOT NULL,
    decimals INTEGER NOT NULL,
    total    TEXT NOT NULL,
    reserved TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS ticket_outcomes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id TEXT NOT NULL REFERENCES tickets(ticket_id),
    local_ns  INTEGER NOT NULL,
    status    TEXT NOT NULL,
    detail    TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS ticket_outcomes_by_ticket ON ticket_outcomes(ticket_id, seq);
"""

#: a journal's tables, in the order SCHEMA creates them (meta first)
TABLES = tuple(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))


def schema_problem(conn: sqlite3.Connection) -> str | None:
    """Why the database on ``conn`` is not an arbcore journal of this schema version, in a few
    words, or None when it is one. Reads only."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in have:
        return "not an arbcore journal (no meta table)"
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.OperationalError:  # a meta table of another shape
        row = None
    if row is None:
        return "not an arbcore journal (no schema_version in its meta table)"
    if str(row[0]) != str(SCHEMA_VERSION):
        return f"journal schema version {row[0]}, this code reads {SCHEMA_VERSION}"
    # a table added since (an early journal: the engine adds it when it opens one), or not a journal at all
    missing = [t for t in TABLES if t not in have]
    return f"not an arbcore journal of this version (no {missing[0]} table)" if missing else None
