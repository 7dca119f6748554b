"""Checking a request to the simulated Binance venue, as Binance does: its API key, timestamp and
HMAC-SHA256 signature (WS API params or signed REST query and body), and its parameters; a check
that fails raises `RefusedError` with the venue's HTTP status, code and message."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from arbcore.sim.exchange import SimAccount, SimExchange
from arbcore.sim.fmt import now_ms, parse_raw
from arbcore.sim.orders.common import account_for
from arbcore.sim.server import SimVenue

SIGNATURE_INVALID = (400, -1022, "Signature for this request is not valid.")


class RefusedError(Exception):
    def __init__(self, status: int, code: int, msg: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.data = status, code, msg, data


def mandatory(name: str) -> RefusedError:
    return RefusedError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _param_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def signature_payload(params: dict[str, Any]) -> str:
    """The simulator's own rendering of Binance's WS API payload (every param but ``signature``,
    sorted by name, ``name=value`` joined by ``&``; JSON true/false as ``true``/``false``)."""
    return "&".join([f"{k}={_param_text(params[k])}" for k in sorted(params) if k != "signature"])


#: secret -> HMAC-SHA256 keyed with it, copied per message (keying once per account, not per request)
_KEYED: dict[str, hmac.HMAC] = {}


def _hmac_hex(secret: str, payload: str) -> str:
    keyed = _KEYED.get(secret)
    if keyed is None:
        if len(_KEYED) >= 1024:
            _KEYED.clear()
        keyed = _KEYED[secret] = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    mac = keyed.copy()
    mac.update(payload.encode())
    return mac.hexdigest()


def random_client_id() -> str:
    return secrets.token_urlsafe(16)[:22]


# ---- authentication -----------------------------------------------------------------------------


def authenticate(venue: SimVenue, params: dict[str, Any]) -> SimAccount:
    """The account a signed WS API request (``apiKey``, ``timestamp``, ``signature`` in its params) is from."""
    api_key = params.get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise RefusedError(401, -2014, "API-key format invalid.")
    account = account_for(venue, api_key)
    if account is None:
        raise RefusedError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    check_time(params.get("timestamp"), params.get("recvWindow", 5000))
    sig = params.get("signature")
    if not isinstance(sig, str) or not hmac.compare_digest(
        _hmac_hex(account.secret, signature_payload(params)), sig.lower()
    ):
        raise RefusedError(*SIGNATURE_INVALID)
    return account


def check_time(ts: Any, window: Any) -> None:
    try:
        ts_i, window_i = int(ts), int(window)
    except (TypeError, ValueError):
        raise mandatory("timestamp") from None
    now = now_ms()
    if ts_i > 10**14:  # microseconds
        ts_i //= 1000
    if ts_i >= now + 1000 or now - ts_i > window_i:
        raise RefusedError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def rest_account(venue: SimVenue, request: web.Request) -> SimAccount:
    """The account of a REST request's ``X-MBX-APIKEY`` header."""
    key = request.headers.get("X-MBX-APIKEY")
    if not key:
        raise RefusedError(401, -2014, "API-key format invalid.")
    account = account_for(venue, key)
    if account is None:
        raise RefusedError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    return account


async def rest_signed(venue: SimVenue, request: web.Request) -> tuple[SimAccount, dict[str, str]]:
    """The account and params of a signed REST request (query string and body up to ``&signature=``)."""
    account = rest_account(venue, request)
    raw = request.rel_url.raw_query_string
    body = await request.text()
    total = raw + body
    signed, sep, sig = total.rpartition("&signature=")
    if not sep or "&" in sig:
        raise mandatory("signature")
    params = dict(parse_qsl(signed, keep_blank_values=True))
    check_time(params.get("timestamp"), params.get("recvWindow", "5000"))
    if not hmac.compare_digest(_hmac_hex(account.secret, signed), sig.lower()):
        raise RefusedError(*SIGNATURE_INVALID)
    return account, params


# ---- parameters ---------------------------------------------------------------------------------


def symbol_param(exchange: SimExchange, params: dict[str, Any]) -> str:
    symbol = params.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise mandatory("symbol")
    if symbol not in exchange.markets:
        raise RefusedError(400, -1121, "Invalid symbol.")
    return symbol


def decimal_param(params: dict[str, Any], name: str, decimals: int, *, futures: bool) -> int:
    text = params.get(name)
    if not isinstance(text, str) or not text:
        raise mandatory(name)
    try:
        return parse_raw(text, decimals, name)
    except ValueError:
        if futures:
            raise RefusedError(400, -1111, "Precision is over the maximum defined for this asset.") from None
        raise RefusedError(400, -1111, f"Parameter '{name}' has too much precision.") from None
