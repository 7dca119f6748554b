"""Decimal text as venues print it, from raw integers at the engine's scales."""

from __future__ import annotations

import time


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
