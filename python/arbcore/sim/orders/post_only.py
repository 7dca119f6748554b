"""Post-only orders that would have taken liquidity, as Bybit and OKX treat them: acknowledged,
then pushed cancelled on the private stream, and kept so a query finds them."""

from __future__ import annotations

import asyncio
import itertools

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.sim.exchange import SimOrder
from arbcore.sim.fmt import now_ms
from arbcore.sim.server import SimVenue


class PostOnlyPhantoms:
    """The phantom orders of one venue, by API key and client order id (the exchange never books them)."""

    def __init__(self, venue: SimVenue, first_order_id: int) -> None:
        self.venue = venue
        self.orders: dict[tuple[str, str], SimOrder] = {}
        self._order_ids = itertools.count(first_order_id)

    def get(self, key: str, cid: str) -> SimOrder | None:
        return self.orders.get((key, cid))

    def add(self, key: str, cid: str, symbol: str, side: Side, *, qty: int, price: int | None) -> SimOrder:
        now = now_ms()
        oid = str(next(self._order_ids))
        order = SimOrder(key, symbol, oid, cid, side, OrderType.LIMIT, TimeInForce.GTC, qty, price, True, 0, now)
        order.state = OrderState.CANCELED
        order.updated_ms = now
        self.orders[(key, cid)] = order
        return order

    def push_soon(self, key: str, topic: str, frame: bytes) -> None:
        """Send ``frame`` to ``key``'s connections subscribed to ``topic``, after the ack sent now."""

        def push() -> None:
            for c in list(self.venue.connections):
                if c.private and c.state.get("account") == key and topic in (c.state.get("private_subs") or ()):
                    c.send(frame)

        asyncio.get_running_loop().call_soon(push)
