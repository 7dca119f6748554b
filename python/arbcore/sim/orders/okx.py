"""OKX v5 spot order side of the simulator, in OKX's wire format.

- ``/ws/v5/private``: text ``ping`` -> ``pong``; ``login`` (signature over timestamp + ``GET`` +
  ``/users/self/verify``, unix seconds, within 30 s; a bad one is answered ``60009 Login failed.``);
  ``subscribe`` to ``orders`` (instType SPOT); ``order`` and ``cancel-order`` ops answered with the
  request ``id``, top-level ``code`` and a per-order ``sCode``/``sMsg``; order updates pushed on
  ``orders`` with the last fill (``tradeId``, ``fillSz``, ``fillPx``, ``fillFee`` negative = charged).
- REST, signed ``OK-ACCESS-*`` (base64 HMAC over ISO timestamp + method + requestPath with query),
  HTTP 401 ``50113 Invalid Sign`` on a mismatch: ``/api/v5/trade/order`` (``51603`` when unknown),
  ``/api/v5/trade/fills``, ``/api/v5/trade/orders-pending``, ``/api/v5/account/balance``; public
  ``/api/v5/public/instruments``.

A post_only order that would take is accepted and then pushed ``canceled`` with ``cancelSource``
31, as OKX does; the simulator keeps it so a query finds it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.sim.exchange import Refusal, SimExchange, SimFill, SimOrder
from arbcore.sim.fmt import decimal_text, fixed_text, now_ms, parse_raw, places_of
from arbcore.sim.orders.common import PrivateFanout, exchange_of, lot_text, rest_reply, tick_text, ws_reply
from arbcore.sim.orders.post_only import PostOnlyPhantoms
from arbcore.sim.server import SimConnection, SimVenue
from arbcore.venues.orders.decimal_text import to_text
from arbcore.venues.signing.okx import WS_LOGIN_PATH, okx_signature

PRIVATE_PATH = "/ws/v5/private"
CONN_ID = "sim0okx1"
UID = "44101178"

#: SimExchange refusal -> (sCode, sMsg) of OKX v5 (``{quote}``/``{base}`` filled in per order)
REFUSALS: dict[Refusal, tuple[str, str]] = {
    Refusal.FAULT_REJECT: ("51009", "Order placement function is blocked by the platform"),
    Refusal.UNKNOWN_SYMBOL: ("51001", "Instrument ID does not exist"),
    Refusal.BAD_QTY: ("51020", "Your order should meet or exceed the minimum order amount."),
    Refusal.BAD_PRICE: ("51000", "Parameter px error"),
    Refusal.MIN_NOTIONAL: ("51020", "Your order should meet or exceed the minimum order amount."),
    Refusal.INSUFFICIENT_BALANCE: ("51008", "Order failed. Insufficient {asset} balance in account"),
    Refusal.DUPLICATE_CLIENT_ID: ("51016", "Duplicated clOrdId"),
}
LOT_MISMATCH = ("51121", "Order quantity must be a multiple of the lot size.")
RATE_LIMIT = ("50011", "Rate limit reached. Please refer to API documentation and throttle requests accordingly.")
CANCEL_GONE = ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist.")
CANCEL_CANCELED = ("51401", "Order cancellation failed as the order has been canceled.")
CANCEL_FILLED = ("51402", "Order cancellation failed as the order has been completed.")
NOT_FOUND = ("51603", "Order does not exist")
PARAM_ERROR = "50014"

_STATE = {
    OrderState.ACKED: "live",
    OrderState.PARTIALLY_FILLED: "partially_filled",
    OrderState.FILLED: "filled",
    OrderState.CANCELED: "canceled",
    OrderState.EXPIRED: "canceled",
    OrderState.REJECTED: "canceled",
}


_TIF_ORD_TYPE = {TimeInForce.GTC: "limit", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}


def _ord_type(o: SimOrder) -> str:
    if o.order_type is OrderType.MARKET:
        return "market"
    if o.post_only:
        return "post_only"
    return _TIF_ORD_TYPE[o.tif]


def _cancel_source(o: SimOrder) -> tuple[str, str]:
    if o.state is OrderState.CANCELED:
        if o.post_only and not o.seq:
            return "31", "The post-only order will take liquidity in taker orders"
        return "1", "Order canceled by user"
    if o.state is OrderState.EXPIRED:
        if o.tif is TimeInForce.FOK:
            return "13", "Order canceled: FOK order was canceled due to incompletely filled"
        return "14", "Order canceled: IOC order was partially canceled due to incompletely filled"
    return "", ""


def parse_okx_timestamp(text: str) -> int:
    """``2020-12-08T09:08:57.715Z`` -> epoch ms (ValueError if malformed)."""
    dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000 + 0.5)


class OkxOrderSide:
    ws_paths = (PRIVATE_PATH,)

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.exchange: SimExchange = exchange_of(venue)
        self.fanout = PrivateFanout(venue, self.render)
        self.phantoms = PostOnlyPhantoms(venue, 7_000_000_000)
        self._bill_ids = itertools.count(1)
        self._symbol_scales: dict[str, tuple[int, int, int, int]] = {}

    # ---- formatting ------------------------------------------------------------------------------

    def _fee_text(self, asset: str, charged: int) -> str:
        """A charge as OKX prints it: negative."""
        return decimal_text(-charged, self.exchange.assets[asset]) if asset else "0"

    def _scales(self, symbol: str) -> tuple[int, int, int, int]:
        """(decimals, places) of ``symbol``'s prices and quantities, as tick_text / lot_text print them."""
        got = self._symbol_scales.get(symbol)
        if got is None:
            spec = self.venue.instruments[symbol].spec
            pd, qd = spec.price_decimals, spec.qty_decimals
            got = self._symbol_scales[symbol] = (pd, places_of(spec.tick, pd), qd, places_of(spec.lot, qd))
        return got

    def order_dict(self, o: SimOrder, fill: SimFill | None = None, *, push: bool = False) -> dict[str, Any]:
        pd, pp, qd, qp = self._scales(o.symbol)  # tick_text / lot_text inline: this runs per update
        last = fill if fill is not None else (o.fills[-1] if o.fills and not push else None)
        fee_asset, fee = next(iter(o.fees.items()), ("", 0))
        source, source_reason = _cancel_source(o)
        d: dict[str, Any] = {
            "instType": "SPOT",
            "instId": o.symbol,
            "tgtCcy": "base_ccy" if o.order_type is OrderType.MARKET else "",
            "ccy": "",
            "ordId": o.order_id,
            "clOrdId": o.client_id,
            "tag": "",
            "px": fixed_text(o.price, pd, pp) if o.price is not None else "",
            "sz": fixed_text(o.qty, qd, qp),
            "ordType": _ord_type(o),
            "side": "buy" if o.side is Side.BUY else "sell",
            "posSide": "",
            "tdMode": "cash",
            "accFillSz": fixed_text(o.filled, qd, qp),
            "avgPx": decimal_text(o.quote_filled // o.filled, pd) if o.filled else "0",
            "state": _STATE[o.state],
            "fillPx": fixed_text(last.price, pd, pp) if last else "",
            "tradeId": last.fill_id if last else "",
            "fillSz": fixed_text(last.qty, qd, qp) if last else "0",
            "fillTime": str(last.ts_ms) if last else "",
            "feeCcy": fee_asset,
            "fee": self._fee_text(fee_asset, fee),
            "rebateCcy": "",
            "rebate": "0",
            "pnl": "0",
            "source": "",
            "category": "normal",
            "cancelSource": source,
            "cancelSourceReason": source_reason,
            "uTime": str(o.updated_ms),
            "cTime": str(o.created_ms),
        }
        if push:
            d |= {
                "fillFee": self._fee_text(fill.fee_asset, fill.fee) if fill else "0",
                "fillFeeCcy": fill.fee_asset if fill else "",
                "execType": ("M" if fill.maker else "T") if fill else "",
                "reqId": "",
                "amendResult": "",
                "code": "0",
                "msg": "",
            }
        return d

    def _push(self, o: SimOrder, fill: SimFill | None) -> bytes:
        arg = {"channel": "orders", "instType": "SPOT", "uid": UID}
        return orjson.dumps({"arg": arg, "data": [self.order_dict(o, fill, push=True)]})

    def render(self, conn: SimConnection, order: SimOrder, fill: SimFill | None) -> list[bytes]:
        if "orders" not in (conn.state.get("private_subs") or ()):
            return []
        return [self._push(order, fill)]

    # ---- WebSocket -------------------------------------------------------------------------------

    def on_private_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        if payload == b"ping":
            conn.send(b"pong")
            return
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            conn.send(self._error(None, "60012", "Invalid request"))
            return
        op = msg.get("op")
        rid = msg.get("id")
        if op == "login":
            self._login(conn, msg)
        elif op == "subscribe":
            self._subscribe(conn, msg)
        elif op in ("order", "cancel-order"):
            key = conn.state.get("account")
            args = msg.get("args")
            if key is None:
                conn.send(self._op_frame(msg, [], "60011", "Please log in"))
            elif not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
                conn.send(self._op_frame(msg, [], PARAM_ERROR, "Parameter args error"))
            elif op == "order":
                self._order(conn, msg, str(key), args[0])
            else:
                self._cancel(conn, msg, str(key), args[0])
        else:
            conn.send(self._error(rid, "60012", f"Invalid request: op {op}"))

    @staticmethod
    def _error(rid: Any, code: str, text: str) -> bytes:
        out: dict[str, Any] = {"id": rid} if rid else {}
        return orjson.dumps({**out, "event": "error", "code": code, "msg": text, "connId": CONN_ID})

    def _login(self, conn: SimConnection, msg: dict[str, Any]) -> None:
        args = msg.get("args")
        a = args[0] if isinstance(args, list) and args and isinstance(args[0], dict) else {}
        acc = self.exchange.accounts.get(str(a.get("apiKey", "")))
        try:
            ts = int(str(a.get("timestamp", "")))
        except ValueError:
            conn.send(self._error(None, "60004", "Invalid timestamp"))
            return
        if acc is None:
            conn.send(self._error(None, "60005", "Invalid apiKey"))
            return
        if abs(now_ms() // 1000 - ts) > 30:
            conn.send(self._error(None, "60006", "Timestamp request expired"))
            return
        if a.get("passphrase") != acc.passphrase:
            conn.send(self._error(None, "60024", "Wrong passphrase"))
            return
        if a.get("sign") != okx_signature(acc.secret, str(ts), "GET", WS_LOGIN_PATH):
            conn.send(self._error(None, "60009", "Login failed."))
            return
        conn.state["account"] = acc.api_key
        conn.send(orjson.dumps({"event": "login", "code": "0", "msg": "", "connId": CONN_ID}))

    def _subscribe(self, conn: SimConnection, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        if "account" not in conn.state:
            conn.send(self._error(rid, "60011", "Please log in"))
            return
        for arg in msg.get("args") or []:
            if not isinstance(arg, dict) or arg.get("channel") != "orders":
                conn.send(self._error(rid, "60018", f"Wrong URL or channel:{arg}, doesn't exist"))
                return
            conn.state.setdefault("private_subs", set()).add("orders")
            out: dict[str, Any] = {"id": rid} if rid else {}
            conn.send(orjson.dumps({**out, "event": "subscribe", "arg": arg, "connId": CONN_ID}))

    @staticmethod
    def _op_frame(msg: dict[str, Any], data: list[dict[str, Any]], code: str = "0", text: str = "") -> bytes:
        us = str(now_ms() * 1000)
        out = {"id": msg.get("id"), "op": msg.get("op"), "code": code, "msg": text, "data": data}
        return orjson.dumps(out | {"inTime": us, "outTime": us})

    @staticmethod
    def _entry(cid: str, oid: str, code: str, text: str) -> dict[str, Any]:
        return {"clOrdId": cid, "ordId": oid, "tag": "", "ts": str(now_ms()), "sCode": code, "sMsg": text}

    def _order(self, conn: SimConnection, msg: dict[str, Any], key: str, a: dict[str, Any]) -> None:  # noqa: PLR0911
        cid = str(a.get("clOrdId") or "")
        symbol = str(a.get("instId") or "")

        def refuse(code: str, text: str) -> None:
            conn.send(self._op_frame(msg, [self._entry(cid, "", code, text)], "1"))

        if symbol not in self.venue.instruments:
            refuse(*REFUSALS[Refusal.UNKNOWN_SYMBOL])
            return
        spec = self.venue.instruments[symbol].spec
        market = self.exchange.markets[symbol]
        side = {"buy": Side.BUY, "sell": Side.SELL}.get(str(a.get("side")))
        kind = str(a.get("ordType"))
        tifs = {"limit": TimeInForce.GTC, "post_only": TimeInForce.GTC, "ioc": TimeInForce.IOC}
        tif = (tifs | {"fok": TimeInForce.FOK, "market": TimeInForce.IOC}).get(kind)
        if side is None or tif is None or a.get("tdMode") != "cash":
            refuse(PARAM_ERROR, "Parameter ordType, side or tdMode error (the simulator trades spot cash)")
            return
        otype = OrderType.MARKET if kind == "market" else OrderType.LIMIT
        if otype is OrderType.MARKET and side is Side.BUY and a.get("tgtCcy") != "base_ccy":
            refuse(PARAM_ERROR, "Parameter tgtCcy error (the simulator needs base_ccy)")
            return
        try:
            qty = parse_raw(str(a.get("sz")), spec.qty_decimals, "sz")
        except ValueError:
            refuse(*LOT_MISMATCH)
            return
        price: int | None = None
        if otype is OrderType.LIMIT:
            try:
                price = parse_raw(str(a.get("px")), spec.price_decimals, "px")
            except ValueError:
                refuse(*REFUSALS[Refusal.BAD_PRICE])
                return
        if self.phantoms.get(key, cid) is not None:
            refuse(*REFUSALS[Refusal.DUPLICATE_CLIENT_ID])
            return
        post_only = kind == "post_only"
        result = self.exchange.submit(
            key, symbol, side=side, order_type=otype, tif=tif, qty=qty, price=price, client_id=cid, post_only=post_only
        )
        if result.refusal is Refusal.RATE_LIMIT:
            conn.send(self._op_frame(msg, [], *RATE_LIMIT))
            return
        if result.refusal is Refusal.POST_ONLY_WOULD_TAKE:
            self._post_only_cancel(conn, msg, self.phantoms.add(key, cid, symbol, side, qty=qty, price=price))
            return
        if result.refusal is not None or result.order is None:
            refusal = result.refusal or Refusal.FAULT_REJECT
            code, text = REFUSALS[refusal]
            if refusal is Refusal.BAD_QTY and qty % spec.lot:
                code, text = LOT_MISMATCH
            refuse(code, text.format(asset=market.quote if side is Side.BUY else market.base))
            return
        frame = self._op_frame(msg, [self._entry(cid, result.order.order_id, "0", "Order placed")])
        ws_reply(conn, frame, result)

    def _post_only_cancel(self, conn: SimConnection, msg: dict[str, Any], order: SimOrder) -> None:
        """Acknowledge ``order`` (just made a phantom), then push it cancelled."""
        conn.send(self._op_frame(msg, [self._entry(order.client_id, order.order_id, "0", "Order placed")]))
        self.phantoms.push_soon(order.account, "orders", self._push(order, None))

    def _cancel(self, conn: SimConnection, msg: dict[str, Any], key: str, a: dict[str, Any]) -> None:
        symbol = str(a.get("instId") or "")
        cid, oid = a.get("clOrdId"), a.get("ordId")
        order = self._find_any(key, symbol, cid, oid)
        code, text = "0", ""
        if order is None:
            code, text = CANCEL_GONE
        elif order.state is OrderState.FILLED:
            code, text = CANCEL_FILLED
        elif not order.is_open:
            code, text = CANCEL_CANCELED
        else:
            self.exchange.cancel(key, symbol, client_id=cid, order_id=oid)
        entry = self._entry(str(cid or ""), order.order_id if order else str(oid or ""), code, text)
        conn.send(self._op_frame(msg, [entry], "0" if code == "0" else "1"))

    def _find_any(self, key: str, symbol: str | None, cid: Any, oid: Any) -> SimOrder | None:
        order = self.exchange.find(key, symbol, client_id=cid or None, order_id=oid or None)
        if order is None and cid:
            order = self.phantoms.get(key, str(cid))
        return order

    # ---- REST ------------------------------------------------------------------------------------

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return [
            web.get("/api/v5/trade/order", self._order_rest),
            web.get("/api/v5/trade/fills", self._fills_rest),
            web.get("/api/v5/trade/orders-pending", self._pending_rest),
            web.get("/api/v5/account/balance", self._balance_rest),
            web.get("/api/v5/public/instruments", self._instruments_rest),
        ]

    @staticmethod
    def _json(code: str, text: str, data: list[Any] | None = None, status: int = 200) -> web.Response:
        body = orjson.dumps({"code": code, "msg": text, "data": data or []})
        return web.Response(body=body, status=status, content_type="application/json")

    def _authenticate(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        h = request.headers
        acc = self.exchange.accounts.get(h.get("OK-ACCESS-KEY", ""))
        if acc is None:
            return None, self._json("50111", "Invalid OK-ACCESS-KEY", status=401)
        stamp = h.get("OK-ACCESS-TIMESTAMP", "")
        try:
            ts = parse_okx_timestamp(stamp)
        except ValueError:
            return None, self._json("50112", "Invalid OK-ACCESS-TIMESTAMP", status=401)
        if abs(now_ms() - ts) > 30_000:
            return None, self._json("50102", "Timestamp request expired", status=401)
        if h.get("OK-ACCESS-PASSPHRASE") != acc.passphrase:
            return None, self._json("50105", "Invalid OK-ACCESS-PASSPHRASE", status=401)
        raw_q = request.rel_url.raw_query_string
        path = request.rel_url.raw_path + (f"?{raw_q}" if raw_q else "")
        if h.get("OK-ACCESS-SIGN") != okx_signature(acc.secret, stamp, request.method, path):
            return None, self._json("50113", "Invalid Sign", status=401)
        return acc.api_key, None

    async def _order_rest(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json("50113", "Invalid Sign", status=401)
        q = request.query
        order = self._find_any(key, q.get("instId"), q.get("clOrdId"), q.get("ordId"))
        if order is None:
            return await rest_reply(request, self._json(*NOT_FOUND))
        return await rest_reply(request, self._json("0", "", [self.order_dict(order)]))

    async def _fills_rest(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json("50113", "Invalid Sign", status=401)
        q = request.query
        order = self._find_any(key, q.get("instId"), None, q.get("ordId"))
        data = []
        for f in reversed(order.fills if order is not None else []):
            data.append(
                {
                    "instType": "SPOT",
                    "instId": order.symbol if order else "",
                    "tradeId": f.fill_id,
                    "ordId": order.order_id if order else "",
                    "clOrdId": order.client_id if order else "",
                    "billId": str(next(self._bill_ids)),
                    "tag": "",
                    "fillPx": tick_text(self.venue, order.symbol, f.price) if order else "",
                    "fillSz": lot_text(self.venue, order.symbol, f.qty) if order else "",
                    "side": "buy" if order and order.side is Side.BUY else "sell",
                    "posSide": "net",
                    "execType": "M" if f.maker else "T",
                    "feeCcy": f.fee_asset,
                    "fee": self._fee_text(f.fee_asset, f.fee),
                    "ts": str(f.ts_ms),
                    "fillTime": str(f.ts_ms),
                }
            )
        return await rest_reply(request, self._json("0", "", data))

    async def _pending_rest(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json("50113", "Invalid Sign", status=401)
        orders = sorted(self.exchange.open_orders(key, request.query.get("instId")), key=lambda o: -o.seq)
        return await rest_reply(request, self._json("0", "", [self.order_dict(o) for o in orders]))

    async def _balance_rest(self, request: web.Request) -> web.Response:
        key, err = self._authenticate(request)
        if err is not None or key is None:
            return err or self._json("50113", "Invalid Sign", status=401)
        acc = self.exchange.accounts[key]
        details = []
        ts = str(now_ms())
        for asset in sorted(set(acc.balances) | set(self.exchange.assets)):
            dec = self.exchange.assets.get(asset, 8)
            total, held = acc.balances.get(asset, 0), acc.held.get(asset, 0)
            details.append(
                {
                    "ccy": asset,
                    "eq": to_text(total, dec),
                    "cashBal": to_text(total, dec),
                    "availBal": to_text(total - held, dec),
                    "availEq": "",
                    "frozenBal": to_text(held, dec),
                    "ordFrozen": to_text(held, dec),
                    "uTime": ts,
                }
            )
        return await rest_reply(request, self._json("0", "", [{"uTime": ts, "totalEq": "", "details": details}]))

    async def _instruments_rest(self, request: web.Request) -> web.Response:
        if request.query.get("instType") != "SPOT":
            return self._json("51000", "Parameter instType error")
        inst_id = request.query.get("instId")
        data = []
        for sym, market in self.exchange.markets.items():
            if inst_id and sym != inst_id:
                continue
            spec = self.venue.instruments[sym].spec
            data.append(
                {
                    "instType": "SPOT",
                    "instId": sym,
                    "uly": "",
                    "baseCcy": market.base,
                    "quoteCcy": market.quote,
                    "tickSz": to_text(spec.tick, spec.price_decimals),
                    "lotSz": to_text(spec.lot, spec.qty_decimals),
                    "minSz": to_text(market.min_qty, spec.qty_decimals),
                    "maxLmtSz": "9999999999",
                    "maxMktSz": "1000000",
                    "ctVal": "",
                    "ctMult": "",
                    "state": "live",
                }
            )
        return self._json("0", "", data)


def make_order_side(venue: SimVenue) -> OkxOrderSide:
    return OkxOrderSide(venue)


def sim_urls(venue: SimVenue) -> dict[str, str]:
    return {"rest": venue.rest_url, "ws_private": venue.url_for(PRIVATE_PATH)}
