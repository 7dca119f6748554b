"""Exceptions of the execution layer. Each names the values that caused it.

Every ledger or journal call that raises leaves its state exactly as it was before the call.
"""

from arbcore.errors import ArbcoreError


class ExecutionError(ArbcoreError):
    """Base class of every execution-layer error."""


class InexactConversionError(ExecutionError, ValueError):
    """A conversion between scales would need rounding that is not allowed for this use."""


class AssetScaleError(ExecutionError, ValueError):
    """An asset used with a different number of decimals than the one it was registered with."""


class LedgerError(ExecutionError):
    """Base class of refused ledger operations."""


class InsufficientFundsError(LedgerError, ValueError):
    """Available balance (total minus reserved) is smaller than the amount asked for."""


class ReservationExistsError(LedgerError, ValueError):
    """A reservation for this ticket leg and asset was already made (use a new leg id)."""


class UnknownReservationError(LedgerError, LookupError):
    """No reservation for this ticket leg (and asset)."""


class ReservationExceededError(LedgerError, ValueError):
    """A release or fill asks for more than what remains reserved for the ticket leg."""


class EventConflictError(LedgerError, ValueError):
    """An event id already applied for this ticket leg, replayed with different content."""


class ReconcileConflictError(LedgerError, ValueError):
    """Adopting the venue's totals would leave an asset with less than what is reserved on it."""


class JournalError(ExecutionError):
    """Base class of refused journal writes, and of journals that cannot be read."""


class JournalOpenError(JournalError):
    """A file opened as a read-only journal that cannot be read as one: not an arbcore journal (a
    table of its schema missing), another schema version, or a write-ahead log out of reach. The
    file is left as it was."""


class IntentConflictError(JournalError, ValueError):
    """The same (ticket, leg, attempt) or ticket id was written before with different content."""


class FillConflictError(JournalError, ValueError):
    """A fill id already journaled for the order, replayed with different quantity, price or fee."""


class UnknownOrderError(JournalError, LookupError):
    """No order with this client order id in the journal."""


class OverfillError(JournalError, ValueError):
    """A fill would take the order's filled quantity above its quantity."""


class SecretInJournalError(JournalError, ValueError):
    """A value written to the journal contains a registered secret; nothing was written."""
