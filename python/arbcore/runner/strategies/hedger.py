"""Taker arbitrage plus a hedger that keeps net exposure flat across venues (builtin ``hedger``).

An arbitrage ticket buys on one venue and sells the same quantity on another, so the net
position over all venues stays flat, unless a leg fills short, is rejected or times out. On
every timer tick this strategy sums each base asset's position over all venues, less what the
engine's residual sweeper flattens itself (``context.engine_residual``), and, when that net is at
least one lot away from flat, proposes a one-legged hedge ticket: sell the excess where
the bid is best (or buy the shortfall where the ask is best), at a limit ``slippage_bps`` through
the top of book, rounded to the venue's tick and lot. It waits ``cooldown_ms`` after a hedge
before proposing the next one for the same asset, so a hedge in flight is not doubled.

Params (``[strategy.params]``): those of ``taker`` plus
    slippage_bps  how far through the top the hedge's limit goes (default "5")
    cooldown_ms   pause after a hedge per asset (default 3000)
    hedge_only    true: only hedge, take no opportunities (default false)
"""

from __future__ import annotations

from arbcore.runner.plugins import Opportunity, StrategyContext, TicketProposal
from arbcore.runner.strategies.taker import TakerStrategy


class HedgerStrategy(TakerStrategy):
    name = "hedger"

    def __init__(self, context: StrategyContext) -> None:
        super().__init__(context)
        self.slippage_bps = float(str(self.params.get("slippage_bps", "5")))
        self.cooldown_ns = int(self.params.get("cooldown_ms", 3000)) * 1_000_000
        self.hedge_only = self.params.get("hedge_only", False)
        if not isinstance(self.hedge_only, bool):  # bool("false") is True: only a TOML boolean is clear
            raise ValueError(f"hedge_only must be true or false, not {self.hedge_only!r}")
        self.last_hedge_ns: dict[str, int] = {}

    def on_opportunity(self, opp: Opportunity) -> list[TicketProposal] | None:
        return None if self.hedge_only else super().on_opportunity(opp)

    def on_timer(self, now_ns: int) -> list[TicketProposal] | None:
        out = []
        done: set[str] = set()
        for inst in self.context.config.instruments:
            asset = inst.base.name
            if asset in done:
                continue
            done.add(asset)
            if now_ns - self.last_hedge_ns.get(asset, -self.cooldown_ns) < self.cooldown_ns:
                continue
            # asset decimals; what the engine's residual sweeper flattens itself is left to it
            net = self.context.net_position(asset) - sum(
                self.context.engine_residual(i.name) * 10 ** (i.base.decimals - i.qty_decimals)
                for i in self.context.config.instruments
                if i.base.name == asset
            )
            # in the instrument's quantity scale (asset decimals >= qty_decimals)
            qty = abs(net) // 10 ** (inst.base.decimals - inst.qty_decimals)
            if qty == 0:
                continue
            proposal = self.hedge(inst.name, sell=net > 0, qty=qty)
            if proposal is not None:
                self.last_hedge_ns[asset] = now_ns
                out.append(proposal)
        return out or None

    def hedge(self, instrument: str, *, sell: bool, qty: int) -> TicketProposal | None:
        """The best venue's one-legged ticket for ``qty`` (raw), or None when no venue can take it."""
        inst = self.context.instrument(instrument)
        best: tuple[int, str, int] | None = None  # (price, venue, qty)
        for name, v in inst.venues.items():
            top = self.context.best_bid(name, instrument) if sell else self.context.best_ask(name, instrument)
            if top is None:
                continue
            q = qty - qty % v.lot
            if q < max(v.min_qty, v.lot) or q * top[0] < v.min_notional:
                continue
            if sell and self.context.balance(name, inst.base.name) < q * 10 ** (inst.base.decimals - inst.qty_decimals):
                continue
            if best is None or (top[0] > best[0] if sell else top[0] < best[0]):
                best = (top[0], name, q)
        if best is None:
            return None
        price, venue, q = best
        tick = inst.venues[venue].tick
        slip = int(price * self.slippage_bps / 1e4)
        if sell:
            limit = max(tick, (price - slip) // tick * tick)
            return TicketProposal(instrument, None, venue, q, None, limit, f"hedge: sell net long {q}")
        limit = -(-(price + slip) // tick) * tick
        return TicketProposal(instrument, venue, None, q, limit, None, f"hedge: buy net short {q}")
