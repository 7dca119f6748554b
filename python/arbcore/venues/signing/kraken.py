"""Kraken Spot REST (venue-protocols.md §4.5, vector §8.5).

``API-Sign = base64(HMAC_SHA512(base64decode(secret), uri_path + SHA256(nonce + post_data)))``,
the SHA-256 digest as raw bytes and ``post_data`` the exact url-encoded body, ``nonce=`` included.
Nonces must strictly increase per key. Confirmed against Kraken client libraries (docs search, 2026).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

from arbcore.venues.signing.common import Params, SignedRequest, b64decode_secret, encode_params
from arbcore.venues.signing.credentials import Credentials
from arbcore.venues.signing.errors import SigningError


def kraken_signature(secret_b64: str, uri_path: str, nonce: int | str, post_data: str) -> str:
    key = b64decode_secret(secret_b64, "the Kraken API secret")
    digest = hashlib.sha256(f"{nonce}{post_data}".encode()).digest()
    return base64.b64encode(hmac.new(key, uri_path.encode() + digest, hashlib.sha512).digest()).decode()


class KrakenNonce:
    """Strictly increasing nonces in epoch milliseconds (the unit of Kraken's own example).

    Milliseconds of wall time also increase across restarts; a burst faster than 1 per ms runs
    ahead of the clock by one per call. Moving later to a finer unit is safe, to a coarser not.
    Concurrent requests can still arrive out of order: Kraken's per-key nonce window covers that.
    """

    def __init__(self, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000, last: int = 0) -> None:
        self._clock_ms = clock_ms
        self._last = last

    def __call__(self) -> int:
        self._last = max(self._clock_ms(), self._last + 1)
        return self._last


def kraken_sign_request(creds: Credentials, uri_path: str, params: Params, nonce: int) -> SignedRequest:
    """Form-encode ``nonce`` first and then ``params`` in order, and sign that exact body."""
    if not uri_path.startswith("/0/private/"):
        raise SigningError(f"Kraken signs private endpoints (/0/private/...), not {uri_path!r}")
    items = params.items() if isinstance(params, Mapping) else params
    body = encode_params([("nonce", nonce), *items])
    headers = {
        "API-Key": creds.api_key,
        "API-Sign": kraken_signature(creds.secret, uri_path, nonce, body),
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    return SignedRequest(headers=headers, body=body)
