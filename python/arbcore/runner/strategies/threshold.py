"""Threshold arbitrage skewed by inventory (builtin ``threshold``).

Takes an opportunity only when its edge (net of fees) clears a threshold that moves with the
inventory on the two venues: buying where we already hold more of the base asset than we
started with, and selling where we hold less, needs more edge; trades that move inventory back
toward its starting split need less. So the book of balances drifts back instead of piling up
on one venue.

    threshold = threshold_bps + skew_bps * (imbalance(buy venue) - imbalance(sell venue))
    imbalance(v) = position(v, base) / initial balance(v, base), clipped to [-1, 1]

Params (``[strategy.params]``):
    threshold_bps  edge needed at balanced inventory (default "3")
    skew_bps       extra edge per unit of imbalance difference (default "5")
    floor_bps      the threshold never goes below this (default "0")
"""

from __future__ import annotations

from arbcore.runner.plugins import Opportunity, Strategy, StrategyContext, TicketProposal


class ThresholdStrategy(Strategy):
    name = "threshold"

    def __init__(self, context: StrategyContext) -> None:
        super().__init__(context)
        self.threshold_bps = float(str(self.params.get("threshold_bps", "3")))
        self.skew_bps = float(str(self.params.get("skew_bps", "5")))
        self.floor_bps = float(str(self.params.get("floor_bps", "0")))

    def imbalance(self, venue: str, asset: str) -> float:
        start = self.context.initial_balance(venue, asset)
        pos = self.context.position(venue, asset)
        if start <= 0:
            return 1.0 if pos > 0 else -1.0 if pos < 0 else 0.0
        return max(-1.0, min(1.0, pos / start))

    def threshold(self, opp: Opportunity) -> float:
        base = self.context.instrument(opp.instrument).base.name
        skew = self.imbalance(opp.buy_venue, base) - self.imbalance(opp.sell_venue, base)
        return max(self.floor_bps, self.threshold_bps + self.skew_bps * skew)

    def on_opportunity(self, opp: Opportunity) -> list[TicketProposal] | None:
        needed = self.threshold(opp)
        if opp.net_profit <= 0 or opp.edge_bps < needed:
            return None
        return [TicketProposal.from_opportunity(opp, reason=f"threshold: {opp.edge_bps:.2f} >= {needed:.2f} bps")]
