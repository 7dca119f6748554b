"""Deterministic, idempotent client order ids.

Scheme (version 1)
------------------
The identity of an order is ``(ticket_id, leg_id, attempt)``. Its canonical id is the name-based
UUID (RFC 9562 version 5, SHA-1)::

    uuid5(CLIENT_ID_NAMESPACE, f"{len(ticket_id)}:{ticket_id}{len(leg_id)}:{leg_id}{attempt}")

The length prefixes make the encoding unambiguous for any ticket or leg text. The same triple
always gives the same id, so an order re-decided after a restart carries the id it had before
and the venue refuses or returns the existing order instead of opening a second one; a new
``attempt`` gives a new id. 122 bits are hashed, so distinct triples do not collide in practice.
Ticket ids must never repeat across runs (the journal refuses a reused ticket id).

Each venue gets the canonical UUID in a form its rules accept (``docs/venue-protocols.md``):

============ ======================= ======================================================== ========
venue        field                   rule                                                      form
============ ======================= ======================================================== ========
binance_spot ``newClientOrderId``    ``^[a-zA-Z0-9-_]{1,36}$`` (1.3)                           32 hex
binance_usdm ``newClientOrderId``    ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``, 32 on portfolio margin   32 hex
bybit        ``orderLinkId``         at most 36 of ``[A-Za-z0-9_-]`` (6.3)                     32 hex
okx          ``clOrdId``             1-32 alphanumerics (5.3)                                  32 hex
kraken       ``cl_ord_id``           long UUID, short UUID (32 hex) or free text <= 18 (4.4)   UUID
coinbase     ``client_order_id``     a UUID string (3.2)                                       UUID
============ ======================= ======================================================== ========

32 lowercase hex digits satisfy every venue at once except where a UUID is the documented
form. Either form parses back to the canonical UUID with :func:`canonical_id`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable

#: Fixed namespace of scheme version 1; changing it changes every id.
CLIENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "arbcore:client-order-id:v1")

_UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

#: Each venue's documented rule for its client order id field, as a full-match pattern.
VENUE_ID_RULES: dict[str, re.Pattern[str]] = {
    "binance_spot": re.compile(r"[a-zA-Z0-9\-_]{1,36}"),
    "binance_usdm": re.compile(r"[.A-Z:/a-z0-9_\-]{1,32}"),  # 32: the portfolio-margin limit
    "bybit": re.compile(r"[A-Za-z0-9_\-]{1,36}"),
    "okx": re.compile(r"[A-Za-z0-9]{1,32}"),
    "kraken": re.compile(rf"{_UUID_RE}|[0-9a-fA-F]{{32}}|[\x20-\x7e]{{1,18}}"),
    "coinbase": re.compile(_UUID_RE),
}


def _hex(u: uuid.UUID) -> str:
    return u.hex


def _dashed(u: uuid.UUID) -> str:
    return str(u)


_RENDER: dict[str, Callable[[uuid.UUID], str]] = {
    "binance_spot": _hex,
    "binance_usdm": _hex,
    "bybit": _hex,
    "okx": _hex,
    "kraken": _dashed,
    "coinbase": _dashed,
}


def order_uuid(ticket_id: str, leg_id: str, attempt: int) -> uuid.UUID:
    """The canonical id of ``(ticket_id, leg_id, attempt)``."""
    if not ticket_id or not leg_id:
        raise ValueError(f"ticket id {ticket_id!r} and leg id {leg_id!r} must not be empty")
    if attempt < 0:
        raise ValueError(f"attempt {attempt} is negative")
    return uuid.uuid5(CLIENT_ID_NAMESPACE, f"{len(ticket_id)}:{ticket_id}{len(leg_id)}:{leg_id}{attempt}")


#: SHA-1 already fed the namespace: each id hashes only its name (``uuid.uuid5`` does the same
#: work plus a UUID object; this is on the order path, once per order)
_NS_SHA1 = hashlib.sha1(CLIENT_ID_NAMESPACE.bytes, usedforsecurity=False)
_DASHED = frozenset(v for v, r in _RENDER.items() if r is _dashed)


def client_order_id(venue: str, ticket_id: str, leg_id: str, attempt: int) -> str:
    """The client order id to send to ``venue`` for this ticket leg attempt.

    An unknown venue gets the 32-hex form, the most widely accepted one. The same bits as
    :func:`order_uuid` (RFC 9562 v5: version nibble 5, variant 10), computed directly.
    """
    if not ticket_id or not leg_id:
        raise ValueError(f"ticket id {ticket_id!r} and leg id {leg_id!r} must not be empty")
    if attempt < 0:
        raise ValueError(f"attempt {attempt} is negative")
    h = _NS_SHA1.copy()
    h.update(f"{len(ticket_id)}:{ticket_id}{len(leg_id)}:{leg_id}{attempt}".encode())
    d = bytearray(h.digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x50
    d[8] = (d[8] & 0x3F) | 0x80
    x = d.hex()
    if venue in _DASHED:
        return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
    return x


def canonical_id(venue_client_id: str) -> uuid.UUID:
    """The canonical UUID behind a client order id as any venue echoes it (hex or dashed)."""
    return uuid.UUID(venue_client_id)


def valid_for(venue: str, client_id: str) -> bool:
    """Whether ``client_id`` satisfies the documented rule of ``venue`` (KeyError if unknown)."""
    return VENUE_ID_RULES[venue].fullmatch(client_id) is not None
