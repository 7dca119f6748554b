"""URLs as logs and error messages may show them.

A URL can carry what only its owner should see: a user and password (``wss://user:pw@host``),
a token in its query (``?token=...``), or a key in its path (Binance's user stream is
``.../ws/<listenKey>``, and whoever holds a listenKey reads that account's orders and fills).
Log lines, exceptions and the exit report name the venue's host and path, never those.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"


def shown_url(url: str, hide: Iterable[str] = ()) -> str:
    """``url`` without its user and password and with every query value (a query part with no
    value: the whole part) and each of ``hide`` (a key the caller put in the path) replaced by
    ``***``; scheme, host, port and the rest of the path as they are."""
    for secret in hide:
        if secret:
            url = url.replace(secret, HIDDEN)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # not a URL we can take apart: show none of it
        return HIDDEN
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{HIDDEN}@{netloc}"
    # a part without "=" may be the token itself (``?<token>``): hidden whole, not shown as a key
    query = "&".join(f"{p.split('=', 1)[0]}={HIDDEN}" if "=" in p else HIDDEN for p in parts.query.split("&") if p)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
