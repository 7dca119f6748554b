"""Reading one field of the configuration file: :class:`FieldReader` checks a value as its kind
(table, string, integer, number, boolean, exact amount, decimal, fee) and records each refusal, as
``path: why``, in the :class:`ErrorCollector` that every table's reader shares."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import arbcore
from arbcore.runner.config_model import Dec, Fee

_FEE_DECIMALS = 8  # arbcore.FEE_SCALE == 10**8


class ErrorCollector:
    """Every problem found so far, one ``path: why`` line each, in the order found."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, why: str) -> None:
        self.items.append(f"{path}: {why}")


def quoted(v: object) -> str:
    """A value as the error lines show it: a string in double quotes, anything else as its repr."""
    return f'"{v}"' if isinstance(v, str) else repr(v)


class FieldReader:
    """Typed reads of a table's fields; a refused value is recorded in ``e``, the shared collector."""

    def __init__(self, errors: ErrorCollector) -> None:
        self.e = errors

    # generic readers: each returns None (after recording an error) when the value is unusable

    def table(self, d: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any] | None:
        if key not in d:
            if required:
                self.e.add(path, "missing (a table is required)")
            return None
        v = d[key]
        if not isinstance(v, dict):
            self.e.add(path, f"{quoted(v)} is not a table")
            return None
        return v

    def unknown(self, d: Mapping[str, Any], known: set[str], path: str) -> None:
        for k in d:
            if k not in known:
                self.e.add(f"{path}.{k}" if path else k, f"unknown field (known: {', '.join(sorted(known))})")

    def string(self, d: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        if key not in d:
            if required:
                self.e.add(path, "missing")
            return None
        v = d[key]
        if not isinstance(v, str) or not v.strip():
            self.e.add(path, f"{quoted(v)} is not a non-empty string")
            return None
        return v

    def integer(
        self, d: Mapping[str, Any], key: str, path: str, default: int, *, lo: int = 0, hi: int | None = None
    ) -> int:
        if key not in d:
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int):
            self.e.add(path, f"{quoted(v)} is not an integer")
            return default
        if v < lo or (hi is not None and v > hi):
            self.e.add(path, f"{v} is outside {lo}..{hi if hi is not None else 'inf'}")
            return default
        return v

    def number(self, d: Mapping[str, Any], key: str, path: str, default: float, *, lo: float, hi: float) -> float:
        """An int or a float (a setting, not an amount: amounts are decimal strings)."""
        if key not in d:
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.e.add(path, f"{quoted(v)} is not a number")
            return default
        if not lo <= v <= hi:  # (NaN fails too)
            self.e.add(path, f"{v} is outside {lo}..{hi}")
            return default
        return v

    def boolean(self, d: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            self.e.add(path, f"{quoted(v)} is not true or false")
            return default
        return v

    def decimal_text(self, v: object, path: str) -> str | None:
        if isinstance(v, bool | float):
            self.e.add(path, f'{v!r} is a TOML float; write amounts as strings, e.g. "{v}"')
            return None
        if isinstance(v, int):
            v = str(v)
        if not isinstance(v, str):
            self.e.add(path, f"{quoted(v)} is not a decimal")
            return None
        return v.strip()

    def amount(self, v: object, path: str, decimals: int, *, positive: bool = False) -> int | None:
        """Decimal text at ``decimals``, exactly."""
        text = self.decimal_text(v, path)
        if text is None:
            return None
        if not is_decimal(text):
            self.e.add(path, f"{quoted(text)} is not a decimal")
            return None
        try:
            raw = arbcore.parse_decimal(text, decimals)
        except (ValueError, OverflowError):
            frac = text.split(".", 1)[1] if "." in text else ""
            if len(frac.rstrip("0")) > decimals:
                self.e.add(path, f"{quoted(text)} has more than {decimals} decimals")
            else:
                self.e.add(path, f"{quoted(text)} is out of range at {decimals} decimals")
            return None
        if positive and raw <= 0:
            self.e.add(path, f"{quoted(text)} must be positive")
            return None
        return raw

    def too_large(self, text: str, path: str) -> bool:
        """A limit with more than ``_DEC_INT_DIGITS`` digits before the point (reported)."""
        if len(text.split(".", 1)[0].lstrip("0")) <= _DEC_INT_DIGITS:
            return False
        self.e.add(path, f"{quoted(text)} is too large (at most {_DEC_INT_DIGITS} digits before the point)")
        return True

    def limit(self, d: Mapping[str, Any], key: str, path: str, decimals: int) -> int | None:
        """An optional limit (``key`` in ``d``) as an exact amount at ``decimals``: :meth:`amount`
        and at most ``_DEC_INT_DIGITS`` digits before the point."""
        if key not in d:
            return None
        text = self.decimal_text(d[key], path)
        if text is None or self.too_large(text, path):
            return None
        return self.amount(text, path, decimals)

    def dec(self, d: Mapping[str, Any], key: str, path: str, *, positive: bool = True) -> Dec | None:
        if key not in d:
            return None
        text = self.decimal_text(d[key], path)
        if text is None:
            return None
        frac = text.split(".", 1)[1] if "." in text else ""
        decimals = len(frac)
        if not is_decimal(text):
            self.e.add(path, f"{quoted(text)} is not a decimal")
        elif decimals > arbcore.MAX_DECIMALS:
            self.e.add(path, f"{quoted(text)} has more than {arbcore.MAX_DECIMALS} decimals")
        elif not self.too_large(text, path):
            return self._dec(text, decimals, path, positive)
        return None

    def _dec(self, text: str, decimals: int, path: str, positive: bool) -> Dec | None:
        value = int(text.replace(".", "") or "0")
        if positive and value <= 0:
            self.e.add(path, f"{quoted(text)} must be positive")
            return None
        return Dec(value, decimals, text)

    def fee(self, d: Mapping[str, Any], key: str, path: str) -> Fee:
        if key not in d:
            return Fee(0, "0")
        text = self.decimal_text(d[key], path)
        if text is None:
            return Fee(0, "0")
        neg = text.startswith("-")
        body = text[1:].strip() if neg else text
        bps = body.lower().endswith("bps")
        number = body[:-3].strip() if bps else body
        if not is_decimal(number):
            self.e.add(path, f'{quoted(text)} is not a fee (a decimal such as "0.001" or basis points such as "10bps")')
            return Fee(0, "0")
        try:
            rate = arbcore.parse_decimal(number, _FEE_DECIMALS - 4 if bps else _FEE_DECIMALS)
        except (ValueError, OverflowError):
            self.e.add(path, f"{quoted(text)} is finer than 1e-8 (the fee scale)")
            return Fee(0, "0")
        if rate >= arbcore.FEE_SCALE:
            self.e.add(path, f"{quoted(text)} is 100% or more")
            return Fee(0, "0")
        sign = "-" if neg else ""
        return Fee(-rate if neg else rate, f"{sign}{number}bps" if bps else sign + number)


#: a limit's digits before the point: the order path holds limits at 18 decimals in a u128
#: (below 3.4e20), and no notional or loss limit needs more than a quadrillion
_DEC_INT_DIGITS = 15

_DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$")


def is_decimal(text: str) -> bool:
    return bool(_DECIMAL_RE.match(text))


__all__ = ["ErrorCollector", "FieldReader", "is_decimal", "quoted"]
