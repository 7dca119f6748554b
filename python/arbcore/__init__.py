"""arbcore: exact multi-venue order books and cross-venue opportunity detection.

The hot path (books, consolidated view, detection) is Rust (``arbcore._core``); this package
re-exports it with the numpy dtype of opportunity records and the exception classes.
"""

import numpy as np

from arbcore._core import (
    ASK,
    BID,
    BROKEN,
    FEE_SCALE,
    LIVE,
    MAX_DECIMALS,
    MAX_VENUES,
    STALE,
    SYNCING,
    ConsolidatedBook,
    Feed,
    OrderPath,
    format_decimal,
    opportunity_fields,
    parse_decimal,
    synthetic_stream,
)
from arbcore.errors import (
    ArbcoreError,
    BookInputError,
    ConfigError,
    DecimalError,
    UnknownVenueError,
)

#: numpy structured dtype of the records returned by ``ConsolidatedBook.opportunities()``.
OPPORTUNITY_DTYPE: np.dtype[np.void] = np.dtype(opportunity_fields())

STATE_NAMES: dict[int, str] = {SYNCING: "SYNCING", LIVE: "LIVE", STALE: "STALE", BROKEN: "BROKEN"}

__all__ = [
    "ASK",
    "BID",
    "BROKEN",
    "FEE_SCALE",
    "LIVE",
    "MAX_DECIMALS",
    "MAX_VENUES",
    "OPPORTUNITY_DTYPE",
    "STALE",
    "STATE_NAMES",
    "SYNCING",
    "ArbcoreError",
    "BookInputError",
    "ConfigError",
    "ConsolidatedBook",
    "DecimalError",
    "Feed",
    "OrderPath",
    "UnknownVenueError",
    "format_decimal",
    "opportunity_fields",
    "parse_decimal",
    "synthetic_stream",
]
