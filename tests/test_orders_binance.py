"""Binance Spot / USD-M order client specifics: WS API signing (published vector), the TIF/post-only
table, the documented reply and event examples parsed to exact reports, error-code mapping, and
round trips against the simulator (what the client signs the simulator verifies; refusals carry
the venue's codes; reconnect and re-subscribe after a drop)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill, OrderIntent
from arbcore.sim.orders.binance import BinanceOrderSide, signature_payload
from arbcore.sim.orders.rig import OrderRig
from arbcore.sim.server import Fault
from arbcore.venues.orders import AuthError, OrderReport, OrderTimeoutError, RateLimitedError, VenueError
from arbcore.venues.orders.binance import LIVE_URLS, BinanceClient, live_urls
from arbcore.venues.orders.binance_replies import (
    BinanceApiError,
    add_text,
    raise_for_error,
    report_from_event,
    report_from_order,
    rules_from_symbol,
)
from arbcore.venues.orders.binance_requests import order_params, order_payload_tail, ws_sign, ws_signature_payload
from arbcore.venues.orders.decimal_text import to_text
from arbcore.venues.orders.registry import OrderClientConfig
from arbcore.venues.ratelimit import RateLimiter, SlidingWindow
from arbcore.venues.signing.credentials import Credentials
from test_order_clients import run

# ---- signing --------------------------------------------------------------------------------------

DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def test_ws_api_signature_matches_the_published_example() -> None:
    """Spot WS API docs, "SIGNED request example (HMAC)": params sorted by name incl. apiKey."""
    params: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "newOrderRespType": "ACK",
        "recvWindow": 100,
        "timestamp": 1645423376532,
    }
    signed = ws_sign(Credentials(DOC_KEY, DOC_SECRET), params)
    assert ws_signature_payload(signed) == (
        f"apiKey={DOC_KEY}&newOrderRespType=ACK&price=52000.00&quantity=0.01000000&recvWindow=100"
        "&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    assert signed["signature"] == "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a"
    # the simulator renders the payload on its own and agrees
    assert signature_payload(dict(signed)) == ws_signature_payload(signed)
    assert signature_payload({"omitZeroBalances": True, "a": 1}) == "a=1&omitZeroBalances=true"


def test_keyed_order_signature_matches_the_published_example() -> None:
    """The order path's own signer (keyed once, the apiKey part hashed once, the rest written in
    name order) gives the docs' signature too."""
    params: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": "52000.00",
        "quantity": "0.01000000",
        "newClientOrderId": "x",
        "newOrderRespType": "ACK",
        "timestamp": 1645423376532,
        "recvWindow": 100,
    }
    del params["newClientOrderId"]  # the docs' example has none: not the order path's set of names
    assert order_payload_tail(params) is None
    params["newClientOrderId"] = "x"
    tail = order_payload_tail(params)
    assert tail is not None
    signed = ws_sign(Credentials(DOC_KEY, DOC_SECRET), params)
    assert f"apiKey={DOC_KEY}&{tail}" == ws_signature_payload(signed)
    client = BinanceClient(
        OrderClientConfig("binance_spot", Credentials(DOC_KEY, DOC_SECRET), LIVE_URLS, {}, {"recv_window_ms": 100})
    )
    assert client._order_mac.hexdigest(tail) == signed["signature"]
    docs = {k: v for k, v in signed.items() if k not in ("newClientOrderId", "signature")}
    assert client._mac.hexdigest(ws_signature_payload(docs)) == (
        "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a"
    )


