"""The simulated venues a config names, run on loopback in this process (`arbcore run`'s
embedded default, the tests) or in another (the crash tests, the e2e bench), and the endpoints
an engine uses to reach them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arbcore.runner.config import Config
from arbcore.runner.rehearsal import FaultPlan
from arbcore.sim.exchange import SimAccount, SimExchange, SimMarketSpec
from arbcore.sim.market import SimMarket
from arbcore.sim.orders.rig import attach_order_side, make_credentials, market_data_protocol
from arbcore.sim.server import SimInstrument, SimVenue
from arbcore.venues.orders.registry import ORDER_VENUES
from arbcore.venues.signing.credentials import Credentials


@dataclass(frozen=True)
class SimEndpoint:
    """A simulated venue running in another process (crash tests): where it is and the account's keys."""

    md_url: str
    rest_url: str | None
    order_urls: Mapping[str, str]
    credentials: Credentials

    def to_json(self) -> dict[str, Any]:
        """The form a simulator process hands its endpoints (test keys only) to the engine's."""
        c = self.credentials
        return {"md_url": self.md_url, "rest_url": self.rest_url, "order_urls": dict(self.order_urls),
                "api_key": c.api_key, "secret": c.secret, "passphrase": c.passphrase}  # fmt: skip

    @classmethod
    def from_json(cls, e: Mapping[str, Any]) -> SimEndpoint:
        return cls(e["md_url"], e["rest_url"], e["order_urls"], Credentials(e["api_key"], e["secret"], e["passphrase"]))


class SimCluster:
    """The simulated venues a config names, on loopback, sharing mids, each with its order side
    and one paper account funded with the configured balances, and the faults each rehearses
    (``[venues.NAME.sim_faults]``: ``plans``, drawn from ``[run] seed``)."""

    def __init__(self, market: SimMarket | None, venues: dict[str, SimVenue], exchanges: dict[str, SimExchange],
                 credentials: dict[str, Credentials], plans: dict[str, FaultPlan] | None = None) -> None:  # fmt: skip
        self.market, self.venues, self.exchanges, self.credentials = market, venues, exchanges, credentials
        self.plans = plans or {}

    @classmethod
    def from_config(cls, config: Config) -> SimCluster:
        sims = [v for v in config.venues.values() if v.simulated]
        if not sims:
            return cls(None, {}, {}, {})
        specs_by_venue = []
        mid_keys = []  # each venue's instruments by name: one mid per instrument, whichever venues list it
        for v in sims:
            insts = []
            for inst in config.instruments:
                iv = inst.venues.get(v.name)
                if iv is None:
                    continue
                mid = inst.sim_mid if inst.sim_mid is not None else 1_000 * iv.tick
                insts.append(SimInstrument(iv.symbol, inst.price_decimals, inst.qty_decimals, tick=iv.tick,
                                           lot=iv.lot, mid=mid, depth=50))  # fmt: skip
            specs_by_venue.append((market_data_protocol(v.protocol), insts))
            mid_keys.append([inst.name for inst in config.instruments if v.name in inst.venues])
        # dislocations wide enough to pay both taker fees now and then, as between real venues
        market = SimMarket(
            specs_by_venue,
            seed=config.run.seed,
            interval=config.run.sim_interval_ms / 1000,
            jump_bps=60.0,
            mid_keys=mid_keys,
        )
        venues, exchanges, creds, plans = {}, {}, {}, {}
        for v, sim in zip(sims, market.venues, strict=True):
            specs = [
                SimMarketSpec(iv.symbol, inst.base.name, inst.quote.name, iv.min_qty, iv.min_notional,
                              maker_fee=iv.maker_fee.rate, taker_fee=iv.taker_fee.rate)
                for inst in config.instruments
                if (iv := inst.venues.get(v.name)) is not None
            ]  # fmt: skip
            exch = attach_order_side(sim, v.protocol, specs, {n: a.decimals for n, a in config.assets.items()})
            c = make_credentials(v.protocol)
            exch.add_account(SimAccount(c.api_key, c.secret, c.passphrase, balances=dict(v.balances)))
            venues[v.name], exchanges[v.name], creds[v.name] = sim, exch, c
            if v.sim_faults is not None and v.sim_faults.active:
                plans[v.name] = FaultPlan(v.name, v.sim_faults, config.run.seed, sim=sim, exchange=exch,
                                          api_key=c.api_key, balances=v.balances, assets=config.assets,
                                          leg_timeout_s=config.execution.leg_timeout_ms / 1000)  # fmt: skip
        return cls(market, venues, exchanges, creds, plans)

    async def start(self) -> None:
        if self.market is not None:
            await self.market.start()
        for plan in self.plans.values():
            plan.start()

    def quiet(self) -> None:
        """The rehearsal's faults stop (the venues run on, behaving)."""
        for plan in self.plans.values():
            plan.quiet()

    async def stop(self) -> None:
        self.quiet()
        if self.market is not None:
            await self.market.stop()

    def endpoints(self, config: Config) -> dict[str, SimEndpoint]:
        out = {}
        for name, sim in self.venues.items():
            protocol = config.venues[name].protocol
            out[name] = SimEndpoint(sim.ws_url, sim.rest_url if sim.rest_port else None,
                                    ORDER_VENUES[protocol].sim_api().sim_urls(sim), self.credentials[name])  # fmt: skip
        return out
