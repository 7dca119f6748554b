//! Binance Spot and USD-M futures market data: the diff depth stream (`<symbol>@depth`,
//! `<symbol>@depth@100ms`) synchronised with the REST snapshot, and `trade` / `aggTrade` prints.
//! One decoder type serves both markets; the constructor picks the sync rules
//! ([`BinanceDecoder::spot`], [`BinanceDecoder::usdm`]). Raw-stream frames (`/ws/<stream>`: the
//! event itself) and combined-stream frames (`/stream?streams=`: `{"stream":..,"data":{..}}`)
//! are both accepted; subscription acks (`{"result":null,"id":1}`) are Control, an error response
//! (`{"error":{..},"id":1}`) is a `Malformed` error carrying the venue's text.
//!
//! Symbols are looked up exactly as the event's `s` field spells them (upper case, "BTCUSDT").
//!
//! Sync procedure (docs: spot `web-socket-streams.md` "How to manage a local order book
//! correctly"; USD-M "How to manage a local order book correctly"), rules marked [V] in
//! `venue-protocols.md` sections 1.1 and 2.1:
//! 1. Until the REST snapshot arrives, depth events are parsed and **buffered** per book
//!    (`Outcome::Buffered`), at most [`DEFAULT_BUFFER_CAP`] events (configurable). The buffer is
//!    kept a contiguous chain: an event that is older than or equal to the last buffered one is
//!    dropped (`Ignored`); a newer one that does not chain (a gap) restarts the buffer from itself
//!    and reports `Resync(Gap)`; an overflow restarts the buffer from the current event and
//!    reports `Resync(StaleSnapshot)` (the snapshot did not come in time: fetch it again).
//! 2. [`BinanceDecoder::on_snapshot`] takes the REST body `{"lastUpdateId":..,"bids":..,"asks":..}`
//!    (futures bodies also carry `E` and `T`).
//!    - Spot: if `lastUpdateId` < the first buffered `U`, the snapshot is refused with
//!      `Resync(StaleSnapshot)` and the buffer is kept (fetch again). Buffered events with
//!      `u <= lastUpdateId` are dropped; the first remaining one must have
//!      `U <= lastUpdateId + 1 <= u`.
//!    - Futures: buffered events with `u < lastUpdateId` are dropped; the first remaining one must
//!      have `U <= lastUpdateId <= u` (otherwise `Resync(StaleSnapshot)`, buffer kept).
//!    - The snapshot is loaded, the remaining buffered events are replayed in order (each with its
//!      own stamp) and the book is LIVE (`Synced`). If nothing remains buffered, the next live event
//!      is checked against `lastUpdateId` by the same first-event rule.
//!    - A snapshot arriving for a LIVE book (no buffer) re-initialises it the same way.
//! 3. Live events:
//!    - Spot: `u <= id` is ignored (already in the book; the docs ignore `u < id`, and `u == id`
//!      can only re-deliver updates the book already holds, see rule 3 which drops `u <= id`);
//!      `U > id + 1` is a gap: the book is BROKEN (`Resync(Gap)`) and the decoder restarts from
//!      step 1 for it (the gap event itself starts the new buffer). Otherwise apply, `id = u`.
//!      Spot has no separate duplicate / out-of-order detection: the docs' rule ignores them.
//!    - Futures: the first event after the snapshot must satisfy `U <= id <= u` (`u < id`:
//!      ignored, `U > id`: gap). After that each event's `pu` must equal the previous event's
//!      `u`; otherwise the book is BROKEN and resynchronised from step 1. Chosen classification of
//!      a `pu` mismatch: `u == previous u` -> `Duplicate`, `u < previous u` -> `OutOfOrder` (both
//!      dropped, the buffer restarts empty), anything newer -> `Gap` (it starts the new buffer).
//!    - A book that is BROKEN or cleared (SYNCING) in the market while the decoder thought it
//!      LIVE (e.g. crossed, or broken by another component) goes back to step 1 as well.
//! 4. Quantities are absolute; 0 deletes (deleting an unknown price is a no-op). No checksum.
//!
//! Trades: `m` is "the buyer is the market maker", so the aggressor bought iff `!m`; the venue
//! time is `T` (trade time). [K] The USD-M `aggTrade` payload (`s,p,q,T,m`, section 2.2) was
//! confirmed against third-party USD-M client type definitions found with the docs search
//! (binance-futures-wrapper `AggTradeStreamData`, binance-async-api `usdm::AggTradeEvent`); the
//! official futures page itself was not reachable here.
//!
//! Resync for the I/O layer: on `Resync` (or any time) it may call [`BinanceDecoder::reset`]; either
//! way the book's events are buffered again and it must fetch a new REST snapshot and pass it to
//! `on_snapshot`. A reconnect must call `reset` for every book of the connection.

