"""Bybit v5 spot order side of the simulator, in Bybit's wire format.

- ``/v5/trade``: ``auth`` (``retCode`` replies), then ``order.create`` / ``order.cancel`` with a
  ``header`` carrying ``X-BAPI-TIMESTAMP``/``X-BAPI-RECV-WINDOW``; the reply is only an ack with
  ``data.orderId``/``data.orderLinkId`` and a rate-limit ``header``.
- ``/v5/private``: ``auth`` (``success``/``ret_msg`` replies), ``subscribe`` to ``order`` /
  ``execution`` (``wallet`` is accepted and never pushed), ``ping``.
- REST (signed ``X-BAPI-*``, HMAC over timestamp + key + recvWindow + query): ``/v5/order/realtime``,
  ``/v5/execution/list``, ``/v5/account/wallet-balance``; public ``/v5/market/instruments-info``.

A PostOnly order that would take is acknowledged and then cancelled on the stream
(``rejectReason`` ``EC_PostOnlyWillTakeLiquidity``), as Bybit does; the simulator keeps it so a
query finds it. Signatures are recomputed with the account's secret; a mismatch is answered
``10004 error sign!`` as on the venue.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.sim.exchange import Refusal, SimAccount, SimExchange, SimFill, SimOrder
from arbcore.sim.fmt import now_ms
from arbcore.sim.orders.common import PrivateFanout, exchange_of, lot_text, rest_reply, tick_text, ws_reply
from arbcore.sim.orders.post_only import PostOnlyPhantoms
from arbcore.sim.server import SimConnection, SimVenue
from arbcore.venues.orders.decimal_text import to_raw, to_text
from arbcore.venues.signing.bybit import bybit_signature, bybit_ws_signature

TRADE_PATH = "/v5/trade"
PRIVATE_PATH = "/v5/private"
CONN_ID = "sim-bybit"

#: SimExchange refusal -> (retCode, retMsg) of Bybit v5 spot
REFUSALS: dict[Refusal, tuple[int, str]] = {
    Refusal.RATE_LIMIT: (10006, "Too many visits!"),
    Refusal.FAULT_REJECT: (170210, "New order rejected."),
    Refusal.UNKNOWN_SYMBOL: (170121, "Invalid symbol."),
    Refusal.BAD_QTY: (170136, "Order quantity lower than the minimum."),
    Refusal.BAD_PRICE: (170134, "Order price decimal too long."),
    Refusal.MIN_NOTIONAL: (170140, "Order value exceeded lower limit."),
    Refusal.INSUFFICIENT_BALANCE: (170131, "Insufficient balance."),
    Refusal.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
}
QTY_DECIMALS_TOO_LONG = (170137, "Order volume decimal too long.")
NOT_EXISTS = (110001, "Order does not exist.")
SIGN_ERROR = (10004, "error sign!")
BAD_KEY = (10003, "API key is invalid.")
BAD_TIMESTAMP = (10002, "invalid request, please check your server timestamp or recv_window param")
PARAMS_ERROR = 10001


def _status(o: SimOrder) -> str:
    if o.state is OrderState.ACKED:
        return "New"
    if o.state is OrderState.PARTIALLY_FILLED:
        return "PartiallyFilled"
    if o.state is OrderState.FILLED:
        return "Filled"
    if o.state is OrderState.REJECTED:
        return "Rejected"
    return "PartiallyFilledCanceled" if o.filled else "Cancelled"


class BybitOrderSide:
    ws_paths = (TRADE_PATH, PRIVATE_PATH)

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.exchange: SimExchange = exchange_of(venue)
        self.fanout = PrivateFanout(venue, self.render)
        self.phantoms = PostOnlyPhantoms(venue, 9_000_000_000)
        self._exec_seq = itertools.count(1)

    # ---- formatting ------------------------------------------------------------------------------

    def _asset_text(self, asset: str, raw: int) -> str:
        return to_text(raw, self.exchange.assets[asset])

    def order_dict(self, o: SimOrder, reject_reason: str = "EC_NoError") -> dict[str, Any]:
        spec = self.venue.instruments[o.symbol].spec
        nd = spec.price_decimals + spec.qty_decimals
        fee_asset, fee = next(iter(o.fees.items()), ("", 0))
        return {
            "category": "spot",
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderLinkId": o.client_id,
            "side": "Buy" if o.side is Side.BUY else "Sell",
            "orderType": "Limit" if o.order_type is OrderType.LIMIT else "Market",
            "timeInForce": "PostOnly" if o.post_only else ("IOC" if o.order_type is OrderType.MARKET else o.tif.value),
            "price": tick_text(self.venue, o.symbol, o.price) if o.price is not None else "0",
            "qty": lot_text(self.venue, o.symbol, o.qty),
            "orderStatus": _status(o),
            "cancelType": "CancelByUser" if o.state is OrderState.CANCELED and o.tif is TimeInForce.GTC else "UNKNOWN",
            "rejectReason": reject_reason,
            "avgPrice": to_text(o.quote_filled // o.filled, nd - spec.qty_decimals) if o.filled else "",
            "leavesQty": lot_text(self.venue, o.symbol, o.remaining if o.is_open else 0),
            "leavesValue": "0",
            "cumExecQty": lot_text(self.venue, o.symbol, o.filled),
            "cumExecValue": to_text(o.quote_filled, nd),
            "cumExecFee": self._asset_text(fee_asset, fee) if fee_asset else "0",
            "feeCurrency": fee_asset,
            "createdTime": str(o.created_ms),
            "updatedTime": str(o.updated_ms),
        }

    def execution_dict(self, o: SimOrder, f: SimFill) -> dict[str, Any]:
        spec = self.venue.instruments[o.symbol].spec
        rate = self.exchange.fee_rate(o.symbol, maker=f.maker)
        return {
            "category": "spot",
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderLinkId": o.client_id,
            "side": "Buy" if o.side is Side.BUY else "Sell",
            "orderPrice": tick_text(self.venue, o.symbol, o.price) if o.price is not None else "0",
            "orderQty": lot_text(self.venue, o.symbol, o.qty),
            "leavesQty": lot_text(self.venue, o.symbol, o.remaining if o.is_open else 0),
            "orderType": "Limit" if o.order_type is OrderType.LIMIT else "Market",
            "execFee": self._asset_text(f.fee_asset, f.fee),
            "feeCurrency": f.fee_asset,
            "execId": f.fill_id,
            "execPrice": tick_text(self.venue, o.symbol, f.price),
            "execQty": lot_text(self.venue, o.symbol, f.qty),
            "execType": "Trade",
            "execValue": to_text(f.price * f.qty, spec.price_decimals + spec.qty_decimals),
            "execTime": str(f.ts_ms),
            "isMaker": f.maker,
            "feeRate": to_text(rate, 8),
            "seq": next(self._exec_seq),
        }

    def render(self, conn: SimConnection, order: SimOrder, fill: SimFill | None) -> list[bytes]:
        subs = conn.state.get("private_subs") or set()
        out: list[bytes] = []
        ts = now_ms()
        if fill is not None and "execution" in subs:
            data = [self.execution_dict(order, fill)]
            out.append(orjson.dumps({"id": f"{CONN_ID}-e{ts}", "topic": "execution", "creationTime": ts, "data": data}))
        if "order" in subs:
            data = [self.order_dict(order)]
            out.append(orjson.dumps({"id": f"{CONN_ID}-o{ts}", "topic": "order", "creationTime": ts, "data": data}))
        return out

    # ---- WebSocket -------------------------------------------------------------------------------

    def on_private_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            conn.send(orjson.dumps({"success": False, "ret_msg": "Params Error", "op": "", "conn_id": CONN_ID}))
            return
        if conn.path == TRADE_PATH:
            self._on_trade(conn, msg)
        else:
            self._on_private(conn, msg)

    def _check_auth(self, args: Any) -> tuple[SimAccount | None, tuple[int, str]]:
        if not isinstance(args, list) or len(args) != 3:
            return None, (PARAMS_ERROR, "Params Error")
        key, expires, sig = args
        acc = self.exchange.accounts.get(str(key))
        if acc is None:
            return None, BAD_KEY
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            return None, (PARAMS_ERROR, "Params Error")
        if exp <= now_ms():
            return None, (PARAMS_ERROR, "Params Error: auth expired")
        if sig != bybit_ws_signature(acc.secret, exp):
            return None, SIGN_ERROR
        return acc, (0, "OK")

    def _on_private(self, conn: SimConnection, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        base: dict[str, Any] = {"conn_id": CONN_ID, "op": op}
        if "req_id" in msg:
            base["req_id"] = msg["req_id"]
        if op == "ping":
            conn.send(orjson.dumps({"success": True, "ret_msg": "pong", **base}))
        elif op == "auth":
            acc, (code, text) = self._check_auth(msg.get("args"))
            if acc is not None:
                conn.state["account"] = acc.api_key
            conn.send(orjson.dumps({"success": code == 0, "ret_msg": "" if code == 0 else text, **base}))
        elif op == "subscribe":
            topics = [str(t) for t in msg.get("args") or []]
            ok = "account" in conn.state and all(t in ("order", "execution", "wallet") for t in topics)
            if ok:
                subs: set[str] = conn.state.setdefault("private_subs", set())
                subs.update(topics)
            conn.send(orjson.dumps({"success": ok, "ret_msg": "" if ok else "Request not authorized", **base}))
        else:
            conn.send(orjson.dumps({"success": False, "ret_msg": f"Invalid op {op}", **base}))

    def _trade_frame(self, msg: dict[str, Any], code: int, text: str, data: Any = None) -> bytes:
        ts = now_ms()
        out: dict[str, Any] = {}
        if "reqId" in msg:
            out["reqId"] = msg["reqId"]
        out |= {"retCode": code, "retMsg": text, "op": msg.get("op"), "data": data or {}, "retExtInfo": {}}
        out["header"] = {
            "X-Bapi-Limit": "20",
            "X-Bapi-Limit-Status": "19" if code != 10006 else "0",
            "X-Bapi-Limit-Reset-Timestamp": str(ts + 1000),
            "Traceid": f"sim{ts}",
            "Timenow": str(ts),
        }
        out["connId"] = CONN_ID
        return orjson.dumps(out)

    def _on_trade(self, conn: SimConnection, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "ping":
            conn.send(orjson.dumps({"op": "pong", "args": [str(now_ms())], "connId": CONN_ID}))
            return
        if op == "auth":
            acc, (code, text) = self._check_auth(msg.get("args"))
            if acc is not None:
                conn.state["account"] = acc.api_key
            reply: dict[str, Any] = {"reqId": msg["reqId"]} if "reqId" in msg else {}
            conn.send(orjson.dumps({**reply, "retCode": code, "retMsg": text, "op": "auth", "connId": CONN_ID}))
            return
        key = conn.state.get("account")
        if key is None:
            conn.send(self._trade_frame(msg, 10003, "Request not authorized"))
            return
        header = msg.get("header") or {}
        try:
            ts = int(header["X-BAPI-TIMESTAMP"])
            window = int(header.get("X-BAPI-RECV-WINDOW", 5000))
        except (KeyError, TypeError, ValueError):
            conn.send(self._trade_frame(msg, PARAMS_ERROR, "Params Error: header"))
            return
        now = now_ms()
        if not now - window <= ts < now + 1000:
            conn.send(self._trade_frame(msg, *BAD_TIMESTAMP))
            return
        args = msg.get("args")
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            conn.send(self._trade_frame(msg, PARAMS_ERROR, "Params Error: args"))
            return
        if op == "order.create":
            self._create(conn, msg, str(key), args[0])
        elif op == "order.cancel":
            self._cancel(conn, msg, str(key), args[0])
        else:
            conn.send(self._trade_frame(msg, PARAMS_ERROR, f"Invalid op {op}"))

    def _create(self, conn: SimConnection, msg: dict[str, Any], key: str, a: dict[str, Any]) -> None:  # noqa: PLR0911
        symbol = str(a.get("symbol", ""))
        if a.get("category") != "spot":
            conn.send(self._trade_frame(msg, PARAMS_ERROR, "Params Error: category (the simulator is spot only)"))
            return
        if symbol not in self.venue.instruments:
            conn.send(self._trade_frame(msg, *REFUSALS[Refusal.UNKNOWN_SYMBOL]))
            return
        spec = self.venue.instruments[symbol].spec
        side = {"Buy": Side.BUY, "Sell": Side.SELL}.get(str(a.get("side")))
        otype = {"Limit": OrderType.LIMIT, "Market": OrderType.MARKET}.get(str(a.get("orderType")))
        tif_text = str(a.get("timeInForce") or "GTC")
        cid = str(a.get("orderLinkId") or "")
        if side is None or otype is None or tif_text not in ("GTC", "IOC", "FOK", "PostOnly") or not cid:
            conn.send(self._trade_frame(msg, PARAMS_ERROR, "Params Error"))
            return
        if otype is OrderType.MARKET and side is Side.BUY and a.get("marketUnit") != "baseCoin":
            conn.send(self._trade_frame(msg, PARAMS_ERROR, "Params Error: the simulator needs marketUnit=baseCoin"))
            return
        try:
            qty = to_raw(str(a.get("qty")), spec.qty_decimals, "qty")
        except ValueError:
            conn.send(self._trade_frame(msg, *QTY_DECIMALS_TOO_LONG))
            return
        price: int | None = None
        if otype is OrderType.LIMIT:
            try:
                price = to_raw(str(a.get("price")), spec.price_decimals, "price")
            except ValueError:
                conn.send(self._trade_frame(msg, *REFUSALS[Refusal.BAD_PRICE]))
                return
        post_only = tif_text == "PostOnly"
        tif = TimeInForce.IOC if otype is OrderType.MARKET else TimeInForce(tif_text if not post_only else "GTC")
        if self.phantoms.get(key, cid) is not None:
            conn.send(self._trade_frame(msg, *REFUSALS[Refusal.DUPLICATE_CLIENT_ID]))
            return
        result = self.exchange.submit(
            key, symbol, side=side, order_type=otype, tif=tif, qty=qty, price=price, client_id=cid, post_only=post_only
        )
        if result.refusal is Refusal.POST_ONLY_WOULD_TAKE:
            self._post_only_cancel(conn, msg, self.phantoms.add(key, cid, symbol, side, qty=qty, price=price))
            return
        if result.refusal is not None or result.order is None:
            refusal = result.refusal or Refusal.FAULT_REJECT
            code, text = REFUSALS[refusal]
            if refusal is Refusal.BAD_QTY and qty % spec.lot:
                code, text = QTY_DECIMALS_TOO_LONG
            conn.send(self._trade_frame(msg, code, text))
            return
        data = {"orderId": result.order.order_id, "orderLinkId": cid}
        ws_reply(conn, self._trade_frame(msg, 0, "OK", data), result)

    def _post_only_cancel(self, conn: SimConnection, msg: dict[str, Any], order: SimOrder) -> None:
        """Acknowledge ``order`` (just made a phantom), then push it cancelled."""
        key, cid = order.account, order.client_id
        conn.send(self._trade_frame(msg, 0, "OK", {"orderId": order.order_id, "orderLinkId": cid}))
        now = order.updated_ms
        data = [self.order_dict(order, "EC_PostOnlyWillTakeLiquidity")]
        frame = orjson.dumps({"id": f"{CONN_ID}-o{now}", "topic": "order", "creationTime": now, "data": data})
        self.phantoms.push_soon(key, "order", frame)

    def _cancel(self, conn: SimConnection, msg: dict[str, Any], key: str, a: dict[str, Any]) -> None:
        symbol = str(a.get("symbol", ""))
        cid, oid = a.get("orderLinkId"), a.get("orderId")
        before = self.exchange.find(key, symbol, client_id=cid, order_id=oid)
        if before is None or not before.is_open:
            conn.send(self._trade_frame(msg, *NOT_EXISTS))
            return
        order = self.exchange.cancel(key, symbol, client_id=cid, order_id=oid)
        assert order is not None
        conn.send(self._trade_frame(msg, 0, "OK", {"orderId": order.order_id, "orderLinkId": order.client_id}))

    # ---- REST ------------------------------------------------------------------------------------

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return [
            web.get("/v5/order/realtime", self._realtime),
            web.get("/v5/order/history", self._history),
            web.get("/v5/execution/list", self._executions),
            web.get("/v5/account/wallet-balance", self._wallet),
            web.get("/v5/market/instruments-info", self._instruments),
        ]

    @staticmethod
    def _json(code: int, text: str, result: Any = None, status: int = 200) -> web.Response:
        ts = now_ms()
        body = {"retCode": code, "retMsg": text, "result": result or {}, "retExtInfo": {}, "time": ts}
        headers = {"X-Bapi-Limit": "20", "X-Bapi-Limit-Status": "19", "X-Bapi-Limit-Reset-Timestamp": str(ts + 1000)}
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)

    def _authenticate(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        h = request.headers
        key = h.get("X-BAPI-API-KEY")
        acc = self.exchange.accounts.get(key or "")
        if acc is None:
            return None, self._json(*BAD_KEY, status=401)
        try:
            ts = int(h.get("X-BAPI-TIMESTAMP", ""))
            window = int(h.get("X-BAPI-RECV-WINDOW", "5000"))
        except ValueError:
            return None, self._json(PARAMS_ERROR, "Params Error: timestamp")
        now = now_ms()
        if not now - window <= ts < now + 1000:
            return None, self._json(*BAD_TIMESTAMP)
        payload = request.rel_url.raw_query_string
        if h.get("X-BAPI-SIGN") != bybit_signature(acc.secret, ts, acc.api_key, window, payload):
            return None, self._json(*SIGN_ERROR)
        return acc.api_key, None

    def _find_any(self, key: str, symbol: str | None, cid: str | None, oid: str | None) -> SimOrder | None:
        order = self.exchange.find(key, symbol, client_id=cid, order_id=oid)
        if order is None and cid:
            order = self.phantoms.get(key, cid)
        return order

    async def _realtime(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json(*SIGN_ERROR)
        q = request.query
        symbol = q.get("symbol")
        cid, oid = q.get("orderLinkId"), q.get("orderId")
        if cid or oid:
            order = self._find_any(key, symbol, cid, oid)
            orders = [order] if order is not None else []
        else:
            orders = sorted(self.exchange.open_orders(key, symbol), key=lambda o: -o.seq)
        result = {"category": "spot", "nextPageCursor": "", "list": [self.order_dict(o) for o in orders]}
        return await rest_reply(request, self._json(0, "OK", result))

    async def _history(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json(*SIGN_ERROR)
        q = request.query
        cid, oid = q.get("orderLinkId"), q.get("orderId")
        if cid or oid:
            order = self._find_any(key, q.get("symbol"), cid, oid)
            orders = [order] if order is not None and not order.is_open else []
        else:
            done = (o for o in self.exchange.orders.values() if o.account == key and not o.is_open)
            orders = sorted(done, key=lambda o: -o.seq)[:50]
        result = {"category": "spot", "nextPageCursor": "", "list": [self.order_dict(o) for o in orders]}
        return await rest_reply(request, self._json(0, "OK", result))

    async def _executions(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json(*SIGN_ERROR)
        q = request.query
        order = self._find_any(key, q.get("symbol"), q.get("orderLinkId"), q.get("orderId"))
        items = [self.execution_dict(order, f) for f in order.fills] if order is not None else []
        result = {"category": "spot", "nextPageCursor": "", "list": items}
        return await rest_reply(request, self._json(0, "OK", result))

    async def _wallet(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json(*SIGN_ERROR)
        acc = self.exchange.accounts[key]
        coins = []
        for asset in sorted(set(acc.balances) | set(self.exchange.assets)):
            total, held = acc.balances.get(asset, 0), acc.held.get(asset, 0)
            coins.append(
                {
                    "coin": asset,
                    "walletBalance": self._asset_text(asset, total),
                    "locked": self._asset_text(asset, held),
                    "equity": self._asset_text(asset, total),
                    "usdValue": "",
                    "borrowAmount": "0",
                }
            )
        result = {"list": [{"accountType": request.query.get("accountType", "UNIFIED"), "coin": coins}]}
        return await rest_reply(request, self._json(0, "OK", result))

    async def _instruments(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        items = []
        for sym, market in self.exchange.markets.items():
            if symbol and sym != symbol:
                continue
            spec = self.venue.instruments[sym].spec
            nd = spec.price_decimals + spec.qty_decimals
            items.append(
                {
                    "symbol": sym,
                    "baseCoin": market.base,
                    "quoteCoin": market.quote,
                    "status": "Trading",
                    "lotSizeFilter": {
                        "basePrecision": to_text(spec.lot, spec.qty_decimals),
                        "quotePrecision": to_text(1, self.exchange.assets[market.quote]),
                        "minOrderQty": to_text(market.min_qty, spec.qty_decimals),
                        "maxOrderQty": "100000",
                        "minOrderAmt": to_text(market.min_notional, nd),
                        "maxOrderAmt": "100000000",
                    },
                    "priceFilter": {"tickSize": to_text(spec.tick, spec.price_decimals)},
                }
            )
        return web.Response(
            body=orjson.dumps({"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": items}}),
            content_type="application/json",
        )


def make_order_side(venue: SimVenue) -> BybitOrderSide:
    return BybitOrderSide(venue)


def sim_urls(venue: SimVenue) -> dict[str, str]:
    return {"rest": venue.rest_url, "ws_trade": venue.url_for(TRADE_PATH), "ws_private": venue.url_for(PRIVATE_PATH)}
