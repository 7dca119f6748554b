"""How the Binance order client reads the venue's answers: error replies as the contract's exceptions,
order objects and stream events as reports, account trades as fills, exchangeInfo symbols as rules.

Order status: NEW/PENDING_NEW -> ACKED, PARTIALLY_FILLED, FILLED, CANCELED,
PENDING_CANCEL -> ACKED, REJECTED, EXPIRED/EXPIRED_IN_MATCH -> EXPIRED.

Errors: HTTP-like status 429/418 or codes -1003/-1015 -> RateLimitedError (``retryAfter`` -
``serverTime`` from ``error.data``, else ``Retry-After``, else 1 s); -1022 (bad signature), -2014,
-2015, -1002 -> AuthError; -1006/-1007 (execution status unknown) -> OrderTimeoutError; any
other refusal of a new order -> REJECTED with the venue's text; -2013 on a query -> None;
-2011 on a cancel -> the order's final state from a query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from arbcore.execution.orders import OrderState
from arbcore.execution.records import Fill
from arbcore.venues.orders.base import now_ms
from arbcore.venues.orders.decimal_text import to_raw, to_text
from arbcore.venues.orders.types import (
    AuthError,
    InstrumentRules,
    OrderReport,
    OrderTimeoutError,
    RateLimitedError,
)

STATUS_MAP: dict[str, OrderState] = {
    "NEW": OrderState.ACKED,
    "PENDING_NEW": OrderState.ACKED,
    "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
    "FILLED": OrderState.FILLED,
    "CANCELED": OrderState.CANCELED,
    "PENDING_CANCEL": OrderState.ACKED,
    "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED,
    "EXPIRED_IN_MATCH": OrderState.EXPIRED,
    "NEW_INSURANCE": OrderState.ACKED,
    "NEW_ADL": OrderState.ACKED,
}

RATE_LIMIT_CODES = frozenset({-1003, -1015})
AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
UNKNOWN_OUTCOME_CODES = frozenset({-1006, -1007})
ORDER_NOT_FOUND = -2013
UNKNOWN_ORDER = -2011


class BinanceApiError(Exception):
    """A refusal that the caller maps by context (a reject, an unknown order)."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg


# ---- pure helpers (tested directly) ------------------------------------------------------------


def text_places(text: str) -> int:
    """Decimal places written in ``text`` (``"0.00001000"`` -> 8, ``"4"`` -> 0)."""
    _, dot, frac = text.partition(".")
    return len(frac) if dot else 0


def make_fill(trade_id: Any, qty: int, price: int, commission: Any, asset: Any) -> Fill:
    """A fill whose fee is the venue's commission text exactly as written (``fee_decimals`` = its places)."""
    text = "0" if commission is None else str(commission)
    places = text_places(text)
    return Fill(
        str(trade_id),
        qty,
        price,
        fee=to_raw(text, places, "commission"),
        fee_asset="" if asset is None else str(asset),
        fee_decimals=places,
    )


