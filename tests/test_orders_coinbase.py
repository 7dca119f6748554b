"""Coinbase order client specifics: the order_configuration table, create/cancel replies, the user
channel's cumulative updates turned into fills with real trade ids, JWT verification in the
simulator (what the client signs is what the venue checks), 429 and 401 mapping, reconnect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill, OrderIntent
from arbcore.sim.exchange import OrderFault, SimAccount
from arbcore.sim.orders.coinbase import verify_jwt
from arbcore.sim.orders.rig import OrderRig, client_config
from arbcore.sim.server import Fault
from arbcore.venues.orders import AuthError, RateLimitedError, VenueError
from arbcore.venues.orders.coinbase import (
    CoinbaseOrderClient,
    create_order_body,
    make_client,
    order_configuration,
)
from arbcore.venues.orders.registry import OrderClientConfig
from arbcore.venues.signing.coinbase import coinbase_jwt
from arbcore.venues.signing.credentials import Credentials
from test_order_clients import run as run_venue


def pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


CREDS = Credentials("organizations/org/apiKeys/key", pem())


def offline_client() -> CoinbaseOrderClient:
    cfg = OrderClientConfig(
        "coinbase", CREDS, {"rest": "http://127.0.0.1:1", "ws_user": "ws://127.0.0.1:1/"}, {"BTC-USD": (2, 8)}
    )
    client = make_client(cfg)
    assert isinstance(client, CoinbaseOrderClient)
    return client


def order_intent(
    tif: TimeInForce = TimeInForce.GTC,
    *,
    order_type: OrderType = OrderType.LIMIT,
    post_only: bool = False,
    symbol: str = "BTC-USD",
    price_decimals: int = 2,
    qty_decimals: int = 8,
    qty: int = 100_000,
    price: int | None = 1_000_000,
    side: Side = Side.BUY,
    ticket: str = "t-coinbase",
) -> OrderIntent:
    return OrderIntent(
        ticket_id=ticket,
        leg_id="buy" if side is Side.BUY else "sell",
        attempt=0,
        venue="coinbase",
        symbol=symbol,
        instrument="BTC/USD",
        base="BTC",
        quote="USD",
        price_decimals=price_decimals,
        qty_decimals=qty_decimals,
        side=side,
        order_type=order_type,
        tif=tif,
        qty=qty,
        limit_price=price,
        post_only=post_only,
    )


# ---- request mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tif", "order_type", "post_only", "want"),
    [
        (
            TimeInForce.GTC,
            OrderType.LIMIT,
            False,
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000", "post_only": False}},
        ),
        (
            TimeInForce.GTC,
            OrderType.LIMIT,
            True,
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000", "post_only": True}},
        ),
        (TimeInForce.IOC, OrderType.LIMIT, False, {"sor_limit_ioc": {"base_size": "0.001", "limit_price": "10000"}}),
        (TimeInForce.FOK, OrderType.LIMIT, False, {"limit_limit_fok": {"base_size": "0.001", "limit_price": "10000"}}),
        (TimeInForce.IOC, OrderType.MARKET, False, {"market_market_ioc": {"base_size": "0.001"}}),
        (TimeInForce.FOK, OrderType.MARKET, False, {"market_market_fok": {"base_size": "0.001"}}),
    ],
)
def test_order_configuration_table(
    tif: TimeInForce, order_type: OrderType, post_only: bool, want: dict[str, Any]
) -> None:
    price = None if order_type is OrderType.MARKET else 1_000_000
    assert order_configuration(order_intent(tif, order_type=order_type, post_only=post_only, price=price)) == want


@pytest.mark.parametrize(
    ("tif", "order_type"),
    [(TimeInForce.IOC, OrderType.LIMIT), (TimeInForce.FOK, OrderType.LIMIT), (TimeInForce.IOC, OrderType.MARKET)],
)
def test_post_only_needs_gtc_limit(tif: TimeInForce, order_type: OrderType) -> None:
    with pytest.raises(VenueError):
        order_configuration(
            order_intent(
                tif, order_type=order_type, post_only=True, price=None if order_type is OrderType.MARKET else 1
            )
        )


def test_create_order_body_matches_the_documented_request() -> None:
    """venue-protocols.md §3.2: client_order_id, product_id, side, order_configuration."""
    it = order_intent()
    assert create_order_body(it) == {
        "client_order_id": it.client_order_id,
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000", "post_only": False}},
    }


def test_create_replies() -> None:
    c = offline_client()
    ok = {
        "success": True,
        "success_response": {
            "order_id": "11111-00000-000000",
            "product_id": "BTC-USD",
            "side": "BUY",
            "client_order_id": "c1",
        },
        "order_configuration": {},
    }
    r = c.parse_create_reply("c1", ok)
    assert (r.state, r.venue_order_id) == (OrderState.ACKED, "11111-00000-000000")
    bad = {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "error_response": {
            "error": "INSUFFICIENT_FUND",
            "message": "Insufficient balance in source account",
            "error_details": "",
            "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND",
        },
    }
    rej = c.parse_create_reply("c2", bad)
    assert (rej.state, rej.reason) == (OrderState.REJECTED, "INSUFFICIENT_FUND: Insufficient balance in source account")


# ---- parsing -------------------------------------------------------------------------------------


def test_user_channel_order_update() -> None:
    """A ``user`` update (field names as in the Advanced Trade user channel docs)."""
    c = offline_client()
    got: list[Any] = []
    c.on_report = got.append
    msg = {
        "channel": "user",
        "client_id": "",
        "timestamp": "2023-02-09T20:33:57.609931463Z",
        "sequence_num": 0,
        "events": [
            {
                "type": "update",
                "orders": [
                    {
                        "order_id": "XXX",
                        "client_order_id": "YYY",
                        "cumulative_quantity": "0.0004",
                        "leaves_quantity": "0.0006",
                        "avg_price": "21900.01",
                        "total_fees": "0.0525600240",
                        "status": "OPEN",
                        "product_id": "BTC-USD",
                        "creation_time": "2022-12-07T19:42:18.719312Z",
                        "order_side": "BUY",
                        "order_type": "Limit",
                    },
                    {
                        "order_id": "ZZZ",
                        "client_order_id": "WWW",
                        "cumulative_quantity": "0",
                        "status": "CANCELLED",
                        "product_id": "BTC-USD",
                    },
                ],
            }
        ],
    }
    c.on_stream(msg)  # no running loop: the fills fetch is skipped here
    assert [(r.client_order_id, r.state, r.filled_qty, r.cumulative) for r in got] == [
        ("YYY", OrderState.PARTIALLY_FILLED, 40_000, True),
        ("WWW", OrderState.CANCELED, 0, True),
    ]


def test_fill_and_product_parsing() -> None:
    c = offline_client()
    fill = {
        "entry_id": "22222-2222222-22222222",
        "trade_id": "1111-11111-111111",
        "order_id": "0000-000000-000000",
        "trade_time": "2021-05-31T09:59:59Z",
        "trade_type": "FILL",
        "price": "10000.00",
        "size": "0.001",
        "commission": "1.25",
        "product_id": "BTC-USD",
        "liquidity_indicator": "MAKER",
        "side": "BUY",
    }
    assert c.fill_of(fill, "BTC-USD") == Fill("1111-11111-111111", 100_000, 1_000_000, 125, "USD", 2)
    product = {
        "product_id": "BTC-USD",
        "base_increment": "0.00000001",
        "quote_increment": "0.01",
        "price_increment": "0.01",
        "base_min_size": "0.00000001",
        "base_max_size": "3400",
        "quote_min_size": "1",
        "base_currency_id": "BTC",
        "quote_currency_id": "USD",
    }
    rules = c.rules_from_product("BTC-USD", product)
    assert (rules.tick, rules.lot, rules.min_qty, rules.max_qty, rules.min_notional) == (1, 1, 1, 3400 * 10**8, 10**10)
    assert (rules.base, rules.quote) == ("BTC", "USD")


def test_rest_order_status_mapping() -> None:
    c = offline_client()
    base = {"order_id": "O1", "client_order_id": "c1", "product_id": "BTC-USD"}
    cases = [
        ("OPEN", "0", OrderState.ACKED),
        ("OPEN", "0.5", OrderState.PARTIALLY_FILLED),
        ("FILLED", "1", OrderState.FILLED),
        ("CANCELLED", "0.5", OrderState.CANCELED),
        ("EXPIRED", "0", OrderState.EXPIRED),
        ("FAILED", "0", OrderState.REJECTED),
    ]
    for status, filled, state in cases:
        r = c.rest_order_report({**base, "status": status, "filled_size": filled})
        assert r.state is state and r.filled_qty == int(float(filled) * 10**8)


# ---- JWT verification in the simulator -----------------------------------------------------------


def test_sim_jwt_verification() -> None:
    account = SimAccount(CREDS.api_key, CREDS.secret)
    accounts = {CREDS.api_key: account}
    now = int(time.time())
    uri = "POST api.coinbase.com/api/v3/brokerage/orders"
    rest = coinbase_jwt(CREDS, now_s=now, method="POST", path="/api/v3/brokerage/orders")
    assert verify_jwt(rest, accounts, uri, now) is account
    assert verify_jwt(rest, accounts, "GET api.coinbase.com/api/v3/brokerage/orders", now) is None  # other request
    assert verify_jwt(rest, accounts, uri, now + 121) is None  # expired (2 minutes)
    ws = coinbase_jwt(CREDS, now_s=now)
    assert verify_jwt(ws, accounts, None, now) is account
    forged = coinbase_jwt(Credentials(CREDS.api_key, pem()), now_s=now, method="POST", path="/api/v3/brokerage/orders")
    assert verify_jwt(forged, accounts, uri, now) is None  # signed by a key the venue never issued
    tampered = rest.split(".")
    tampered[1] = tampered[1][:-2] + ("AA" if not tampered[1].endswith("AA") else "BB")
    assert verify_jwt(".".join(tampered), accounts, uri, now) is None


# ---- against the simulator -----------------------------------------------------------------------


def run(body: Callable[[OrderRig], Awaitable[None]]) -> None:
    run_venue("coinbase", body)


def rig_intent(rig: OrderRig, tif: TimeInForce, price: int, tag: str) -> OrderIntent:
    return order_intent(tif, symbol=rig.symbol, price_decimals=2, qty_decimals=6, qty=10_000, price=price, ticket=tag)


def test_rest_refusals_map_to_errors() -> None:
    async def body(rig: OrderRig) -> None:
        ask = rig.venue.instruments[rig.symbol].process.book.best_ask()
        assert ask is not None
        rig.exchange.inject(OrderFault.RATE_LIMIT)
        with pytest.raises(RateLimitedError) as err:
            await rig.client.place(rig_intent(rig, TimeInForce.IOC, ask, f"rl-{time.time_ns()}"))
        assert err.value.retry_after == 1.0
        other = make_client(client_config("coinbase", rig.venue, Credentials(rig.credentials.api_key, pem())))
        assert isinstance(other, CoinbaseOrderClient)
        try:
            with pytest.raises(AuthError, match="401"):
                await other.balances()
        finally:
            await other.close()

    run(body)


def test_fills_carry_trade_ids_and_query_finds_unknown_order_ids() -> None:
    async def body(rig: OrderRig) -> None:
        got: list[Any] = []
        rig.client.on_report = got.append
        ask = rig.venue.instruments[rig.symbol].process.book.best_ask()
        assert ask is not None
        it = rig_intent(rig, TimeInForce.FOK, ask + 50, f"fok-{time.time_ns()}")
        await rig.client.place(it)
        end = time.monotonic() + 3
        while sum(f.qty for r in got for f in r.fills) < 10_000 and time.monotonic() < end:
            await asyncio.sleep(0.01)
        order = rig.exchange.find(rig.account.api_key, rig.symbol, client_id=it.client_order_id)
        assert order is not None and order.state is OrderState.FILLED
        ids = sorted(f.fill_id for r in got for f in r.fills)
        assert ids == sorted(f"{int(f.fill_id):08d}-sim" for f in order.fills)
        # a fresh client (no client id -> order id map) finds the order by listing the product
        fresh = make_client(client_config("coinbase", rig.venue, rig.credentials))
        try:
            q = await fresh.query(it)
            assert q is not None and q.state is OrderState.FILLED and q.venue_order_id == order.order_id
            assert sum(f.qty for f in q.fills) == 10_000
        finally:
            await fresh.close()

    run(body)


def test_user_channel_comes_back_after_a_drop() -> None:
    async def body(rig: OrderRig) -> None:
        client = rig.client
        assert isinstance(client, CoinbaseOrderClient)
        got: list[Any] = []
        client.on_report = got.append
        rig.venue.inject(Fault.DISCONNECT)
        await asyncio.sleep(0.3)
        assert client.counters.reconnects >= 1 and client.ws.connected
        bid = rig.venue.instruments[rig.symbol].process.book.best_bid()
        assert bid is not None
        it = rig_intent(rig, TimeInForce.GTC, bid - 20_000, f"gtc-{time.time_ns()}")
        assert (await client.place(it)).state is OrderState.ACKED
        end = time.monotonic() + 3
        while not any(r.client_order_id == it.client_order_id for r in got) and time.monotonic() < end:
            await asyncio.sleep(0.01)
        assert any(r.client_order_id == it.client_order_id and r.state is OrderState.ACKED for r in got)

    run(body)