use super::binance_scan::{scan_depth, DepthHead};
use super::trades::{decode_trades, TradeText};
use super::{
    apply_checked, break_book, fault_reason, load_snapshot, ms_to_ns, BookRef, BookSink,
    DecodeError, Outcome, RefMap, ResyncReason, Scratch, SymbolMap, Trade,
};
use crate::book::{BookState, Delta, Side, Stamp};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::VecDeque;

/// Default bound on the events buffered per book while waiting for the REST snapshot.
pub const DEFAULT_BUFFER_CAP: usize = 10_000;

/// Which Binance market (and so which sync rules) a decoder serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinanceMarket {
    /// Spot: continuity by `U == previous u + 1`.
    Spot,
    /// USD-M futures: continuity by `pu == previous u`.
    UsdM,
}

/// Any frame: raw event, combined-stream wrapper, or a response to a request.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(rename = "e", borrow, default)]
    event: Option<&'a str>,
    /// `id` is present (any value, even null) on responses to SUBSCRIBE / UNSUBSCRIBE.
    #[serde(default, deserialize_with = "present")]
    id: bool,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// The event type of a combined-stream payload.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(rename = "e", borrow, default)]
    event: Option<&'a str>,
}

#[derive(Deserialize)]
struct DepthEvent<'a> {
    #[serde(rename = "E", default)]
    event_time: Option<i64>,
    #[serde(rename = "T", default)]
    tx_time: Option<i64>,
    #[serde(borrow)]
    s: &'a str,
    #[serde(rename = "U")]
    first: u64,
    u: u64,
    #[serde(default)]
    pu: Option<u64>,
    #[serde(borrow, default)]
    b: Vec<(&'a str, &'a str)>,
    #[serde(borrow, default)]
    a: Vec<(&'a str, &'a str)>,
}

#[derive(Deserialize)]
struct SnapshotBody<'a> {
    #[serde(rename = "lastUpdateId")]
    last_update_id: u64,
    #[serde(rename = "E", default)]
    event_time: Option<i64>,
    #[serde(rename = "T", default)]
    tx_time: Option<i64>,
    #[serde(borrow)]
    bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    asks: Vec<(&'a str, &'a str)>,
}

/// `trade` and `aggTrade` (spot and futures) share these fields.
#[derive(Deserialize)]
struct TradeEvent<'a> {
    #[serde(borrow)]
    s: &'a str,
    #[serde(borrow)]
    p: &'a str,
    #[serde(borrow)]
    q: &'a str,
    #[serde(rename = "T")]
    time: i64,
    /// The buyer is the maker.
    m: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// Update ids of one depth event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ids {
    /// `U`
    first: u64,
    /// `u`
    last: u64,
    /// `pu` (futures only)
    prev: Option<u64>,
}

/// A parsed depth event held until the snapshot.
#[derive(Debug, Clone)]
struct Held {
    ids: Ids,
    stamp: Stamp,
    deltas: Vec<Delta>,
}

/// Where a LIVE book stands.
#[derive(Debug, Clone, Copy)]
struct Live {
    /// The book's update id (`lastUpdateId`, then the last applied `u`).
    id: u64,
    /// Futures: false until the first event after the snapshot (checked by `U <= id <= u`),
    /// then continuity is by `pu`. Unused on spot.
    chained: bool,
}

/// Per-book sync state.
#[derive(Debug, Default)]
struct BookSync {
    /// None while waiting for the snapshot.
    live: Option<Live>,
    /// Events held until the snapshot (always empty while live).
    buffer: VecDeque<Held>,
}

impl BookSync {
    /// Back to step 1: not live, nothing buffered.
    fn restart(&mut self) {
        self.live = None;
        self.buffer.clear();
    }
}

/// How an event relates to the update id it must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Apply it.
    Next,
    /// Already covered: ignore it.
    Old,
    /// Continuity is lost.
    Break(ResyncReason),
}

fn link(market: BinanceMarket, at: Live, ev: Ids) -> Link {
    let id = at.id;
    match market {
        BinanceMarket::Spot => {
            if ev.last <= id {
                Link::Old
            } else if ev.first > id.saturating_add(1) {
                Link::Break(ResyncReason::Gap)
            } else {
                Link::Next
            }
        }
        BinanceMarket::UsdM if !at.chained => {
            if ev.last < id {
                Link::Old
            } else if ev.first > id {
                Link::Break(ResyncReason::Gap)
            } else {
                Link::Next
            }
        }
        BinanceMarket::UsdM => {
            if ev.prev == Some(id) && ev.last > id {
                Link::Next
            } else {
                Link::Break(fault_reason(ev.last, id))
            }
        }
    }
}

