"""OKX v5 (venue-protocols.md §5.4; no published secret/signature pair, §8.6).

REST: ``OK-ACCESS-SIGN = base64(HMAC_SHA256(secret, timestamp + METHOD + requestPath + body))``
with an ISO-8601 UTC millisecond timestamp, ``requestPath`` including a GET's query string, the
secret used as its UTF-8 text, and headers ``OK-ACCESS-KEY/-SIGN/-TIMESTAMP/-PASSPHRASE``.
WebSocket login signs ``timestamp + "GET" + "/users/self/verify"`` with the timestamp in unix
seconds. Confirmed against OKX's v5 docs text as quoted by client write-ups (docs search, 2026).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from arbcore.venues.signing.common import SignedRequest, hmac_sha256
from arbcore.venues.signing.credentials import Credentials
from arbcore.venues.signing.errors import CredentialsError, SigningError

WS_LOGIN_PATH = "/users/self/verify"


def okx_timestamp(epoch_ms: int) -> str:
    """``2020-12-08T09:08:57.715Z``: OKX rejects (50102) a stamp more than 30 s off its clock."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{datetime.fromtimestamp(seconds, tz=UTC):%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def okx_signature(secret: str, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    if not request_path.startswith("/"):
        raise SigningError(f"OKX requestPath must start with '/': {request_path!r}")
    message = f"{timestamp}{method.upper()}{request_path}{body}"
    return base64.b64encode(hmac_sha256(secret.encode(), message)).decode()


def _passphrase(creds: Credentials) -> str:
    if creds.passphrase is None:
        raise CredentialsError("OKX requires a passphrase and these credentials have none")
    return creds.passphrase


def okx_sign_request(
    creds: Credentials,
    *,
    epoch_ms: int,
    method: str,
    request_path: str,
    body: str = "",
    simulated: bool = False,
) -> SignedRequest:
    """``request_path`` is e.g. ``/api/v5/account/balance?ccy=BTC`` for a GET; ``body`` is the exact
    JSON text of a POST. ``simulated`` adds the demo-trading header."""
    timestamp = okx_timestamp(epoch_ms)
    headers = {
        "OK-ACCESS-KEY": creds.api_key,
        "OK-ACCESS-SIGN": okx_signature(creds.secret, timestamp, method, request_path, body),
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": _passphrase(creds),
    }
    if body:
        headers["Content-Type"] = "application/json"
    if simulated:
        headers["x-simulated-trading"] = "1"
    # The query is signed as part of requestPath; returned apart so a client can build the URL.
    return SignedRequest(headers=headers, query=request_path.partition("?")[2], body=body)


def okx_ws_login(creds: Credentials, epoch_s: int) -> str:
    """The ``login`` frame for ``/ws/v5/private``; the timestamp here is unix seconds."""
    timestamp = str(epoch_s)
    arg = {
        "apiKey": creds.api_key,
        "passphrase": _passphrase(creds),
        "timestamp": timestamp,
        "sign": okx_signature(creds.secret, timestamp, "GET", WS_LOGIN_PATH),
    }
    return json.dumps({"op": "login", "args": [arg]}, separators=(",", ":"))