@pytest.mark.parametrize("venue", ["binance_spot", "binance_usdm"])
@pytest.mark.parametrize("recv_window", [5000, 7000])
@pytest.mark.parametrize(
    ("order_type", "tif", "post_only"),
    [
        (OrderType.LIMIT, TimeInForce.GTC, False),
        (OrderType.LIMIT, TimeInForce.IOC, False),
        (OrderType.LIMIT, TimeInForce.FOK, False),
        (OrderType.LIMIT, TimeInForce.GTC, True),
        (OrderType.MARKET, TimeInForce.IOC, False),
    ],
)
def test_order_path_signing_equals_the_general_signer(
    venue: str, recv_window: int, order_type: OrderType, tif: TimeInForce, post_only: bool
) -> None:
    """Every row of the order table: the body `place` sends is the one `ws_sign` makes, name for
    name in the same order, with the same signature."""
    creds = Credentials("k" * 64, "s" * 64)
    client = BinanceClient(OrderClientConfig(venue, creds, live_urls(venue), {}, {"recv_window_ms": recv_window}))
    it = _intent(
        venue,
        tif,
        post_only=post_only,
        order_type=order_type,
        price=None if order_type is OrderType.MARKET else 5_000_010,
    )
    body = order_params(it, venue == "binance_usdm")
    fast = dict(body)
    client._sign_order(fast)
    # the names written straight, not the general fallback
    assert order_payload_tail({k: v for k, v in fast.items() if k not in ("apiKey", "signature")}) is not None
    general = dict(body)
    general["timestamp"] = fast["timestamp"]
    if recv_window != 5000:
        general["recvWindow"] = recv_window
    want = ws_sign(creds, general)
    assert list(fast.items()) == list(want.items())
    assert orjson.dumps(fast) == orjson.dumps(want)


# ---- the TIF / post-only table ---------------------------------------------------------------------


def _intent(
    venue: str,
    tif: TimeInForce = TimeInForce.GTC,
    *,
    post_only: bool = False,
    order_type: OrderType = OrderType.LIMIT,
    price: int | None = 5_000_010,
) -> OrderIntent:
    return OrderIntent(
        ticket_id="t-1",
        leg_id="buy",
        attempt=0,
        venue=venue,
        symbol="BTCUSDT",
        instrument="BTC/USDT",
        base="BTC",
        quote="USDT",
        price_decimals=2,
        qty_decimals=6,
        side=Side.BUY,
        order_type=order_type,
        tif=tif,
        qty=10_000,
        limit_price=price,
        post_only=post_only,
    )


@pytest.mark.parametrize(
    ("venue", "tif", "post_only", "want"),
    [
        ("binance_spot", TimeInForce.GTC, False, {"type": "LIMIT", "timeInForce": "GTC"}),
        ("binance_spot", TimeInForce.IOC, False, {"type": "LIMIT", "timeInForce": "IOC"}),
        ("binance_spot", TimeInForce.FOK, False, {"type": "LIMIT", "timeInForce": "FOK"}),
        ("binance_spot", TimeInForce.GTC, True, {"type": "LIMIT_MAKER"}),
        ("binance_usdm", TimeInForce.GTC, False, {"type": "LIMIT", "timeInForce": "GTC"}),
        ("binance_usdm", TimeInForce.IOC, False, {"type": "LIMIT", "timeInForce": "IOC"}),
        ("binance_usdm", TimeInForce.FOK, False, {"type": "LIMIT", "timeInForce": "FOK"}),
        ("binance_usdm", TimeInForce.GTC, True, {"type": "LIMIT", "timeInForce": "GTX"}),
    ],
)
def test_tif_and_post_only_mapping(venue: str, tif: TimeInForce, post_only: bool, want: dict[str, str]) -> None:
    it = _intent(venue, tif, post_only=post_only)
    p = order_params(it, venue == "binance_usdm")
    assert {k: p[k] for k in ("type", "timeInForce") if k in p} == want
    assert (p["symbol"], p["side"], p["price"], p["quantity"]) == ("BTCUSDT", "BUY", "50000.1", "0.01")
    assert p["newClientOrderId"] == it.client_order_id
    assert p["newOrderRespType"] == ("RESULT" if venue == "binance_usdm" else "FULL")