/// Decoder for one Binance connection (any number of symbols of one market).
#[derive(Debug)]
pub struct BinanceDecoder {
    market: BinanceMarket,
    symbols: SymbolMap,
    books: RefMap<BookSync>,
    buffer_cap: usize,
    scratch: Scratch,
    /// Off: every frame takes the serde path (the reference the scanner is tested against).
    fast_path: bool,
    /// Trades decoded by the last frame.
    pub trades: Vec<Trade>,
}

impl BinanceDecoder {
    pub fn new(market: BinanceMarket, symbols: SymbolMap) -> Self {
        BinanceDecoder {
            market,
            symbols,
            books: RefMap::default(),
            buffer_cap: DEFAULT_BUFFER_CAP,
            scratch: Scratch::default(),
            fast_path: true,
            trades: Vec::new(),
        }
    }

    /// Binance Spot (`stream.binance.com`) rules.
    pub fn spot(symbols: SymbolMap) -> Self {
        Self::new(BinanceMarket::Spot, symbols)
    }

    /// Binance USD-M futures (`fstream.binance.com`) rules.
    pub fn usdm(symbols: SymbolMap) -> Self {
        Self::new(BinanceMarket::UsdM, symbols)
    }

    /// Bound the per-book pre-snapshot buffer (at least 1 event).
    pub fn with_buffer_cap(mut self, cap: usize) -> Self {
        self.buffer_cap = cap.max(1);
        self
    }

    /// Turn the `depthUpdate` scanner off (on by default): every frame then takes the serde
    /// path. For differential tests and fuzzing; the outcome must not depend on it.
    pub fn with_fast_path(mut self, on: bool) -> Self {
        self.fast_path = on;
        self
    }

    pub fn market(&self) -> BinanceMarket {
        self.market
    }

    pub fn symbols(&self) -> &SymbolMap {
        &self.symbols
    }

    /// Forget a book's sync state and buffer (call when (re)subscribing or restarting the sync):
    /// its events are buffered again until the next snapshot.
    pub fn reset(&mut self, book: BookRef) {
        self.books.remove(&book);
    }

    /// Events buffered for `book` while it waits for its snapshot.
    pub fn buffered(&self, book: BookRef) -> usize {
        self.books.get(&book).map_or(0, |s| s.buffer.len())
    }

    /// The book's update id if the decoder has it LIVE.
    pub fn update_id(&self, book: BookRef) -> Option<u64> {
        self.books.get(&book).and_then(|s| s.live).map(|l| l.id)
    }

    /// Decode one WebSocket frame, exactly as received, into `market`.
    ///
    /// A `depthUpdate` in Binance's compact spelling takes the scanner (`binance_scan`); any
    /// other frame, and any frame the scanner does not recognise, takes the serde path. Both
    /// end in the same checks, in the same order, so the outcome does not depend on the path.
    pub fn on_frame<M: BookSink>(
        &mut self,
        frame: &[u8],
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        self.trades.clear();
        if self.fast_path {
            let (symbols, deltas) = (&self.symbols, &mut self.scratch.deltas);
            let mut found = None;
            let resolve = |sym: &[u8]| {
                let book = symbols.get(std::str::from_utf8(sym).ok()?).ok()?;
                let scales = market.scales(book).ok()?;
                found = Some((book, scales));
                Some(scales)
            };
            if let Some(head) = scan_depth(frame, resolve, deltas) {
                if let Some((book, _)) = found {
                    let (ids, stamp) = self.depth_checks(&head, recv_ts)?;
                    return self.on_depth_parsed(book, ids, stamp, market);
                }
            }
        }
        self.on_frame_serde(frame, recv_ts, market)
    }

    /// Any frame, through serde: every valid JSON spelling, and the errors of invalid ones.
    #[cold]
    #[inline(never)]
    fn on_frame_serde<M: BookSink>(
        &mut self,
        frame: &[u8],
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let env: Envelope<'_> = serde_json::from_slice(frame)?;
        let (payload, event) = match env.data {
            Some(data) => {
                let h: Header<'_> = serde_json::from_str(data.get())?;
                (data.get().as_bytes(), h.event)
            }
            None => (frame, env.event),
        };
        match event {
            Some("depthUpdate") => self.on_depth(payload, recv_ts, market),
            Some("trade" | "aggTrade") => self.on_trade(payload, recv_ts, market),
            // serverShutdown, tickers and other streams: not book data.
            Some(_) => Ok(Outcome::Control),
            None if env.data.is_none() => match env.error {
                Some(e) => Err(DecodeError::Malformed(format!(
                    "venue error response: {}",
                    e.get().chars().take(200).collect::<String>()
                ))),
                None if env.id => Ok(Outcome::Control),
                None => Err(DecodeError::Malformed("no event type".into())),
            },
            None => Err(DecodeError::Malformed(
                "stream data without event type".into(),
            )),
        }
    }

