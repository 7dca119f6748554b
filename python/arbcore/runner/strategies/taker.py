"""The default cross-venue taker arbitrage (builtin ``taker``).

Every opportunity the engine detects is already exact after both taker fees, lots, ticks,
minimum quantity and notional, and the balances on both venues. This strategy takes each one
whose edge is at least ``min_edge_bps`` as a single ticket at its size and limit prices: buy on
the cheap venue at no more than ``buy_limit``, sell on the rich one at no less than ``sell_limit``.

Params (``[strategy.params]``):
    min_edge_bps  edge net of fees to take, decimal text (default "0": all that the engine found)
    max_qty       optional cap per ticket per instrument, e.g. {"BTC/USDT" = "0.05"}
"""

from __future__ import annotations

from arbcore import parse_decimal
from arbcore.runner.plugins import Opportunity, Strategy, StrategyContext, TicketProposal


class TakerStrategy(Strategy):
    name = "taker"

    def __init__(self, context: StrategyContext) -> None:
        super().__init__(context)
        self.min_edge_bps = float(str(self.params.get("min_edge_bps", "0")))
        if self.min_edge_bps < 0:
            raise ValueError(f"min_edge_bps {self.min_edge_bps} is negative")
        caps = self.params.get("max_qty", {})
        if not isinstance(caps, dict):
            raise ValueError('max_qty must be a table of instrument = "quantity"')
        self.max_qty = {name: parse_decimal(str(q), context.instrument(name).qty_decimals) for name, q in caps.items()}

    def on_opportunity(self, opp: Opportunity) -> list[TicketProposal] | None:
        if opp.net_profit <= 0 or opp.edge_bps < self.min_edge_bps:
            return None
        qty = opp.qty
        cap = self.max_qty.get(opp.instrument)
        if cap is not None and qty > cap:
            # a multiple of both venues' lots, so the smaller ticket is still valid on both
            inst = self.context.instrument(opp.instrument)
            step = max(inst.venues[opp.buy_venue].lot, inst.venues[opp.sell_venue].lot)
            qty = cap - cap % step
            if qty <= 0:
                return None
        reason = f"taker: {opp.edge_bps:.2f} bps net of fees"
        return [TicketProposal.from_opportunity(opp, qty=qty, reason=reason)]
