"""Coinbase Advanced Trade order side, as the simulator speaks it (venue-protocols.md §3.2-3.4).

- REST under ``/api/v3/brokerage``: ``POST /orders``, ``POST /orders/batch_cancel``,
  ``GET /orders/historical/{order_id}``, ``GET /orders/historical/batch`` (``order_status``,
  ``product_ids``, ``limit``, ``cursor``), ``GET /orders/historical/fills`` (``order_ids``),
  ``GET /accounts``, ``GET /products`` and ``GET /products/{product_id}``.
- Every REST request needs ``Authorization: Bearer <JWT>``: the JWT's ES256 (or EdDSA) signature
  is verified with the public key of the account's PEM (``SimAccount.secret``), ``kid``/``sub``
  name the account, ``iss`` is ``cdp``, ``nbf``/``exp`` hold now, and ``uri`` must be
  ``"METHOD host/path"`` for this request. Anything wrong: HTTP 401 ``Unauthorized``.
- Private stream: the ``user`` channel. In production it is on its own host, the User Order Data
  endpoint ``wss://advanced-trade-ws-user.coinbase.com``; here it is the path ``/ws-user`` of the
  venue's server (the market-data sim owns ``/``). ``{"type":"subscribe","channel":"user",
  "jwt":...}`` with a bad JWT gets ``{"type":"error","message":"authentication failure"}``; a good
  one a ``subscriptions`` message, then a ``snapshot`` of open orders, then an ``update`` per
  order change. ``heartbeats`` subscriptions are acknowledged (no periodic heartbeats are sent).
- Refusals map to ``error_response`` (``REFUSALS``, ``success: false``, HTTP 200); the rate limit
  is HTTP 429. The text for a reused ``client_order_id`` is [K] (Coinbase documents only that
  the order "fails to be created").
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.sim.coinbase import rfc3339_ns
from arbcore.sim.exchange import Refusal, Reply, SimAccount, SimFill, SimOrder, SubmitResult
from arbcore.sim.fmt import places_of
from arbcore.sim.orders.common import PrivateFanout, exchange_of, rest_reply, ws_reply
from arbcore.sim.server import SimConnection, SimVenue
from arbcore.venues.orders.decimal_text import to_raw, to_text

WS_PATH = "/ws-user"
API = "/api/v3/brokerage"
#: clock skew tolerated on ``nbf``
SKEW_S = 5

#: refusal -> (error, message, preview_failure_reason)
REFUSALS: dict[Refusal, tuple[str, str, str]] = {
    Refusal.FAULT_REJECT: ("ORDER_ENTRY_DISABLED", "Order entry is disabled", "UNKNOWN_PREVIEW_FAILURE_REASON"),
    Refusal.UNKNOWN_SYMBOL: ("INVALID_PRODUCT_ID", "Invalid product_id", "UNKNOWN_PREVIEW_FAILURE_REASON"),
    Refusal.BAD_QTY: ("INVALID_SIZE_PRECISION", "Invalid order size", "PREVIEW_INVALID_SIZE_PRECISION"),
    Refusal.BAD_PRICE: ("INVALID_PRICE_PRECISION", "Invalid limit price", "PREVIEW_INVALID_PRICE_PRECISION"),
    Refusal.MIN_NOTIONAL: (
        "UNKNOWN_FAILURE_REASON",
        "Order size is below the minimum",
        "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
    ),
    Refusal.INSUFFICIENT_BALANCE: (
        "INSUFFICIENT_FUND",
        "Insufficient balance in source account",
        "PREVIEW_INSUFFICIENT_FUND",
    ),
    Refusal.DUPLICATE_CLIENT_ID: (
        "UNKNOWN_FAILURE_REASON",
        "client_order_id is not unique",
        "UNKNOWN_PREVIEW_FAILURE_REASON",
    ),
    Refusal.POST_ONLY_WOULD_TAKE: (
        "INVALID_LIMIT_PRICE_POST_ONLY",
        "Invalid limit price for post only order",
        "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
    ),
}

_STATUS = {
    OrderState.ACKED: "OPEN",
    OrderState.PARTIALLY_FILLED: "OPEN",
    OrderState.FILLED: "FILLED",
    OrderState.CANCELED: "CANCELLED",
    OrderState.EXPIRED: "EXPIRED",
}
_TIF = {
    TimeInForce.GTC: "GOOD_UNTIL_CANCELLED",
    TimeInForce.IOC: "IMMEDIATE_OR_CANCEL",
    TimeInForce.FOK: "FILL_OR_KILL",
}
#: order_configuration key -> (type, time in force)
CONFIGS = {
    "market_market_ioc": (OrderType.MARKET, TimeInForce.IOC),
    "market_market_fok": (OrderType.MARKET, TimeInForce.FOK),
    "sor_limit_ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "limit_limit_gtc": (OrderType.LIMIT, TimeInForce.GTC),
    "limit_limit_fok": (OrderType.LIMIT, TimeInForce.FOK),
}


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@lru_cache(maxsize=64)
def _public_key(secret: str) -> ec.EllipticCurvePublicKey | Ed25519PublicKey | None:
    try:
        if secret.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(secret.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret)[:32])
    except (ValueError, TypeError):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key()
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    return None


def verify_jwt(  # noqa: PLR0911 (one return per failed check)
    token: str, accounts: dict[str, SimAccount], uri: str | None, now_s: int
) -> SimAccount | None:
    """The account a Coinbase CDP JWT proves, or None. ``uri`` None: a WebSocket JWT (no uri claim needed)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except ValueError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    account = accounts.get(str(header.get("kid", "")))
    if account is None or claims.get("sub") != account.api_key:
        return None
    key = _public_key(account.secret)
    signed = f"{parts[0]}.{parts[1]}".encode()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and header.get("alg") == "ES256" and len(signature) == 64:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, Ed25519PublicKey) and header.get("alg") == "EdDSA":
            key.verify(signature, signed)
        else:
            return None
    except InvalidSignature:
        return None
    if claims.get("iss") != "cdp":
        return None
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int) or not isinstance(exp, int) or not nbf - SKEW_S <= now_s < exp:
        return None
    if uri is not None and claims.get("uri") != uri:
        return None
    return account


