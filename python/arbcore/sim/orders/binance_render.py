"""The simulated Binance venue's objects in Binance's wire format, spot or USD-M: prices,
quantities and amounts as text, order objects, private order events (spot ``executionReport``,
USD-M ``ORDER_TRADE_UPDATE``), trade rows and account balances."""

from __future__ import annotations

from typing import Any

import orjson

from arbcore.execution.orders import OrderState, OrderType, Side
from arbcore.sim.exchange import SimAccount, SimFill, SimOrder
from arbcore.sim.fmt import decimal_text, now_ms
from arbcore.sim.orders.common import exchange_of, lot_text, tick_text
from arbcore.sim.server import SimConnection, SimVenue
from arbcore.venues.orders.decimal_text import to_text

_STATUS = {
    OrderState.ACKED: "NEW",
    OrderState.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderState.FILLED: "FILLED",
    OrderState.CANCELED: "CANCELED",
    OrderState.EXPIRED: "EXPIRED",
    OrderState.REJECTED: "REJECTED",
}

_SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}


def _exec_type(o: SimOrder, fill: SimFill | None) -> str:
    if fill is not None:
        return "TRADE"
    return {OrderState.CANCELED: "CANCELED", OrderState.EXPIRED: "EXPIRED", OrderState.REJECTED: "REJECTED"}.get(
        o.state, "NEW"
    )


