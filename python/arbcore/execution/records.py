"""Records the journal reads and writes, their JSON forms, and the redaction of secrets.

Prices and quantities are raw integers at the instrument's scales (``price_decimals``,
``qty_decimals``); fees at ``fee_decimals`` of ``fee_asset``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from arbcore.execution.amounts import Amount, Asset
from arbcore.execution.client_ids import client_order_id
from arbcore.execution.ledger import LedgerEvent
from arbcore.execution.orders import TERMINAL_STATES, EventKind, OrderState, OrderType, Side, TimeInForce

#: Detail keys whose values are replaced by "<redacted>" (request headers, signed params, tokens).
SECRET_KEY_RE = re.compile(
    r"secret|signature|^sign$|api[-_]?key|apikey|passphrase|token|jwt|private[-_]?key|password|authorization"
    r"|access[-_]sign|access[-_]key|bapi[-_]sign|^api[-_]sign$",
    re.IGNORECASE,
)
REDACTED = "<redacted>"


@dataclass(frozen=True)
class OrderIntent:
    """An order as decided, before it is sent. Prices and quantities are raw integers."""

    ticket_id: str
    leg_id: str
    attempt: int
    venue: str
    symbol: str  # the venue's symbol
    instrument: str  # canonical, e.g. "BTC/USDT"
    base: str
    quote: str
    price_decimals: int
    qty_decimals: int
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    limit_price: int | None
    post_only: bool = False

    @cached_property  # a uuid5 per access otherwise, several times per order on the hot path
    def client_order_id(self) -> str:
        return client_order_id(self.venue, self.ticket_id, self.leg_id, self.attempt)


@dataclass(frozen=True)
class Fill:
    fill_id: str  # the venue's trade / execution id
    qty: int  # qty_decimals
    price: int  # price_decimals
    fee: int = 0  # fee_decimals, signed (negative: rebate)
    fee_asset: str = ""
    fee_decimals: int = 0


@dataclass(frozen=True)
class OrderRecord:
    client_order_id: str
    intent: OrderIntent
    state: OrderState
    filled_qty: int
    venue_order_id: str | None
    created_ns: int
    updated_ns: int

    @property
    def is_open(self) -> bool:
        return self.state not in TERMINAL_STATES


@dataclass(frozen=True)
class OrderEvent:
    seq: int
    client_order_id: str
    kind: EventKind
    local_ns: int
    venue_ns: int | None
    state_after: OrderState
    fill: Fill | None
    venue_order_id: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketRecord:
    ticket_id: str
    created_ns: int
    instrument: str
    buy_venue: str
    sell_venue: str
    detail: Mapping[str, Any]


def redact(detail: Any) -> Any:
    """A copy of a JSON-like value with the values of secret-looking keys replaced."""
    if isinstance(detail, Mapping):
        return {k: REDACTED if SECRET_KEY_RE.search(str(k)) else redact(v) for k, v in detail.items()}
    if isinstance(detail, list | tuple):
        return [redact(v) for v in detail]
    return detail


def dump_detail(detail: Mapping[str, Any] | None) -> str:
    return orjson.dumps(redact(detail or {}), option=orjson.OPT_SORT_KEYS).decode()


def opt_int(s: str | None) -> int | None:
    return None if s is None else int(s)


def ledger_event_to_dict(ev: LedgerEvent) -> dict[str, Any]:
    """The event as its journal JSON object (amounts as decimal text: they may exceed 64 bits)."""
    amounts = [[role, a.asset.name, a.asset.decimals, str(a.value)] for role, a in ev.amounts]
    body = {"kind": ev.kind, "venue": ev.venue, "ticket": ev.ticket_id, "leg": ev.leg_id, "event": ev.event_id}
    return {**body, "amounts": amounts, "reason": ev.reason}


def ledger_event_from_dict(d: Mapping[str, Any]) -> LedgerEvent:
    amounts = tuple((role, Amount(Asset(name, dec), int(v))) for role, name, dec, v in d["amounts"])
    return LedgerEvent(d["kind"], d["venue"], d["ticket"], d["leg"], d["event"], amounts, d["reason"])


def ledger_event_to_json(ev: LedgerEvent) -> str:
    return orjson.dumps(ledger_event_to_dict(ev)).decode()


def ledger_event_from_json(text: str) -> LedgerEvent:
    return ledger_event_from_dict(orjson.loads(text))