@pytest.mark.parametrize("venue", ["binance_spot", "binance_usdm"])
def test_market_and_impossible_combinations(venue: str) -> None:
    futures = venue == "binance_usdm"
    p = order_params(_intent(venue, TimeInForce.IOC, order_type=OrderType.MARKET, price=None), futures)
    assert p["type"] == "MARKET" and "price" not in p and "timeInForce" not in p
    with pytest.raises(VenueError):
        order_params(_intent(venue, TimeInForce.IOC, post_only=True), futures)
    with pytest.raises(VenueError):
        order_params(_intent(venue, TimeInForce.GTC, order_type=OrderType.MARKET, post_only=True), futures)
    with pytest.raises(VenueError):
        order_params(_intent(venue, TimeInForce.GTC, price=None), futures)


# ---- documented examples -------------------------------------------------------------------------------

FULL_RESPONSE = orjson.loads(
    b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP",'
    b'"transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000",'
    b'"origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC",'
    b'"type":"MARKET","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE",'
    b'"fills":[{"price":"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT",'
    b'"tradeId":56},{"price":"3999.00000000","qty":"5.00000000","commission":"19.99500000",'
    b'"commissionAsset":"USDT","tradeId":57}]}'
)

EXECUTION_REPORT = orjson.loads(
    b'{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,"s":"ETHBTC",'
    b'"c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410",'
    b'"P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,'
    b'"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"v":3,'
    b'"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000",'
    b'"Q":"0.00000000","W":1499405658657,"V":"NONE"}}'
)


def test_documented_full_response() -> None:
    r = report_from_order("binance_spot", FULL_RESPONSE, 2, 6)
    assert r == OrderReport(
        "binance_spot",
        "6gCrw2kRUAF9CvJDGP16IP",
        OrderState.FILLED,
        venue_order_id="28",
        filled_qty=10_000_000,
        cumulative=True,
        fills=(
            Fill("56", 1_000_000, 400_000, fee=400_000_000, fee_asset="USDT", fee_decimals=8),
            Fill("57", 5_000_000, 399_900, fee=1_999_500_000, fee_asset="USDT", fee_decimals=8),
        ),
        venue_ns=1507725176595 * 1_000_000,
    )


def test_documented_execution_report() -> None:
    r = report_from_event("binance_spot", EXECUTION_REPORT["event"], {"ETHBTC": (8, 8)})
    assert r == OrderReport(
        "binance_spot",
        "mUvoqJxFIILMdfAW5iGSOW",
        OrderState.ACKED,
        venue_order_id="4293153",
        filled_qty=0,
        venue_ns=1499405658658 * 1_000_000,
    )


def test_trade_and_cancel_events() -> None:
    ev = dict(EXECUTION_REPORT["event"])
    ev |= {"x": "TRADE", "X": "PARTIALLY_FILLED", "l": "0.25000000", "z": "0.25000000", "L": "0.10264400",
           "n": "0.00025000", "N": "ETH", "t": 77}  # fmt: skip
    r = report_from_event("binance_spot", ev, {"ETHBTC": (8, 8)})
    assert r is not None and r.state is OrderState.PARTIALLY_FILLED and r.filled_qty == 25_000_000
    assert r.fills == (Fill("77", 25_000_000, 10_264_400, fee=25_000, fee_asset="ETH", fee_decimals=8),)
    # a cancel's executionReport names the cancel request in `c` and the order in `C`
    ev |= {"x": "CANCELED", "X": "CANCELED", "c": "cancel-req-1", "C": "mUvoqJxFIILMdfAW5iGSOW"}
    r = report_from_event("binance_spot", ev, {"ETHBTC": (8, 8)})
    assert r is not None and r.client_order_id == "mUvoqJxFIILMdfAW5iGSOW" and r.state is OrderState.CANCELED
    assert r.fills == ()
    assert report_from_event("binance_spot", {"e": "outboundAccountPosition"}, {}) is None