def retry_after_of(error: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> float:
    data = error.get("data")
    until = data.get("retryAfter") if isinstance(data, Mapping) else None
    if isinstance(until, int) and isinstance(data, Mapping):
        server = data.get("serverTime")
        base = server if isinstance(server, int) else now_ms()
        return max(0.001, (until - base) / 1000)
    if headers:
        for k, v in headers.items():
            if k.lower() == "retry-after":
                with contextlib.suppress(ValueError):
                    return max(0.001, float(v))
    return 1.0


def raise_for_error(
    venue: str, status: int, error: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> None:
    """Raise the contract's exception for a rate limit, auth failure or unknown outcome; otherwise
    raise :class:`BinanceApiError` for the caller to map."""
    code = error.get("code")
    code = code if isinstance(code, int) else 0
    msg = str(error.get("msg", ""))
    if status in (418, 429) or code in RATE_LIMIT_CODES:
        raise RateLimitedError(f"{venue}: {code} {msg}", retry_after_of(error, headers))
    if code in AUTH_CODES or status == 401:
        raise AuthError(f"{venue}: {code} {msg}")
    if code in UNKNOWN_OUTCOME_CODES or status >= 500:
        raise OrderTimeoutError(f"{venue}: {code} {msg} (execution status unknown)")
    raise BinanceApiError(status, code, msg)


def fill_of(row: Mapping[str, Any], id_key: str, price_decimals: int, qty_decimals: int) -> Fill:
    """A fill of an order's ``fills`` (trade id ``tradeId``) or of an account trade list (``id``):
    ``price``, ``qty``, ``commission``, ``commissionAsset``."""
    return make_fill(
        row[id_key],
        to_raw(row["qty"], qty_decimals, "qty"),
        to_raw(row["price"], price_decimals, "price"),
        row.get("commission"),
        row.get("commissionAsset"),
    )


def report_from_order(
    venue: str, order: Mapping[str, Any], price_decimals: int, qty_decimals: int, client_order_id: str | None = None
) -> OrderReport:
    """An order object (place/cancel/status/openOrders answer, spot or USD-M) as a report."""
    status = order.get("status")
    state = STATUS_MAP[status] if isinstance(status, str) else OrderState.ACKED  # an ACK reply has no status
    fills = tuple(fill_of(f, "tradeId", price_decimals, qty_decimals) for f in order.get("fills") or ())
    ts = order.get("transactTime") or order.get("updateTime") or order.get("time")
    cid = client_order_id or str(order.get("origClientOrderId") or order.get("clientOrderId", ""))
    return OrderReport(
        venue,
        cid,
        state,
        venue_order_id=str(order["orderId"]) if "orderId" in order else None,
        filled_qty=to_raw(order.get("executedQty", "0"), qty_decimals, "executedQty"),
        cumulative=True,
        fills=fills,
        venue_ns=ts * 1_000_000 if isinstance(ts, int) else None,
    )


def report_from_event(venue: str, ev: Mapping[str, Any], scales: Mapping[str, tuple[int, int]]) -> OrderReport | None:
    """A spot ``executionReport`` or a USD-M ``ORDER_TRADE_UPDATE`` as a report (None: other events)."""
    kind = ev.get("e")
    if kind == "executionReport":
        o = ev
        # on a cancel, ``c`` is the cancel request's own id and ``C`` the order's
        cid = str(o.get("C") or o["c"]) if o.get("x") == "CANCELED" else str(o["c"])
    elif kind == "ORDER_TRADE_UPDATE":
        o = ev["o"]
        cid = str(o["c"])
    else:
        return None
    pd, qd = scales[str(o["s"])]
    fills: tuple[Fill, ...] = ()
    if o.get("x") == "TRADE":
        fills = (make_fill(o["t"], to_raw(o["l"], qd, "l"), to_raw(o["L"], pd, "L"), o.get("n"), o.get("N")),)
    ts = ev.get("E")
    return OrderReport(
        venue,
        cid,
        STATUS_MAP[str(o["X"])],
        venue_order_id=str(o["i"]),
        filled_qty=to_raw(o["z"], qd, "z"),
        cumulative=True,
        fills=fills,
        reason="" if o.get("r") in (None, "NONE") else str(o.get("r")),
        venue_ns=ts * 1_000_000 if isinstance(ts, int) else None,
    )


def trades_to_fills(trades: Any, price_decimals: int, qty_decimals: int) -> tuple[Fill, ...]:
    """Account trades (spot ``myTrades``, USD-M ``userTrades``: ``id``, ``price``, ``qty``,
    ``commission``, ``commissionAsset``) as fills, in trade id order."""
    rows = sorted(trades or (), key=lambda t: int(t["id"]))
    return tuple(fill_of(t, "id", price_decimals, qty_decimals) for t in rows)


def rules_from_symbol(
    venue: str, sym: Mapping[str, Any], price_decimals: int, qty_decimals: int, options: Mapping[str, Any]
) -> InstrumentRules:
    filters = {f["filterType"]: f for f in sym.get("filters", ())}
    price_f, lot_f = filters["PRICE_FILTER"], filters["LOT_SIZE"]
    notional = 0
    if "NOTIONAL" in filters:
        notional = to_raw(filters["NOTIONAL"]["minNotional"], price_decimals + qty_decimals, "minNotional")
    elif "MIN_NOTIONAL" in filters:
        f = filters["MIN_NOTIONAL"]
        text = f.get("minNotional", f.get("notional", "0"))  # spot: minNotional; USD-M: notional
        notional = to_raw(text, price_decimals + qty_decimals, "minNotional")
    return InstrumentRules(
        venue,
        str(sym["symbol"]),
        price_decimals,
        qty_decimals,
        tick=to_raw(price_f["tickSize"], price_decimals, "tickSize"),
        lot=to_raw(lot_f["stepSize"], qty_decimals, "stepSize"),
        min_qty=to_raw(lot_f["minQty"], qty_decimals, "minQty"),
        min_notional=notional,
        max_qty=to_raw(lot_f.get("maxQty", "0"), qty_decimals, "maxQty"),
        maker_fee=options.get("maker_fee"),
        taker_fee=options.get("taker_fee"),
        base=sym.get("baseAsset") or None,
        # a USD-M contract settles in its marginAsset: the quote the ledger is credited in
        quote=sym.get("marginAsset") or sym.get("quoteAsset") or None,
    )


def add_text(a: str, b: str) -> str:
    """Exact sum of two decimal texts (``free + locked``)."""
    places = max(text_places(a), text_places(b))
    return to_text(to_raw(a, places) + to_raw(b, places), places, places)
