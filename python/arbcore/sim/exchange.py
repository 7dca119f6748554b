"""The simulated venue's order side: accounts, a matching engine against the venue's own true
book, and order-path faults. Venue-neutral; `arbcore.sim.orders.<venue>` speaks the wire format.

Matching (price-time priority):
- A taker order walks the opposite side of the true book up to its limit, best price first; the
  liquidity it takes is removed from the book and published on the market-data feed, so the
  engine's book keeps equal to the truth.
- A GTC remainder rests; resting orders fill, in price then arrival order, when the book later
  crosses them, at their own price (maker fee). Post-only orders that would take are rejected.
- IOC remainders expire; FOK fills completely or expires with no fill.

Money is exact: balances are integers at each asset's decimals, which must be at least the
instrument's ``price_decimals + qty_decimals`` for the quote and ``qty_decimals`` for the base,
so notional never needs rounding. Fees round up (in the venue's favour) at the fee asset's scale.
``fee_in_received`` charges the fee in what the order receives (Binance, Bybit, OKX spot) instead
of always in the quote asset (Kraken, Coinbase).

Faults (`inject`): REJECT the next order; TIMEOUT (processed, never answered); SILENT_TIMEOUT
(processed, never answered, and its private-stream events sent ``seconds`` late: only a query by
client id learns its outcome in time, and the late events must change nothing); SLOW_ACK
(answered after ``seconds``); DISCONNECT (processed, then the connection is dropped unanswered);
PARTIAL_FILL (the next order fills at most half its quantity); RATE_LIMIT (refused unprocessed
with the venue's rate-limit reply); BALANCE_CHANGE (an asset moves outside the engine, now).
Without an injected fault, ``fault_source`` (if set) picks each order's.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import arbcore
from arbcore.execution.orders import TERMINAL_STATES, OrderState, OrderType, Side, TimeInForce
from arbcore.sim.book import Delta
from arbcore.sim.server import SimVenue

#: the finished orders a simulated venue keeps, the latest (a query finds them, as in a venue's order
#: history), and the client ids it counts place requests of: keeping every order and fill held
#: ~1.2 KB per order for good (a default run places ~18 a second: ~80 MB an hour)
FINISHED_KEPT = 10_000


class OrderFault(enum.Enum):
    REJECT = "reject"
    TIMEOUT = "timeout"
    SILENT_TIMEOUT = "silent_timeout"  # TIMEOUT, and the private stream tells of it `seconds` late
    SLOW_ACK = "slow_ack"
    DISCONNECT = "disconnect"
    PARTIAL_FILL = "partial_fill"
    RATE_LIMIT = "rate_limit"
    BALANCE_CHANGE = "balance_change"


class Reply(enum.Enum):
    NORMAL = "normal"
    NONE = "none"  # never answer
    SLOW = "slow"  # answer after `delay`
    DISCONNECT = "disconnect"  # drop the connection instead of answering


class Refusal(enum.StrEnum):
    """Why an order request was refused; each venue module maps these to its own codes."""

    RATE_LIMIT = "rate_limit"
    FAULT_REJECT = "fault_reject"
    UNKNOWN_SYMBOL = "unknown_symbol"
    BAD_QTY = "bad_qty"  # not a multiple of the lot, below the minimum, or zero
    BAD_PRICE = "bad_price"  # not a multiple of the tick, missing for a limit order
    MIN_NOTIONAL = "min_notional"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"


@dataclass
class SimAccount:
    api_key: str
    secret: str
    passphrase: str | None = None
    balances: dict[str, int] = field(default_factory=dict)  # total, at asset decimals
    held: dict[str, int] = field(default_factory=dict)  # locked by resting orders

    def available(self, asset: str) -> int:
        return self.balances.get(asset, 0) - self.held.get(asset, 0)


@dataclass(frozen=True)
class SimMarketSpec:
    """Trading rules of one symbol on the simulated venue (raw ints at the instrument's scales)."""

    symbol: str
    base: str
    quote: str
    min_qty: int = 0
    min_notional: int = 0  # at price_decimals + qty_decimals
    # this symbol's fee rates (FEE_SCALE units); None: the exchange's own
    maker_fee: int | None = None
    taker_fee: int | None = None


@dataclass(frozen=True)
class SimFill:
    fill_id: str
    qty: int
    price: int
    fee: int
    fee_asset: str
    maker: bool
    ts_ms: int


@dataclass
class SimOrder:
    account: str  # api key
    symbol: str
    order_id: str
    client_id: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    price: int | None
    post_only: bool
    seq: int
    created_ms: int
    state: OrderState = OrderState.ACKED
    filled: int = 0
    quote_filled: int = 0  # sum price*qty, at price_decimals + qty_decimals
    fees: dict[str, int] = field(default_factory=dict)
    fills: list[SimFill] = field(default_factory=list)
    updated_ms: int = 0
    stream_delay: float = 0.0  # SILENT_TIMEOUT: its private-stream events go out this late (s)

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    @property
    def is_open(self) -> bool:
        return self.state not in TERMINAL_STATES


@dataclass
class SubmitResult:
    order: SimOrder | None
    refusal: Refusal | None
    reply: Reply = Reply.NORMAL
    delay: float = 0.0


OrderListener = Callable[[SimOrder, SimFill | None], None]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SimExchange:
    def __init__(
        self,
        venue: SimVenue,
        markets: list[SimMarketSpec],
        assets: dict[str, int],
        *,
        maker_fee: int = 10_000,  # FEE_SCALE units: 10_000 = 1 bp
        taker_fee: int = 50_000,
        fee_in_received: bool = False,
        order_id_start: int = 1_000_000,
    ) -> None:
        self.venue = venue
        self.markets = {m.symbol: m for m in markets}
        self.assets = dict(assets)
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.fee_in_received = fee_in_received
        for m in markets:
            spec = venue.instruments[m.symbol].spec
            if assets[m.quote] < spec.price_decimals + spec.qty_decimals or assets[m.base] < spec.qty_decimals:
                raise ValueError(f"{m.symbol}: asset decimals too small for exact notional")
        self.accounts: dict[str, SimAccount] = {}
        self.orders: dict[str, SimOrder] = {}  # by venue order id
        #: per symbol, the orders that may still be open, by venue order id in arrival order: what
        #: each step's match and an open-orders query look at (every order ever placed is in
        #: ``orders``; scanning that per step cost more the longer a rehearsal ran)
        self._open: dict[str, dict[str, SimOrder]] = {}
        self.by_client: dict[tuple[str, str], SimOrder] = {}  # (api key, client id)
        self.submissions: dict[tuple[str, str], int] = {}  # place requests seen per client id (the latest)
        #: per API key, the client ids that came in more than one place request (all of them)
        self.sent_twice: dict[str, int] = {}
        self._finished: deque[SimOrder] = deque()  # the finished orders kept, oldest first
        self.listeners: list[OrderListener] = []
        self.balance_listeners: list[Callable[[SimAccount, str], None]] = []
        self._faults: list[tuple[OrderFault, float, int]] = []
        #: asked for each place request's fault (by its client id) when none was injected: a
        #: rehearsal's seeded draws (``arbcore.runner.rehearsal``)
        self.fault_source: Callable[[str], tuple[OrderFault, float] | None] | None = None
        self._ids = itertools.count(order_id_start)
        self._fill_ids = itertools.count(1)
        self._seq = itertools.count(1)

    # ---- accounts and faults -----------------------------------------------------------------

    def add_account(self, account: SimAccount) -> SimAccount:
        self.accounts[account.api_key] = account
        return account

    def inject(
        self,
        fault: OrderFault,
        *,
        seconds: float = 0.5,
        count: int = 1,
        account: str | None = None,
        asset: str | None = None,
        delta: int = 0,
    ) -> None:
        """Make the next ``count`` place requests fail with ``fault``; BALANCE_CHANGE applies now."""
        if fault is OrderFault.BALANCE_CHANGE:
            if account is None or asset is None:
                raise ValueError("BALANCE_CHANGE needs an account and an asset")
            self.change_balance(account, asset, delta)
            return
        self._faults.extend([(fault, seconds, 0)] * count)

    def change_balance(self, api_key: str, asset: str, delta: int) -> None:
        """A deposit (delta > 0) or withdrawal outside the engine."""
        acc = self.accounts[api_key]
        acc.balances[asset] = acc.balances.get(asset, 0) + delta
        for fn in self.balance_listeners:
            fn(acc, asset)

    def _take_fault(self, client_id: str) -> tuple[OrderFault, float] | None:
        if not self._faults:
            return None if self.fault_source is None else self.fault_source(client_id)
        fault, seconds, _ = self._faults.pop(0)
        return fault, seconds

    # ---- requests ----------------------------------------------------------------------------

    def submit(
        self,
        api_key: str,
        symbol: str,
        *,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        qty: int,
        price: int | None,
        client_id: str,
        post_only: bool = False,
    ) -> SubmitResult:
        """One place request, already authenticated and parsed to our scales."""
        key = (api_key, client_id)
        seen = self.submissions[key] = self.submissions.get(key, 0) + 1
        if seen == 2:
            self.sent_twice[api_key] = self.sent_twice.get(api_key, 0) + 1
        elif seen == 1 and len(self.submissions) > FINISHED_KEPT:
            del self.submissions[next(iter(self.submissions))]
        taken = self._take_fault(client_id)
        fault, seconds = taken if taken is not None else (None, 0.0)
        if fault is OrderFault.RATE_LIMIT:
            return SubmitResult(None, Refusal.RATE_LIMIT)
        if fault is OrderFault.REJECT:
            return SubmitResult(None, Refusal.FAULT_REJECT)
        refusal = self._validate(api_key, symbol, side, order_type, qty, price, client_id)
        if refusal is None and post_only and self._would_take(symbol, side, price):
            refusal = Refusal.POST_ONLY_WOULD_TAKE
        if refusal is not None:
            return SubmitResult(None, refusal)
        now = _now_ms()
        order = SimOrder(
            api_key,
            symbol,
            str(next(self._ids)),
            client_id,
            side,
            order_type,
            tif,
            qty,
            price,
            post_only,
            next(self._seq),
            now,
            updated_ms=now,
            stream_delay=seconds if fault is OrderFault.SILENT_TIMEOUT else 0.0,
        )
        self.orders[order.order_id] = order
        self.by_client[key] = order
        self._notify(order, None)
        cap = order.qty
        if fault is OrderFault.PARTIAL_FILL:
            lot = self.venue.instruments[symbol].spec.lot
            cap = max(lot, (order.qty // 2) // lot * lot)
        self._take(order, cap)
        if order.is_open:
            self._open.setdefault(symbol, {})[order.order_id] = order
        else:
            self._finish(order)
        reply = (
            {
                OrderFault.TIMEOUT: Reply.NONE,
                OrderFault.SILENT_TIMEOUT: Reply.NONE,
                OrderFault.SLOW_ACK: Reply.SLOW,
                OrderFault.DISCONNECT: Reply.DISCONNECT,
            }.get(fault, Reply.NORMAL)
            if fault is not None
            else Reply.NORMAL
        )
        return SubmitResult(order, None, reply, seconds)

    def cancel(
        self, api_key: str, symbol: str, *, client_id: str | None = None, order_id: str | None = None
    ) -> SimOrder | None:
        """Cancel an open order; a terminal one comes back unchanged; None if unknown."""
        order = self.find(api_key, symbol, client_id=client_id, order_id=order_id)
        if order is None or not order.is_open:
            return order
        self._release_hold(order)
        order.state = OrderState.CANCELED
        order.updated_ms = _now_ms()
        self._open.get(order.symbol, {}).pop(order.order_id, None)
        self._finish(order)
        self._notify(order, None)
        return order

    def _finish(self, order: SimOrder) -> None:
        """``order`` is final: kept among the latest FINISHED_KEPT, the oldest of them forgotten."""
        self._finished.append(order)
        if len(self._finished) > FINISHED_KEPT:
            old = self._finished.popleft()
            self.orders.pop(old.order_id, None)
            self.by_client.pop((old.account, old.client_id), None)

    def find(
        self, api_key: str, symbol: str | None, *, client_id: str | None = None, order_id: str | None = None
    ) -> SimOrder | None:
        order = self.orders.get(order_id) if order_id else self.by_client.get((api_key, client_id or ""))
        if order is None or order.account != api_key or (symbol is not None and order.symbol != symbol):
            return None
        return order

    def open_orders(self, api_key: str, symbol: str | None = None) -> list[SimOrder]:
        """``api_key``'s open orders (of ``symbol``), in arrival order."""
        books = self._open.values() if symbol is None else [self._open.get(symbol, {})]
        found = [o for by_id in books for o in by_id.values() if o.account == api_key and o.is_open]
        return found if symbol is not None else sorted(found, key=lambda o: o.seq)

    # ---- matching ----------------------------------------------------------------------------

    def _validate(  # noqa: PLR0911, PLR0917 (one return per refusal reason)
        self, api_key: str, symbol: str, side: Side, order_type: OrderType, qty: int, price: int | None, client_id: str
    ) -> Refusal | None:
        market = self.markets.get(symbol)
        if market is None:
            return Refusal.UNKNOWN_SYMBOL
        spec = self.venue.instruments[symbol].spec
        if qty <= 0 or qty % spec.lot or qty < market.min_qty:
            return Refusal.BAD_QTY
        if order_type is OrderType.LIMIT and (price is None or price <= 0 or price % spec.tick):
            return Refusal.BAD_PRICE
        ref_price = price if price is not None else self._reference_price(symbol, side)
        if ref_price is None or ref_price * qty < market.min_notional:
            return Refusal.MIN_NOTIONAL
        if (api_key, client_id) in self.by_client:
            return Refusal.DUPLICATE_CLIENT_ID
        acc = self.accounts[api_key]
        if side is Side.BUY:
            need = self._quote_units(symbol, ref_price * qty)
            if not self.fee_in_received:
                need += self._fee(need, self.fee_rate(symbol, maker=False))
            if acc.available(market.quote) < need:
                return Refusal.INSUFFICIENT_BALANCE
        elif acc.available(market.base) < self._base_units(symbol, qty):
            return Refusal.INSUFFICIENT_BALANCE
        return None

    def fee_rate(self, symbol: str, *, maker: bool) -> int:
        """The maker or taker rate charged on ``symbol`` (FEE_SCALE units): its own, as a venue's
        fee schedule may differ per symbol, else the exchange's."""
        m = self.markets[symbol]
        own = m.maker_fee if maker else m.taker_fee
        if own is not None:
            return own
        return self.maker_fee if maker else self.taker_fee

    def _reference_price(self, symbol: str, side: Side) -> int | None:
        """Worst price a market order may reach: the far end of the visible book."""
        book = self.venue.instruments[symbol].process.book
        levels = book.asks if side is Side.BUY else book.bids
        if not levels:
            return None
        return max(levels) if side is Side.BUY else min(levels)

    def _would_take(self, symbol: str, side: Side, price: int | None) -> bool:
        book = self.venue.instruments[symbol].process.book
        if price is None:
            return True
        best = book.best_ask() if side is Side.BUY else book.best_bid()
        return best is not None and (price >= best if side is Side.BUY else price <= best)

    def _take(self, order: SimOrder, cap: int) -> None:
        """Execute a new order against the book (taker), then rest or expire the remainder."""
        deltas: list[Delta] = []
        book = self.venue.instruments[order.symbol].process.book
        levels = book.asks if order.side is Side.BUY else book.bids
        book_side = 1 if order.side is Side.BUY else 0
        want = min(cap, order.qty)
        if order.tif is TimeInForce.FOK and self._available_to(order) < order.qty:
            want = 0
        prices = sorted(levels, reverse=order.side is Side.SELL)
        for p in prices:
            if want <= 0 or not self._crosses(order, p):
                break
            q = min(want, levels[p])
            book.apply(book_side, p, levels[p] - q)
            deltas.append((book_side, p, levels.get(p, 0)))
            self._fill(order, q, p, maker=False)
            want -= q
        if order.remaining and order.is_open:
            if order.tif is TimeInForce.GTC and order.order_type is OrderType.LIMIT and order.filled < cap:
                self._hold(order)
            else:
                order.state = OrderState.EXPIRED
                order.updated_ms = _now_ms()
                self._notify(order, None)
        self.venue.publish(order.symbol, deltas)

    def _available_to(self, order: SimOrder) -> int:
        book = self.venue.instruments[order.symbol].process.book
        levels = book.asks if order.side is Side.BUY else book.bids
        return sum(q for p, q in levels.items() if self._crosses(order, p))

    @staticmethod
    def _crosses(order: SimOrder, level_price: int) -> bool:
        if order.price is None:
            return True
        return level_price <= order.price if order.side is Side.BUY else level_price >= order.price

    def match_resting(self, symbol: str) -> list[Delta]:
        """Fill resting orders the book now crosses (called by the venue after each step)."""
        deltas: list[Delta] = []
        by_id = self._open.get(symbol)
        if not by_id:
            return deltas
        for oid in [oid for oid, o in by_id.items() if not o.is_open]:
            self._finish(by_id.pop(oid))
        resting = sorted(
            (o for o in by_id.values() if o.state != OrderState.INTENT),
            key=lambda o: (-(o.price or 0) if o.side is Side.BUY else (o.price or 0), o.seq),
        )
        book = self.venue.instruments[symbol].process.book
        for order in resting:
            levels = book.asks if order.side is Side.BUY else book.bids
            book_side = 1 if order.side is Side.BUY else 0
            for p in sorted(levels, reverse=order.side is Side.SELL):
                if not order.remaining or not self._crosses(order, p):
                    break
                q = min(order.remaining, levels[p])
                book.apply(book_side, p, levels[p] - q)
                deltas.append((book_side, p, levels.get(p, 0)))
                self._release_hold(order, q)
                assert order.price is not None
                self._fill(order, q, order.price, maker=True)
        return deltas

    def _fill(self, order: SimOrder, qty: int, price: int, *, maker: bool) -> None:
        market = self.markets[order.symbol]
        acc = self.accounts[order.account]
        quote_amt = self._quote_units(order.symbol, price * qty)
        base_amt = self._base_units(order.symbol, qty)
        rate = self.fee_rate(order.symbol, maker=maker)
        if order.side is Side.BUY:
            spend_asset, spend, recv_asset, recv = market.quote, quote_amt, market.base, base_amt
        else:
            spend_asset, spend, recv_asset, recv = market.base, base_amt, market.quote, quote_amt
        if self.fee_in_received:
            fee_asset, fee = recv_asset, self._fee(recv, rate)
        else:
            fee_asset, fee = market.quote, self._fee(quote_amt, rate)
        acc.balances[spend_asset] = acc.balances.get(spend_asset, 0) - spend
        acc.balances[recv_asset] = acc.balances.get(recv_asset, 0) + recv
        acc.balances[fee_asset] = acc.balances.get(fee_asset, 0) - fee
        order.filled += qty
        order.quote_filled += price * qty
        order.fees[fee_asset] = order.fees.get(fee_asset, 0) + fee
        order.state = OrderState.FILLED if order.filled >= order.qty else OrderState.PARTIALLY_FILLED
        order.updated_ms = _now_ms()
        fill = SimFill(str(next(self._fill_ids)), qty, price, fee, fee_asset, maker, order.updated_ms)
        order.fills.append(fill)
        self._notify(order, fill)

    # ---- holds for resting orders --------------------------------------------------------------

    def _hold_amount(self, order: SimOrder, qty: int) -> tuple[str, int]:
        market = self.markets[order.symbol]
        if order.side is Side.SELL:
            return market.base, self._base_units(order.symbol, qty)
        assert order.price is not None
        q = self._quote_units(order.symbol, order.price * qty)
        if not self.fee_in_received:
            q += self._fee(q, max(self.fee_rate(order.symbol, maker=True), self.fee_rate(order.symbol, maker=False)))
        return market.quote, q

    def _hold(self, order: SimOrder) -> None:
        asset, amt = self._hold_amount(order, order.remaining)
        acc = self.accounts[order.account]
        acc.held[asset] = acc.held.get(asset, 0) + amt

    def _release_hold(self, order: SimOrder, qty: int | None = None) -> None:
        if order.order_type is not OrderType.LIMIT or order.tif is not TimeInForce.GTC:
            return
        asset, amt = self._hold_amount(order, order.remaining if qty is None else qty)
        acc = self.accounts[order.account]
        acc.held[asset] = max(0, acc.held.get(asset, 0) - amt)

    # ---- exact conversions --------------------------------------------------------------------

    def _quote_units(self, symbol: str, notional: int) -> int:
        spec = self.venue.instruments[symbol].spec
        shift: int = self.assets[self.markets[symbol].quote] - spec.price_decimals - spec.qty_decimals
        return notional * int(10**shift)

    def _base_units(self, symbol: str, qty: int) -> int:
        spec = self.venue.instruments[symbol].spec
        shift: int = self.assets[self.markets[symbol].base] - spec.qty_decimals
        return qty * int(10**shift)

    @staticmethod
    def _fee(amount: int, rate: int) -> int:
        return -(-amount * rate // arbcore.FEE_SCALE)

    def _notify(self, order: SimOrder, fill: SimFill | None) -> None:
        if order.stream_delay:
            # the order as it is now (it changes meanwhile), told later
            now = replace(order, fills=list(order.fills), fees=dict(order.fees), stream_delay=0.0)
            asyncio.get_running_loop().call_later(order.stream_delay, self._notify, now, fill)
            return
        for fn in self.listeners:
            fn(order, fill)
