"""Realised PnL of a ticket from its fills, as exact integers.

Method: FIFO lots of the ticket's instrument (long or short). Each fill that closes part of an
open lot realises ``matched_qty * (sell_price - buy_price)``, an exact integer at
``price_decimals + qty_decimals`` (the notional scale of the instrument). Fees are expensed when
charged:

- a fee in the quote asset is subtracted from realised PnL (rescaled exactly to the notional
  scale);
- a fee in the base asset is a disposal of that quantity at price zero (the venue took it), so
  it both reduces the position and realises its cost through the same FIFO;
- a fee in any other asset (or one too fine for those scales) is not convertible exactly; it is
  reported in ``other_fees`` beside the PnL, never dropped.

A negative fee is a rebate. A ticket that is flat (``position == 0``) has ``realised`` equal to
its quote cash flow net of fees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from arbcore.execution.amounts import Rounding, rescale
from arbcore.execution.errors import InexactConversionError
from arbcore.execution.orders import Side


@dataclass(frozen=True)
class PnlFill:
    side: Side
    qty: int  # qty_decimals
    price: int  # price_decimals
    fee: int = 0  # fee_decimals, signed (negative: rebate)
    fee_asset: str = ""
    fee_decimals: int = 0


@dataclass(frozen=True)
class TicketPnl:
    ticket_id: str
    base: str
    quote: str
    price_decimals: int
    qty_decimals: int
    bought: int  # qty_decimals
    sold: int  # qty_decimals
    buy_notional: int  # notional scale
    sell_notional: int  # notional scale
    quote_fees: int  # notional scale, signed
    base_fees: int  # qty_decimals, signed
    position: int  # qty_decimals, signed: bought - sold - base_fees; the residual exposure
    realised: int  # notional scale, signed, net of quote and base fees
    other_fees: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # asset -> (amount, decimals)

    @property
    def notional_decimals(self) -> int:
        return self.price_decimals + self.qty_decimals


@dataclass(frozen=True)
class PairPnl:
    buy_venue: str
    sell_venue: str
    quote: str
    decimals: int  # the finest notional scale among the tickets summed
    tickets: int
    realised: int
    quote_fees: int
    other_fees: Mapping[str, tuple[int, int]] = field(default_factory=dict)


def _exact(value: int, from_decimals: int, to_decimals: int) -> int | None:
    try:
        return rescale(value, from_decimals, to_decimals, Rounding.EXACT)
    except InexactConversionError:
        return None


def ticket_pnl(
    ticket_id: str, fills: Iterable[PnlFill], *, base: str, quote: str, price_decimals: int, qty_decimals: int
) -> TicketPnl:
    """Realised PnL of one ticket's fills, in journal order."""
    lots: deque[list[int]] = deque()  # [signed qty, price]; all of one sign at any time
    realised = bought = sold = buy_n = sell_n = quote_fees = base_fees = 0
    other: dict[str, tuple[int, int]] = {}

    def trade(signed_qty: int, price: int) -> int:
        """Match against opposite lots FIFO, open a lot with the rest; returns realised gross."""
        gross = 0
        while signed_qty and lots and (lots[0][0] > 0) != (signed_qty > 0):
            lot = lots[0]
            m = min(abs(signed_qty), abs(lot[0]))
            # closing a long (sell) earns price - lot price; closing a short (buy) earns lot price - price
            gross += m * (price - lot[1]) if signed_qty < 0 else m * (lot[1] - price)
            lot[0] += m if lot[0] < 0 else -m
            signed_qty += m if signed_qty < 0 else -m
            if lot[0] == 0:
                lots.popleft()
        if signed_qty:
            lots.append([signed_qty, price])
        return gross

    for f in fills:
        if f.side is Side.BUY:
            bought += f.qty
            buy_n += f.qty * f.price
            realised += trade(f.qty, f.price)
        else:
            sold += f.qty
            sell_n += f.qty * f.price
            realised += trade(-f.qty, f.price)
        if not f.fee:
            continue
        as_quote = _exact(f.fee, f.fee_decimals, price_decimals + qty_decimals) if f.fee_asset == quote else None
        as_base = _exact(f.fee, f.fee_decimals, qty_decimals) if f.fee_asset == base else None
        if as_quote is not None:
            quote_fees += as_quote
            realised -= as_quote
        elif as_base is not None:
            base_fees += as_base
            realised += trade(-as_base, 0)  # the venue took base: a disposal at price zero
        else:
            amount, dec = other.get(f.fee_asset, (0, f.fee_decimals))
            scale = max(dec, f.fee_decimals)
            other[f.fee_asset] = (
                rescale(amount, dec, scale, Rounding.EXACT) + rescale(f.fee, f.fee_decimals, scale, Rounding.EXACT),
                scale,
            )
    return TicketPnl(
        ticket_id,
        base,
        quote,
        price_decimals,
        qty_decimals,
        bought,
        sold,
        buy_n,
        sell_n,
        quote_fees,
        base_fees,
        bought - sold - base_fees,
        realised,
        other,
    )


def pair_pnl(tickets: Iterable[tuple[str, str, TicketPnl]]) -> list[PairPnl]:
    """Sum ticket PnL per (buy venue, sell venue, quote asset), rescaled up to the finest scale."""
    groups: dict[tuple[str, str, str], list[TicketPnl]] = {}
    for buy, sell, t in tickets:
        groups.setdefault((buy, sell, t.quote), []).append(t)
    out = []
    for (buy, sell, quote), ts in sorted(groups.items()):
        dec = max(t.notional_decimals for t in ts)
        other: dict[str, tuple[int, int]] = {}
        for t in ts:
            for asset, (amount, d) in t.other_fees.items():
                prev, pd = other.get(asset, (0, d))
                s = max(pd, d)
                other[asset] = (rescale(prev, pd, s, Rounding.EXACT) + rescale(amount, d, s, Rounding.EXACT), s)
        out.append(
            PairPnl(
                buy,
                sell,
                quote,
                dec,
                len(ts),
                sum(rescale(t.realised, t.notional_decimals, dec, Rounding.EXACT) for t in ts),
                sum(rescale(t.quote_fees, t.notional_decimals, dec, Rounding.EXACT) for t in ts),
                other,
            )
        )
    return out
