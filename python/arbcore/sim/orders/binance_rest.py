"""The simulated Binance venue's REST routes: ``exchangeInfo`` with each symbol's info and filters
(spot and USD-M), and for USD-M the ``listenKey`` of the user stream, ``openOrders`` and ``userTrades``."""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from aiohttp import web

from arbcore.sim.fmt import now_ms, places_of
from arbcore.sim.orders.binance_render import BinanceRenderer
from arbcore.sim.orders.binance_requests import RefusedError, mandatory, rest_account, rest_signed
from arbcore.sim.orders.common import rest_reply


def _rest_error(status: int, code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


def _symbol_info(renderer: BinanceRenderer, symbol: str) -> dict[str, Any]:
    spec = renderer.venue.instruments[symbol].spec
    market = renderer.exchange.markets[symbol]
    pd, qd = spec.price_decimals, spec.qty_decimals
    max_price = 1_000_000 * 10**pd
    max_qty = 9_000 * 10**qd
    min_price = renderer.price_text(symbol, spec.tick)
    if not renderer.futures:
        return {
            "symbol": symbol,
            "status": "TRADING",
            "baseAsset": market.base,
            "baseAssetPrecision": 8,
            "quoteAsset": market.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": [
                "LIMIT",
                "LIMIT_MAKER",
                "MARKET",
                "STOP_LOSS",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT",
                "TAKE_PROFIT_LIMIT",
            ],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": min_price,
                    "maxPrice": renderer.price_text(symbol, max_price),
                    "tickSize": renderer.price_text(symbol, spec.tick),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": renderer.qty_text(symbol, market.min_qty),
                    "maxQty": renderer.qty_text(symbol, max_qty),
                    "stepSize": renderer.qty_text(symbol, spec.lot),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": renderer.quote_text(symbol, market.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": market.base,
        "quoteAsset": market.quote,
        "marginAsset": market.quote,
        "pricePrecision": places_of(spec.tick, pd),
        "quantityPrecision": places_of(spec.lot, qd),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "minPrice": min_price,
                "maxPrice": renderer.price_text(symbol, max_price),
                "filterType": "PRICE_FILTER",
                "tickSize": renderer.price_text(symbol, spec.tick),
            },
            {
                "stepSize": renderer.qty_text(symbol, spec.lot),
                "filterType": "LOT_SIZE",
                "maxQty": renderer.qty_text(symbol, max_qty),
                "minQty": renderer.qty_text(symbol, market.min_qty),
            },
            {
                "stepSize": renderer.qty_text(symbol, spec.lot),
                "filterType": "MARKET_LOT_SIZE",
                "maxQty": renderer.qty_text(symbol, max_qty),
                "minQty": renderer.qty_text(symbol, market.min_qty),
            },
            {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
            {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
            {"notional": renderer.notional_text(symbol, market.min_notional), "filterType": "MIN_NOTIONAL"},
            {
                "multiplierDown": "0.9500",
                "multiplierUp": "1.0500",
                "multiplierDecimal": "4",
                "filterType": "PERCENT_PRICE",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def rest_routes(renderer: BinanceRenderer, listen_keys: dict[str, str]) -> list[web.RouteDef]:
    """The routes of ``renderer``'s venue; ``listen_keys`` (listenKey -> api key) is the order side's,
    which binds the user-stream connections."""
    venue, exchange, futures = renderer.venue, renderer.exchange, renderer.futures

    async def exchange_info(request: web.Request) -> web.Response:
        symbols = list(exchange.markets)
        if not futures:
            try:
                if "symbol" in request.query:
                    symbols = [request.query["symbol"]]
                elif "symbols" in request.query:
                    listed = orjson.loads(request.query["symbols"])
                    if not isinstance(listed, list):
                        raise ValueError
                    symbols = [str(s) for s in listed]
            except ValueError:
                return _rest_error(400, -1100, "Illegal characters found in parameter 'symbols'.")
            if any(s not in exchange.markets for s in symbols):
                return _rest_error(400, -1121, "Invalid symbol.")
        now = now_ms()
        limits = (
            [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ]
            if futures
            else [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ]
        )
        body: dict[str, Any] = {"timezone": "UTC", "serverTime": now}
        if futures:
            body["futuresType"] = "U_MARGINED"
        body |= {"rateLimits": limits, "exchangeFilters": [], "symbols": [_symbol_info(renderer, s) for s in symbols]}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    if not futures:
        return [web.get("/api/v3/exchangeInfo", exchange_info)]

    async def listen_key(request: web.Request) -> web.Response:
        try:
            account = rest_account(venue, request)
        except RefusedError as e:
            return _rest_error(e.status, e.code, e.msg)
        existing = next((k for k, a in listen_keys.items() if a == account.api_key), None)
        if request.method == "POST":
            key = existing or secrets.token_urlsafe(48)[:64]
            listen_keys[key] = account.api_key
            return web.json_response({"listenKey": key})
        if existing is None:
            return _rest_error(400, -1125, "This listenKey does not exist.")
        if request.method == "DELETE":
            del listen_keys[existing]
        return web.json_response({})

    async def open_orders(request: web.Request) -> web.Response:
        try:
            account, params = await rest_signed(venue, request)
            symbol = params.get("symbol")
            if symbol is not None and symbol not in exchange.markets:
                raise RefusedError(400, -1121, "Invalid symbol.")
        except RefusedError as e:
            return _rest_error(e.status, e.code, e.msg)
        orders = exchange.open_orders(account.api_key, symbol)
        body = orjson.dumps([renderer.order_object(o, query=True) for o in orders])
        return await rest_reply(request, web.Response(body=body, content_type="application/json"))

    async def user_trades(request: web.Request) -> web.Response:
        try:
            account, params = await rest_signed(venue, request)
            symbol = params.get("symbol")
            if symbol is None:
                raise mandatory("symbol")
            if symbol not in exchange.markets:
                raise RefusedError(400, -1121, "Invalid symbol.")
        except RefusedError as e:
            return _rest_error(e.status, e.code, e.msg)
        rows = renderer.trade_rows(account, symbol, params.get("orderId"))
        return await rest_reply(request, web.Response(body=orjson.dumps(rows), content_type="application/json"))

    return [
        web.get("/fapi/v1/exchangeInfo", exchange_info),
        web.get("/fapi/v1/userTrades", user_trades),
        web.post("/fapi/v1/listenKey", listen_key),
        web.put("/fapi/v1/listenKey", listen_key),
        web.delete("/fapi/v1/listenKey", listen_key),
        web.get("/fapi/v1/openOrders", open_orders),
    ]
