"""What the Binance order client sends on the WS API: ``order.place`` params, signing, request weights.

WS API signing (both markets): every param except ``signature`` (``apiKey`` and ``timestamp``
included) sorted by name, joined as ``name=value`` with ``&``, HMAC-SHA256 with the secret,
hex. Verified against the spot docs' example (signature ``cc154777...bd08a``, see the tests).

Order fields:

============================= ============================== ===================================
intent                        spot ``order.place``           USD-M ``order.place``
============================= ============================== ===================================
LIMIT, GTC                    type=LIMIT, timeInForce=GTC    type=LIMIT, timeInForce=GTC
LIMIT, IOC                    type=LIMIT, timeInForce=IOC    type=LIMIT, timeInForce=IOC
LIMIT, FOK                    type=LIMIT, timeInForce=FOK    type=LIMIT, timeInForce=FOK
LIMIT, GTC, post_only         type=LIMIT_MAKER (no TIF)      type=LIMIT, timeInForce=GTX
LIMIT, IOC/FOK, post_only     refused locally (VenueError)   refused locally (VenueError)
MARKET (any TIF)              type=MARKET (no TIF, no price) type=MARKET (no TIF, no price)
MARKET, post_only             refused locally                refused locally
============================= ============================== ===================================

Spot asks for ``newOrderRespType=FULL`` (the reply carries the fills with trade ids and
commissions); USD-M for ``RESULT`` (final status and cumulative quantity; fills come on the
stream only).
"""

from __future__ import annotations

from collections.abc import Mapping

from arbcore.execution.orders import OrderType, Side, TimeInForce
from arbcore.execution.records import OrderIntent
from arbcore.venues.orders.decimal_text import to_text
from arbcore.venues.orders.types import VenueError
from arbcore.venues.signing.common import KeyedHmac, hmac_sha256
from arbcore.venues.signing.credentials import Credentials

#: request weights (docs, 2026) by WS API method or REST path; unlisted ones weigh 1
WEIGHTS: dict[str, int] = {
    "order.status": 4,
    "openOrders.status": 80,  # all symbols (6 with a symbol)
    "account.status": 20,
    "myTrades": 5,  # with orderId
    "userDataStream.subscribe.signature": 2,
    "v2/account.balance": 5,
    "/fapi/v1/openOrders": 40,  # all symbols
    "/fapi/v1/userTrades": 5,
    "/api/v3/exchangeInfo": 20,
}


# ---- pure helpers (tested directly) ------------------------------------------------------------


def ws_signature_payload(params: Mapping[str, object]) -> str:
    """The WS API signature payload: every param but ``signature``, sorted by name, ``k=v&k=v``."""
    parts = []
    for name in sorted(params):
        if name == "signature":
            continue
        value = params[name]
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int):
            text = str(value)
        else:
            raise VenueError(f"binance: parameter {name!r} must be str, int or bool")
        parts.append(f"{name}={text}")
    return "&".join(parts)


def ws_sign(creds: Credentials, params: Mapping[str, object], mac: KeyedHmac | None = None) -> dict[str, object]:
    """``params`` with ``apiKey`` added and ``signature`` computed over the sorted payload
    (``mac``: the secret already keyed, `KeyedHmac`, to sign without hashing the key again)."""
    out: dict[str, object] = dict(params)
    out["apiKey"] = creds.api_key
    payload = ws_signature_payload(out)
    out["signature"] = hmac_sha256(creds.secret.encode(), payload).hex() if mac is None else mac.hexdigest(payload)
    return out


#: names always in `order_params` plus ``timestamp``; ``price``, ``timeInForce`` and ``recvWindow``
#: come and go with the order type and the options
_ORDER_FIXED = 7


def order_payload_tail(body: Mapping[str, object]) -> str | None:
    """`ws_signature_payload` of a signed ``order.place`` body (`order_params` plus ``timestamp``,
    maybe ``recvWindow``, and ``apiKey``) without its leading ``apiKey=<key>&``, written straight
    in name order; None when ``body`` is not exactly that set of names (sign it the general way).
    The order path signs this after a `KeyedHmac` that has hashed the ``apiKey`` part already."""
    price = body.get("price")
    tif = body.get("timeInForce")
    window = body.get("recvWindow")
    if len(body) != _ORDER_FIXED + (price is not None) + (tif is not None) + (window is not None):
        return None
    try:
        return (
            f"newClientOrderId={body['newClientOrderId']}&newOrderRespType={body['newOrderRespType']}&"
            + ("" if price is None else f"price={price}&")
            + f"quantity={body['quantity']}&"
            + ("" if window is None else f"recvWindow={window}&")
            + f"side={body['side']}&symbol={body['symbol']}&"
            + ("" if tif is None else f"timeInForce={tif}&")
            + f"timestamp={body['timestamp']}&type={body['type']}"
        )
    except KeyError:
        return None


def order_params(intent: OrderIntent, futures: bool) -> dict[str, object]:
    """The ``order.place`` params of ``intent`` (unsigned), per the table in the module docstring."""
    params: dict[str, object] = {
        "symbol": intent.symbol,
        "side": "BUY" if intent.side is Side.BUY else "SELL",
    }
    if intent.order_type is OrderType.MARKET:
        if intent.post_only:
            raise VenueError("binance: a market order cannot be post-only")
        params["type"] = "MARKET"
    else:
        if intent.limit_price is None:
            raise VenueError("binance: a limit order needs a price")
        if intent.post_only and intent.tif is not TimeInForce.GTC:
            raise VenueError(f"binance: post-only rests on the book; {intent.tif} cannot be post-only")
        if intent.post_only and not futures:
            params["type"] = "LIMIT_MAKER"
        else:
            params["type"] = "LIMIT"
            params["timeInForce"] = "GTX" if intent.post_only else intent.tif.value
        params["price"] = to_text(intent.limit_price, intent.price_decimals)
    params["quantity"] = to_text(intent.qty, intent.qty_decimals)
    params["newClientOrderId"] = intent.client_order_id
    params["newOrderRespType"] = "RESULT" if futures else "FULL"
    return params
