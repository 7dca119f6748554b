"""Simulated venues in their own process, for the crash tests: the engine is SIGKILLed and
restarted while these keep their books, accounts and orders.

Usage: python crash_sims.py CONFIG.toml OUT.json. Writes the endpoints, the account keys (test
keys, random per run) and a control URL to OUT.json, then serves until SIGTERM. Control:
GET /state (accounts, orders with fills, submissions per client id), POST /inject?venue=&fault=&seconds=.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import uvloop
from aiohttp import web

from arbcore.runner.config import parse_toml
from arbcore.runner.sim_cluster import SimCluster
from arbcore.sim.exchange import OrderFault


async def main(config_path: str, out: str) -> None:
    config = parse_toml(Path(config_path).read_text())
    cluster = SimCluster.from_config(config)
    await cluster.start()

    async def state(_: web.Request) -> web.Response:
        body = {}
        for name, ex in cluster.exchanges.items():
            body[name] = {
                "balances": {k: str(v) for acc in ex.accounts.values() for k, v in acc.balances.items()},
                "orders": {
                    o.client_id: {
                        "filled": o.filled,
                        "state": o.state.value,
                        "fills": [[f.qty, f.price] for f in o.fills],
                    }
                    for o in ex.orders.values()
                },
                "submissions": {cid: n for (_, cid), n in ex.submissions.items()},
            }
        return web.json_response(body)

    async def inject(request: web.Request) -> web.Response:
        q = request.query
        cluster.exchanges[q["venue"]].inject(OrderFault(q["fault"]), seconds=float(q.get("seconds", "0.5")))
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes([web.get("/state", state), web.post("/inject", inject)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    eps = {name: ep.to_json() for name, ep in cluster.endpoints(config).items()}
    Path(out).write_text(json.dumps({"control": f"http://127.0.0.1:{port}", "venues": eps}))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await cluster.stop()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], sys.argv[2]))
