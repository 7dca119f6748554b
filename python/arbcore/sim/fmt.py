"""Decimal text as venues print it, from raw integers at the engine's scales."""

from __future__ import annotations

import time
from functools import lru_cache

from arbcore.venues.orders.decimal_text import to_raw, to_text


@lru_cache(maxsize=1024)
def places_of(step: int, decimals: int) -> int:
    """Decimals a venue prints for values on a grid of `step` raw units at `decimals`."""
    places = decimals
    while places > 0 and step % 10 == 0:
        step //= 10
        places -= 1
    return places


def fixed(raw: int, decimals: int, places: int) -> str:
    """`raw / 10**decimals` printed with exactly `places` decimals (raw must be on that grid)."""
    scaled = raw // 10 ** (decimals - places)
    if places == 0:
        return str(scaled)
    whole, frac = divmod(scaled, 10**places)
    return f"{whole}.{frac:0{places}d}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


#: `fixed` and `to_text`, memoised: the order side prints the same few prices, quantities and
#: zeros in every reply and private event (the results are immutable strings)
fixed_text = lru_cache(maxsize=8192)(fixed)
decimal_text = lru_cache(maxsize=8192)(to_text)


def parse_raw(text: object, decimals: int, what: str = "value") -> int:
    """``to_raw(text, decimals, what)``, the same result and the same errors, with a short path
    for plain ASCII decimals (``"123"``, ``"0.0150"``) with at most ``decimals`` places."""
    if type(text) is str:
        whole, dot, frac = text.partition(".")
        if (
            whole.isascii()
            and whole.isdigit()
            and len(frac) <= decimals
            and (not dot or (frac.isascii() and frac.isdigit()))
        ):
            return int(whole + frac.ljust(decimals, "0"))
    return to_raw(text, decimals, what)  # type: ignore[arg-type]  # to_raw says what is wrong with it
