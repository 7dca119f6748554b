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
    if places is None and raw >= 0 and decimals > 0:
        # the order path's case (a price or quantity): slicing the digits, no division
        digits = str(raw).rjust(decimals + 1, "0")
        frac = digits[-decimals:].rstrip("0")
        return f"{digits[:-decimals]}.{frac}" if frac else digits[:-decimals]
    neg = raw < 0
    whole, frac_int = divmod(abs(raw), 10**decimals) if decimals else (abs(raw), 0)
    frac_text = f"{frac_int:0{decimals}d}" if decimals else ""
    if places is None:
        frac_text = frac_text.rstrip("0")
    else:
        if len(frac_text.rstrip("0")) > places:
            raise ValueError(f"{raw} at {decimals} decimals does not fit {places} places")
        frac_text = frac_text[:places].ljust(places, "0")
    out = f"{whole}.{frac_text}" if frac_text else str(whole)
    return f"-{out}" if neg else out
