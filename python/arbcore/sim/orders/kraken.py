"""Kraken Spot order side, as the simulator speaks it (venue-protocols.md §4.4-4.5).

- REST (form-encoded POST, ``API-Key`` / ``API-Sign`` checked by recomputing the signature with
  the account's secret; nonces must strictly increase per key): ``/0/private/GetWebSocketsToken``,
  ``OpenOrders`` / ``ClosedOrders`` (optional ``cl_ord_id`` filter), ``BalanceEx``, ``Balance``;
  public ``GET /0/public/AssetPairs``. Replies are ``{"error":[...],"result":...}`` with HTTP 200;
  an unknown key gets ``EAPI:Invalid key``, a bad signature ``EAPI:Invalid signature``, a reused
  nonce ``EAPI:Invalid nonce``. Balances use Kraken's legacy asset codes (``XXBT``, ``ZUSD``).
- WebSocket v2 private endpoint. In production it is ``wss://ws-auth.kraken.com/v2``, a separate
  host; here it is served on the path ``/v2-auth`` of the venue's server, because ``/v2`` is the
  public market-data path of the same simulated venue. Methods: ``subscribe`` (channel
  ``executions``, snapshot of open orders), ``add_order``, ``cancel_order`` (by ``cl_ord_id`` or
  ``order_id``), ``ping``; each carries the token from GetWebSocketsToken (a bad one gets
  ``ESession:Invalid session``).
- ``executions`` events: ``pending_new`` then ``new`` on acceptance, ``trade`` per fill (with
  ``exec_id``, ``last_qty``, ``last_price``, ``fees`` [{asset, qty}], ``cum_qty``,
  ``liquidity_ind``) followed by ``filled`` when complete, ``canceled``, ``expired`` (IOC
  remainder). Numbers are JSON numbers written with the pair's precision, as Kraken prints them.

Refusals map to Kraken's error texts (``REFUSALS``); the duplicate-``cl_ord_id`` text is [K].
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.sim.exchange import Refusal, SimAccount, SimFill, SimOrder
from arbcore.sim.fmt import places_of
from arbcore.sim.kraken import rfc3339_now
from arbcore.sim.orders.common import PrivateFanout, exchange_of, ws_reply
from arbcore.sim.server import SimConnection, SimVenue
from arbcore.venues.orders.decimal_text import to_raw, to_text
from arbcore.venues.signing.kraken import kraken_signature

WS_PATH = "/v2-auth"

REFUSALS: dict[Refusal, str] = {
    Refusal.RATE_LIMIT: "EOrder:Rate limit exceeded",
    Refusal.FAULT_REJECT: "EService:Market in cancel_only mode",
    Refusal.UNKNOWN_SYMBOL: "EQuery:Unknown asset pair",
    Refusal.BAD_QTY: "EGeneral:Invalid arguments:order_qty",
    Refusal.BAD_PRICE: "EGeneral:Invalid arguments:limit_price",
    Refusal.MIN_NOTIONAL: "EOrder:Cost minimum not met",
    Refusal.INSUFFICIENT_BALANCE: "EOrder:Insufficient funds",
    Refusal.DUPLICATE_CLIENT_ID: "EOrder:Duplicate cl_ord_id",
    Refusal.POST_ONLY_WOULD_TAKE: "EOrder:Post only order",
}
ORDER_MINIMUM = "EOrder:Order minimum not met"

#: our asset names -> Kraken's legacy REST codes
LEGACY = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD", "EUR": "ZEUR", "GBP": "ZGBP", "DOGE": "XXDG"}
#: v1 / REST pair names
V1 = {"BTC": "XBT", "DOGE": "XDG"}

_STATUS = {
    OrderState.ACKED: "new",
    OrderState.PARTIALLY_FILLED: "partially_filled",
    OrderState.FILLED: "filled",
    OrderState.CANCELED: "canceled",
    OrderState.EXPIRED: "expired",
}
_REST_STATUS = {
    OrderState.ACKED: "open",
    OrderState.PARTIALLY_FILLED: "open",
    OrderState.FILLED: "closed",
    OrderState.CANCELED: "canceled",
    OrderState.EXPIRED: "expired",
}


def _num(text: str) -> orjson.Fragment:
    return orjson.Fragment(text.encode())


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _err(text: str) -> web.Response:
    return _json({"error": [text]})


class KrakenOrderSide:
    ws_paths: tuple[str, ...] = (WS_PATH,)

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.exchange = exchange_of(venue)
        self.tokens: dict[str, str] = {}  # token -> api key
        self.nonces: dict[str, int] = {}  # api key -> last nonce
        self.fanout = PrivateFanout(venue, self.render)

    # ---- text helpers --------------------------------------------------------------------------

    def _places(self, symbol: str) -> tuple[int, int]:
        spec = self.venue.instruments[symbol].spec
        return places_of(spec.tick, spec.price_decimals), places_of(spec.lot, spec.qty_decimals)

    def price_text(self, symbol: str, raw: int) -> str:
        spec = self.venue.instruments[symbol].spec
        return to_text(raw, spec.price_decimals, self._places(symbol)[0])

    def qty_text(self, symbol: str, raw: int) -> str:
        spec = self.venue.instruments[symbol].spec
        return to_text(raw, spec.qty_decimals, 8 if spec.qty_decimals <= 8 else spec.qty_decimals)

    def asset_text(self, asset: str, raw: int) -> str:
        dec = self.exchange.assets[asset]
        return to_text(raw, dec, dec)

    def cost_text(self, order: SimOrder, notional: int) -> str:
        spec = self.venue.instruments[order.symbol].spec
        return to_text(notional, spec.price_decimals + spec.qty_decimals)

    # ---- REST ----------------------------------------------------------------------------------

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return [
            web.post("/0/private/GetWebSocketsToken", self.get_token),
            web.post("/0/private/OpenOrders", self.open_orders),
            web.post("/0/private/ClosedOrders", self.closed_orders),
            web.post("/0/private/QueryTrades", self.query_trades),
            web.post("/0/private/BalanceEx", self.balance_ex),
            web.post("/0/private/Balance", self.balance),
            web.get("/0/public/AssetPairs", self.asset_pairs),
        ]

    async def _auth(self, request: web.Request) -> tuple[SimAccount | None, dict[str, str], web.Response | None]:
        body = await request.text()
        form = dict(parse_qsl(body, keep_blank_values=True))
        account = self.exchange.accounts.get(request.headers.get("API-Key", ""))
        if account is None:
            return None, form, _err("EAPI:Invalid key")
        nonce = form.get("nonce", "")
        try:
            expected = kraken_signature(account.secret, request.path, nonce, body)
        except Exception:
            return None, form, _err("EAPI:Invalid signature")
        if not nonce.isdigit() or not secrets.compare_digest(expected, request.headers.get("API-Sign", "")):
            return None, form, _err("EAPI:Invalid signature")
        if int(nonce) <= self.nonces.get(account.api_key, 0):
            return None, form, _err("EAPI:Invalid nonce")
        self.nonces[account.api_key] = int(nonce)
        return account, form, None

    async def get_token(self, request: web.Request) -> web.Response:
        account, _, refused = await self._auth(request)
        if refused is not None or account is None:
            return refused or _err("EAPI:Invalid key")
        token = secrets.token_urlsafe(32)
        self.tokens[token] = account.api_key
        return _json({"error": [], "result": {"token": token, "expires": 900}})

    @staticmethod
    def trade_id(fill: SimFill) -> str:
        """Kraken-style trade txid; the same id is the ``exec_id`` on the executions stream."""
        return f"T{int(fill.fill_id):06d}-SIM"

    def rest_order(self, order: SimOrder, trades: bool = False) -> dict[str, Any]:
        avg = order.quote_filled // order.filled if order.filled else 0
        fee = sum(order.fees.values())
        quote = self.exchange.markets[order.symbol].quote
        return {
            "refid": None,
            "userref": 0,
            "cl_ord_id": order.client_id,
            "status": _REST_STATUS.get(order.state, "pending"),
            "opentm": order.created_ms / 1000,
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": self.pair_v1(order.symbol),
                "type": order.side.value,
                "ordertype": order.order_type.value,
                "price": self.price_text(order.symbol, order.price or 0),
                "price2": "0",
                "leverage": "none",
                "order": f"{order.side.value} {self.qty_text(order.symbol, order.qty)} {order.symbol}",
                "close": "",
            },
            "vol": self.qty_text(order.symbol, order.qty),
            "vol_exec": self.qty_text(order.symbol, order.filled),
            "cost": self.cost_text(order, order.quote_filled),
            "fee": self.asset_text(quote, fee),
            "price": self.price_text(order.symbol, avg - avg % self.venue.instruments[order.symbol].spec.tick),
            "stopprice": "0",
            "limitprice": "0",
            "misc": "",
            "oflags": "post" if order.post_only else "",
            "reason": None,
            **({"closetm": order.updated_ms / 1000} if not order.is_open else {}),
            **({"trades": [self.trade_id(f) for f in order.fills]} if trades and order.fills else {}),
        }

    def pair_v1(self, symbol: str) -> str:
        market = self.exchange.markets[symbol]
        return f"{V1.get(market.base, market.base)}/{V1.get(market.quote, market.quote)}"

    async def open_orders(self, request: web.Request) -> web.Response:
        account, form, refused = await self._auth(request)
        if refused is not None or account is None:
            return refused or _err("EAPI:Invalid key")
        cid = form.get("cl_ord_id")
        orders = [o for o in self.exchange.open_orders(account.api_key) if cid is None or o.client_id == cid]
        trades = form.get("trades") == "true"
        return _json({"error": [], "result": {"open": {o.order_id: self.rest_order(o, trades) for o in orders}}})

    async def closed_orders(self, request: web.Request) -> web.Response:
        account, form, refused = await self._auth(request)
        if refused is not None or account is None:
            return refused or _err("EAPI:Invalid key")
        cid = form.get("cl_ord_id")
        orders = [
            o
            for o in self.exchange.orders.values()
            if o.account == account.api_key and not o.is_open and (cid is None or o.client_id == cid)
        ]
        closed = {o.order_id: self.rest_order(o, form.get("trades") == "true") for o in orders}
        return _json({"error": [], "result": {"closed": closed, "count": len(closed)}})

    async def query_trades(self, request: web.Request) -> web.Response:
        account, form, refused = await self._auth(request)
        if refused is not None or account is None:
            return refused or _err("EAPI:Invalid key")
        wanted = set(form.get("txid", "").split(","))
        result: dict[str, Any] = {}
        for order in self.exchange.orders.values():
            if order.account != account.api_key:
                continue
            for f in order.fills:
                tid = self.trade_id(f)
                if tid in wanted:
                    result[tid] = {
                        "ordertxid": order.order_id,
                        "postxid": "",
                        "pair": self.pair_v1(order.symbol),
                        "time": f.ts_ms / 1000,
                        "type": order.side.value,
                        "ordertype": order.order_type.value,
                        "price": self.price_text(order.symbol, f.price),
                        "cost": self.cost_text(order, f.qty * f.price),
                        "fee": self.asset_text(f.fee_asset, f.fee),
                        "vol": self.qty_text(order.symbol, f.qty),
                        "margin": "0.00000",
                        "misc": "",
                        "maker": f.maker,
                    }
        if wanted - set(result):
            return _err("EGeneral:Invalid arguments:txid")
        return _json({"error": [], "result": result})

    async def balance_ex(self, request: web.Request) -> web.Response:
        account, _, refused = await self._auth(request)
        if refused is not None or account is None:
            return refused or _err("EAPI:Invalid key")
        result = {
            LEGACY.get(asset, asset): {
                "balance": self.asset_text(asset, total),
                "hold_trade": self.asset_text(asset, account.held.get(asset, 0)),
            }
            for asset, total in account.balances.items()
        }
        return _json({"error": [], "result": result})

    async def balance(self, request: web.Request) -> web.Response:
        account, _, refused = await self._auth(request)
        if refused is not None or account is None:
            return refused or _err("EAPI:Invalid key")
        result = {LEGACY.get(a, a): self.asset_text(a, total) for a, total in account.balances.items()}
        return _json({"error": [], "result": result})

    async def asset_pairs(self, request: web.Request) -> web.Response:
        result: dict[str, Any] = {}
        for symbol, market in self.exchange.markets.items():
            spec = self.venue.instruments[symbol].spec
            pp, qp = self._places(symbol)
            base, quote = V1.get(market.base, market.base), V1.get(market.quote, market.quote)
            result[f"{base}{quote}"] = {
                "altname": f"{base}{quote}",
                "wsname": f"{base}/{quote}",
                "aclass_base": "currency",
                "base": LEGACY.get(market.base, market.base),
                "aclass_quote": "currency",
                "quote": LEGACY.get(market.quote, market.quote),
                "pair_decimals": pp,
                "cost_decimals": self.exchange.assets[market.quote],
                "lot_decimals": qp,
                "lot_multiplier": 1,
                "fee_volume_currency": "ZUSD",
                "ordermin": to_text(market.min_qty, spec.qty_decimals),
                "costmin": to_text(market.min_notional, spec.price_decimals + spec.qty_decimals),
                "tick_size": to_text(spec.tick, spec.price_decimals),
                "status": "online",
            }
        return _json({"error": [], "result": result})

    # ---- WebSocket v2 (ws-auth) ------------------------------------------------------------------

    def on_private_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        time_in = rfc3339_now()
        try:
            msg = orjson.loads(payload)
            method = msg.get("method")
            req_id = msg.get("req_id")
            params = msg.get("params") or {}
        except (orjson.JSONDecodeError, AttributeError):
            conn.send(orjson.dumps({"error": "Malformed request", "method": "", "success": False}))
            return

        def frame(body: dict[str, Any]) -> bytes:
            body = {"method": method, **body}
            if req_id is not None:
                body["req_id"] = req_id
            body["time_in"], body["time_out"] = time_in, rfc3339_now()
            return orjson.dumps(body)

        if method == "ping":
            conn.send(frame({"method": "pong"}))
            return
        if method not in ("subscribe", "add_order", "cancel_order"):
            conn.send(frame({"error": f"Method not found: {method}", "success": False}))
            return
        api_key = self.tokens.get(str(params.get("token", "")))
        if api_key is None:
            conn.send(frame({"error": "ESession:Invalid session", "success": False}))
            return
        if method == "subscribe":
            self._subscribe(conn, api_key, params, frame)
        elif method == "add_order":
            self._add_order(conn, api_key, params, frame)
        else:
            self._cancel_order(conn, api_key, params, frame)

    def _subscribe(self, conn: SimConnection, api_key: str, params: dict[str, Any], frame: Any) -> None:
        if params.get("channel") != "executions":
            conn.send(frame({"error": f"Channel {params.get('channel')!r} not supported", "success": False}))
            return
        conn.state["account"] = api_key
        conn.state["private_subs"] = True
        result = {"channel": "executions", "maxratecount": 180, "snapshot": True, "warnings": []}
        conn.send(frame({"result": result, "success": True}))
        data = []
        if params.get("snap_orders", True):
            data = [self.execution(o, None, "") for o in self.exchange.open_orders(api_key)]
        conn.send(self._stream(conn, "snapshot", data))

    def _add_order(self, conn: SimConnection, api_key: str, params: dict[str, Any], frame: Any) -> None:
        symbol = str(params.get("symbol", ""))
        if symbol not in self.exchange.markets:
            conn.send(frame({"error": "EQuery:Unknown asset pair", "success": False}))
            return
        spec = self.venue.instruments[symbol].spec
        tif = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC}.get(str(params.get("time_in_force", "gtc")))
        kind = {"limit": OrderType.LIMIT, "market": OrderType.MARKET}.get(str(params.get("order_type")))
        side = {"buy": Side.BUY, "sell": Side.SELL}.get(str(params.get("side")))
        try:
            qty = to_raw(params["order_qty"], spec.qty_decimals, "order_qty")
            price = to_raw(params["limit_price"], spec.price_decimals) if "limit_price" in params else None
        except (KeyError, ValueError) as e:
            conn.send(frame({"error": f"EGeneral:Invalid arguments:{e}", "success": False}))
            return
        if tif is None or kind is None or side is None:
            conn.send(frame({"error": "EGeneral:Invalid arguments", "success": False}))
            return
        if 0 < qty < self.exchange.markets[symbol].min_qty:
            conn.send(frame({"error": ORDER_MINIMUM, "success": False}))
            return
        cid = str(params.get("cl_ord_id", ""))
        result = self.exchange.submit(
            api_key,
            symbol,
            side=side,
            order_type=kind,
            tif=tif,
            qty=qty,
            price=price,
            client_id=cid,
            post_only=bool(params.get("post_only", False)),
        )
        if result.refusal is not None or result.order is None:
            refusal = result.refusal or Refusal.FAULT_REJECT
            ws_reply(conn, frame({"error": REFUSALS[refusal], "success": False}), result)
            return
        body = {"result": {"order_id": result.order.order_id, "cl_ord_id": cid}, "success": True}
        ws_reply(conn, frame(body), result)

    def _cancel_order(self, conn: SimConnection, api_key: str, params: dict[str, Any], frame: Any) -> None:
        targets = [("cl", str(c)) for c in params.get("cl_ord_id") or []]
        targets += [("id", str(i)) for i in params.get("order_id") or []]
        if not targets:
            conn.send(frame({"error": "EGeneral:Invalid arguments", "success": False}))
            return
        for kind, ident in targets:
            order = (
                self.exchange.find(api_key, None, client_id=ident)
                if kind == "cl"
                else self.exchange.find(api_key, None, order_id=ident)
            )
            if order is None or not order.is_open:
                conn.send(frame({"error": "EOrder:Unknown order", "success": False}))
                continue
            self.exchange.cancel(api_key, order.symbol, order_id=order.order_id)
            result = {"order_id": order.order_id, "cl_ord_id": order.client_id}
            conn.send(frame({"result": result, "success": True}))

    # ---- the executions stream ----------------------------------------------------------------------

    def _stream(self, conn: SimConnection, kind: str, data: list[dict[str, Any]]) -> bytes:
        seq = conn.state.get("exec_seq", 0) + 1
        conn.state["exec_seq"] = seq
        return orjson.dumps({"channel": "executions", "type": kind, "data": data, "sequence": seq})

    def execution(self, order: SimOrder, fill: SimFill | None, exec_type: str) -> dict[str, Any]:
        sym = order.symbol
        avg = order.quote_filled // order.filled if order.filled else 0
        out: dict[str, Any] = {
            "order_id": order.order_id,
            "order_userref": 0,
            "cl_ord_id": order.client_id,
            "symbol": sym,
            "side": order.side.value,
            "order_type": order.order_type.value,
            "order_qty": _num(self.qty_text(sym, order.qty)),
            "time_in_force": order.tif.value.lower(),
            "post_only": order.post_only,
            "order_status": _STATUS.get(order.state, "new"),
            "cum_qty": _num(self.qty_text(sym, order.filled)),
            "cum_cost": _num(self.cost_text(order, order.quote_filled)),
            "avg_price": _num(self.price_text(sym, avg - avg % self.venue.instruments[sym].spec.tick)),
            "timestamp": rfc3339_now(),
        }
        if order.price is not None:
            out["limit_price"] = _num(self.price_text(sym, order.price))
        if exec_type:
            out["exec_type"] = exec_type
        if fill is not None:
            out.update(
                {
                    "exec_id": self.trade_id(fill),
                    "trade_id": int(fill.fill_id),
                    "last_qty": _num(self.qty_text(sym, fill.qty)),
                    "last_price": _num(self.price_text(sym, fill.price)),
                    "cost": _num(self.cost_text(order, fill.qty * fill.price)),
                    "liquidity_ind": "m" if fill.maker else "t",
                    "fees": [{"asset": fill.fee_asset, "qty": _num(self.asset_text(fill.fee_asset, fill.fee))}],
                }
            )
        if order.state is OrderState.CANCELED:
            out["reason"] = "User requested"
        elif order.state is OrderState.EXPIRED:
            out["reason"] = "Immediate or cancel" if order.tif is TimeInForce.IOC else "Fill or kill"
        return out

    def render(self, conn: SimConnection, order: SimOrder, fill: SimFill | None) -> list[bytes]:
        if fill is not None:
            frames = [self._stream(conn, "update", [self.execution(order, fill, "trade")])]
            if order.state is OrderState.FILLED:
                frames.append(self._stream(conn, "update", [self.execution(order, None, "filled")]))
            return frames
        if order.state is OrderState.ACKED:
            pending = self.execution(order, None, "pending_new")
            pending["order_status"] = "pending_new"
            return [
                self._stream(conn, "update", [pending]),
                self._stream(conn, "update", [self.execution(order, None, "new")]),
            ]
        exec_type = {OrderState.CANCELED: "canceled", OrderState.EXPIRED: "expired"}.get(order.state)
        if exec_type is None:
            return []
        return [self._stream(conn, "update", [self.execution(order, None, exec_type)])]


def make_order_side(venue: SimVenue) -> KrakenOrderSide:
    return KrakenOrderSide(venue)


def sim_urls(venue: SimVenue) -> dict[str, str]:
    return {"rest": venue.rest_url, "ws_auth": venue.url_for(WS_PATH)}
