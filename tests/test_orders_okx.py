"""OKX v5 specifics of the order client and its simulated order side: the ordType table, parsing
of the documented ``orders`` push, error-code mapping, signing round trips (REST and WS login)
against the simulator, post-only cancellation (what OKX shares with Bybit is in
test_order_clients.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill
from arbcore.sim.exchange import OrderFault
from arbcore.sim.orders.okx import parse_okx_timestamp
from arbcore.sim.orders.rig import OrderRig, client_config
from arbcore.venues.orders import AuthError, OrderReport, RateLimitedError
from arbcore.venues.orders.okx import (
    LIVE_URLS,
    OkxOrderClient,
    charged_fee,
    map_state,
    ord_type,
    order_fields,
    raise_for_code,
)
from arbcore.venues.orders.registry import OrderClientConfig
from arbcore.venues.signing.credentials import Credentials
from arbcore.venues.signing.okx import okx_timestamp
from test_order_clients import QTY, Collector, best, intent
from test_order_clients import run as run_venue

CREDS = Credentials("k" * 18, "s" * 32, "p" * 8)


def offline_client(scales: dict[str, tuple[int, int]]) -> OkxOrderClient:
    urls = {"rest": "http://127.0.0.1:9", "ws_private": "ws://127.0.0.1:9/ws/v5/private"}
    return OkxOrderClient(OrderClientConfig("okx", CREDS, urls, scales))


def run(body: Callable[[OrderRig], Awaitable[None]]) -> None:
    run_venue("okx", body)


class _Rig:
    venue_name = "okx"
    symbol = "BTC-USDT"


# ---- request building --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("otype", "tif", "post_only", "want"),
    [
        (OrderType.LIMIT, TimeInForce.GTC, False, "limit"),
        (OrderType.LIMIT, TimeInForce.IOC, False, "ioc"),
        (OrderType.LIMIT, TimeInForce.FOK, False, "fok"),
        (OrderType.LIMIT, TimeInForce.GTC, True, "post_only"),
        (OrderType.MARKET, TimeInForce.IOC, False, "market"),
        (OrderType.MARKET, TimeInForce.GTC, False, "market"),
    ],
)
def test_ord_type_table(otype: OrderType, tif: TimeInForce, post_only: bool, want: str) -> None:
    price = None if otype is OrderType.MARKET else 5_000_010
    it = intent(_Rig(), Side.SELL, 12_300, price, tif, order_type=otype, post_only=post_only)  # type: ignore[arg-type]
    assert ord_type(it) == want
    args = order_fields(it)
    assert args["ordType"] == want and args["tdMode"] == "cash" and args["side"] == "sell" and args["sz"] == "0.0123"
    assert args["instId"] == "BTC-USDT" and args["clOrdId"] == it.client_order_id
    if otype is OrderType.MARKET:
        assert "px" not in args and args["tgtCcy"] == "base_ccy"
    else:
        assert args["px"] == "50000.1"


# ---- documented messages -----------------------------------------------------------------------

#: an ``orders`` push as OKX documents it (a maker sell of 0.001 BTC, fee charged in USDT)
DOC_PUSH: dict[str, Any] = {
    "arg": {"channel": "orders", "instType": "SPOT", "uid": "614488474791936"},
    "data": [
        {
            "accFillSz": "0.001",
            "amendResult": "",
            "avgPx": "31527.1",
            "cancelSource": "",
            "category": "normal",
            "ccy": "",
            "clOrdId": "",
            "code": "0",
            "cTime": "1654084334977",
            "execType": "M",
            "fee": "-0.02522168",
            "feeCcy": "USDT",
            "fillFee": "-0.02522168",
            "fillFeeCcy": "USDT",
            "fillNotionalUsd": "31.50818374",
            "fillPx": "31527.1",
            "fillSz": "0.001",
            "fillTime": "1654084353263",
            "instId": "BTC-USDT",
            "instType": "SPOT",
            "lever": "0",
            "msg": "",
            "notionalUsd": "31.50818374",
            "ordId": "452197707845865472",
            "ordType": "limit",
            "pnl": "0",
            "posSide": "",
            "px": "31527.1",
            "rebate": "0",
            "rebateCcy": "BTC",
            "reduceOnly": "false",
            "reqId": "",
            "side": "sell",
            "source": "",
            "state": "filled",
            "sz": "0.001",
            "tag": "",
            "tdMode": "cash",
            "tgtCcy": "",
            "tradeId": "242589207",
            "uTime": "1654084353264",
        }
    ],
}


def test_documented_orders_push() -> None:
    client = offline_client({"BTC-USDT": (1, 8)})
    got: list[OrderReport] = []
    client.on_report = got.append
    client._on_event(DOC_PUSH)
    (r,) = got
    assert (r.state, r.filled_qty, r.cumulative, r.venue_order_id) == (
        OrderState.FILLED,
        100_000,
        True,
        "452197707845865472",
    )
    assert r.fills == (Fill("242589207", 100_000, 315_271, 2_522_168, "USDT", 8),)
    assert r.venue_ns == 1654084353264 * 1_000_000
    # the same trade pushed again (a later state change repeats the last fill) is not reported twice
    client._on_event(DOC_PUSH)
    assert len(got) == 2 and got[1].fills == ()


@pytest.mark.parametrize(
    ("state", "kind", "want"),
    [
        ("live", "limit", OrderState.ACKED),
        ("live", "post_only", OrderState.ACKED),
        ("partially_filled", "limit", OrderState.PARTIALLY_FILLED),
        ("filled", "ioc", OrderState.FILLED),
        ("canceled", "limit", OrderState.CANCELED),
        ("canceled", "post_only", OrderState.CANCELED),
        ("mmp_canceled", "limit", OrderState.CANCELED),
        ("canceled", "ioc", OrderState.EXPIRED),
        ("canceled", "fok", OrderState.EXPIRED),
        ("canceled", "market", OrderState.EXPIRED),
    ],
)
def test_state_mapping(state: str, kind: str, want: OrderState) -> None:
    assert map_state({"state": state, "ordType": kind}) is want


def test_fee_sign_and_places() -> None:
    assert charged_fee("-0.02522168") == (2_522_168, 8)
    assert charged_fee("0.0001") == (-1, 4)  # a rebate is a negative charge
    assert charged_fee("0") == (0, 0)


def test_instrument_rules_from_documented_entry() -> None:
    entry = {
        "instType": "SPOT",
        "instId": "BTC-USDT",
        "baseCcy": "BTC",
        "quoteCcy": "USDT",
        "tickSz": "0.1",
        "lotSz": "0.00000001",
        "minSz": "0.00001",
        "maxLmtSz": "9999999999",
        "state": "live",
    }
    r = offline_client({"BTC-USDT": (1, 8)}).rules_of(entry)
    assert (r.tick, r.lot, r.min_qty, r.min_notional, r.max_qty) == (1, 1, 1_000, 0, 9_999_999_999 * 10**8)
    assert (r.base, r.quote) == ("BTC", "USDT")


def test_okx_timestamp_round_trip() -> None:
    ms = 1_607_418_537_715
    assert okx_timestamp(ms) == "2020-12-08T09:08:57.715Z"
    assert parse_okx_timestamp(okx_timestamp(ms)) == ms


# ---- error codes -------------------------------------------------------------------------------


def test_error_code_mapping() -> None:
    with pytest.raises(RateLimitedError) as rl:
        raise_for_code("50011", "Rate limit reached.", "order")
    assert rl.value.retry_after > 0
    for code in ("50113", "50111", "50105", "60009"):
        with pytest.raises(AuthError):
            raise_for_code(code, "x", "login")
    raise_for_code("51016", "Duplicated clOrdId", "order")  # a reject: no exception
    raise_for_code("51008", "Order failed. Insufficient USDT balance in account", "order")


def test_rejects_carry_the_venue_code() -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = best(rig)
        it = intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC)
        assert (await rig.client.place(it)).state is OrderState.ACKED
        dup = await rig.client.place(it)
        assert dup.state is OrderState.REJECTED and dup.reason == "51016 Duplicated clOrdId"
        poor = await rig.client.place(intent(rig, Side.BUY, 10**9, bid - 20_000, TimeInForce.GTC))
        assert poor.state is OrderState.REJECTED and poor.reason.startswith("51008 ") and "USDT" in poor.reason
        odd = await rig.client.place(intent(rig, Side.BUY, 150, bid, TimeInForce.GTC))
        assert odd.state is OrderState.REJECTED and odd.reason.startswith("51121 ")  # not on the lot

    run(body)


def test_rate_limit_counts_and_nothing_is_placed() -> None:
    async def body(rig: OrderRig) -> None:
        rig.exchange.inject(OrderFault.RATE_LIMIT)
        _, ask = best(rig)
        with pytest.raises(RateLimitedError):
            await rig.client.place(intent(rig, Side.BUY, QTY, ask + 50))
        assert rig.client.counters.rate_limited == 1 and not rig.exchange.orders

    run(body)


# ---- signing round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("what", ["secret", "passphrase"])
def test_wrong_credentials_are_auth_errors(what: str) -> None:
    async def body(rig: OrderRig) -> None:
        good = rig.credentials
        wrong = (
            Credentials(good.api_key, "0" * 64, good.passphrase)
            if what == "secret"
            else Credentials(good.api_key, good.secret, "wrong-passphrase")
        )
        client = OkxOrderClient(client_config("okx", rig.venue, wrong))
        try:
            with pytest.raises(AuthError) as err:
                await client.balances()
            assert ("50113" if what == "secret" else "50105") in str(err.value)
            with pytest.raises(AuthError) as err:
                await client.start()
            assert ("60009" if what == "secret" else "60024") in str(err.value)
            assert wrong.secret not in str(err.value) and str(wrong.passphrase) not in str(err.value)
        finally:
            await client.close()
        assert {b.asset for b in await rig.client.balances()} >= {"BTC", "USDT"}

    run(body)


def test_balances_available_and_total() -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = best(rig)
        price = bid - 20_000
        await rig.client.place(intent(rig, Side.SELL, QTY, price + 40_000, TimeInForce.GTC))
        btc = {b.asset: b for b in await rig.client.balances()}["BTC"]
        assert (btc.total, btc.available) == ("10", "9.99")

    run(body)


# ---- order paths -------------------------------------------------------------------------------


def test_post_only_that_would_take_is_canceled_with_source_31() -> None:
    async def body(rig: OrderRig) -> None:
        col = Collector(rig)
        _, ask = best(rig)
        it = intent(rig, Side.BUY, QTY, ask + 100, TimeInForce.GTC, post_only=True)
        first = await rig.client.place(it)
        assert first.state is OrderState.ACKED and first.venue_order_id
        await col.until(lambda: any(r.state is OrderState.CANCELED for r in col.for_order(it.client_order_id)))
        (r,) = col.for_order(it.client_order_id)
        assert "post-only" in r.reason and r.filled_qty == 0
        q = await rig.client.query(it)
        assert q is not None and q.state is OrderState.CANCELED

    run(body)


def test_live_urls() -> None:
    assert LIVE_URLS == {"rest": "https://www.okx.com", "ws_private": "wss://ws.okx.com:8443/ws/v5/private"}
