"""Exceptions raised by arbcore. Each names the offending value in its message.

They are defined in Python so each can inherit from the matching builtin as well as from
:class:`ArbcoreError`; the Rust extension imports and raises these same classes.
"""


class ArbcoreError(Exception):
    """Base class of every arbcore error."""


class DecimalError(ArbcoreError, ValueError):
    """A price, quantity or amount that is not an exact non-negative decimal at the scale."""


class ConfigError(ArbcoreError, ValueError):
    """An instrument, venue rule or setting that was refused; the message names the field."""


class UnknownVenueError(ArbcoreError, LookupError):
    """A venue index or name that the book does not have."""


class BookInputError(ArbcoreError, ValueError):
    """Malformed book input: bad side or state, array shape or length mismatch."""
