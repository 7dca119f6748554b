"""Conformance of every venue's order client against its simulated venue, over loopback.

One list of cases, run for each venue: fills reach the ledger-relevant fields exactly (quantity,
price, fee and fee asset per fill, once), the venue's balances read back equal the simulator's
accounts, and every order-path fault behaves as the client contract says (`venues/orders/base.py`).
Then what the Bybit and OKX clients share, run for those two, and at the end the shared
connection lifecycle (`venues/orders/connection.py`) on a socket kept in memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
import uvloop

from arbcore.execution.eager import start_now
from arbcore.execution.orders import TERMINAL_STATES, OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import OrderIntent
from arbcore.sim.exchange import OrderFault
from arbcore.sim.orders.rig import OrderRig
from arbcore.sim.server import Fault
from arbcore.venues.orders import (
    AuthError,
    ClientCounters,
    OrderReport,
    OrderTimeoutError,
    RateLimitedError,
    VenueError,
    bybit,
    okx,
)
from arbcore.venues.orders.connection import AuthenticatedConnection
from arbcore.venues.orders.registry import ORDER_VENUES
from arbcore.venues.signing.credentials import Credentials

VENUES = list(ORDER_VENUES)
QTY = 10_000  # 0.01 BTC at 6 decimals
_seq = iter(range(1, 1_000_000))


def intent(
    rig: OrderRig,
    side: Side,
    qty: int,
    price: int | None,
    tif: TimeInForce = TimeInForce.IOC,
    *,
    order_type: OrderType = OrderType.LIMIT,
    post_only: bool = False,
    ticket: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        ticket_id=ticket or f"t{next(_seq)}-{time.time_ns()}",
        leg_id="buy" if side is Side.BUY else "sell",
        attempt=0,
        venue=rig.venue_name,
        symbol=rig.symbol,
        instrument="BTC/USDT",
        base="BTC",
        quote="USDT",
        price_decimals=2,
        qty_decimals=6,
        side=side,
        order_type=order_type,
        tif=tif,
        qty=qty,
        limit_price=price,
        post_only=post_only,
    )


def best(rig: OrderRig) -> tuple[int, int]:
    book = rig.venue.instruments[rig.symbol].process.book
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None and ask is not None
    return bid, ask


class Collector:
    def __init__(self, rig: OrderRig) -> None:
        self.reports: list[OrderReport] = []
        rig.client.on_report = self.reports.append

    def for_order(self, cid: str) -> list[OrderReport]:
        return [r for r in self.reports if r.client_order_id == cid]

    async def until(self, pred: Callable[[], bool], timeout: float = 3.0) -> None:
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise AssertionError(f"timed out; reports: {self.reports}")
            await asyncio.sleep(0.01)


def run(venue: str, body: Callable[[OrderRig], Awaitable[None]], *, connect: bool = True) -> None:
    async def main() -> None:
        rig = OrderRig(venue)
        await rig.start(connect_client=connect)
        try:
            await asyncio.wait_for(body(rig), 20)
        finally:
            await rig.stop()

    uvloop.run(main())


def check_fills_match(rig: OrderRig, col: Collector, cid: str, first: OrderReport) -> None:
    """Every venue fill reported exactly once (by id), with the simulator's qty, price and fee."""
    order = rig.exchange.find(rig.account.api_key, rig.symbol, client_id=cid)
    assert order is not None
    seen: dict[str, tuple[int, int, Decimal, str]] = {}
    for r in [first, *col.for_order(cid)]:
        for f in r.fills:
            value = (f.qty, f.price, Decimal(f.fee).scaleb(-f.fee_decimals), f.fee_asset)
            assert seen.setdefault(f.fill_id, value) == value
    want = sorted((f.qty, f.price, Decimal(f.fee).scaleb(-8), f.fee_asset) for f in order.fills)
    assert sorted(seen.values()) == want


async def balances_equal(rig: OrderRig) -> None:
    got = {b.asset: Decimal(b.total) for b in await rig.client.balances()}
    for asset, raw in rig.account.balances.items():
        assert got.get(asset, Decimal(0)) == Decimal(raw).scaleb(-8), (asset, got)