def test_order_trade_update() -> None:
    ev = {"e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650,
          "o": {"s": "BTCUSDT", "c": "TEST", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "0.001", "p": "9910",
                "ap": "9910", "sp": "0", "x": "TRADE", "X": "FILLED", "i": 8886774, "l": "0.001", "z": "0.001",
                "L": "9910", "N": "USDT", "n": "0.0039640", "T": 1568879465650, "t": 12345, "b": "0", "a": "0",
                "m": False, "R": False, "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "BOTH", "cp": False,
                "rp": "0"}}  # fmt: skip
    r = report_from_event("binance_usdm", ev, {"BTCUSDT": (2, 3)})
    assert r == OrderReport(
        "binance_usdm",
        "TEST",
        OrderState.FILLED,
        venue_order_id="8886774",
        filled_qty=1,
        fills=(Fill("12345", 1, 991_000, fee=39_640, fee_asset="USDT", fee_decimals=7),),
        venue_ns=1568879465651 * 1_000_000,
    )


def test_exchange_info_filters_at_our_scales() -> None:
    sym = {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
         "tickSize": "0.01000000"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
         "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
    ]}  # fmt: skip
    r = rules_from_symbol("binance_spot", sym, 2, 6, {"maker_fee": 100_000})
    assert (r.tick, r.lot, r.min_qty, r.max_qty, r.min_notional) == (1, 10, 10, 9_000_000_000, 500_000_000)
    assert (r.maker_fee, r.taker_fee) == (100_000, None)
    assert (r.base, r.quote) == ("BTC", "USDT")
    usdm = {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT", "filters": [
        {"minPrice": "556.80", "maxPrice": "4529764", "filterType": "PRICE_FILTER", "tickSize": "0.10"},
        {"stepSize": "0.001", "filterType": "LOT_SIZE", "maxQty": "1000", "minQty": "0.001"},
        {"notional": "100", "filterType": "MIN_NOTIONAL"},
    ]}  # fmt: skip
    r = rules_from_symbol("binance_usdm", usdm, 2, 6, {})
    assert (r.tick, r.lot, r.min_qty, r.min_notional) == (10, 1000, 1000, 100 * 10**8)
    assert (r.base, r.quote) == ("BTC", "USDT")
    # a contract settling in another asset than its quote is that asset's market for the ledger
    assert rules_from_symbol("binance_usdm", {**usdm, "marginAsset": "BUSD"}, 2, 6, {}).quote == "BUSD"
    unnamed = rules_from_symbol("binance_usdm", {"symbol": "BTCUSDT", "filters": usdm["filters"]}, 2, 6, {})
    assert (unnamed.base, unnamed.quote) == (None, None)  # the venue does not say: nothing to check
    with pytest.raises(ValueError):
        rules_from_symbol("binance_spot", sym, 1, 6, {})  # a 0.01 tick is not representable at 1 decimal


def test_to_text_is_exact_decimal_text() -> None:
    """`to_text` (every client's prices and quantities) against Decimal, over scales and sizes."""
    import random
    from decimal import Context, Decimal

    exact = Context(prec=100)
    rng = random.Random(7)
    values = [0, 1, 9, 10, 100, 101, 10**6, 10**6 + 1, 10**30 + 7, -1, -1500, -(10**6)]
    values += [rng.randrange(10 ** rng.randrange(1, 25)) for _ in range(2000)]
    for raw in values:
        for decimals in range(19):
            want = format(Decimal(raw).scaleb(-decimals, exact).normalize(exact), "f") if raw else "0"
            assert to_text(raw, decimals) == want, (raw, decimals)
    assert to_text(1500, 6, 6) == "0.001500" and to_text(-1500, 6, 4) == "-0.0015"
    with pytest.raises(ValueError):
        to_text(1501, 6, 3)


def test_add_text_is_exact() -> None:
    assert add_text("0.10000000", "0.2") == "0.30000000"
    assert add_text("12345678901234567890.00000001", "0.00000002") == "12345678901234567890.00000003"


# ---- error mapping ---------------------------------------------------------------------------------------