    /// A depth event through serde.
    fn on_depth<M: BookSink>(
        &mut self,
        payload: &[u8],
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let d: DepthEvent<'_> = serde_json::from_slice(payload)?;
        let book = self.symbols.get(d.s)?;
        let scales = market.scales(book)?;
        let head = DepthHead {
            event_time: d.event_time,
            tx_time: d.tx_time,
            symbol: d.s.as_bytes(),
            first: d.first,
            last: d.u,
            prev: d.pu,
        };
        let (ids, stamp) = self.depth_checks(&head, recv_ts)?;
        // Parse everything before touching the book or the buffer.
        let s = &mut self.scratch;
        s.clear();
        for (p, q) in &d.b {
            s.push_delta(Side::Bid, p, q, scales)?;
        }
        for (p, q) in &d.a {
            s.push_delta(Side::Ask, p, q, scales)?;
        }
        self.on_depth_parsed(book, ids, stamp, market)
    }

    /// A depth event's own checks (`U <= u`, `pu` on futures), after the symbol and scales.
    fn depth_checks(&self, d: &DepthHead<'_>, recv_ts: i64) -> Result<(Ids, Stamp), DecodeError> {
        if d.first > d.last {
            return Err(DecodeError::Malformed(format!(
                "U {} > u {}",
                d.first, d.last
            )));
        }
        let prev = match (self.market, d.prev) {
            (BinanceMarket::UsdM, None) => {
                return Err(DecodeError::Malformed(
                    "futures depthUpdate without pu".into(),
                ))
            }
            (BinanceMarket::UsdM, Some(p)) => Some(p),
            (BinanceMarket::Spot, _) => None,
        };
        let ids = Ids {
            first: d.first,
            last: d.last,
            prev,
        };
        let stamp = Stamp {
            seq: d.last,
            venue_ts: ms_to_ns(d.tx_time.or(d.event_time).unwrap_or(0)),
            recv_ts,
        };
        Ok((ids, stamp))
    }

    /// A depth event whose levels are in the scratch deltas: sequence it, then apply or hold.
    fn on_depth_parsed<M: BookSink>(
        &mut self,
        book: BookRef,
        ids: Ids,
        stamp: Stamp,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let live = self.books.get(&book).and_then(|s| s.live);
        if let Some(at) = live {
            if matches!(market.state(book), Some(BookState::Live | BookState::Stale)) {
                return self.on_live(book, at, ids, stamp, market);
            }
            // Broken or cleared behind our back: restart the sync from step 1.
            self.books.entry(book).or_default().restart();
        }
        self.hold(book, ids, stamp, market)
    }

    /// A depth event for a LIVE book.
    fn on_live<M: BookSink>(
        &mut self,
        book: BookRef,
        at: Live,
        ids: Ids,
        stamp: Stamp,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        match link(self.market, at, ids) {
            Link::Old => Ok(Outcome::Ignored),
            Link::Next => {
                let out = apply_checked(market, book, &self.scratch.deltas, stamp)?;
                let st = self.books.entry(book).or_default();
                if matches!(out, Outcome::Resync { .. }) {
                    st.restart();
                } else {
                    st.live = Some(Live {
                        id: ids.last,
                        chained: true,
                    });
                }
                Ok(out)
            }
            Link::Break(reason) => {
                let st = self.books.entry(book).or_default();
                st.restart();
                if reason == ResyncReason::Gap {
                    // A newer, valid event: the first event of the new sync (step 1).
                    st.buffer.push_back(Held {
                        ids,
                        stamp,
                        deltas: self.scratch.deltas.clone(),
                    });
                }
                break_book(market, book, reason)
            }
        }
    }