def terminal(col: Collector, cid: str, first: OrderReport) -> OrderReport | None:
    for r in [first, *col.for_order(cid)][::-1]:
        if r.cumulative and r.state in TERMINAL_STATES:
            return r
    return None


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_ioc_fills_and_balances(venue: str, side: Side) -> None:
    async def body(rig: OrderRig) -> None:
        col = Collector(rig)
        bid, ask = best(rig)
        price = ask + 50 if side is Side.BUY else bid - 50
        it = intent(rig, side, QTY, price)
        first = await rig.client.place(it)
        assert first.state is not OrderState.REJECTED, first
        await col.until(lambda: terminal(col, it.client_order_id, first) is not None)
        order = rig.exchange.find(rig.account.api_key, rig.symbol, client_id=it.client_order_id)
        assert order is not None and order.filled == QTY
        final = terminal(col, it.client_order_id, first)
        assert final is not None and final.state is OrderState.FILLED and final.filled_qty == QTY
        await col.until(lambda: sum(f.qty for r in col.for_order(it.client_order_id) for f in r.fills) >= QTY)
        check_fills_match(rig, col, it.client_order_id, first)
        await balances_equal(rig)

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_rest_query_open_orders_cancel(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = best(rig)
        it = intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC)
        first = await rig.client.place(it)
        assert first.state in (OrderState.ACKED, OrderState.SENT), first
        q = await rig.client.query(it)
        assert q is not None and q.state is OrderState.ACKED and q.filled_qty == 0
        assert it.client_order_id in {r.client_order_id for r in await rig.client.open_orders()}
        c = await rig.client.cancel(it)
        assert c.state in (OrderState.CANCELED, OrderState.ACKED)  # ACKED: cancel accepted, confirmation streams
        q = await rig.client.query(it)
        assert q is not None and q.state is OrderState.CANCELED
        assert it.client_order_id not in {r.client_order_id for r in await rig.client.open_orders()}
        await balances_equal(rig)

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_query_unknown_is_none(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        assert await rig.client.query(intent(rig, Side.BUY, QTY, 100_000)) is None

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_bad_signature_is_refused(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        good = rig.credentials
        bad = OrderRig(venue).credentials  # another valid-looking key pair the venue never issued
        wrong = Credentials(good.api_key, bad.secret, good.passphrase)
        api = ORDER_VENUES[venue].client_api()
        from arbcore.sim.orders.rig import client_config

        client = api.make_client(client_config(venue, rig.venue, wrong))
        try:
            with pytest.raises(AuthError) as err:
                await client.start()
                bid, _ = best(rig)
                await client.place(intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC))
            assert wrong.secret not in str(err.value)
            assert not rig.exchange.orders
        finally:
            await client.close()

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_duplicate_client_id_is_refused_by_the_venue(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = best(rig)
        it = intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC)
        await rig.client.place(it)
        again = await rig.client.place(it)
        assert again.state is OrderState.REJECTED
        assert len(rig.exchange.orders) == 1

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_post_only_that_would_take_does_not_fill(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        col = Collector(rig)
        _, ask = best(rig)
        it = intent(rig, Side.BUY, QTY, ask + 100, TimeInForce.GTC, post_only=True)
        first = await rig.client.place(it)
        if first.state is not OrderState.REJECTED:
            await col.until(lambda: terminal(col, it.client_order_id, first) is not None)
            fin = terminal(col, it.client_order_id, first)
            assert fin is not None and fin.state in (OrderState.REJECTED, OrderState.CANCELED, OrderState.EXPIRED)
        assert rig.account.balances["BTC"] == rig.btc

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_fault_reject(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        _, ask = best(rig)
        rig.exchange.inject(OrderFault.REJECT)
        r = await rig.client.place(intent(rig, Side.BUY, QTY, ask + 50))
        assert r.state is OrderState.REJECTED and r.reason
        assert not rig.exchange.orders

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_fault_rate_limit(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        _, ask = best(rig)
        rig.exchange.inject(OrderFault.RATE_LIMIT)
        with pytest.raises(RateLimitedError) as err:
            await rig.client.place(intent(rig, Side.BUY, QTY, ask + 50))
        assert err.value.retry_after > 0
        assert not rig.exchange.orders
        # the client holds new orders back for the reply's retry time (a ticket checks this before
        # sending either leg, and a hedge looks elsewhere): Binance's -1015, Kraken and Coinbase
        # sent the next order at once
        assert 0 < rig.client.order_wait(rig.symbol) <= err.value.retry_after

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("fault", [OrderFault.TIMEOUT, OrderFault.DISCONNECT])
def test_unknown_outcome_is_resolved_by_query(venue: str, fault: OrderFault) -> None:
    async def body(rig: OrderRig) -> None:
        _, ask = best(rig)
        rig.exchange.inject(fault)
        it = intent(rig, Side.BUY, QTY, ask + 50)
        t0 = time.monotonic()
        with pytest.raises(OrderTimeoutError):
            await rig.client.place(it, timeout=0.5)
        assert time.monotonic() - t0 < 3
        q = await rig.client.query(it)
        order = rig.exchange.find(rig.account.api_key, rig.symbol, client_id=it.client_order_id)
        assert order is not None and q is not None
        assert q.state is order.state and q.filled_qty == order.filled
        # the answer carries the fills themselves: reconciliation applies the ones it lacks
        assert sorted((f.qty, f.price) for f in q.fills) == sorted((f.qty, f.price) for f in order.fills)
        assert rig.exchange.submissions[(rig.account.api_key, it.client_order_id)] == 1
        # the client keeps working after the fault
        bid, _ = best(rig)
        r = await rig.client.place(intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC))
        assert r.state is OrderState.ACKED

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_slow_ack(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        bid, _ = best(rig)
        rig.exchange.inject(OrderFault.SLOW_ACK, seconds=0.3)
        t0 = time.monotonic()
        r = await rig.client.place(intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC), timeout=2.0)
        assert time.monotonic() - t0 >= 0.28
        assert r.state is OrderState.ACKED

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_partial_fill_then_expiry(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        col = Collector(rig)
        _, ask = best(rig)
        rig.exchange.inject(OrderFault.PARTIAL_FILL)
        it = intent(rig, Side.BUY, QTY, ask + 50)
        first = await rig.client.place(it)
        await col.until(lambda: terminal(col, it.client_order_id, first) is not None)
        fin = terminal(col, it.client_order_id, first)
        assert fin is not None and fin.state in (OrderState.EXPIRED, OrderState.CANCELED)
        assert fin.filled_qty == QTY // 2
        await col.until(lambda: sum(f.qty for r in col.for_order(it.client_order_id) for f in r.fills) >= QTY // 2)
        check_fills_match(rig, col, it.client_order_id, first)
        await balances_equal(rig)

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_balance_change_outside_the_engine(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        rig.exchange.inject(OrderFault.BALANCE_CHANGE, account=rig.account.api_key, asset="USDT", delta=-12_345 * 10**8)
        await balances_equal(rig)

    run(venue, body)


@pytest.mark.parametrize("venue", VENUES)
def test_instrument_metadata(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        rules = (await rig.client.instruments([rig.symbol]))[rig.symbol]
        assert (rules.tick, rules.lot, rules.min_qty) == (10, 100, 100)
        assert rules.min_notional in (0, 5 * 10**8)  # not every venue publishes a notional minimum
        assert (rules.base, rules.quote) == ("BTC", "USDT")  # from the venue's own metadata fields

    run(venue, body)


# ---- Bybit and OKX -------------------------------------------------------------------------------
# What these two share: the reply to an order or a cancel is only an acknowledgement and the outcome
# streams, a cancel that comes too late is answered with the order's final state, market orders are
# sized in base units, what the venue cannot express is refused before anything is sent, and the
# logged-in sockets reconnect (in the background, or at the latest on the next call).

ACK_VENUES = ["bybit", "okx"]


class _NoRig:
    venue_name = "any"
    symbol = "BTCUSDT"


@pytest.mark.parametrize("order_fields", [bybit.order_fields, okx.order_fields], ids=ACK_VENUES)
@pytest.mark.parametrize(
    ("otype", "tif", "post_only"),
    [
        (OrderType.LIMIT, TimeInForce.IOC, True),
        (OrderType.LIMIT, TimeInForce.FOK, True),
        (OrderType.MARKET, TimeInForce.FOK, False),
        (OrderType.MARKET, TimeInForce.IOC, True),
    ],
)
def test_unexpressible_orders_are_refused_locally(
    order_fields: Callable[[OrderIntent], dict[str, str]], otype: OrderType, tif: TimeInForce, post_only: bool
) -> None:
    it = intent(_NoRig(), Side.BUY, 100, 5_000_000, tif, order_type=otype, post_only=post_only)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        order_fields(it)


@pytest.mark.parametrize("venue", ACK_VENUES)
def test_cancel_of_a_filled_order_returns_its_final_state(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        _, ask = best(rig)
        it = intent(rig, Side.BUY, QTY, ask + 50, TimeInForce.IOC)
        await rig.client.place(it)
        c = await rig.client.cancel(it)
        assert c.state is OrderState.FILLED and c.filled_qty == QTY
        assert sum(f.qty for f in c.fills) == QTY and all(f.fee_asset == "BTC" and f.fee > 0 for f in c.fills)

    run(venue, body)


@pytest.mark.parametrize("venue", ACK_VENUES)
def test_market_order_fills_in_base_units(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        col = Collector(rig)
        it = intent(rig, Side.BUY, QTY, None, TimeInForce.IOC, order_type=OrderType.MARKET)
        assert (await rig.client.place(it)).state is OrderState.ACKED
        await col.until(
            lambda: any(r.state is OrderState.FILLED and r.cumulative for r in col.for_order(it.client_order_id))
        )
        assert sum(f.qty for r in col.for_order(it.client_order_id) for f in r.fills) == QTY

    run(venue, body)


# Bybit: the trade and the private socket both drop and come back; OKX: its one socket
@pytest.mark.parametrize(("venue", "sockets"), [("bybit", 2), ("okx", 1)])
def test_reconnects_logs_in_and_resubscribes_after_a_drop(venue: str, sockets: int) -> None:
    async def body(rig: OrderRig) -> None:
        col = Collector(rig)
        rig.venue.inject(Fault.DISCONNECT)
        end = time.monotonic() + 3
        while rig.client.counters.reconnects < sockets and time.monotonic() < end:
            await asyncio.sleep(0.02)
        assert rig.client.counters.reconnects >= sockets  # in the background
        it = intent(rig, Side.SELL, QTY, best(rig)[0] - 50)
        assert (await rig.client.place(it)).state is OrderState.ACKED
        await col.until(lambda: sum(f.qty for r in col.for_order(it.client_order_id) for f in r.fills) == QTY)

    run(venue, body)


def _order_entry(client: object) -> AuthenticatedConnection:
    """The connection orders are sent on."""
    if isinstance(client, bybit.BybitOrderClient):
        return client.trade_connection
    assert isinstance(client, okx.OkxOrderClient)
    return client.connection


@pytest.mark.parametrize("venue", ACK_VENUES)
def test_reconnect_at_the_latest_on_the_next_call(venue: str) -> None:
    async def body(rig: OrderRig) -> None:
        connection = _order_entry(rig.client)
        connection.started = False  # no background reconnection: the next call must do it
        await connection.ws.close()
        assert not connection.ws.connected
        bid, _ = best(rig)
        r = await rig.client.place(intent(rig, Side.BUY, QTY, bid - 20_000, TimeInForce.GTC))
        assert r.state is OrderState.ACKED and connection.ws.connected

    run(venue, body)


class _CountingTransport:
    """The real transport, with the order frames it writes counted."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.sent = 0

    @property
    def is_disconnected(self) -> bool:
        return bool(self.real.is_disconnected)

    def send(self, *args: Any) -> None:
        self.sent += 1
        self.real.send(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("venue", ["binance_spot", "binance_usdm", "okx", "bybit", "kraken"])
def test_place_is_on_the_wire_before_its_first_suspension(venue: str) -> None:
    """Connected, logged in, room in the limits: ``place`` started with ``start_now`` (as the
    engine starts both legs) has written its request when that returns; it still resolves."""

    async def body(rig: OrderRig) -> None:
        client: Any = rig.client
        ws = client.trade if venue == "bybit" else client.ws
        for n in range(3):
            counting = ws.transport = _CountingTransport(ws.transport)
            bid, _ = best(rig)
            task = start_now(rig.client.place(intent(rig, Side.BUY, QTY, bid - 20_000 - 10 * n, TimeInForce.GTC)))
            assert counting.sent == 1 and not task.done()
            assert (await task).state is OrderState.ACKED
            ws.transport = counting.real

    run(venue, body)


# ---- AuthenticatedConnection on its own ------------------------------------------------------------


class _Socket:
    """What AuthenticatedConnection uses of a WsRpc, in memory: connects counted, ``drop`` as the
    venue closing it."""

    def __init__(self) -> None:
        self.on_disconnect: Callable[[], None] | None = None
        self.connected = False
        self.connects = 0
        self.url = "wss://venue/ws"

    async def connect(self, timeout: float) -> None:
        self.connects += 1
        self.connected = True

    async def close(self) -> None:
        self.drop()

    def drop(self) -> None:
        if self.connected:
            self.connected = False
            if self.on_disconnect is not None:
                self.on_disconnect()


async def _until(pred: Callable[[], bool], timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.005)


def test_connection_logs_in_again_on_a_socket_still_open() -> None:
    """``logged_out`` (the venue ended the log-in, the socket stays open): only the log-in runs
    again, on the same socket, in the background (or by the next ``ensure`` before ``start``),
    and it is no reconnect; after a drop, it connects and logs in again, and that counts."""

    async def main() -> None:
        ws = _Socket()
        log_ins: list[int] = []  # the connect each log-in ran on

        async def log_in(timeout: float) -> None:
            log_ins.append(ws.connects)

        counters = ClientCounters()
        conn = AuthenticatedConnection(ws, log_in, counters)  # type: ignore[arg-type]
        await conn.ensure(1.0)  # before start
        conn.logged_out()
        assert not conn.usable and ws.connected
        await conn.ensure(1.0)
        assert conn.usable and ws.connects == 1 and log_ins == [1, 1]
        await conn.start()
        assert ws.connects == 1 and log_ins == [1, 1, 1]
        conn.logged_out()
        assert not conn.usable and ws.connected
        await _until(lambda: conn.usable)  # in the background
        assert ws.connects == 1 and log_ins == [1, 1, 1, 1] and counters.reconnects == 0
        ws.drop()
        await _until(lambda: conn.usable)
        assert ws.connects == 2 and log_ins[-1] == 2 and counters.reconnects == 1
        await conn.close()

    uvloop.run(main())


def test_connection_runs_before_connect_before_every_connect() -> None:
    """``before_connect`` (a fresh address) before each connect, a failure of it retried like a
    failed connect; a socket without a log-in is ready once connected."""

    async def main() -> None:
        ws = _Socket()
        addresses: list[tuple[int, str]] = []  # (connects so far, the address set)
        failures: list[Exception] = []

        async def fresh_address(timeout: float) -> None:
            if failures:
                raise failures.pop()
            ws.url = f"wss://venue/ws/{len(addresses)}"
            addresses.append((ws.connects, ws.url))

        conn = AuthenticatedConnection(ws, None, ClientCounters(), before_connect=fresh_address)  # type: ignore[arg-type]
        await conn.start()
        assert conn.usable and addresses == [(0, "wss://venue/ws/0")]
        failures.append(VenueError("no token"))
        ws.drop()
        await _until(lambda: conn.usable)
        assert not failures and ws.connects == 2 and addresses[-1] == (1, "wss://venue/ws/1") == (1, ws.url)
        await conn.close()

    uvloop.run(main())


def test_refused_credentials_hold_until_a_log_in_succeeds() -> None:
    """Refused: no background reconnect; once a log-in succeeds (the next request's), drops
    reconnect in the background again."""

    async def main() -> None:
        ws = _Socket()
        refuse = False

        async def log_in(timeout: float) -> None:
            if refuse:
                conn.auth_refused = True
                raise AuthError("refused")

        conn = AuthenticatedConnection(ws, log_in, ClientCounters())  # type: ignore[arg-type]
        await conn.start()
        refuse = True
        ws.drop()
        await _until(lambda: ws.connects == 2 and not ws.connected)  # tried once, refused, closed
        await asyncio.sleep(0.2)
        assert ws.connects == 2 and conn.auth_refused and not conn.usable
        refuse = False
        await conn.ensure(1.0)  # the next request
        assert conn.usable and not conn.auth_refused
        ws.drop()
        await _until(lambda: conn.usable)  # in the background again
        assert ws.connects == 4
        await conn.close()

    uvloop.run(main())