def test_error_mapping() -> None:
    err = {"code": -1015, "msg": "Too many new orders; current limit is 50 orders per 10 SECOND.",
           "data": {"serverTime": 1_000_000, "retryAfter": 1_002_500}}  # fmt: skip
    with pytest.raises(RateLimitedError) as rl:
        raise_for_error("binance_spot", 429, err)
    assert rl.value.retry_after == 2.5
    with pytest.raises(RateLimitedError) as rl:
        raise_for_error(
            "binance_spot", 429, {"code": -1003, "msg": "Too much request weight used"}, {"Retry-After": "7"}
        )
    assert rl.value.retry_after == 7.0
    with pytest.raises(RateLimitedError):
        raise_for_error("binance_spot", 418, {"code": -1003, "msg": "Way too much request weight used; IP banned"})
    auth = [
        (-1022, "Signature for this request is not valid."),
        (-2015, "Invalid API-key, IP, or permissions for action."),
        (-2014, "API-key format invalid."),
    ]
    for code, msg in auth:
        with pytest.raises(AuthError, match=str(code)):
            raise_for_error("binance_spot", 400, {"code": code, "msg": msg})
    with pytest.raises(OrderTimeoutError):
        raise_for_error(
            "binance_spot", 400, {"code": -1007, "msg": "Timeout waiting for response from backend server."}
        )
    with pytest.raises(BinanceApiError) as e:
        raise_for_error("binance_spot", 400, {"code": -2010, "msg": "Duplicate order sent."})
    assert (e.value.code, e.value.msg) == (-2010, "Duplicate order sent.")


# ---- round trips against the simulator ------------------------------------------------------------------


def _rig_intent(rig: OrderRig, side: Side, price: int, tif: TimeInForce, *, post_only: bool = False) -> OrderIntent:
    return OrderIntent(
        ticket_id=f"bn-{time.time_ns()}", leg_id="buy" if side is Side.BUY else "sell", attempt=0,
        venue=rig.venue_name, symbol=rig.symbol, instrument="BTC/USDT", base="BTC", quote="USDT",
        price_decimals=2, qty_decimals=6, side=side, order_type=OrderType.LIMIT, tif=tif, qty=10_000,
        limit_price=price, post_only=post_only,
    )  # fmt: skip


def _book(rig: OrderRig) -> tuple[int, int]:
    book = rig.venue.instruments[rig.symbol].process.book
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None and ask is not None
    return bid, ask


def _client(rig: OrderRig) -> BinanceClient:
    assert isinstance(rig.client, BinanceClient)
    return rig.client


def _side(rig: OrderRig) -> BinanceOrderSide:
    side = rig.venue.order_side
    assert isinstance(side, BinanceOrderSide)
    return side