class BinanceRenderer:
    """Renders for one venue; ``cancel_ids`` (order id -> the cancel request's client id, spot) is
    filled by the order side and read here for the ``c`` of a spot cancel event."""

    def __init__(self, venue: SimVenue, *, futures: bool, cancel_ids: dict[str, str]) -> None:
        self.venue = venue
        self.exchange = exchange_of(venue)
        self.futures = futures
        self.cancel_ids = cancel_ids
        self._scales: dict[str, tuple[int, int, int, int, int, int]] = {}

    # ---- text -----------------------------------------------------------------------------------

    def price_text(self, symbol: str, raw: int | None) -> str:
        if self.futures:
            return tick_text(self.venue, symbol, raw or 0)
        spec = self.venue.instruments[symbol].spec
        return decimal_text(raw or 0, spec.price_decimals, max(8, spec.price_decimals))

    def qty_text(self, symbol: str, raw: int) -> str:
        if self.futures:
            return lot_text(self.venue, symbol, raw)
        spec = self.venue.instruments[symbol].spec
        return decimal_text(raw, spec.qty_decimals, max(8, spec.qty_decimals))

    def quote_text(self, symbol: str, raw: int) -> str:
        """A notional (price x qty, at price_decimals + qty_decimals)."""
        spec = self.venue.instruments[symbol].spec
        d = spec.price_decimals + spec.qty_decimals
        return decimal_text(raw, d, max(8, d))

    def asset_text(self, asset: str, raw: int) -> str:
        d = self.exchange.assets.get(asset, 8)
        return decimal_text(raw, d, max(8, d))

    def notional_text(self, symbol: str, raw: int) -> str:
        spec = self.venue.instruments[symbol].spec
        return to_text(raw, spec.price_decimals + spec.qty_decimals)

    def _spot_scales(self, symbol: str) -> tuple[int, int, int, int, int, int]:
        """(decimals, places) of a spot price, quantity and notional of ``symbol``: what price_text,
        qty_text and quote_text print with."""
        got = self._scales.get(symbol)
        if got is None:
            spec = self.venue.instruments[symbol].spec
            pd, qd = spec.price_decimals, spec.qty_decimals
            nd = pd + qd
            got = self._scales[symbol] = (pd, max(8, pd), qd, max(8, qd), nd, max(8, nd))
        return got

    # ---- order objects --------------------------------------------------------------------------

    def _spot_type(self, o: SimOrder) -> str:
        if o.order_type is OrderType.MARKET:
            return "MARKET"
        return "LIMIT_MAKER" if o.post_only else "LIMIT"

    def _tif(self, o: SimOrder) -> str:
        if self.futures and o.post_only:
            return "GTX"
        return o.tif.value

    def order_object(self, o: SimOrder, *, resp: str = "RESULT", query: bool = False) -> dict[str, Any]:
        """The venue's order object: a place reply (ACK/RESULT/FULL), or with ``query`` a status answer."""
        head: dict[str, Any]
        if self.futures:
            spec = self.venue.instruments[o.symbol].spec
            avg = o.quote_filled * 10 ** max(0, 8 - spec.price_decimals) // o.filled if o.filled else 0
            head = {
                "orderId": int(o.order_id),
                "symbol": o.symbol,
                "status": _STATUS[o.state],
                "clientOrderId": o.client_id,
            }
            if resp == "ACK":
                return head | {"updateTime": o.updated_ms}
            head |= {
                "price": self.price_text(o.symbol, o.price),
                "avgPrice": to_text(avg, 8, 8) if spec.price_decimals <= 8 else "0",
                "origQty": self.qty_text(o.symbol, o.qty),
                "executedQty": self.qty_text(o.symbol, o.filled),
                "cumQty": self.qty_text(o.symbol, o.filled),
                "cumQuote": self.quote_text(o.symbol, o.quote_filled),
                "timeInForce": self._tif(o),
                "type": o.order_type.value.upper(),
                "reduceOnly": False,
                "closePosition": False,
                "side": o.side.value.upper(),
                "positionSide": "BOTH",
                "stopPrice": "0",
                "workingType": "CONTRACT_PRICE",
                "priceProtect": False,
                "origType": o.order_type.value.upper(),
                "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER",
                "goodTillDate": 0,
            }
            if query:
                head["time"] = o.created_ms
            head["updateTime"] = o.updated_ms
            return head
        head = {"symbol": o.symbol, "orderId": int(o.order_id), "orderListId": -1, "clientOrderId": o.client_id}
        if not query:
            head["transactTime"] = o.updated_ms
        if resp == "ACK":
            return head
        pd, pp, qd, qp, nd, np_ = self._spot_scales(o.symbol)
        head |= {
            "price": decimal_text(o.price or 0, pd, pp),
            "origQty": decimal_text(o.qty, qd, qp),
            "executedQty": decimal_text(o.filled, qd, qp),
            "origQuoteOrderQty": "0.00000000",
            "cummulativeQuoteQty": decimal_text(o.quote_filled, nd, np_),
            "status": _STATUS[o.state],
            "timeInForce": o.tif.value,
            "type": self._spot_type(o),
            "side": _SIDE[o.side],
        }
        if query:
            head |= {
                "stopPrice": "0.00000000",
                "icebergQty": "0.00000000",
                "time": o.created_ms,
                "updateTime": o.updated_ms,
                "isWorking": True,
                "workingTime": o.created_ms,
            }
        else:
            head["workingTime"] = o.created_ms
        head["selfTradePreventionMode"] = "EXPIRE_MAKER"
        if resp == "FULL":
            head["fills"] = [
                {
                    "price": self.price_text(o.symbol, f.price),
                    "qty": self.qty_text(o.symbol, f.qty),
                    "commission": self.asset_text(f.fee_asset, f.fee),
                    "commissionAsset": f.fee_asset,
                    "tradeId": int(f.fill_id),
                }
                for f in o.fills
            ]
        return head

    # ---- private events ------------------------------------------------------------------------

    def order_event(self, conn: SimConnection, o: SimOrder, fill: SimFill | None) -> list[bytes]:
        now = now_ms()
        x = _exec_type(o, fill)
        if self.futures:
            ev_o = {
                "s": o.symbol,
                "c": o.client_id,
                "S": o.side.value.upper(),
                "o": o.order_type.value.upper(),
                "f": self._tif(o),
                "q": self.qty_text(o.symbol, o.qty),
                "p": self.price_text(o.symbol, o.price),
                "ap": self.price_text(o.symbol, fill.price if fill else 0) if fill else "0",
                "sp": "0",
                "x": x,
                "X": _STATUS[o.state],
                "i": int(o.order_id),
                "l": self.qty_text(o.symbol, fill.qty if fill else 0),
                "z": self.qty_text(o.symbol, o.filled),
                "L": self.price_text(o.symbol, fill.price if fill else 0),
                "T": o.updated_ms,
                "t": int(fill.fill_id) if fill else 0,
                "b": "0",
                "a": "0",
                "m": fill.maker if fill else False,
                "R": False,
                "wt": "CONTRACT_PRICE",
                "ot": o.order_type.value.upper(),
                "ps": "BOTH",
                "cp": False,
                "rp": "0",
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "EXPIRE_MAKER",
                "pm": "NONE",
                "gtd": 0,
            }
            if fill is not None:
                ev_o["N"] = fill.fee_asset
                ev_o["n"] = self.asset_text(fill.fee_asset, fill.fee)
            return [orjson.dumps({"e": "ORDER_TRADE_UPDATE", "E": now, "T": o.updated_ms, "o": ev_o})]
        canceled = x == "CANCELED"
        # spot text inline (this runs for every order update): the same as qty_text / price_text / quote_text
        pd, pp, qd, qp, nd, np_ = self._spot_scales(o.symbol)
        ev = {
            "e": "executionReport",
            "E": now,
            "s": o.symbol,
            "c": self.cancel_ids.get(o.order_id, o.client_id) if canceled else o.client_id,
            "S": _SIDE[o.side],
            "o": self._spot_type(o),
            "f": o.tif.value,
            "q": decimal_text(o.qty, qd, qp),
            "p": decimal_text(o.price or 0, pd, pp),
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": o.client_id if canceled else "",
            "x": x,
            "X": _STATUS[o.state],
            "r": "NONE",
            "i": int(o.order_id),
            "l": decimal_text(fill.qty if fill else 0, qd, qp),
            "z": decimal_text(o.filled, qd, qp),
            "L": decimal_text(fill.price if fill else 0, pd, pp),
            "n": self.asset_text(fill.fee_asset, fill.fee) if fill else "0",
            "N": fill.fee_asset if fill else None,
            "T": o.updated_ms,
            "t": int(fill.fill_id) if fill else -1,
            "v": 0,
            "I": int(o.order_id) * 2,
            "w": o.is_open and fill is None,
            "m": fill.maker if fill else False,
            "M": False,
            "O": o.created_ms,
            "Z": decimal_text(o.quote_filled, nd, np_),
            "Y": decimal_text(fill.price * fill.qty, nd, np_) if fill else "0.00000000",
            "Q": "0.00000000",
            "W": o.created_ms,
            "V": "EXPIRE_MAKER",
        }
        return [orjson.dumps({"subscriptionId": conn.state.get("subscription_id", 0), "event": ev})]

    # ---- trades and balances --------------------------------------------------------------------

    def trade_rows(self, account: SimAccount, symbol: str, order_id: str | None) -> list[dict[str, Any]]:
        """Account trades (spot ``myTrades`` / USD-M ``userTrades`` rows), optionally of one order."""
        rows = []
        for o in self.exchange.orders.values():
            if o.account != account.api_key or o.symbol != symbol or (order_id is not None and o.order_id != order_id):
                continue
            for f in o.fills:
                row: dict[str, Any] = {
                    "symbol": symbol,
                    "id": int(f.fill_id),
                    "orderId": int(o.order_id),
                    "price": self.price_text(symbol, f.price),
                    "qty": self.qty_text(symbol, f.qty),
                    "quoteQty": self.quote_text(symbol, f.price * f.qty),
                    "commission": self.asset_text(f.fee_asset, f.fee),
                    "commissionAsset": f.fee_asset,
                    "time": f.ts_ms,
                }
                if self.futures:
                    row |= {
                        "side": o.side.value.upper(),
                        "positionSide": "BOTH",
                        "buyer": o.side is Side.BUY,
                        "maker": f.maker,
                        "realizedPnl": "0",
                    }
                else:
                    row |= {"orderListId": -1, "isBuyer": o.side is Side.BUY, "isMaker": f.maker, "isBestMatch": True}
                rows.append(row)
        rows.sort(key=lambda r: int(r["id"]))
        return rows

    def _assets_of(self, account: SimAccount) -> list[str]:
        return sorted(set(self.exchange.assets) | set(account.balances))

    def account_status(self, account: SimAccount, *, omit_zero: bool) -> dict[str, Any]:
        """The spot ``account.status`` answer (``omit_zero``: ``omitZeroBalances``)."""
        balances = []
        for asset in self._assets_of(account):
            total = account.balances.get(asset, 0)
            held = account.held.get(asset, 0)
            if omit_zero and total == 0 and held == 0:
                continue
            balances.append(
                {"asset": asset, "free": self.asset_text(asset, total - held), "locked": self.asset_text(asset, held)}
            )
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def futures_balances(self, account: SimAccount) -> list[dict[str, Any]]:
        """The USD-M ``v2/account.balance`` / ``account.balance`` rows."""
        rows = []
        for asset in self._assets_of(account):
            total = account.balances.get(asset, 0)
            free = account.available(asset)
            rows.append(
                {
                    "accountAlias": "SgsR",
                    "asset": asset,
                    "balance": self.asset_text(asset, total),
                    "crossWalletBalance": self.asset_text(asset, total),
                    "crossUnPnl": "0.00000000",
                    "availableBalance": self.asset_text(asset, free),
                    "maxWithdrawAmount": self.asset_text(asset, free),
                    "marginAvailable": True,
                    "updateTime": now_ms(),
                }
            )
        return rows
