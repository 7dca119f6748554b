"""What every venue's order client speaks, whatever the venue's wire format.

Prices and quantities are raw integers at the instrument's scales (``price_decimals``,
``qty_decimals``), exactly as in :class:`arbcore.execution.OrderIntent`; a venue client converts
to and from the venue's decimal text at the edge, and refuses text it cannot represent exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arbcore.execution.errors import ExecutionError
from arbcore.execution.orders import OrderState
from arbcore.execution.records import Fill


@dataclass(frozen=True)
class InstrumentRules:
    """A venue's trading rules for one instrument, from its metadata endpoint, at our scales.

    ``min_notional`` is at ``price_decimals + qty_decimals`` (price x quantity); 0 = no minimum.
    Fees are in ``arbcore.FEE_SCALE`` units (1e-8); the venue's metadata rarely carries the
    account's fee tier, so a client fills them from configuration when the venue does not say.
    ``base`` and ``quote`` are the venue's own assets for the symbol, by their common names (the
    venue's documented aliases resolved, e.g. Kraken's XBT -> BTC); None where it does not say.
    """

    venue: str
    symbol: str
    price_decimals: int
    qty_decimals: int
    tick: int
    lot: int
    min_qty: int
    min_notional: int = 0
    max_qty: int = 0  # 0 = no maximum
    maker_fee: int | None = None
    taker_fee: int | None = None
    base: str | None = None
    quote: str | None = None

    def sendable(self, qty: int, price: int) -> int:
        """``qty`` rounded down to the lot, or 0 when that is below the minimum quantity or (at
        ``price``) the minimum notional: what an order for ``qty`` can go out as here."""
        lot = max(self.lot, 1)
        q = qty // lot * lot
        return q if q >= max(self.min_qty, 1) and q * price >= self.min_notional else 0


@dataclass(frozen=True)
class OrderReport:
    """The venue's word on one order: a reply to place/cancel, a private-stream event or a query answer.

    ``filled_qty`` is cumulative when ``cumulative`` (order updates, query answers); a pure
    execution event carries only its ``fills`` and ``cumulative=False``. ``fills`` carry the
    venue's trade/execution ids so the engine applies each fill exactly once whichever path
    reports it first.
    """

    venue: str
    client_order_id: str
    state: OrderState
    venue_order_id: str | None = None
    filled_qty: int = 0
    cumulative: bool = True
    fills: tuple[Fill, ...] = ()
    reason: str = ""  # the venue's reject / cancel reason, verbatim (no secrets in it)
    venue_ns: int | None = None


@dataclass(frozen=True)
class VenueBalance:
    """One asset on one venue as the venue reports it, decimal text (the ledger parses it)."""

    asset: str
    total: str
    available: str | None = None


@dataclass
class ClientCounters:
    placed: int = 0
    canceled: int = 0
    queried: int = 0
    rejected: int = 0
    timeouts: int = 0
    rate_limited: int = 0
    reconnects: int = 0
    stream_events: int = 0
    decode_errors: int = 0
    latencies_ns: list[int] = field(default_factory=list)  # place: send to reply


class OrderClientError(ExecutionError):
    """Base class of order-client failures (transport, auth, venue refusals other than a reject)."""


class OrderTimeoutError(OrderClientError, TimeoutError):
    """No reply in time (or the connection dropped with the request outstanding): the outcome is
    UNKNOWN and must be resolved by a query, never by sending again."""


class RateLimitedError(OrderClientError):
    """The venue refused the request for its rate limit; nothing was done. Retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(OrderClientError):
    """The venue refused our credentials or signature (a configuration problem: never retried)."""


class VenueError(OrderClientError):
    """Any other refusal or malformed reply; the text names the venue's code and message."""
