"""Execution layer: exact amounts, the reserving ledger, order states, client order ids, the journal.

- :mod:`~arbcore.execution.amounts`: assets at their own scale, exact conversions.
- :mod:`~arbcore.execution.ledger`: balances per (venue, asset), reservations per ticket leg.
- :mod:`~arbcore.execution.orders`: order vocabulary and state transitions.
- :mod:`~arbcore.execution.client_ids`: deterministic client order ids valid on every venue.
- :mod:`~arbcore.execution.journal`: the SQLite (WAL) journal; ``async_journal`` runs it off the loop;
  ``records`` holds what it stores (intents, fills, events) and the redaction of secrets.
- :mod:`~arbcore.execution.pnl`: realised PnL net of fees, exact.
"""

from arbcore.execution.amounts import (
    Amount,
    Asset,
    Rounding,
    buy_reservation,
    fee_for,
    notional,
    rescale,
    sell_reservation,
)
from arbcore.execution.async_journal import AsyncJournal
from arbcore.execution.client_ids import (
    CLIENT_ID_NAMESPACE,
    VENUE_ID_RULES,
    canonical_id,
    client_order_id,
    order_uuid,
    valid_for,
)
from arbcore.execution.errors import (
    AssetScaleError,
    EventConflictError,
    ExecutionError,
    FillConflictError,
    InexactConversionError,
    InsufficientFundsError,
    IntentConflictError,
    JournalError,
    JournalOpenError,
    LedgerError,
    OverfillError,
    ReconcileConflictError,
    ReservationExceededError,
    ReservationExistsError,
    SecretInJournalError,
    UnknownOrderError,
    UnknownReservationError,
)
from arbcore.execution.journal import Journal
from arbcore.execution.ledger import (
    Balance,
    BalanceDiff,
    FillResult,
    Ledger,
    LedgerEvent,
    Reconciliation,
    Reservation,
)
from arbcore.execution.orders import (
    TERMINAL_STATES,
    EventKind,
    OrderState,
    OrderType,
    Side,
    TimeInForce,
    next_state,
)
from arbcore.execution.pnl import PairPnl, PnlFill, TicketPnl, pair_pnl, ticket_pnl
from arbcore.execution.records import (
    Fill,
    OrderEvent,
    OrderIntent,
    OrderRecord,
    TicketRecord,
    ledger_event_from_json,
    ledger_event_to_json,
    redact,
)

__all__ = [
    "CLIENT_ID_NAMESPACE",
    "TERMINAL_STATES",
    "VENUE_ID_RULES",
    "Amount",
    "Asset",
    "AssetScaleError",
    "AsyncJournal",
    "Balance",
    "BalanceDiff",
    "EventConflictError",
    "EventKind",
    "ExecutionError",
    "Fill",
    "FillConflictError",
    "FillResult",
    "InexactConversionError",
    "InsufficientFundsError",
    "IntentConflictError",
    "Journal",
    "JournalError",
    "JournalOpenError",
    "Ledger",
    "LedgerError",
    "LedgerEvent",
    "OrderEvent",
    "OrderIntent",
    "OrderRecord",
    "OrderState",
    "OrderType",
    "OverfillError",
    "PairPnl",
    "PnlFill",
    "ReconcileConflictError",
    "Reconciliation",
    "Reservation",
    "ReservationExceededError",
    "ReservationExistsError",
    "Rounding",
    "SecretInJournalError",
    "Side",
    "TicketPnl",
    "TicketRecord",
    "TimeInForce",
    "UnknownOrderError",
    "UnknownReservationError",
    "buy_reservation",
    "canonical_id",
    "client_order_id",
    "fee_for",
    "ledger_event_from_json",
    "ledger_event_to_json",
    "next_state",
    "notional",
    "order_uuid",
    "pair_pnl",
    "redact",
    "rescale",
    "sell_reservation",
    "ticket_pnl",
    "valid_for",
]
