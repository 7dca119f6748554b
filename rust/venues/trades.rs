//! Trade prints, shared by every decoder: each maps its venue's trade fields to a [`TradeText`]
//! (its own side strings and timestamp rules) and [`decode_trades`] does the rest.

use super::scratch::parse_num;
use super::{BookSink, DecodeError, Outcome, SymbolMap, Trade};

/// One trade print as the venue wrote it: the symbol and the price and quantity texts, with the
/// aggressor side and the venue time already decoded by the venue's own rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TradeText<'a> {
    pub symbol: &'a str,
    pub price: &'a str,
    pub qty: &'a str,
    /// true if the aggressor bought (taker side buy).
    pub buyer_aggressor: bool,
    pub venue_ts: i64,
}

/// Decode a frame's prints into `trades`, all or nothing: on the first error `trades` is left
/// empty. Each print is checked in this order: the caller's mapping (side, time, number types),
/// then its symbol, then its price and quantity at the instrument's scales. The outcome is
/// `Trades { book, count }` with the last print's book and `trades.len()`, or `Control` if the
/// frame has no prints.
pub(crate) fn decode_trades<'a, M: BookSink>(
    trades: &mut Vec<Trade>,
    symbols: &SymbolMap,
    market: &mut M,
    recv_ts: i64,
    prints: impl IntoIterator<Item = Result<TradeText<'a>, DecodeError>>,
) -> Result<Outcome, DecodeError> {
    let mut book = None;
    for t in prints {
        match t.and_then(|t| to_trade(t, symbols, market, recv_ts)) {
            Ok(trade) => {
                book = Some(trade.book);
                trades.push(trade);
            }
            Err(e) => {
                trades.clear(); // all or nothing
                return Err(e);
            }
        }
    }
    Ok(match book {
        Some(book) => Outcome::Trades {
            book,
            count: trades.len(),
        },
        None => Outcome::Control,
    })
}

/// One print at its instrument's scales.
fn to_trade<M: BookSink>(
    t: TradeText<'_>,
    symbols: &SymbolMap,
    market: &mut M,
    recv_ts: i64,
) -> Result<Trade, DecodeError> {
    let book = symbols.get(t.symbol)?;
    let (pd, qd) = market.scales(book)?;
    Ok(Trade {
        book,
        price: parse_num("price", t.price, pd)?,
        qty: parse_num("qty", t.qty, qd)?,
        buyer_aggressor: t.buyer_aggressor,
        venue_ts: t.venue_ts,
        recv_ts,
    })
}

/// The aggressor side from a venue's side text: `buy` is the text that means the aggressor
/// bought, `sell` the one that means it sold; anything else is malformed.
pub(crate) fn buyer_aggressor(side: &str, buy: &str, sell: &str) -> Result<bool, DecodeError> {
    if side == buy {
        Ok(true)
    } else if side == sell {
        Ok(false)
    } else {
        Err(DecodeError::Malformed(format!("trade side {side:?}")))
    }
}
