"""Kraken order client specifics: the add_order mapping, exact parsing of executions events (JSON
numbers), REST order/asset/pair parsing, error mapping, and the simulator checking what the
client signs (key, signature, nonce) over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill, OrderIntent
from arbcore.sim.orders.rig import OrderRig, client_config
from arbcore.sim.server import Fault
from arbcore.venues.orders import AuthError, RateLimitedError, VenueError
from arbcore.venues.orders.kraken import KrakenOrderClient, asset_name, make_client, pair_assets
from arbcore.venues.orders.registry import OrderClientConfig
from arbcore.venues.signing.credentials import Credentials
from arbcore.venues.signing.kraken import KrakenNonce
from test_order_clients import run as run_venue

CREDS = Credentials("key", "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==")


def offline_client() -> KrakenOrderClient:
    cfg = OrderClientConfig(
        "kraken", CREDS, {"rest": "http://127.0.0.1:1", "ws_auth": "ws://127.0.0.1:1/v2"}, {"BTC/USD": (1, 8)}
    )
    client = make_client(cfg)
    assert isinstance(client, KrakenOrderClient)
    return client


def order_intent(
    tif: TimeInForce = TimeInForce.GTC,
    *,
    order_type: OrderType = OrderType.LIMIT,
    post_only: bool = False,
    symbol: str = "BTC/USD",
    price_decimals: int = 1,
    qty_decimals: int = 8,
    qty: int = 120_000_000,
    price: int | None = 265_004,
    ticket: str = "t-kraken",
) -> OrderIntent:
    return OrderIntent(
        ticket_id=ticket,
        leg_id="buy",
        attempt=0,
        venue="kraken",
        symbol=symbol,
        instrument="BTC/USD",
        base="BTC",
        quote="USD",
        price_decimals=price_decimals,
        qty_decimals=qty_decimals,
        side=Side.BUY,
        order_type=order_type,
        tif=tif,
        qty=qty,
        limit_price=price,
        post_only=post_only,
    )


# ---- request mapping -----------------------------------------------------------------------------


def test_add_order_matches_the_documented_request() -> None:
    """venue-protocols.md §4.4: limit buy 1.2 BTC/USD at 26500.4, gtc, post_only."""
    it = order_intent(post_only=True)
    msg = offline_client().build_add_order(it, "TOKEN", 123)
    text = orjson.dumps(msg).decode()
    assert '"limit_price":26500.4' in text and '"order_qty":1.2' in text  # exact numbers, no float round trip
    back = orjson.loads(text)
    assert back == {
        "method": "add_order",
        "params": {
            "order_type": "limit",
            "side": "buy",
            "limit_price": 26500.4,
            "order_qty": 1.2,
            "symbol": "BTC/USD",
            "time_in_force": "gtc",
            "post_only": True,
            "cl_ord_id": it.client_order_id,
            "token": "TOKEN",
        },
        "req_id": 123,
    }


@pytest.mark.parametrize(
    ("tif", "order_type", "post_only", "want"),
    [
        (TimeInForce.GTC, OrderType.LIMIT, False, ("limit", "gtc", None)),
        (TimeInForce.GTC, OrderType.LIMIT, True, ("limit", "gtc", True)),
        (TimeInForce.IOC, OrderType.LIMIT, False, ("limit", "ioc", None)),
        (TimeInForce.IOC, OrderType.MARKET, False, ("market", "ioc", None)),
    ],
)
def test_tif_and_post_only_table(
    tif: TimeInForce, order_type: OrderType, post_only: bool, want: tuple[str, str, bool | None]
) -> None:
    price = None if order_type is OrderType.MARKET else 265_004
    params = offline_client().build_add_order(
        order_intent(tif, order_type=order_type, post_only=post_only, price=price), "T", 1
    )["params"]
    assert (params["order_type"], params["time_in_force"], params.get("post_only")) == want
    assert ("limit_price" in params) is (order_type is OrderType.LIMIT)


@pytest.mark.parametrize(
    ("tif", "post_only"),
    [(TimeInForce.FOK, False), (TimeInForce.IOC, True)],
)
def test_unsupported_combinations_are_refused_before_sending(tif: TimeInForce, post_only: bool) -> None:
    with pytest.raises(VenueError):
        offline_client().build_add_order(order_intent(tif, post_only=post_only), "T", 1)


# ---- replies and errors --------------------------------------------------------------------------


def test_add_order_reply_mapping() -> None:
    c = offline_client()
    ok = {
        "method": "add_order",
        "req_id": 1,
        "result": {"order_id": "OPS23M-VS41G-DDE5Z2", "cl_ord_id": "x"},
        "success": True,
    }
    r = c.parse_add_order_reply("x", ok)
    assert (r.state, r.venue_order_id) == (OrderState.ACKED, "OPS23M-VS41G-DDE5Z2")
    rej = c.parse_add_order_reply("x", {"method": "add_order", "error": "EOrder:Insufficient funds", "success": False})
    assert (rej.state, rej.reason) == (OrderState.REJECTED, "EOrder:Insufficient funds")
    for text in ("EOrder:Rate limit exceeded", "EAPI:Rate limit exceeded"):
        with pytest.raises(RateLimitedError) as err:
            c.parse_add_order_reply("x", {"error": text, "success": False})
        assert err.value.retry_after > 0
    for text in ("EAPI:Invalid key", "EAPI:Invalid signature", "ESession:Invalid session"):
        with pytest.raises(AuthError):
            c.parse_add_order_reply("x", {"error": text, "success": False})


def test_executions_trade_event_is_parsed_exactly() -> None:
    """A v2 executions trade event with JSON numbers (fields per the executions channel docs)."""
    c = offline_client()
    frame = (
        b'{"channel":"executions","type":"update","data":[{"order_id":"OK4GJX-KSTLS-7DZZO5","cl_ord_id":"c1",'
        b'"symbol":"BTC/USD","side":"buy","order_type":"limit","order_qty":1.2,"limit_price":26500.4,'
        b'"exec_type":"trade","exec_id":"TBRE2Y-2KHXQ-JSA2KF","trade_id":5801612,"last_qty":0.00040000,'
        b'"last_price":26500.3,"cost":10.60012,"liquidity_ind":"t","fees":[{"asset":"USD","qty":0.02756}],'
        b'"cum_qty":0.00040000,"cum_cost":10.60012,"avg_price":26500.3,"order_status":"partially_filled",'
        b'"timestamp":"2023-09-22T10:33:05.709993Z"}],"sequence":3}'
    )
    got: list[Any] = []
    c.on_report = got.append
    c.on_stream(orjson.loads(frame))
    (r,) = got
    assert r.state is OrderState.PARTIALLY_FILLED and r.filled_qty == 40_000 and r.cumulative
    assert r.venue_order_id == "OK4GJX-KSTLS-7DZZO5"
    assert r.fills == (Fill("TBRE2Y-2KHXQ-JSA2KF", 40_000, 265_003, 2756, "USD", 5),)


def test_executions_status_events() -> None:
    c = offline_client()
    base = {"order_id": "O1", "cl_ord_id": "c1", "symbol": "BTC/USD"}
    assert c.execution_report({**base, "exec_type": "pending_new", "order_status": "pending_new"}) is None
    new = c.execution_report({**base, "exec_type": "new", "order_status": "new", "cum_qty": 0.0})
    assert new is not None and new.state is OrderState.ACKED
    canceled = c.execution_report(
        {**base, "exec_type": "canceled", "order_status": "canceled", "reason": "User requested"}
    )
    assert canceled is not None and (canceled.state, canceled.reason) == (OrderState.CANCELED, "User requested")
    expired = c.execution_report({**base, "exec_type": "expired", "order_status": "expired", "cum_qty": 0.5})
    assert expired is not None and (expired.state, expired.filled_qty) == (OrderState.EXPIRED, 50_000_000)


def test_rest_order_status_mapping() -> None:
    c = offline_client()
    order = {"cl_ord_id": "c1", "descr": {"pair": "XBT/USD"}, "vol": "1.20000000", "vol_exec": "0.40000000"}
    cases = {
        "open": OrderState.PARTIALLY_FILLED,
        "closed": OrderState.EXPIRED,
        "canceled": OrderState.CANCELED,
        "expired": OrderState.EXPIRED,
    }
    for status, state in cases.items():
        r = c.rest_order_report("OTX-1", {**order, "status": status}, None)  # pair found via XBT -> BTC
        assert (r.state, r.filled_qty, r.venue_order_id) == (state, 40_000_000, "OTX-1")
    full = c.rest_order_report("OTX-1", {**order, "status": "closed", "vol_exec": "1.2"}, None)
    assert full.state is OrderState.FILLED
    none = c.rest_order_report("OTX-1", {**order, "status": "open", "vol_exec": "0"}, None)
    assert none.state is OrderState.ACKED


def test_rest_trade_and_asset_pair() -> None:
    c = offline_client()
    trade = {"ordertxid": "OTX-1", "pair": "XXBTZUSD", "price": "26500.3", "vol": "0.00040000", "fee": "0.02756"}
    assert c.rest_fill("TX-1", trade, "BTC/USD") == Fill("TX-1", 40_000, 265_003, 2756, "USD", 5)
    pair = {
        "altname": "XBTUSD",
        "wsname": "XBT/USD",
        "base": "XXBT",
        "quote": "ZUSD",
        "pair_decimals": 1,
        "lot_decimals": 8,
        "ordermin": "0.0001",
        "costmin": "0.5",
        "tick_size": "0.1",
    }
    rules = c.rules_from_pair("BTC/USD", pair)
    assert (rules.tick, rules.lot, rules.min_qty, rules.min_notional) == (1, 1, 10_000, 5 * 10**8)
    assert (rules.base, rules.quote) == ("BTC", "USD")  # wsname's altnames, XBT as BTC
    assert pair_assets({"wsname": "XDG/USDT", "base": "XXDG", "quote": "USDT"}) == ("DOGE", "USDT")
    assert pair_assets({"wsname": "XTZ/EUR", "base": "XTZ", "quote": "ZEUR"}) == ("XTZ", "EUR")  # no prefix to drop
    assert [asset_name(a) for a in ("XXBT", "ZUSD", "USDT", "XETH")] == ["BTC", "USD", "USDT", "ETH"]


# ---- against the simulator -----------------------------------------------------------------------


def run(body: Callable[[OrderRig], Awaitable[None]], *, connect: bool = True) -> None:
    run_venue("kraken", body, connect=connect)


def test_sim_refuses_unknown_key_and_reused_nonce() -> None:
    async def body(rig: OrderRig) -> None:
        other = Credentials("not-a-key", rig.credentials.secret)
        stranger = make_client(client_config("kraken", rig.venue, other))
        with pytest.raises(AuthError, match="EAPI:Invalid key"):
            await stranger.start()
        await stranger.close()
        stuck = make_client(client_config("kraken", rig.venue, rig.credentials))
        assert isinstance(stuck, KrakenOrderClient)
        ahead = time.time_ns() // 1_000_000 + 60_000
        try:
            stuck.nonce = KrakenNonce(clock_ms=lambda: ahead + 5)
            await stuck.balances()  # accepted: nonce ahead + 5
            # a clock behind what the venue saw: ahead, then the one retry with ahead + 1, both refused
            stuck.nonce = KrakenNonce(clock_ms=lambda: ahead)
            with pytest.raises(VenueError, match="EAPI:Invalid nonce"):
                await stuck.balances()
        finally:
            await stuck.close()

    run(body)


def test_fok_is_refused_without_sending() -> None:
    async def body(rig: OrderRig) -> None:
        it = order_intent(
            TimeInForce.FOK, symbol=rig.symbol, price_decimals=2, qty_decimals=6, qty=10_000, price=5_000_000
        )
        with pytest.raises(VenueError, match="gtc, gtd, ioc"):
            await rig.client.place(it)
        assert not rig.exchange.submissions

    run(body)


def test_reconnects_and_resubscribes_after_a_drop() -> None:
    async def body(rig: OrderRig) -> None:
        got: list[Any] = []
        rig.client.on_report = got.append
        rig.venue.inject(Fault.DISCONNECT)
        await asyncio.sleep(0.3)
        client = rig.client
        assert isinstance(client, KrakenOrderClient)
        assert client.counters.reconnects >= 1 and client.ws.connected
        book = rig.venue.instruments[rig.symbol].process.book
        ask = book.best_ask()
        assert ask is not None
        tag = f"reconnect-{time.time_ns()}"
        it = order_intent(
            TimeInForce.IOC, symbol=rig.symbol, price_decimals=2, qty_decimals=6, qty=10_000, price=ask + 50, ticket=tag
        )
        first = await client.place(it)
        assert first.state is OrderState.ACKED
        end = time.monotonic() + 3
        while not any(r.state is OrderState.FILLED for r in got) and time.monotonic() < end:
            await asyncio.sleep(0.01)
        fills = [f for r in got for f in r.fills]
        assert sum(f.qty for f in fills) == 10_000 and all(f.fee_asset == "USDT" for f in fills)

    run(body)
