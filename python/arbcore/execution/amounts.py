"""Exact amounts: assets at their own scale, and conversions from instrument scales.

The Rust core keeps prices at ``price_decimals``, quantities at ``qty_decimals`` and notionals
and fees at ``price_decimals + qty_decimals`` (README "Exact numbers"). The ledger keeps each
asset at its own scale (``Asset.decimals``). Moving a value between scales multiplies exactly,
or divides with an explicit rounding rule:

- ``Rounding.UP`` for what we set aside (reservations): reserving a hair more is safe.
- ``Rounding.EXACT`` for what actually moved (fills, fees, releases): a remainder means the
  asset scale cannot hold the amount, and is refused with :class:`InexactConversionError` instead of
  silently creating or losing value.
- ``Rounding.DOWN`` for what we may count on receiving, never for what we spend.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import arbcore
from arbcore.execution.errors import InexactConversionError

K = TypeVar("K")


class Rounding(enum.Enum):
    EXACT = "exact"
    UP = "up"
    DOWN = "down"


def rescale(value: int, from_decimals: int, to_decimals: int, rounding: Rounding) -> int:
    """``value / 10**from_decimals`` expressed at ``to_decimals``; signed values round toward +/-inf as named."""
    if to_decimals >= from_decimals:
        up: int = 10 ** (to_decimals - from_decimals)
        return value * up
    div: int = 10 ** (from_decimals - to_decimals)
    q, r = divmod(value, div)  # floor division, also for negatives
    if r == 0 or rounding is Rounding.DOWN:
        return q
    if rounding is Rounding.UP:
        return q + 1
    raise InexactConversionError(
        f"{value} at {from_decimals} decimals is not exact at {to_decimals} decimals (remainder {r})"
    )


def signed_decimal(raw: int, decimals: int) -> str:
    """``raw`` at ``decimals`` as decimal text with its sign ("-0.05"), for people to read."""
    if decimals > arbcore.MAX_DECIMALS:
        # a PnL kept at a fee's finer scale (pnl.py) can pass the core's 18: e.g. a Binance base
        # fee printed at 8 places on a 12-decimal price
        whole, frac = divmod(abs(raw), 10**decimals)
        text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")
        return ("-" if raw < 0 else "") + text
    return ("-" if raw < 0 else "") + arbcore.format_decimal(abs(raw), decimals)


def add_scaled(acc: dict[K, tuple[int, int]], key: K, value: int, decimals: int) -> None:
    """``acc[key] += value`` where each holds (amount, its decimals): the sum kept at the finer of
    the two scales, exactly (sums of PnL or positions whose scales differ by instrument or by a
    fee's precision)."""
    have, dec = acc.get(key, (0, decimals))
    top = max(dec, decimals)
    acc[key] = (have * 10 ** (top - dec) + value * 10 ** (top - decimals), top)


@dataclass(frozen=True, order=True)
class Asset:
    """An asset and the number of decimals its ledger amounts are kept at."""

    name: str
    decimals: int

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("asset name is empty")
        if not 0 <= self.decimals <= arbcore.MAX_DECIMALS:
            raise ValueError(f"asset {self.name}: decimals {self.decimals} outside 0..{arbcore.MAX_DECIMALS}")

    def parse(self, text: str) -> int:
        """Decimal text -> integer units, exactly (``DecimalError`` on more decimals than the scale)."""
        return arbcore.parse_decimal(text, self.decimals)

    def format(self, amount: int) -> str:
        """Integer units -> shortest exact decimal text; negative amounts get a leading ``-``."""
        if amount < 0:
            return "-" + arbcore.format_decimal(-amount, self.decimals)
        return arbcore.format_decimal(amount, self.decimals)

    def units(self, value: int, decimals: int, rounding: Rounding = Rounding.EXACT) -> int:
        """A value at ``decimals`` (e.g. a notional at price+qty decimals) in this asset's units."""
        return rescale(value, decimals, self.decimals, rounding)

    def __str__(self) -> str:
        return self.name


class Amount(NamedTuple):
    """An integer amount of one asset, in that asset's units."""

    asset: Asset
    value: int

    def __str__(self) -> str:
        return f"{self.asset.format(self.value)} {self.asset.name}"


def notional(price: int, qty: int) -> int:
    """Price (``price_decimals``) x quantity (``qty_decimals``), exact at ``price+qty`` decimals."""
    return price * qty


def fee_for(notional_value: int, fee_rate: int, rounding: Rounding = Rounding.UP) -> int:
    """Fee on a notional at a rate in ``arbcore.FEE_SCALE`` units (1e-8), at the notional's scale.

    Venues round fees in their favour, so the default rounds up: a reservation built from it is
    never short.
    """
    q, r = divmod(notional_value * fee_rate, arbcore.FEE_SCALE)
    if r == 0 or rounding is Rounding.DOWN:
        return q
    if rounding is Rounding.UP:
        return q + 1
    raise InexactConversionError(f"fee on {notional_value} at rate {fee_rate}/{arbcore.FEE_SCALE} is not exact")


def buy_reservation(
    limit_price: int, qty: int, *, price_decimals: int, qty_decimals: int, fee_rate: int, quote: Asset
) -> Amount:
    """Quote to set aside for a buy of ``qty`` at worst ``limit_price``, taker fee included, rounded up."""
    n = notional(limit_price, qty)
    return Amount(quote, quote.units(n + fee_for(n, fee_rate), price_decimals + qty_decimals, Rounding.UP))


def sell_reservation(qty: int, qty_decimals: int, base: Asset) -> Amount:
    """Base to set aside for a sell of ``qty``: exactly the quantity (a lot finer than the asset is refused)."""
    return Amount(base, base.units(qty, qty_decimals, Rounding.EXACT))
