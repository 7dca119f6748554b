"""Realised PnL of a ticket from its fills, as exact integers.

Method: FIFO lots of the ticket's instrument (long or short). Each fill that closes part of an
open lot realises ``matched_qty * (sell_price - buy_price)``, an exact integer at the price and
quantity scales multiplied. Fees are expensed when charged:

- a fee in the quote asset is subtracted from realised PnL;
- a fee in the base asset is a disposal of that quantity at price zero (the venue took it), so
  it both reduces the position and realises its cost through the same FIFO;
- a fee in any other asset is not convertible exactly; it is reported in ``other_fees`` beside
  the PnL, never dropped.

Scales: a venue charges fees at its asset's precision, often finer than the instrument's (a
USDT fee of 0.149969253 against ETH/USDT notionals at 2 + 6 decimals; an ETH fee at 8 decimals
against quantities at 6). So the quantities are kept at the finer of the instrument's quantity
scale and the base fees' (``TicketPnl.qty_decimals``), and PnL at the finer of the notional
scale that gives and the quote fees' (``TicketPnl.notional_decimals``): every fee counts,
exactly. (Before, a fee too fine for the instrument's scales went to ``other_fees``, which no
PnL line subtracted: reported profit and the daily-loss check ran ~13% high in a default run.)

A negative fee is a rebate. A ticket that is flat (``position == 0``) has ``realised`` equal to
its quote cash flow net of fees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from arbcore.execution.amounts import Rounding, rescale
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
    qty_decimals: int  # the instrument's, or finer when a base fee is (see the module docs)
    notional_decimals: int  # at least price_decimals + qty_decimals; finer when a quote fee is
    bought: int  # qty_decimals
    sold: int  # qty_decimals
    buy_notional: int  # notional_decimals
    sell_notional: int  # notional_decimals
    quote_fees: int  # notional_decimals, signed
    base_fees: int  # qty_decimals, signed
    position: int  # qty_decimals, signed: bought - sold - base_fees; the residual exposure
    realised: int  # notional_decimals, signed, net of quote and base fees
    other_fees: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # asset -> (amount, decimals)


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
    #: fees taken in the base (a buy's on OKX or Binance): asset -> (amount, decimals); in the
    #: realised figure, as the tickets' own
    base_fees: Mapping[str, tuple[int, int]] = field(default_factory=dict)


def ticket_pnl(
    ticket_id: str, fills: Iterable[PnlFill], *, base: str, quote: str, price_decimals: int, qty_decimals: int
) -> TicketPnl:
    """Realised PnL of one ticket's fills, in journal order."""
    fills = list(fills)
    qd = max([qty_decimals] + [f.fee_decimals for f in fills if f.fee and f.fee_asset == base])
    nd = max([price_decimals + qd] + [f.fee_decimals for f in fills if f.fee and f.fee_asset == quote])
    up_qty = 10 ** (qd - qty_decimals)  # a fill's quantity at qd
    lots: deque[list[int]] = deque()  # [signed qty, price]; all of one sign at any time
    gross = bought = sold = buy_n = sell_n = quote_fees = base_fees = 0  # gross at price + qd
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
        q = f.qty * up_qty
        if f.side is Side.BUY:
            bought += q
            buy_n += q * f.price
            gross += trade(q, f.price)
        else:
            sold += q
            sell_n += q * f.price
            gross += trade(-q, f.price)
        if not f.fee:
            continue
        if f.fee_asset == quote:
            quote_fees += rescale(f.fee, f.fee_decimals, nd, Rounding.EXACT)
        elif f.fee_asset == base:
            fee = rescale(f.fee, f.fee_decimals, qd, Rounding.EXACT)
            base_fees += fee
            gross += trade(-fee, 0)  # the venue took base: a disposal at price zero
        else:
            amount, dec = other.get(f.fee_asset, (0, f.fee_decimals))
            scale = max(dec, f.fee_decimals)
            other[f.fee_asset] = (
                rescale(amount, dec, scale, Rounding.EXACT) + rescale(f.fee, f.fee_decimals, scale, Rounding.EXACT),
                scale,
            )
    up_n = 10 ** (nd - price_decimals - qd)  # a notional at price + qd, at nd
    return TicketPnl(
        ticket_id,
        base,
        quote,
        price_decimals,
        qd,
        nd,
        bought,
        sold,
        buy_n * up_n,
        sell_n * up_n,
        quote_fees,
        base_fees,
        bought - sold - base_fees,
        gross * up_n - quote_fees,
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
        base: dict[str, tuple[int, int]] = {}
        for t in ts:
            for asset, (amount, d) in t.other_fees.items():
                _add_fee(other, asset, amount, d)
            if t.base_fees:
                _add_fee(base, t.base, t.base_fees, t.qty_decimals)
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
                base,
            )
        )
    return out


def _add_fee(into: dict[str, tuple[int, int]], asset: str, amount: int, decimals: int) -> None:
    """``amount`` (at ``decimals``) added to ``into[asset]``, at the finer of the two scales."""
    prev, pd = into.get(asset, (0, decimals))
    s = max(pd, decimals)
    into[asset] = (rescale(prev, pd, s, Rounding.EXACT) + rescale(amount, decimals, s, Rounding.EXACT), s)
