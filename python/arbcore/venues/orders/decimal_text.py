"""Exact decimal text <-> raw integers for order paths (clients and simulators alike).

Unlike the market-data decoders (Rust, u64), order amounts include balances and cumulative quote
values that can exceed 64 bits at an asset's scale, so these work on Python ints. Text that
cannot be represented exactly at the scale is an error, never rounded.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation


def to_raw(text: str | int | float, decimals: int, what: str = "value") -> int:
    """``"0.0015"`` at 6 decimals -> 1500. Floats are accepted only when the venue sends JSON
    numbers (Kraken); they are read through their shortest repr, which is what the venue printed."""
    s = repr(text) if isinstance(text, float) else str(text)
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{what} {s!r} is not a decimal") from None
    if not d.is_finite():
        raise ValueError(f"{what} {s!r} is not a finite decimal")
    # exact at any size: the context holds every digit (the default 28 would round big values)
    scaled = d.scaleb(decimals, Context(prec=len(d.as_tuple().digits) + abs(decimals) + 2))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {s!r} has more than {decimals} decimals")
    return int(scaled)


def to_text(raw: int, decimals: int, places: int | None = None) -> str:
    """1500 at 6 decimals -> ``"0.0015"`` (trailing zeros trimmed unless ``places`` is given)."""
    neg = raw < 0
    whole, frac = divmod(abs(raw), 10**decimals) if decimals else (abs(raw), 0)
    digits = f"{frac:0{decimals}d}" if decimals else ""
    if places is None:
        digits = digits.rstrip("0")
    else:
        if len(digits.rstrip("0")) > places:
            raise ValueError(f"{raw} at {decimals} decimals does not fit {places} places")
        digits = digits[:places].ljust(places, "0")
    out = f"{whole}.{digits}" if digits else str(whole)
    return f"-{out}" if neg else out
