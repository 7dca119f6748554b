"""Bybit v5 specifics of the order client and its simulated order side: the TIF/post-only table,
parsing of the documented stream messages, error-code mapping, signing round trips against the
simulator, post-only cancellation (what Bybit shares with OKX is in test_order_clients.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill
from arbcore.sim.orders.rig import OrderRig, client_config
from arbcore.venues.orders import AuthError, OrderReport, OrderTimeoutError, RateLimitedError
from arbcore.venues.orders.bybit import (
    BybitOrderClient,
    map_state,
    order_fields,
    raise_for_code,
    retry_after_s,
)
from arbcore.venues.orders.registry import OrderClientConfig
from arbcore.venues.signing.credentials import Credentials
from test_order_clients import QTY, Collector, best, intent
from test_order_clients import run as run_venue

CREDS = Credentials("k" * 18, "s" * 32)


def offline_client(scales: dict[str, tuple[int, int]]) -> BybitOrderClient:
    urls = {"rest": "http://127.0.0.1:9", "ws_trade": "ws://127.0.0.1:9/v5/trade", "ws_private": "ws://127.0.0.1:9/x"}
    return BybitOrderClient(OrderClientConfig("bybit", CREDS, urls, scales))


def run(body: Callable[[OrderRig], Awaitable[None]]) -> None:
    run_venue("bybit", body)


# ---- request building --------------------------------------------------------------------------


class _Rig:
    venue_name = "bybit"
    symbol = "BTCUSDT"


@pytest.mark.parametrize(
    ("otype", "tif", "post_only", "want"),
    [
        (OrderType.LIMIT, TimeInForce.GTC, False, ("Limit", "GTC")),
        (OrderType.LIMIT, TimeInForce.IOC, False, ("Limit", "IOC")),
        (OrderType.LIMIT, TimeInForce.FOK, False, ("Limit", "FOK")),
        (OrderType.LIMIT, TimeInForce.GTC, True, ("Limit", "PostOnly")),
        (OrderType.MARKET, TimeInForce.IOC, False, ("Market", "IOC")),
        (OrderType.MARKET, TimeInForce.GTC, False, ("Market", "IOC")),
    ],
)
def test_tif_post_only_table(otype: OrderType, tif: TimeInForce, post_only: bool, want: tuple[str, str]) -> None:
    price = None if otype is OrderType.MARKET else 5_000_010
    it = intent(_Rig(), Side.BUY, 12_300, price, tif, order_type=otype, post_only=post_only)  # type: ignore[arg-type]
    args = order_fields(it)
    assert (args["orderType"], args["timeInForce"]) == want
    assert args["category"] == "spot" and args["side"] == "Buy" and args["qty"] == "0.0123"
    assert args["orderLinkId"] == it.client_order_id
    if otype is OrderType.MARKET:
        assert "price" not in args and args["marketUnit"] == "baseCoin"
    else:
        assert args["price"] == "50000.1"


# ---- documented messages -----------------------------------------------------------------------


def test_documented_execution_event() -> None:
    """The execution example of venue-protocols.md §6.3 (linear, no feeCurrency: the fee is in the
    quote for a sell)."""
    msg = {
        "topic": "execution",
        "id": "386825804_BTCUSDT_140612148849382",
        "creationTime": 1746270400355,
        "data": [
            {
                "category": "linear",
                "symbol": "BTCUSDT",
                "execFee": "26.3725275",
                "execId": "0ab1bdf7-4219-438b-b30a-32ec863018f7",
                "execPrice": "95900.1",
                "execQty": "0.5",
                "execType": "Trade",
                "execValue": "47950.05",
                "feeRate": "0.00055",
                "leavesQty": "0",
                "orderId": "9aac161b-8ed6-450d-9cab-c5cc67c21784",
                "orderLinkId": "",
                "orderPrice": "94942.5",
                "orderQty": "0.5",
                "orderType": "Market",
                "side": "Sell",
                "execTime": "1746270400353",
                "isMaker": False,
            }
        ],
    }
    client = offline_client({"BTCUSDT": (2, 6)})
    client._assets["BTCUSDT"] = ("BTC", "USDT")
    got: list[OrderReport] = []
    client.on_report = got.append
    client._on_private_event(msg)
    assert len(got) == 1
    r = got[0]
    assert r.state is OrderState.FILLED and not r.cumulative and r.filled_qty == 0
    assert r.venue_order_id == "9aac161b-8ed6-450d-9cab-c5cc67c21784"
    assert r.venue_ns == 1746270400353 * 1_000_000
    assert r.fills == (Fill("0ab1bdf7-4219-438b-b30a-32ec863018f7", 500_000, 9_590_010, 263_725_275, "USDT", 7),)


SPOT_ORDER = {
    "category": "spot",
    "symbol": "BTCUSDT",
    "orderId": "1321003749386327552",
    "orderLinkId": "spot-test-01",
    "side": "Buy",
    "orderType": "Limit",
    "timeInForce": "IOC",
    "price": "15600",
    "qty": "0.1",
    "orderStatus": "PartiallyFilledCanceled",
    "cancelType": "UNKNOWN",
    "rejectReason": "EC_NoError",
    "leavesQty": "0",
    "cumExecQty": "0.05",
    "cumExecValue": "780",
    "cumExecFee": "0.00005",
    "feeCurrency": "BTC",
    "createdTime": "1672211918471",
    "updatedTime": "1672211918480",
}


@pytest.mark.parametrize(
    ("status", "tif", "otype", "want"),
    [
        ("New", "GTC", "Limit", OrderState.ACKED),
        ("PartiallyFilled", "GTC", "Limit", OrderState.PARTIALLY_FILLED),
        ("Filled", "IOC", "Limit", OrderState.FILLED),
        ("Cancelled", "GTC", "Limit", OrderState.CANCELED),
        ("Cancelled", "PostOnly", "Limit", OrderState.CANCELED),
        ("PartiallyFilledCanceled", "GTC", "Limit", OrderState.CANCELED),
        ("PartiallyFilledCanceled", "IOC", "Limit", OrderState.EXPIRED),
        ("Cancelled", "FOK", "Limit", OrderState.EXPIRED),
        ("Cancelled", "IOC", "Market", OrderState.EXPIRED),
        ("Rejected", "GTC", "Limit", OrderState.REJECTED),
    ],
)
def test_state_mapping(status: str, tif: str, otype: str, want: OrderState) -> None:
    assert map_state({"orderStatus": status, "timeInForce": tif, "orderType": otype}) is want


def test_order_topic_entry() -> None:
    client = offline_client({"BTCUSDT": (2, 6)})
    got: list[OrderReport] = []
    client.on_report = got.append
    client._on_private_event({"topic": "order", "creationTime": 1, "data": [SPOT_ORDER]})
    (r,) = got
    assert (r.client_order_id, r.state, r.filled_qty, r.cumulative, r.reason) == (
        "spot-test-01",
        OrderState.EXPIRED,
        50_000,
        True,
        "",
    )
    assert r.venue_order_id == "1321003749386327552" and r.venue_ns == 1672211918480 * 1_000_000
    # a malformed entry is counted, never raised into the socket callback
    client._on_private_event({"topic": "order", "data": [{**SPOT_ORDER, "cumExecQty": "0.0000001"}]})
    assert client.counters.decode_errors == 1 and len(got) == 1


def test_instrument_rules_from_documented_spot_entry() -> None:
    entry = {
        "symbol": "BTCUSDT",
        "baseCoin": "BTC",
        "quoteCoin": "USDT",
        "status": "Trading",
        "lotSizeFilter": {
            "basePrecision": "0.000001",
            "quotePrecision": "0.00000001",
            "minOrderQty": "0.000048",
            "maxOrderQty": "71.73956243",
            "minOrderAmt": "1",
            "maxOrderAmt": "2000000",
        },
        "priceFilter": {"tickSize": "0.01"},
    }
    client = offline_client({"BTCUSDT": (2, 8)})
    r = client.rules_of(entry)
    assert (r.tick, r.lot, r.min_qty, r.min_notional, r.max_qty) == (1, 100, 4_800, 10**10, 7_173_956_243)
    assert (r.base, r.quote) == ("BTC", "USDT")


# ---- error codes -------------------------------------------------------------------------------


def test_error_code_mapping() -> None:
    with pytest.raises(RateLimitedError) as rl:
        raise_for_code(10006, "Too many visits!", "order.create", 2_000_500)
    assert rl.value.retry_after > 0
    assert retry_after_s(2_000_500, now=2_000_000) == 0.5
    assert retry_after_s(None) == 1.0 and retry_after_s(1, now=2) == 0.05
    with pytest.raises(AuthError):
        raise_for_code(10004, "error sign!", "GET /v5/order/realtime")
    with pytest.raises(OrderTimeoutError):
        raise_for_code(10016, "Internal server error", "order.create")
    raise_for_code(110072, "OrderLinkedID is duplicate", "order.create")  # a reject: no exception
    raise_for_code(170131, "Insufficient balance.", "order.create")


def test_rejects_carry_the_venue_code() -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = best(rig)
        it = intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC)
        assert (await rig.client.place(it)).state is OrderState.ACKED
        dup = await rig.client.place(it)
        assert dup.state is OrderState.REJECTED and dup.reason.startswith("110072 ")
        poor = await rig.client.place(intent(rig, Side.BUY, 10**9, bid - 20_000, TimeInForce.GTC))
        assert poor.state is OrderState.REJECTED and poor.reason.startswith("170131 ")
        small = await rig.client.place(intent(rig, Side.BUY, 50, bid, TimeInForce.GTC))
        assert small.state is OrderState.REJECTED and small.reason.startswith("170137 ")  # not on the lot

    run(body)


# ---- signing round trips -----------------------------------------------------------------------


def test_rest_with_a_wrong_secret_is_an_auth_error() -> None:
    async def body(rig: OrderRig) -> None:
        good = rig.credentials
        wrong = Credentials(good.api_key, "0" * 64)
        client = BybitOrderClient(client_config("bybit", rig.venue, wrong))
        try:
            with pytest.raises(AuthError) as err:
                await client.balances()
            assert "10004" in str(err.value) and wrong.secret not in str(err.value)
            with pytest.raises(AuthError):
                await client.start()  # the trade stream's auth is refused too
        finally:
            await client.close()
        # the right key signs what the simulator verifies
        assert {b.asset for b in await rig.client.balances()} >= {"BTC", "USDT"}

    run(body)


def test_available_balance_excludes_resting_orders() -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = best(rig)
        price = bid - 20_000
        await rig.client.place(intent(rig, Side.BUY, QTY, price, TimeInForce.GTC))
        usdt = {b.asset: b for b in await rig.client.balances()}["USDT"]
        assert usdt.total == "1000000"
        held = price * QTY  # at 8 decimals, price (2) x qty (6)
        assert usdt.available == f"{(10**14 - held) // 10**8}.{(10**14 - held) % 10**8:08d}".rstrip("0").rstrip(".")

    run(body)


# ---- order paths -------------------------------------------------------------------------------


def test_post_only_that_would_take_is_cancelled_on_the_stream() -> None:
    async def body(rig: OrderRig) -> None:
        col = Collector(rig)
        _, ask = best(rig)
        it = intent(rig, Side.BUY, QTY, ask + 100, TimeInForce.GTC, post_only=True)
        first = await rig.client.place(it)
        assert first.state is OrderState.ACKED and first.venue_order_id
        await col.until(lambda: any(r.state is OrderState.CANCELED for r in col.for_order(it.client_order_id)))
        (r,) = col.for_order(it.client_order_id)
        assert r.reason == "EC_PostOnlyWillTakeLiquidity" and r.filled_qty == 0
        q = await rig.client.query(it)
        assert q is not None and q.state is OrderState.CANCELED
        again = await rig.client.place(it)
        assert again.state is OrderState.REJECTED and again.reason.startswith("110072")

    run(body)


def test_documented_live_urls() -> None:
    from arbcore.venues.orders.bybit import LIVE_URLS

    assert LIVE_URLS["ws_trade"] == "wss://stream.bybit.com/v5/trade"
    assert LIVE_URLS["ws_private"] == "wss://stream.bybit.com/v5/private"
