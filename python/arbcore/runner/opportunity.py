"""What a strategy's ``on_opportunity`` receives: :class:`Opportunity`, one record of
``ConsolidatedBook.opportunities()`` (``arbcore.OPPORTUNITY_DTYPE``) with its venue and instrument
names, and the conversion of those records to Python numbers (once per call, on the tick-to-order
path)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any

import numpy as np

import arbcore


@dataclass(frozen=True)
class Opportunity:
    """One opportunity record (``arbcore.OPPORTUNITY_DTYPE``) with venue and instrument names.

    Prices at ``price_decimals``, ``qty`` at ``qty_decimals``, notionals and profits at
    ``price_decimals + qty_decimals`` of the instrument; timestamps in integer ns.
    """

    instrument: str
    buy_venue: str
    sell_venue: str
    qty: int
    buy_limit: int
    sell_limit: int
    buy_notional: int
    sell_notional: int
    gross_profit: int
    net_profit: int
    edge_bps: float
    buy_seq: int = 0
    sell_seq: int = 0
    buy_venue_ts: int = 0
    buy_recv_ts: int = 0
    sell_venue_ts: int = 0
    sell_recv_ts: int = 0

    @classmethod
    def from_record(cls, record: np.void, instrument: str, venues: list[str]) -> Opportunity:
        """From one record of ``ConsolidatedBook.opportunities()``; ``venues`` is ``book.venues``."""
        row: tuple[Any, ...] = record.tolist()  # type: ignore[assignment]  # a record: a tuple of its fields
        return cls._from_row(_in_field_order(row), instrument, venues)

    @classmethod
    def from_book(cls, book: arbcore.ConsolidatedBook, records: np.ndarray[Any, Any]) -> list[Opportunity]:
        """All records of one ``book.opportunities()`` call.

        This is on the tick-to-order path, so it touches numpy once: the records' bytes are
        unpacked to Python numbers in one C call (``struct``), not one numpy access per field.
        """
        if not len(records):
            return []
        instrument, venues = book.instrument, book.venues
        dtype = records.dtype
        if (
            cls is Opportunity
            and _RECORD is not None
            and _reorder is None
            and (dtype is _seen_dtype[0] or _same_dtype(dtype))
            and records.flags.c_contiguous
        ):
            # the common case inline (no call per record): the instance the dataclass __init__
            # makes, its dict filled in one go instead of one object.__setattr__ per field
            out = []
            new = object.__new__
            for row in _RECORD.iter_unpack(records):  # type: ignore[arg-type]  # a buffer
                o = new(Opportunity)
                d = o.__dict__
                d.update(zip(_OPPORTUNITY_FIELDS, row, strict=True))
                d["instrument"] = instrument
                d["buy_venue"] = venues[row[1]]
                d["sell_venue"] = venues[row[2]]
                out.append(o)
            return out
        make = cls._from_row
        return [make(row, instrument, venues) for row in _rows_of(records)]

    @classmethod
    def _from_row(cls, values: tuple[Any, ...], instrument: str, venues: list[str]) -> Opportunity:
        """From one record's numbers in Opportunity's field order (venues as indices into ``venues``)."""
        if cls is not Opportunity:  # a subclass may have its own __init__ / __post_init__
            return cls(instrument, venues[values[1]], venues[values[2]], *values[3:])
        # the dataclass __init__ of a frozen class is one object.__setattr__ per field; fill the
        # instance's dict in one go instead (same attributes, same value types)
        o = object.__new__(Opportunity)
        d = o.__dict__
        d.update(zip(_OPPORTUNITY_FIELDS, values, strict=True))
        d["instrument"] = instrument
        d["buy_venue"] = venues[values[1]]
        d["sell_venue"] = venues[values[2]]
        return o


_OPPORTUNITY_FIELDS = tuple(f.name for f in fields(Opportunity))


def _record_layout(dtype: np.dtype[np.void]) -> tuple[struct.Struct | None, tuple[int, ...]]:
    """A ``struct`` reading one record of ``dtype`` (None if a field has no struct code), and
    where each of Opportunity's fields is in the unpacked tuple."""
    codes = {"u1": "B", "i1": "b", "u2": "H", "i2": "h", "u4": "I", "i4": "i", "u8": "Q", "i8": "q", "f4": "f",
             "f8": "d"}  # fmt: skip
    assert dtype.fields is not None and dtype.names is not None
    by_offset = sorted(dtype.names, key=lambda n: int(dtype.fields[n][1]))  # type: ignore[index]
    order = tuple(by_offset.index(n) for n in _OPPORTUNITY_FIELDS)
    fmt, pos = "<", 0
    for name in by_offset:
        ftype, offset = dtype.fields[name][:2]
        code = codes.get(ftype.str[1:])
        if code is None or ftype.str[0] not in "<|" or offset < pos:
            return None, order
        fmt += "x" * (offset - pos) + code
        pos = offset + ftype.itemsize
    fmt += "x" * (dtype.itemsize - pos)
    layout = struct.Struct(fmt)
    return (layout if layout.size == dtype.itemsize else None), order


_RECORD, _FIELD_ORDER = _record_layout(arbcore.OPPORTUNITY_DTYPE)
_reorder = None if tuple(range(len(_FIELD_ORDER))) == _FIELD_ORDER else itemgetter(*_FIELD_ORDER)
#: the dtype object the records of ``book.opportunities()`` carry (the extension reuses one), once
#: it compared equal to OPPORTUNITY_DTYPE: an identity test then replaces a ~1.5 µs comparison
_seen_dtype: list[np.dtype[Any] | None] = [None]


def _in_field_order(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row if _reorder is None else _reorder(row)


def _rows_of(records: np.ndarray[Any, Any]) -> Iterable[tuple[Any, ...]]:
    """Each record as a tuple of Python numbers in Opportunity's field order."""
    dtype = records.dtype
    if _RECORD is not None and records.flags.c_contiguous and (dtype is _seen_dtype[0] or _same_dtype(dtype)):
        rows: Iterable[tuple[Any, ...]] = _RECORD.iter_unpack(records)  # type: ignore[arg-type]  # a buffer
    else:
        rows = records.tolist()
    return rows if _reorder is None else map(_reorder, rows)


def _same_dtype(dtype: np.dtype[Any]) -> bool:
    if dtype != arbcore.OPPORTUNITY_DTYPE:
        return False
    _seen_dtype[0] = dtype
    return True
