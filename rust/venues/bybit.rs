//! Bybit v5 public WebSocket: `orderbook.{depth}.{symbol}` and `publicTrade.{symbol}`.
//!
//! Rules (docs, v5 "Orderbook"): a `snapshot` resets the book (Bybit re-sends one when it has a
//! problem); a `delta` with `u == 1` means the service restarted and is treated as a snapshot;
//! otherwise each delta's `u` must be the previous `u + 1` per topic (consistent with the captured
//! stream). Size 0 deletes. `seq` is the cross sequence and is kept for reference; `u` is the
//! book's sequence. There is no checksum. Resync = resubscribe the topic (a snapshot follows).

use super::trades::{buyer_aggressor, decode_trades, TradeText};
use super::{
    apply_checked, break_book, fault_reason, load_snapshot, ms_to_ns, BookRef, BookSink,
    DecodeError, Outcome, Scratch, SymbolMap, Trade,
};
use crate::book::{BookState, Side, Stamp};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow, default)]
    topic: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    ts: Option<i64>,
    #[serde(default)]
    cts: Option<i64>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    op: Option<&'a str>,
}

#[derive(Deserialize)]
struct BookData<'a> {
    #[serde(borrow)]
    s: &'a str,
    #[serde(borrow, default)]
    b: Vec<(&'a str, &'a str)>,
    #[serde(borrow, default)]
    a: Vec<(&'a str, &'a str)>,
    u: u64,
    #[serde(default)]
    seq: Option<u64>,
}

#[derive(Deserialize)]
struct TradeData<'a> {
    #[serde(rename = "T")]
    time: i64,
    #[serde(borrow)]
    s: &'a str,
    #[serde(rename = "S", borrow)]
    side: &'a str,
    #[serde(borrow)]
    v: &'a str,
    #[serde(borrow)]
    p: &'a str,
}

/// Per-topic sync state.
#[derive(Debug, Clone, Copy, Default)]
struct TopicState {
    /// `u` of the last applied message; None until a snapshot arrives.
    last_u: Option<u64>,
    /// Last cross sequence seen (for reports; not used for continuity).
    last_seq: u64,
}

/// Decoder for one Bybit connection (any number of symbols).
#[derive(Debug, Default)]
pub struct BybitDecoder {
    symbols: SymbolMap,
    state: HashMap<BookRef, TopicState>,
    scratch: Scratch,
    /// Trades decoded by the last frame.
    pub trades: Vec<Trade>,
}

impl BybitDecoder {
    pub fn new(symbols: SymbolMap) -> Self {
        BybitDecoder {
            symbols,
            ..Default::default()
        }
    }

    pub fn symbols(&self) -> &SymbolMap {
        &self.symbols
    }

    /// Forget a book's sequence (call when resubscribing); the next snapshot resyncs it.
    pub fn reset(&mut self, book: BookRef) {
        self.state.remove(&book);
    }

    /// Decode one frame, exactly as received, into `market`.
    pub fn on_frame<M: BookSink>(
        &mut self,
        frame: &[u8],
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        self.trades.clear();
        let f: Frame<'_> = serde_json::from_slice(frame)?;
        let Some(topic) = f.topic else {
            // {"success":true,"op":"subscribe",...} and {"op":"pong",...}
            return if f.op.is_some() {
                Ok(Outcome::Control)
            } else {
                Err(DecodeError::Malformed("no topic".into()))
            };
        };
        let data = f
            .data
            .ok_or_else(|| DecodeError::Malformed("no data".into()))?;
        if topic.starts_with("orderbook.") {
            self.on_book(f.kind, f.cts.or(f.ts).unwrap_or(0), data, recv_ts, market)
        } else if topic.starts_with("publicTrade.") {
            self.on_trades(data, recv_ts, market)
        } else {
            Ok(Outcome::Control)
        }
    }

    fn on_book<M: BookSink>(
        &mut self,
        kind: Option<&str>,
        venue_ms: i64,
        data: &RawValue,
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let d: BookData<'_> = serde_json::from_str(data.get())?;
        let book = self.symbols.get(d.s)?;
        let scales = market.scales(book)?;
        let stamp = Stamp {
            seq: d.u,
            venue_ts: ms_to_ns(venue_ms),
            recv_ts,
        };
        let is_snapshot = match kind {
            Some("snapshot") => true,
            Some("delta") => d.u == 1,
            _ => return Err(DecodeError::Malformed(format!("book type {kind:?}"))),
        };
        // Parse everything before touching the book.
        let s = &mut self.scratch;
        s.clear();
        if is_snapshot {
            for (p, q) in &d.b {
                s.push_level(Side::Bid, p, q, scales)?;
            }
            for (p, q) in &d.a {
                s.push_level(Side::Ask, p, q, scales)?;
            }
            let out = load_snapshot(market, book, &s.bids, &s.asks, stamp)?;
            let st = self.state.entry(book).or_default();
            st.last_u = matches!(out, Outcome::Synced { .. }).then_some(d.u);
            st.last_seq = d.seq.unwrap_or(0);
            return Ok(out);
        }
        for (p, q) in &d.b {
            s.push_delta(Side::Bid, p, q, scales)?;
        }
        for (p, q) in &d.a {
            s.push_delta(Side::Ask, p, q, scales)?;
        }
        let st = self.state.entry(book).or_default();
        let Some(last) = st.last_u else {
            // Not synced (waiting for the snapshot after (re)subscribing): nothing to apply to.
            return Ok(Outcome::Ignored);
        };
        if market.state(book) == Some(BookState::Broken) {
            return Ok(Outcome::Ignored);
        }
        if last.checked_add(1) != Some(d.u) {
            st.last_u = None;
            return break_book(market, book, fault_reason(d.u, last));
        }
        st.last_u = Some(d.u);
        st.last_seq = d.seq.unwrap_or(st.last_seq);
        let out = apply_checked(market, book, &self.scratch.deltas, stamp)?;
        if matches!(out, Outcome::Resync { .. }) {
            self.state.remove(&book);
        }
        Ok(out)
    }

    fn on_trades<M: BookSink>(
        &mut self,
        data: &RawValue,
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let list: Vec<TradeData<'_>> = serde_json::from_str(data.get())?;
        let prints = list.iter().map(|t| {
            Ok(TradeText {
                symbol: t.s,
                buyer_aggressor: buyer_aggressor(t.side, "Buy", "Sell")?,
                price: t.p,
                qty: t.v,
                venue_ts: ms_to_ns(t.time),
            })
        });
        decode_trades(&mut self.trades, &self.symbols, market, recv_ts, prints)
    }
}

#[cfg(test)]
#[path = "bybit_tests.rs"]
mod tests;
