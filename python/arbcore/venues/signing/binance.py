"""Binance Spot and USD-M futures: HMAC-SHA256 keys (venue-protocols.md §1.4, §2.2, vectors §8.4).

``signature = hex(HMAC_SHA256(secret, query_string + body))`` with no separator between the two;
non-ASCII characters are percent-encoded before signing; the key goes in ``X-MBX-APIKEY`` and the
signature is appended as ``&signature=``. USD-M uses the same scheme, so one function serves both.
"""

from __future__ import annotations

from arbcore.venues.signing.common import Params, SignedRequest, encode_params, hmac_sha256
from arbcore.venues.signing.credentials import Credentials
from arbcore.venues.signing.errors import SigningError

API_KEY_HEADER = "X-MBX-APIKEY"
#: recvWindow bounds in ms (docs §1.4): default 5000, at most 60000.
MAX_RECV_WINDOW_MS = 60_000


def binance_signature(secret: str, query: str, body: str = "") -> str:
    """Lowercase hex HMAC-SHA256 of ``query + body`` (Binance accepts either case)."""
    payload = query + body
    if not payload.isascii():
        # The server verifies the percent-encoded bytes it received, not the decoded text.
        raise SigningError("Binance signs the percent-encoded payload: encode non-ASCII characters first")
    return hmac_sha256(secret.encode(), payload).hex()


def binance_sign_request(
    creds: Credentials,
    params: Params,
    *,
    timestamp_ms: int,
    recv_window_ms: int | None = 5000,
    body: str = "",
) -> SignedRequest:
    """Encode ``params`` (in order), append ``recvWindow`` and ``timestamp``, sign query + body,
    and append ``&signature=``. Returns the signed query, the body unchanged and the key header."""
    tail: list[tuple[str, str | int]] = []
    if recv_window_ms is not None:
        if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
            raise SigningError(f"recvWindow {recv_window_ms} ms is outside (0, {MAX_RECV_WINDOW_MS}]")
        tail.append(("recvWindow", recv_window_ms))
    tail.append(("timestamp", timestamp_ms))
    query = "&".join(part for part in (encode_params(params), encode_params(tail)) if part)
    signature = binance_signature(creds.secret, query, body)
    return SignedRequest(headers={API_KEY_HEADER: creds.api_key}, query=f"{query}&signature={signature}", body=body)