async def _reply(request: web.Request, response: web.Response, result: SubmitResult) -> web.Response:
    """`rest_reply`, except that an unanswered request ends when the client hangs up.

    aiohttp >= 3.9 no longer cancels a handler when its client disconnects, so the shared
    helper's hour-long sleep would hold the server's shutdown for its 60 s grace period.
    """
    if result.reply is Reply.DISCONNECT:
        if request.transport is not None:
            request.transport.close()
        return response
    if result.reply is Reply.NONE:
        while request.transport is not None and not request.transport.is_closing():
            await asyncio.sleep(0.05)
        return response
    return await rest_reply(request, response, result)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _unauthorized() -> web.Response:
    return web.Response(status=401, text="Unauthorized")


class CoinbaseOrderSide:
    ws_paths: tuple[str, ...] = (WS_PATH,)

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.exchange = exchange_of(venue)
        self.fanout = PrivateFanout(venue, self.render)

    # ---- text -----------------------------------------------------------------------------------

    def price_text(self, symbol: str, raw: int) -> str:
        spec = self.venue.instruments[symbol].spec
        return to_text(raw, spec.price_decimals, places_of(spec.tick, spec.price_decimals))

    def qty_text(self, symbol: str, raw: int) -> str:
        return to_text(raw, self.venue.instruments[symbol].spec.qty_decimals)

    def asset_text(self, asset: str, raw: int) -> str:
        return to_text(raw, self.exchange.assets[asset])

    def notional_text(self, symbol: str, raw: int) -> str:
        spec = self.venue.instruments[symbol].spec
        return to_text(raw, spec.price_decimals + spec.qty_decimals)

    def avg_text(self, order: SimOrder) -> str:
        if not order.filled:
            return "0"
        spec = self.venue.instruments[order.symbol].spec
        avg = Decimal(order.quote_filled) / Decimal(order.filled)
        return format(avg.scaleb(-spec.price_decimals).quantize(Decimal("1e-10")).normalize(), "f")

    # ---- auth -------------------------------------------------------------------------------------

    def _auth(self, request: web.Request) -> SimAccount | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        uri = f"{request.method} {request.host}{request.path}"
        return verify_jwt(header[len("Bearer ") :], self.exchange.accounts, uri, int(time.time()))

    # ---- REST -------------------------------------------------------------------------------------

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        # fixed paths before {order_id}: aiohttp resolves in registration order
        return [
            web.post(f"{API}/orders", self.create_order),
            web.post(f"{API}/orders/batch_cancel", self.batch_cancel),
            web.get(f"{API}/orders/historical/batch", self.list_orders),
            web.get(f"{API}/orders/historical/fills", self.list_fills),
            web.get(f"{API}/orders/historical/{{order_id}}", self.get_order),
            web.get(f"{API}/accounts", self.accounts),
            web.get(f"{API}/products", self.products),
            web.get(f"{API}/products/{{product_id}}", self.product),
        ]

    async def create_order(self, request: web.Request) -> web.Response:  # noqa: PLR0911 (one reply per refusal)
        account = self._auth(request)
        if account is None:
            return _unauthorized()
        try:
            body = orjson.loads(await request.read())
            cid = str(body["client_order_id"])
            product = str(body["product_id"])
            side = {"BUY": Side.BUY, "SELL": Side.SELL}[body["side"]]
            configs = body["order_configuration"]
            (key, cfg), *rest = configs.items()
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return _json({"error": "INVALID_ARGUMENT", "message": "invalid request", "details": []}, 400)

        def failure(error: str, message: str, preview: str) -> web.Response:
            return _json(
                {
                    "success": False,
                    "failure_reason": "UNKNOWN_FAILURE_REASON",
                    "order_id": "",
                    "error_response": {
                        "error": error,
                        "message": message,
                        "error_details": "",
                        "preview_failure_reason": preview,
                    },
                    "order_configuration": configs,
                }
            )

        if rest or key not in CONFIGS:
            return failure("UNSUPPORTED_ORDER_CONFIGURATION", f"unsupported {key}", "UNKNOWN_PREVIEW_FAILURE_REASON")
        if product not in self.exchange.markets:
            return failure(*REFUSALS[Refusal.UNKNOWN_SYMBOL])
        kind, tif = CONFIGS[key]
        spec = self.venue.instruments[product].spec
        try:
            qty = to_raw(str(cfg["base_size"]), spec.qty_decimals, "base_size")
            price = to_raw(str(cfg["limit_price"]), spec.price_decimals) if kind is OrderType.LIMIT else None
        except (KeyError, ValueError):
            return failure("INVALID_SIZE_PRECISION", "Invalid size or price", "PREVIEW_INVALID_SIZE_PRECISION")
        result = self.exchange.submit(
            account.api_key,
            product,
            side=side,
            order_type=kind,
            tif=tif,
            qty=qty,
            price=price,
            client_id=cid,
            post_only=bool(cfg.get("post_only", False)),
        )
        if result.refusal is Refusal.RATE_LIMIT:
            return _json({"error": "rate_limit_exceeded", "message": "Too many requests", "details": []}, 429)
        if result.refusal is not None or result.order is None:
            return failure(*REFUSALS[result.refusal or Refusal.FAULT_REJECT])
        order_id = result.order.order_id
        ok = {"order_id": order_id, "product_id": product, "side": body["side"], "client_order_id": cid}
        response = _json(
            {
                "success": True,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": order_id,
                "success_response": ok,
                "order_configuration": configs,
            }
        )
        return await _reply(request, response, result)

    async def batch_cancel(self, request: web.Request) -> web.Response:
        account = self._auth(request)
        if account is None:
            return _unauthorized()
        try:
            ids = [str(i) for i in orjson.loads(await request.read())["order_ids"]]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _json({"error": "INVALID_ARGUMENT", "message": "invalid request", "details": []}, 400)
        results = []
        for order_id in ids:
            order = self.exchange.find(account.api_key, None, order_id=order_id)
            if order is None:
                results.append({"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": order_id})
            elif not order.is_open:
                results.append({"success": False, "failure_reason": "INVALID_CANCEL_REQUEST", "order_id": order_id})
            else:
                self.exchange.cancel(account.api_key, order.symbol, order_id=order_id)
                results.append(
                    {"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": order_id}
                )
        return _json({"results": results})

    def order_json(self, order: SimOrder) -> dict[str, Any]:
        sym = order.symbol
        size = self.qty_text(sym, order.qty)
        if order.order_type is OrderType.MARKET:
            key = "market_market_ioc" if order.tif is TimeInForce.IOC else "market_market_fok"
            cfg: dict[str, Any] = {key: {"base_size": size}}
        else:
            price = self.price_text(sym, order.price or 0)
            key = {TimeInForce.GTC: "limit_limit_gtc", TimeInForce.IOC: "sor_limit_ioc"}.get(
                order.tif, "limit_limit_fok"
            )
            cfg = {key: {"base_size": size, "limit_price": price}}
            if order.tif is TimeInForce.GTC:
                cfg[key]["post_only"] = order.post_only
        quote = self.exchange.markets[sym].quote
        fees = order.fees.get(quote, 0)
        spent = self.exchange._quote_units(sym, order.quote_filled)
        value_after = spent + fees if order.side is Side.BUY else spent - fees
        return {
            "order_id": order.order_id,
            "product_id": sym,
            "user_id": "sim-user",
            "order_configuration": cfg,
            "side": order.side.value.upper(),
            "client_order_id": order.client_id,
            "status": _STATUS.get(order.state, "PENDING"),
            "time_in_force": _TIF[order.tif],
            "created_time": rfc3339_ns(order.created_ms * 1_000_000),
            "completion_percentage": format(Decimal(order.filled * 100) / Decimal(order.qty), "f"),
            "filled_size": self.qty_text(sym, order.filled),
            "average_filled_price": self.avg_text(order),
            "number_of_fills": str(len(order.fills)),
            "filled_value": self.notional_text(sym, order.quote_filled),
            "pending_cancel": False,
            "size_in_quote": False,
            "total_fees": self.asset_text(quote, fees),
            "size_inclusive_of_fees": False,
            "total_value_after_fees": self.asset_text(quote, value_after),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": order.order_type.value.upper(),
            "reject_reason": "",
            "settled": not order.is_open,
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "User requested cancel" if order.state is OrderState.CANCELED else "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": "0",
            "is_liquidation": False,
            "last_fill_time": rfc3339_ns(order.fills[-1].ts_ms * 1_000_000) if order.fills else None,
        }

    async def get_order(self, request: web.Request) -> web.Response:
        account = self._auth(request)
        if account is None:
            return _unauthorized()
        order = self.exchange.find(account.api_key, None, order_id=request.match_info["order_id"])
        if order is None:
            body = {"error": "NOT_FOUND", "code": 5, "message": "order with this orderID was not found", "details": []}
            return _json(body, 404)
        return _json({"order": self.order_json(order)})

    async def list_orders(self, request: web.Request) -> web.Response:
        account = self._auth(request)
        if account is None:
            return _unauthorized()
        statuses = set(request.query.getall("order_status", []))
        products = set(request.query.getall("product_ids", []))
        limit = int(request.query.get("limit", "100") or 100)
        start = int(request.query.get("cursor", "0") or 0)
        orders = sorted(
            (
                o
                for o in self.exchange.orders.values()
                if o.account == account.api_key
                and (not statuses or _STATUS.get(o.state, "PENDING") in statuses)
                and (not products or o.symbol in products)
            ),
            key=lambda o: -o.seq,
        )
        page = orders[start : start + limit]
        more = start + limit < len(orders)
        body = {
            "orders": [self.order_json(o) for o in page],
            "sequence": "0",
            "has_next": more,
            "cursor": str(start + limit) if more else "",
        }
        return _json(body)

    async def list_fills(self, request: web.Request) -> web.Response:
        account = self._auth(request)
        if account is None:
            return _unauthorized()
        ids = set(request.query.getall("order_ids", [])) | set(request.query.getall("order_id", []))
        fills = []
        for order in self.exchange.orders.values():
            if order.account != account.api_key or (ids and order.order_id not in ids):
                continue
            fills += [self.fill_json(order, f) for f in order.fills]
        return _json({"fills": fills, "cursor": ""})

    def fill_json(self, order: SimOrder, fill: SimFill) -> dict[str, Any]:
        ts = rfc3339_ns(fill.ts_ms * 1_000_000)
        return {
            "entry_id": f"e-{fill.fill_id}",
            "trade_id": f"{int(fill.fill_id):08d}-sim",
            "order_id": order.order_id,
            "trade_time": ts,
            "trade_type": "FILL",
            "price": self.price_text(order.symbol, fill.price),
            "size": self.qty_text(order.symbol, fill.qty),
            "commission": self.asset_text(fill.fee_asset, fill.fee),
            "product_id": order.symbol,
            "sequence_timestamp": ts,
            "liquidity_indicator": "MAKER" if fill.maker else "TAKER",
            "size_in_quote": False,
            "user_id": "sim-user",
            "side": order.side.value.upper(),
            "retail_portfolio_id": "",
        }

    async def accounts(self, request: web.Request) -> web.Response:
        account = self._auth(request)
        if account is None:
            return _unauthorized()
        out = []
        for asset in sorted(account.balances):
            now = rfc3339_ns(time.time_ns())
            out.append(
                {
                    "uuid": f"sim-{asset.lower()}",
                    "name": f"{asset} Wallet",
                    "currency": asset,
                    "available_balance": {"value": self.asset_text(asset, account.available(asset)), "currency": asset},
                    "default": False,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                    "deleted_at": None,
                    "type": "ACCOUNT_TYPE_FIAT" if asset in ("USD", "EUR", "GBP") else "ACCOUNT_TYPE_CRYPTO",
                    "ready": True,
                    "hold": {"value": self.asset_text(asset, account.held.get(asset, 0)), "currency": asset},
                    "retail_portfolio_id": "",
                }
            )
        return _json({"accounts": out, "has_next": False, "cursor": "", "size": len(out)})

    def product_json(self, symbol: str) -> dict[str, Any]:
        market = self.exchange.markets[symbol]
        spec = self.venue.instruments[symbol].spec
        book = self.venue.instruments[symbol].process.book
        bid, ask = book.best_bid(), book.best_ask()
        mid = (bid + ask) // 2 // spec.tick * spec.tick if bid is not None and ask is not None else 0
        return {
            "product_id": symbol,
            "price": self.price_text(symbol, mid),
            "base_increment": to_text(spec.lot, spec.qty_decimals),
            "quote_increment": to_text(spec.tick, spec.price_decimals),
            "price_increment": to_text(spec.tick, spec.price_decimals),
            "base_min_size": to_text(market.min_qty, spec.qty_decimals),
            "base_max_size": "10000",
            "quote_min_size": to_text(market.min_notional, spec.price_decimals + spec.qty_decimals),
            "quote_max_size": "100000000",
            "base_name": market.base,
            "quote_name": market.quote,
            "base_currency_id": market.base,
            "quote_currency_id": market.quote,
            "base_display_symbol": market.base,
            "quote_display_symbol": market.quote,
            "status": "online",
            "is_disabled": False,
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "trading_disabled": False,
            "auction_mode": False,
            "product_type": "SPOT",
            "mid_market_price": "",
        }

    async def products(self, request: web.Request) -> web.Response:
        if self._auth(request) is None:
            return _unauthorized()
        out = [self.product_json(s) for s in self.exchange.markets]
        return _json({"products": out, "num_products": len(out)})

    async def product(self, request: web.Request) -> web.Response:
        if self._auth(request) is None:
            return _unauthorized()
        symbol = request.match_info["product_id"]
        if symbol not in self.exchange.markets:
            return _json({"error": "NOT_FOUND", "code": 5, "message": "ProductID is invalid", "details": []}, 404)
        return _json(self.product_json(symbol))

    # ---- the user channel -----------------------------------------------------------------------

    def _message(self, conn: SimConnection, channel: str, events: list[Any]) -> bytes:
        seq = conn.state.get("seq", 0)
        conn.state["seq"] = seq + 1
        return orjson.dumps(
            {
                "channel": channel,
                "client_id": "",
                "timestamp": rfc3339_ns(time.time_ns()),
                "sequence_num": seq,
                "events": events,
            }
        )

    def on_private_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
            kind, channel = msg.get("type"), msg.get("channel")
        except (orjson.JSONDecodeError, AttributeError):
            conn.send(orjson.dumps({"type": "error", "message": "malformed JSON"}))
            return
        if kind not in ("subscribe", "unsubscribe") or channel not in ("user", "heartbeats"):
            conn.send(orjson.dumps({"type": "error", "message": f"Failure to subscribe: channel {channel!r}"}))
            return
        account = verify_jwt(str(msg.get("jwt", "")), self.exchange.accounts, None, int(time.time()))
        if channel == "user" and account is None:
            conn.send(orjson.dumps({"type": "error", "message": "authentication failure"}))
            return
        subs: set[str] = conn.state.setdefault("channels", set())
        if kind == "subscribe":
            subs.add(channel)
        else:
            subs.discard(channel)
        if channel == "user":
            assert account is not None
            conn.state["account"] = account.api_key
            conn.state["private_subs"] = kind == "subscribe"
        listing = {c: ["sim-user"] if c == "user" else ["heartbeats"] for c in sorted(subs)}
        ws_reply(conn, self._message(conn, "subscriptions", [{"subscriptions": listing}]))
        if channel == "user" and kind == "subscribe" and account is not None:
            orders = [self.user_order(o) for o in self.exchange.open_orders(account.api_key)]
            conn.send(self._message(conn, "user", [{"type": "snapshot", "orders": orders, "positions": {}}]))

    def user_order(self, order: SimOrder) -> dict[str, Any]:
        sym = order.symbol
        quote = self.exchange.markets[sym].quote
        fees = order.fees.get(quote, 0)
        return {
            "order_id": order.order_id,
            "client_order_id": order.client_id,
            "cumulative_quantity": self.qty_text(sym, order.filled),
            "leaves_quantity": self.qty_text(sym, order.remaining if order.is_open else 0),
            "avg_price": self.avg_text(order),
            "total_fees": self.asset_text(quote, fees),
            "status": _STATUS.get(order.state, "PENDING"),
            "product_id": sym,
            "creation_time": rfc3339_ns(order.created_ms * 1_000_000),
            "order_side": order.side.value.upper(),
            "order_type": order.order_type.value.capitalize(),
            "limit_price": self.price_text(sym, order.price) if order.price is not None else "",
            "post_only": order.post_only,
            "time_in_force": _TIF[order.tif],
            "filled_value": self.notional_text(sym, order.quote_filled),
            "number_of_fills": str(len(order.fills)),
            "cancel_reason": "User requested cancel" if order.state is OrderState.CANCELED else "",
            "reject_reason": "",
            "outstanding_hold_amount": "0",
            "total_value_after_fees": "0",
            "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
            "product_type": "SPOT",
            "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
            "trigger_status": "INVALID_ORDER_TYPE",
        }

    def render(self, conn: SimConnection, order: SimOrder, fill: SimFill | None) -> list[bytes]:
        return [self._message(conn, "user", [{"type": "update", "orders": [self.user_order(order)]}])]


def make_order_side(venue: SimVenue) -> CoinbaseOrderSide:
    return CoinbaseOrderSide(venue)


def sim_urls(venue: SimVenue) -> dict[str, str]:
    return {"rest": venue.rest_url, "ws_user": venue.url_for(WS_PATH)}
