"""Bybit v5 HMAC keys (venue-protocols.md §6.4; no usable published vector, §8.6).

REST: ``X-BAPI-SIGN = hex(HMAC_SHA256(secret, timestamp + api_key + recv_window + payload))``, the
payload being the query string of a GET or the exact JSON body of a POST, with headers
``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP`` (ms), ``X-BAPI-RECV-WINDOW``. WebSocket auth:
``hex(HMAC_SHA256(secret, "GET/realtime" + expires_ms))`` sent as ``{"op":"auth","args":[...]}``.
Confirmed against Bybit's v5 integration guide and several client libraries (docs search, 2026).
"""

from __future__ import annotations

import json

from arbcore.venues.signing.common import SignedRequest, hmac_sha256
from arbcore.venues.signing.credentials import Credentials
from arbcore.venues.signing.errors import SigningError

DEFAULT_RECV_WINDOW_MS = 5000


def bybit_prehash(timestamp_ms: int, api_key: str, recv_window_ms: int, payload: str) -> str:
    """The string Bybit signs; its docs print examples of exactly this (§8.6)."""
    return f"{timestamp_ms}{api_key}{recv_window_ms}{payload}"


def bybit_signature(secret: str, timestamp_ms: int, api_key: str, recv_window_ms: int, payload: str) -> str:
    return hmac_sha256(secret.encode(), bybit_prehash(timestamp_ms, api_key, recv_window_ms, payload)).hex()


def bybit_sign_request(
    creds: Credentials,
    *,
    timestamp_ms: int,
    query: str = "",
    body: str = "",
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> SignedRequest:
    """Sign a GET's query string (unsorted, as sent) or a POST's JSON body (serialise it once and
    send that very text: a re-serialised body with other spacing fails verification)."""
    if query and body:
        raise SigningError("Bybit signs either the query string (GET) or the JSON body (POST), not both")
    if recv_window_ms <= 0:
        raise SigningError(f"recv_window {recv_window_ms} ms must be positive")
    signature = bybit_signature(creds.secret, timestamp_ms, creds.api_key, recv_window_ms, query or body)
    headers = {
        "X-BAPI-API-KEY": creds.api_key,
        "X-BAPI-TIMESTAMP": str(timestamp_ms),
        "X-BAPI-RECV-WINDOW": str(recv_window_ms),
        "X-BAPI-SIGN": signature,
    }
    if body:
        headers["Content-Type"] = "application/json"
    return SignedRequest(headers=headers, query=query, body=body)


def bybit_ws_signature(secret: str, expires_ms: int) -> str:
    return hmac_sha256(secret.encode(), f"GET/realtime{expires_ms}").hex()


def bybit_ws_auth(creds: Credentials, expires_ms: int) -> str:
    """The auth frame for the private and trade streams; ``expires_ms`` is a future epoch in ms."""
    signature = bybit_ws_signature(creds.secret, expires_ms)
    return json.dumps({"op": "auth", "args": [creds.api_key, expires_ms, signature]}, separators=(",", ":"))
