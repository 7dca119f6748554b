"""Order vocabulary and the state an order is in after each journaled event.

States::

    INTENT ──sent──► SENT ──ack──► ACKED ──fill──► PARTIALLY_FILLED ──fill──► FILLED
       │               │             │                  │
       │               └─timeout──► UNKNOWN ◄───────────┘   (resolved by a QUERY, never by resending)
       └── cancel / reject / expire from any live state ──► CANCELED / REJECTED / EXPIRED

Terminal states are sticky: a late ack or timeout never revives an order. The one exception is a
late fill that completes the quantity (a fill can overtake the cancel reply on another stream):
the order is then FILLED, because that is what the venue did.
"""

from __future__ import annotations

import enum


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderState(enum.StrEnum):
    INTENT = "INTENT"  # journaled, not yet handed to the socket
    SENT = "SENT"  # handed to the socket, no reply yet
    ACKED = "ACKED"  # the venue accepted it
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # IOC/FOK remainder, GTD expiry
    UNKNOWN = "UNKNOWN"  # a request timed out: the outcome must be queried


TERMINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED})


class EventKind(enum.StrEnum):
    INTENT = "intent"
    SENT = "sent"
    ACK = "ack"
    FILL = "fill"
    CANCEL = "cancel"
    REJECT = "reject"
    EXPIRE = "expire"
    UNKNOWN = "unknown"  # timeout or disconnect with a request outstanding
    QUERY = "query"  # the venue's answer to a query by client order id


def next_state(
    current: OrderState, kind: EventKind, filled: int, qty: int, reported: OrderState | None = None
) -> OrderState:
    """State after an event; ``filled`` is the cumulative filled quantity after it.

    ``reported`` is the venue's state in a QUERY event (mapped by the venue client).
    """
    if kind is EventKind.FILL:
        if filled >= qty:
            return OrderState.FILLED
        return current if current in TERMINAL_STATES else OrderState.PARTIALLY_FILLED
    if current in TERMINAL_STATES:
        return current
    if kind is EventKind.QUERY:
        if reported is None:
            raise ValueError("a query event needs the venue's reported state")
        return reported
    # Forward moves only: a late "sent" or ack after a fill must not move the order back.
    allowed_from = _FORWARD.get(kind)
    if allowed_from is not None and current not in allowed_from:
        return current
    return _TARGET[kind]


_TARGET = {
    EventKind.INTENT: OrderState.INTENT,
    EventKind.SENT: OrderState.SENT,
    EventKind.ACK: OrderState.ACKED,
    EventKind.UNKNOWN: OrderState.UNKNOWN,
    EventKind.CANCEL: OrderState.CANCELED,
    EventKind.REJECT: OrderState.REJECTED,
    EventKind.EXPIRE: OrderState.EXPIRED,
}

_FORWARD = {
    EventKind.SENT: frozenset({OrderState.INTENT}),
    EventKind.ACK: frozenset({OrderState.INTENT, OrderState.SENT, OrderState.UNKNOWN}),
}