    /// Buffer a depth event of a book that waits for its snapshot.
    fn hold<M: BookSink>(
        &mut self,
        book: BookRef,
        ids: Ids,
        stamp: Stamp,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let kind = self.market;
        let cap = self.buffer_cap;
        let st = self.books.entry(book).or_default();
        let mut restart = None;
        if let Some(last) = st.buffer.back() {
            let at = Live {
                id: last.ids.last,
                chained: true,
            };
            match link(kind, at, ids) {
                Link::Next => {}
                Link::Break(ResyncReason::Gap) => restart = Some(ResyncReason::Gap),
                // Not newer than the buffered chain: a repeat or a straggler, the chain stays valid.
                Link::Old | Link::Break(_) => return Ok(Outcome::Ignored),
            }
        }
        if restart.is_none() && st.buffer.len() >= cap {
            restart = Some(ResyncReason::StaleSnapshot);
        }
        if restart.is_some() {
            st.buffer.clear();
        }
        st.buffer.push_back(Held {
            ids,
            stamp,
            deltas: self.scratch.deltas.clone(),
        });
        match restart {
            Some(reason) => break_book(market, book, reason),
            None => Ok(Outcome::Buffered { book }),
        }
    }

    /// Apply the REST depth snapshot `body` (`GET /api/v3/depth` or `GET /fapi/v1/depth`) to
    /// `book` and replay the buffered events (module docs, step 2). A malformed body or a refused
    /// (stale) snapshot changes neither the book nor the buffer.
    pub fn on_snapshot<M: BookSink>(
        &mut self,
        book: BookRef,
        body: &[u8],
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        if !self.symbols.iter().any(|(_, r)| r == book) {
            return Err(DecodeError::UnknownBook(book));
        }
        let scales = market.scales(book)?;
        let snap: SnapshotBody<'_> = serde_json::from_slice(body)?;
        let s = &mut self.scratch;
        s.clear();
        for (p, q) in &snap.bids {
            s.push_level(Side::Bid, p, q, scales)?;
        }
        for (p, q) in &snap.asks {
            s.push_level(Side::Ask, p, q, scales)?;
        }
        let lid = snap.last_update_id;
        let kind = self.market;
        let st = self.books.entry(book).or_default();
        // Spot rule 2: a snapshot older than the first buffered event is fetched again.
        if let Some(first) = st.buffer.front() {
            if lid < first.ids.first {
                return break_book(market, book, ResyncReason::StaleSnapshot);
            }
        }
        // Rule 3: drop what the snapshot already covers; the first remaining event must chain.
        let keep_from = st
            .buffer
            .iter()
            .position(|e| match kind {
                BinanceMarket::Spot => e.ids.last > lid,
                BinanceMarket::UsdM => e.ids.last >= lid,
            })
            .unwrap_or(st.buffer.len());
        if let Some(first) = st.buffer.get(keep_from) {
            let chains = match kind {
                BinanceMarket::Spot => first.ids.first <= lid.saturating_add(1),
                BinanceMarket::UsdM => first.ids.first <= lid,
            };
            if !chains {
                return break_book(market, book, ResyncReason::StaleSnapshot);
            }
        }
        st.buffer.drain(..keep_from);
        let stamp = Stamp {
            seq: lid,
            venue_ts: ms_to_ns(snap.tx_time.or(snap.event_time).unwrap_or(0)),
            recv_ts,
        };
        let out = load_snapshot(market, book, &self.scratch.bids, &self.scratch.asks, stamp)?;
        if !matches!(out, Outcome::Synced { .. }) {
            // Crossed snapshot: stay in step 1; the remaining buffer still chains to a newer one.
            st.live = None;
            return Ok(out);
        }
        let mut at = Live {
            id: lid,
            chained: false,
        };
        while let Some(ev) = st.buffer.pop_front() {
            // The buffer is a verified chain starting at the snapshot; re-checked so that no
            // path can apply across a gap.
            match link(kind, at, ev.ids) {
                Link::Next => {}
                Link::Old => continue,
                Link::Break(reason) => {
                    st.restart();
                    return break_book(market, book, reason);
                }
            }
            let r = apply_checked(market, book, &ev.deltas, ev.stamp)?;
            if matches!(r, Outcome::Resync { .. }) {
                st.restart();
                return Ok(r);
            }
            at = Live {
                id: ev.ids.last,
                chained: true,
            };
        }
        st.live = Some(at);
        Ok(Outcome::Synced { book })
    }

    fn on_trade<M: BookSink>(
        &mut self,
        payload: &[u8],
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let t: TradeEvent<'_> = serde_json::from_slice(payload)?;
        let print = TradeText {
            symbol: t.s,
            price: t.p,
            qty: t.q,
            buyer_aggressor: !t.m,
            venue_ts: ms_to_ns(t.time),
        };
        decode_trades(
            &mut self.trades,
            &self.symbols,
            market,
            recv_ts,
            [Ok(print)],
        )
    }
}

#[cfg(test)]
#[path = "binance_tests.rs"]
mod tests;