@pytest.mark.parametrize("venue", ["binance_spot", "binance_usdm"])
def test_tampered_request_is_refused_with_1022(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        client = _client(rig)
        bid, _ = _book(rig)
        params = order_params(_rig_intent(rig, Side.BUY, bid - 20_000, TimeInForce.GTC), client.futures)
        params["timestamp"] = int(time.time() * 1000)
        signed = ws_sign(rig.credentials, params)
        signed["quantity"] = "0.02"  # changed after signing
        msg: Any = await client.ws.request(
            "x1", orjson.dumps({"id": "x1", "method": "order.place", "params": signed}), 2
        )
        assert msg["status"] == 400 and msg["error"] == {
            "code": -1022,
            "msg": "Signature for this request is not valid.",
        }
        # the untouched request is accepted
        signed["quantity"] = "0.01"
        msg = await client.ws.request("x2", orjson.dumps({"id": "x2", "method": "order.place", "params": signed}), 2)
        assert msg["status"] == 200 and msg["result"]["status"] == "NEW"
        # a stale timestamp is refused as Binance does
        stale = ws_sign(rig.credentials, {"symbol": rig.symbol, "origClientOrderId": "x", "timestamp": 1})
        msg = await client.ws.request("x3", orjson.dumps({"id": "x3", "method": "order.status", "params": stale}), 2)
        assert msg["error"]["code"] == -1021

    run(venue, body)


@pytest.mark.parametrize(
    ("venue", "dup", "post"),
    [
        ("binance_spot", "Duplicate order sent. (-2010)", "Order would immediately match and take. (-2010)"),
        ("binance_usdm", "ClientOrderId is duplicated. (-4116)", "(-5022)"),
    ],
)
def test_refusals_carry_the_venue_codes(venue: str, dup: str, post: str) -> None:
    async def body(rig: OrderRig) -> None:
        bid, ask = _book(rig)
        it = _rig_intent(rig, Side.BUY, bid - 20_000, TimeInForce.GTC)
        assert (await rig.client.place(it)).state is OrderState.ACKED
        again = await rig.client.place(it)
        assert again.state is OrderState.REJECTED and again.reason == dup
        po = await rig.client.place(_rig_intent(rig, Side.BUY, ask + 100, TimeInForce.GTC, post_only=True))
        assert po.state is OrderState.REJECTED and po.reason.endswith(post)

    run(venue, body)


@pytest.mark.parametrize("venue", ["binance_spot", "binance_usdm"])
def test_cancel_of_a_filled_order_returns_its_final_state(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        _, ask = _book(rig)
        it = _rig_intent(rig, Side.BUY, ask + 50, TimeInForce.IOC)
        first = await rig.client.place(it)
        assert first.state is OrderState.FILLED
        c = await rig.client.cancel(it)  # the venue answers -2011 Unknown order sent.
        assert c.state is OrderState.FILLED and c.filled_qty == 10_000
        assert sum(f.qty for f in c.fills) == 10_000
        with pytest.raises(VenueError, match="-2011"):
            await rig.client.cancel(_rig_intent(rig, Side.BUY, ask, TimeInForce.GTC))

    run(venue, body)


@pytest.mark.parametrize("venue", ["binance_spot", "binance_usdm"])
def test_reconnects_and_resubscribes_after_a_drop(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        reports: list[OrderReport] = []
        rig.client.on_report = reports.append
        rig.venue.inject(Fault.DISCONNECT)  # every connection, order entry and private stream alike
        await asyncio.sleep(0.3)  # the background reconnect runs
        assert rig.client.counters.reconnects >= 1
        _, ask = _book(rig)
        it = _rig_intent(rig, Side.BUY, ask + 50, TimeInForce.IOC)
        r = await rig.client.place(it)
        assert r.state is OrderState.FILLED
        end = time.monotonic() + 3
        while not any(f for x in reports if x.client_order_id == it.client_order_id for f in x.fills):
            assert time.monotonic() < end, "no private-stream fill after the reconnect"
            await asyncio.sleep(0.01)

    run(venue, body)


def test_spot_subscribes_again_on_the_open_socket_when_the_venue_ends_the_subscription() -> None:
    """``eventStreamTerminated``: the order socket is reported lost and not handed out until the
    subscription is made again, on the same socket (no reconnect); fills stream again after."""

    async def body(rig: OrderRig) -> None:
        client = _client(rig)
        lost: list[None] = []
        client.on_order_socket_lost = lambda: lost.append(None)
        reports: list[OrderReport] = []
        client.on_report = reports.append
        transport = client.ws.transport
        subscribes = _side(rig).requests.count("userDataStream.subscribe.signature")
        client.ws.on_message(orjson.dumps({"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 1}}))
        assert lost == [None] and client._order_socket() is None and client.ws.connected
        end = time.monotonic() + 3
        while client._order_socket() is None:
            assert time.monotonic() < end, "not subscribed again"
            await asyncio.sleep(0.01)
        assert client.ws.transport is transport and client.counters.reconnects == 0
        assert _side(rig).requests.count("userDataStream.subscribe.signature") == subscribes + 1
        _, ask = _book(rig)
        it = _rig_intent(rig, Side.BUY, ask + 50, TimeInForce.IOC)
        assert (await client.place(it)).state is OrderState.FILLED
        while not any(f for x in reports if x.client_order_id == it.client_order_id for f in x.fills):
            assert time.monotonic() < end, "no private-stream fill after subscribing again"
            await asyncio.sleep(0.01)

    run("binance_spot", body)


def test_spot_balances_split_free_and_locked() -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = _book(rig)
        await rig.client.place(_rig_intent(rig, Side.BUY, bid - 20_000, TimeInForce.GTC))
        got = {b.asset: b for b in await rig.client.balances()}
        held = rig.account.held["USDT"]
        assert held > 0
        assert got["USDT"].total == "1000000.00000000"
        assert got["USDT"].available == to_text(rig.usdt - held, 8, 8)
        assert "order.place" in _side(rig).requests and "userDataStream.subscribe.signature" in _side(rig).requests

    run("binance_spot", body)


def test_usdm_stream_uses_a_listen_key() -> None:
    async def body(rig: OrderRig) -> None:
        client = _client(rig)
        assert client.stream is not None and client.stream.connected
        assert client._listen_key in _side(rig).listen_keys
        assert client.stream.url.endswith("/ws/" + str(client._listen_key))

    run("binance_usdm", body)


def test_a_user_stream_that_cannot_connect_does_not_show_its_listen_key() -> None:
    """Whoever holds a listenKey reads the account's orders and fills; the user stream's address
    ends in it, and a connect failure's error (logged, shown at start) printed the address whole."""
    from dataclasses import replace

    async def body(rig: OrderRig) -> None:
        client = _client(rig)
        assert client.stream is not None
        client.config = replace(client.config, urls={**client.config.urls, "user_stream": "ws://127.0.0.1:1/ws"})
        await client._new_listen_key(5.0)
        key = str(client._listen_key)
        with pytest.raises(VenueError) as e:
            await client.stream.connect(timeout=2.0)
        assert key not in str(e.value) and "ws://127.0.0.1:1/ws/***" in str(e.value), str(e.value)

    run("binance_usdm", body)


def test_weight_ban_pauses_requests_but_order_count_limit_does_not() -> None:
    async def body(rig: OrderRig) -> None:
        client = _client(rig)
        assert client.limiter is not None
        e = RateLimitedError("x", 30.0)
        client._penalise(e, 429, -1015)  # too many orders: queries and cancels stay allowed
        assert client.limiter.wait_time(1) == 0
        client._penalise(e, 429, -1003)  # request weight: everything waits
        assert client.limiter.wait_time(1) > 29
        bid, _ = _book(rig)
        with pytest.raises(RateLimitedError) as err:  # refused locally: nothing reaches the venue
            await rig.client.place(_rig_intent(rig, Side.BUY, bid - 20_000, TimeInForce.GTC), timeout=1.0)
        assert err.value.retry_after > 29 and not rig.exchange.orders

    run("binance_spot", body)


def test_an_order_without_room_waits_for_it_then_goes() -> None:
    """No room in the order window: ``place`` waits (within its timeout) instead of taking the
    synchronous path, then sends; a limiter swapped in is the one drawn on."""

    async def body(rig: OrderRig) -> None:
        client = _client(rig)
        orders = SlidingWindow(1, 0.3)
        limits = {"w": SlidingWindow(1000, 60), "o": orders}
        client.limiter = RateLimiter("t", limits, groups={"weight": ["w"], "orders": ["o"]}, default="weight")
        bid, _ = _book(rig)
        assert (await client.place(_rig_intent(rig, Side.BUY, bid - 20_000, TimeInForce.GTC))).state is OrderState.ACKED
        assert orders.used == 1
        t0 = time.monotonic()
        second = await client.place(_rig_intent(rig, Side.BUY, bid - 20_010, TimeInForce.GTC), timeout=2.0)
        assert second.state is OrderState.ACKED and time.monotonic() - t0 >= 0.25
        assert len(rig.exchange.orders) == 2

    run("binance_spot", body)
