"""What the simulated order sides share: answering under an injected reply fault, accounts by
API key, the private-stream fan-out to authenticated connections, and quantity/price text at the
lot's and tick's places."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from arbcore.sim.exchange import Reply, SimAccount, SimExchange, SimFill, SimOrder, SubmitResult
from arbcore.sim.fmt import fixed_text, places_of
from arbcore.sim.server import SimConnection, SimVenue


def exchange_of(venue: SimVenue) -> SimExchange:
    ex = venue.exchange
    if not isinstance(ex, SimExchange):
        raise RuntimeError(f"{venue.protocol.name}: no order side attached")
    return ex


def ws_reply(conn: SimConnection, frame: bytes, result: SubmitResult | None = None) -> None:
    """Answer on a WebSocket as the injected fault says: now, later, never, or by dropping it."""
    reply = result.reply if result is not None else Reply.NORMAL
    if reply is Reply.NORMAL:
        conn.send(frame)
    elif reply is Reply.SLOW:
        asyncio.get_running_loop().call_later(result.delay if result else 0.0, conn.send, frame)
    elif reply is Reply.DISCONNECT:
        conn.drop()  # what the request caused (private events) was sent before the drop, as before
    # Reply.NONE: the request was processed and is never answered


async def rest_reply(request: web.Request, response: web.Response, result: SubmitResult | None = None) -> web.Response:
    """The REST flavour of `ws_reply`: a never-answered request hangs until the client gives up."""
    reply = result.reply if result is not None else Reply.NORMAL
    if reply is Reply.SLOW and result is not None:
        await asyncio.sleep(result.delay)
    elif reply is Reply.NONE:
        await asyncio.sleep(3600)  # the client times out and disconnects, which cancels this handler
    elif reply is Reply.DISCONNECT:
        if request.transport is not None:
            request.transport.close()
        await asyncio.sleep(3600)
    return response


def account_for(venue: SimVenue, api_key: str | None) -> SimAccount | None:
    if api_key is None:
        return None
    return exchange_of(venue).accounts.get(api_key)


class PrivateFanout:
    """Sends each order update, rendered by the venue module, to the connections that are
    authenticated as the order's account and subscribed (``conn.state["account"]``,
    ``conn.state["private_subs"]``)."""

    def __init__(
        self,
        venue: SimVenue,
        render: Callable[[SimConnection, SimOrder, SimFill | None], list[bytes]],
    ) -> None:
        self.venue = venue
        self.render = render
        exchange_of(venue).listeners.append(self.on_order)

    def on_order(self, order: SimOrder, fill: SimFill | None) -> None:
        for conn in list(self.venue.connections):
            if conn.private and conn.state.get("account") == order.account and conn.state.get("private_subs"):
                for frame in self.render(conn, order, fill):
                    conn.send(frame)


def lot_text(venue: SimVenue, symbol: str, raw: int) -> str:
    """A quantity with exactly the places of the instrument's lot (as Bybit and OKX print it)."""
    spec = venue.instruments[symbol].spec
    return fixed_text(raw, spec.qty_decimals, places_of(spec.lot, spec.qty_decimals))


def tick_text(venue: SimVenue, symbol: str, raw: int) -> str:
    """A price with exactly the places of the instrument's tick (as Bybit and OKX print it)."""
    spec = venue.instruments[symbol].spec
    return fixed_text(raw, spec.price_decimals, places_of(spec.tick, spec.price_decimals))
