"""A seeded three-venue demo: books built from a synthetic stream, opportunities printed.

Until the CLI runner drives simulated venues over loopback, ``make run`` shows the core at work:
three venues quote one instrument around a common random-walk mid, each with its own noise and
occasional dislocations; every step sends each venue's new top levels as one numpy delta batch,
and the consolidated book reports the cross-venue opportunities that survive fees, lots, ticks,
minimum notional and balances.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from arbcore import ASK, BID, ConsolidatedBook

LEVELS = 10  # levels per side each venue re-quotes per step


@dataclass(frozen=True)
class DemoVenue:
    name: str
    taker_fee: str
    lot_size: str


VENUES = (
    DemoVenue("binance", "10bps", "0.00001"),
    DemoVenue("kraken", "0.0026", "0.0001"),
    DemoVenue("okx", "8bps", "0.00001"),
)


def build_book() -> ConsolidatedBook:
    book = ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=8)
    for v in VENUES:
        book.add_venue(
            v.name,
            symbol="BTCUSDT",
            tick_size="0.01",
            lot_size=v.lot_size,
            min_qty=v.lot_size,
            min_notional="5",
            taker_fee=v.taker_fee,
        )
        book.set_balance(v.name, "USDT", "250000")
        book.set_balance(v.name, "BTC", "3")
    book.set_max_notional("100000")
    book.set_min_edge_bps("1")
    return book


def quote_levels(
    rng: np.random.Generator, mid: int, half_spread: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Ten bid and ask levels around `mid` (raw ticks), quantities in raw 1e-8 BTC."""
    gaps = rng.integers(1, 40, size=(2, LEVELS)).cumsum(axis=1)
    bids = (mid - half_spread - gaps[0]).astype(np.uint64)
    asks = (mid + half_spread + gaps[1]).astype(np.uint64)
    qb = rng.integers(1_000_000, 150_000_000, size=LEVELS).astype(np.uint64)
    qa = rng.integers(1_000_000, 150_000_000, size=LEVELS).astype(np.uint64)
    return bids, qb, asks, qa


def describe(book: ConsolidatedBook, r: np.void) -> str:
    """One opportunity record as a line of text with exact decimals."""
    buy, sell = book.venues[r["buy_venue"]], book.venues[r["sell_venue"]]
    buy_px, sell_px = book.format_price(int(r["buy_limit"])), book.format_price(int(r["sell_limit"]))
    qty, net = book.format_qty(int(r["qty"])), book.format_notional(int(r["net_profit"]))
    return (
        f"buy {buy:8s} @ {buy_px:>9s}  sell {sell:8s} @ {sell_px:>9s}"
        f"  qty {qty:>10s} BTC  net {net:>12s} USDT  ({r['edge_bps']:.1f} bps)"
    )


def run_demo(steps: int = 3000, seed: int = 7, show: int = 12) -> int:
    rng = np.random.default_rng(seed)
    book = build_book()
    mid = 6_000_000  # 60,000.00 USDT
    noise = np.zeros(len(VENUES))
    prev: list[tuple[int, int]] = [(0, 0)] * len(VENUES)  # last quoted (bid, ask) top per venue
    prev_levels: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]] = []
    found = shown = 0
    deltas = 0
    print(f"arbcore demo: {len(VENUES)} venues, BTC/USDT, {steps} steps, seed {seed}")
    t0 = time.perf_counter()
    for step in range(steps):
        mid += int(rng.normal(0, 300))
        # venue noise: mean-reverting, with rare dislocations of ~0.3%
        noise = 0.8 * noise + rng.normal(0, 400, size=len(VENUES))
        jump = rng.random(len(VENUES)) < 0.01
        noise[jump] += rng.choice([-1, 1], size=int(jump.sum())) * 20_000
        now = time.time_ns()
        for v in range(len(VENUES)):
            bids, qb, asks, qa = quote_levels(rng, mid + int(noise[v]), 50)
            if step == 0:
                book.apply_snapshot(
                    v,
                    list(zip(bids.tolist(), qb.tolist(), strict=True)),
                    list(zip(asks.tolist(), qa.tolist(), strict=True)),
                    seq=1,
                    venue_ts=now,
                    recv_ts=now,
                )
                prev_levels.append((bids, asks))
                continue
            old_b, old_a = prev_levels[v]
            sides = np.concatenate(
                [np.full(LEVELS, BID), np.full(LEVELS, ASK), np.full(LEVELS, BID), np.full(LEVELS, ASK)]
            ).astype(np.uint8)
            prices = np.concatenate([old_b, old_a, bids, asks])
            qtys = np.concatenate([np.zeros(2 * LEVELS, np.uint64), qb, qa])
            # deletes of the old quote first, then the new quote: one venue message
            book.apply_deltas(v, sides, prices, qtys, seq=step + 1, venue_ts=now, recv_ts=now)
            prev_levels[v] = (bids, asks)
            prev[v] = (int(bids[0]), int(asks[0]))
            deltas += len(sides)
        # once per "socket read": re-evaluate only the pairs whose tops moved
        opps = book.opportunities()
        found += len(opps)
        for r in opps:
            if shown < show:
                shown += 1
                print(f"  step {step:5d}  {describe(book, r)}")
    dt = time.perf_counter() - t0
    states = ", ".join(f"{n}={book.state_name(n)}" for n in book.venues)
    print(f"done: {deltas} deltas in {dt * 1e3:.0f} ms, {found} opportunity records over {steps} refreshes")
    print(f"books: {states}; detection: {book.stats()}")
    return 0
