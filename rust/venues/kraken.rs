//! Kraken Spot WebSocket v2 (`wss://ws.kraken.com/v2`): `book` (L2) and `trade` channels.
//!
//! Rules (docs: "Book (Level 2)" and the "Book checksum (WebSocket v2)" guide, see
//! `shared/docs/venue-protocols.md` §4):
//! - v2 has **no sequence numbers**: the CRC32 `checksum`, sent on snapshots *and* updates, is the
//!   only integrity check. Confirmed with the docs search: the Spot WebSocket overview lists
//!   "Book checksum: v1 updates only, v2 snapshot + updates", and the v2 guide says the checksum
//!   covers the top 10 levels regardless of the subscribed depth.
//! - Every level of a message is applied before checking; `qty` 0 deletes a level.
//! - After each message the book is truncated to the subscribed depth (confirmed in the v2 guide:
//!   no `qty: 0` is sent for levels that fall out of scope). Depth is one of 10 (default), 25,
//!   100, 500, 1000; it is configured per decoder and may be overridden per book
//!   ([`KrakenDecoder::set_depth`]) to match what was subscribed.
//! - Checksum: top 10 asks low→high, then top 10 bids high→low; each level contributes its price
//!   text then its qty text, each with `.` removed and leading zeros stripped; CRC-32 (IEEE) of
//!   the concatenation, compared as `u32`. Mismatch → the book is BROKEN
//!   ([`ResyncReason::Checksum`]); resync = unsubscribe/resubscribe for a new snapshot ([K]:
//!   the docs say to resubscribe or reconnect; not re-confirmed here). A snapshot whose checksum
//!   matches makes the book LIVE; updates on a BROKEN or not yet synced book are
//!   [`Outcome::Ignored`].
//!
//! # Wire numbers and the checksum digits
//! Prices and quantities are JSON **numbers** printed with the pair's full precision
//! (`0.10000000`). They are taken as raw JSON text ([`RawValue`]) and parsed exactly
//! (exponents accepted); a quoted string is refused as a wrong type. The book stores integers at
//! the *instrument's* scales, so the checksum text is rebuilt from the integers at the *venue's*
//! precision for the pair: digits = `raw / 10^(instrument_decimals - venue_precision)` (or
//! `raw * 10^(venue_precision - instrument_decimals)`) printed as an integer, which is exactly
//! "remove `.` and strip leading zeros" of a text with `venue_precision` decimals. The venue
//! precisions come from the v2 `instrument` channel (`price_precision`, `qty_precision`;
//! confirmed in the docs) or REST `AssetPairs` (`pair_decimals`, `lot_decimals`) and are passed
//! to [`KrakenDecoder::new`] per book. A book without a configured precision uses the
//! instrument's own scales.
//!
//! # What the docs search confirmed ([K] items of the protocol notes)
//! Confirmed: the v2 book envelope (`channel`, `type` snapshot/update, `data[]` with `symbol`,
//! `bids`, `asks`, integer `checksum`, RFC 3339 `timestamp`), depth values 10/25/100/500/1000
//! with 10 the default, checksum on snapshots and updates, truncation after each update, and the
//! `instrument` channel's `price_precision`/`qty_precision`. Not confirmed (taken from the
//! protocol notes as they stand): the `trade` entry fields (`side`, `price`, `qty`,
//! `timestamp`), the `heartbeat`/`status`/`pong` shapes, and resubscribing as the resync.
//!
//! # Frames
//! One book entry per `book` frame (`data` must hold exactly one element, as every documented
//! example does); a frame is validated completely before any book changes. Trades (`trade`
//! channel, snapshot or update; `side` is the taker side) go to [`KrakenDecoder::trades`].
//! `heartbeat`, `status`, other channels, method responses
//! (`{"method":"subscribe","success":true,...}`, errors with `"success":false`) and `pong`
//! (`{"method":"pong",...}`) are [`Outcome::Control`].
//!
//! # Counters
//! [`FeedCounters`](super::FeedCounters) counts checksum failures from
//! `Outcome::Resync { reason: Checksum }`; checksum *matches* are not an outcome, so the decoder
//! keeps [`KrakenDecoder::checksum_ok`] (and [`KrakenDecoder::checksum_failed`] as a
//! cross-check) and the feed adds `checksum_ok` into its counters.

use super::time::parse_rfc3339_ns;
use super::trades::{buyer_aggressor, decode_trades, TradeText};
use super::{
    apply_checked, break_book, load_snapshot, BookRef, BookSink, DecodeError, Outcome,
    ResyncReason, Scratch, SymbolMap, Trade,
};
use crate::book::{BookState, Level, Side, Stamp};
use crate::fixed::pow10_u128;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// Book depth subscribed by default (Kraken's default).
pub const DEFAULT_DEPTH: usize = 10;

/// Levels per side covered by the checksum.
pub const CHECKSUM_LEVELS: usize = 10;

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow, default)]
    channel: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a str>,
}

#[derive(Deserialize)]
struct RawLevel<'a> {
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(borrow)]
    qty: &'a RawValue,
}

#[derive(Deserialize)]
struct BookData<'a> {
    #[serde(borrow)]
    symbol: &'a str,
    #[serde(borrow, default)]
    bids: Vec<RawLevel<'a>>,
    #[serde(borrow, default)]
    asks: Vec<RawLevel<'a>>,
    checksum: u32,
    #[serde(borrow, default)]
    timestamp: Option<&'a str>,
}

#[derive(Deserialize)]
struct TradeData<'a> {
    #[serde(borrow)]
    symbol: &'a str,
    #[serde(borrow)]
    side: &'a str,
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(borrow)]
    qty: &'a RawValue,
    #[serde(borrow)]
    timestamp: &'a str,
}

/// Per-book sync state.
#[derive(Debug, Clone, Copy, Default)]
struct BookSync {
    /// A snapshot with a matching checksum arrived and nothing has broken since.
    synced: bool,
    /// Messages applied since the snapshot (v2 has no sequence; this is the stamp's `seq`).
    msgs: u64,
}

/// Decoder for one Kraken v2 connection (any number of symbols).
#[derive(Debug)]
pub struct KrakenDecoder {
    symbols: SymbolMap,
    /// Venue (price_precision, qty_precision) per book, for the checksum digits.
    precisions: HashMap<BookRef, (u8, u8)>,
    depth: usize,
    depths: HashMap<BookRef, usize>,
    state: HashMap<BookRef, BookSync>,
    scratch: Scratch,
    /// Trades decoded by the last frame.
    pub trades: Vec<Trade>,
    /// Checksums that matched (snapshots and updates). The feed adds this to
    /// `FeedCounters::checksum_ok`.
    pub checksum_ok: u64,
    /// Checksums that did not match (each also returned `Resync { reason: Checksum }`, which
    /// `FeedCounters::record` already counts; kept here as a cross-check).
    pub checksum_failed: u64,
}

impl KrakenDecoder {
    /// `precisions`: the venue's (price_precision, qty_precision) per book, from the v2
    /// `instrument` channel or REST `AssetPairs` (`pair_decimals`, `lot_decimals`).
    /// `depth`: the subscribed book depth (0 means the default, 10).
    pub fn new(symbols: SymbolMap, precisions: HashMap<BookRef, (u8, u8)>, depth: usize) -> Self {
        KrakenDecoder {
            symbols,
            precisions,
            depth: if depth == 0 { DEFAULT_DEPTH } else { depth },
            depths: HashMap::new(),
            state: HashMap::new(),
            scratch: Scratch::default(),
            trades: Vec::new(),
            checksum_ok: 0,
            checksum_failed: 0,
        }
    }

    pub fn symbols(&self) -> &SymbolMap {
        &self.symbols
    }

    /// The depth subscribed for one book, if it differs from the decoder's (0 = default).
    pub fn set_depth(&mut self, book: BookRef, depth: usize) {
        self.depths
            .insert(book, if depth == 0 { DEFAULT_DEPTH } else { depth });
    }

    /// Depth the book is truncated to after each message.
    pub fn depth(&self, book: BookRef) -> usize {
        self.depths.get(&book).copied().unwrap_or(self.depth)
    }

    /// Set or replace a book's venue precisions (e.g. after an `instrument` update).
    pub fn set_precision(&mut self, book: BookRef, price_precision: u8, qty_precision: u8) {
        self.precisions
            .insert(book, (price_precision, qty_precision));
    }

    /// Forget a book's sync (call when resubscribing); the next snapshot resyncs it.
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
        let Some(channel) = f.channel else {
            // {"method":"subscribe","success":true,...}, {"method":"pong",...}
            return if f.method.is_some() {
                Ok(Outcome::Control)
            } else {
                Err(DecodeError::Malformed("no channel or method".into()))
            };
        };
        match channel {
            "book" => {
                let data = f
                    .data
                    .ok_or_else(|| DecodeError::Malformed("no data".into()))?;
                self.on_book(f.kind, data, recv_ts, market)
            }
            "trade" => {
                let data = f
                    .data
                    .ok_or_else(|| DecodeError::Malformed("no data".into()))?;
                self.on_trades(data, recv_ts, market)
            }
            // heartbeat, status, instrument, ticker, ...
            _ => Ok(Outcome::Control),
        }
    }

    fn on_book<M: BookSink>(
        &mut self,
        kind: Option<&str>,
        data: &RawValue,
        recv_ts: i64,
        market: &mut M,
    ) -> Result<Outcome, DecodeError> {
        let [d]: [BookData<'_>; 1] = serde_json::from_str(data.get())?;
        let book = self.symbols.get(d.symbol)?;
        let scales = market.scales(book)?;
        let is_snapshot = match kind {
            Some("snapshot") => true,
            Some("update") => false,
            _ => return Err(DecodeError::Malformed(format!("book type {kind:?}"))),
        };
        let venue_ts = match d.timestamp {
            Some(t) => parse_rfc3339_ns(t)?,
            None => 0,
        };
        let depth = self.depth(book);
        let precision = self.precisions.get(&book).copied().unwrap_or(scales);
        // Parse everything before touching the book.
        let s = &mut self.scratch;
        s.clear();
        if is_snapshot {
            for l in &d.bids {
                s.push_level(Side::Bid, num(l.price)?, num(l.qty)?, scales)?;
            }
            for l in &d.asks {
                s.push_level(Side::Ask, num(l.price)?, num(l.qty)?, scales)?;
            }
        } else {
            for l in &d.bids {
                s.push_delta(Side::Bid, num(l.price)?, num(l.qty)?, scales)?;
            }
            for l in &d.asks {
                s.push_delta(Side::Ask, num(l.price)?, num(l.qty)?, scales)?;
            }
        }

        if is_snapshot {
            let stamp = Stamp {
                seq: 0,
                venue_ts,
                recv_ts,
            };
            let out = load_snapshot(market, book, &s.bids, &s.asks, stamp)?;
            let st = self.state.entry(book).or_default();
            *st = BookSync::default();
            if !matches!(out, Outcome::Synced { .. }) {
                return Ok(out);
            }
            market.truncate(book, depth)?;
            return self.verify(market, book, scales, precision, d.checksum, out);
        }

        let st = self.state.entry(book).or_default();
        if !st.synced || !matches!(market.state(book), Some(BookState::Live | BookState::Stale)) {
            // Waiting for the snapshot after (re)subscribing, or BROKEN: nothing to apply to.
            return Ok(Outcome::Ignored);
        }
        st.msgs += 1;
        let stamp = Stamp {
            seq: st.msgs,
            venue_ts,
            recv_ts,
        };
        let out = apply_checked(market, book, &self.scratch.deltas, stamp)?;
        if matches!(out, Outcome::Resync { .. }) {
            self.state.remove(&book);
            return Ok(out);
        }
        market.truncate(book, depth)?;
        self.verify(market, book, scales, precision, d.checksum, out)
    }

    /// Compare the book's checksum with the venue's; `out` is returned on a match.
    fn verify<M: BookSink>(
        &mut self,
        market: &mut M,
        book: BookRef,
        scales: (u8, u8),
        precision: (u8, u8),
        expected: u32,
        out: Outcome,
    ) -> Result<Outcome, DecodeError> {
        let computed = market
            .read_book(book, |b| {
                book_checksum(b.asks().iter(), b.bids().iter(), scales, precision)
            })
            .ok_or(DecodeError::UnknownBook(book))?;
        if computed == Some(expected) {
            self.checksum_ok += 1;
            if matches!(out, Outcome::Synced { .. }) {
                self.state.entry(book).or_default().synced = true;
            }
            Ok(out)
        } else {
            self.checksum_failed += 1;
            self.state.remove(&book);
            break_book(market, book, ResyncReason::Checksum)
        }
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
                symbol: t.symbol,
                buyer_aggressor: buyer_aggressor(t.side, "buy", "sell")?,
                venue_ts: parse_rfc3339_ns(t.timestamp)?,
                price: num(t.price)?,
                qty: num(t.qty)?,
            })
        });
        decode_trades(&mut self.trades, &self.symbols, market, recv_ts, prints)
    }
}

/// The exact text of a JSON number; a string (or anything else) is a wrong type.
fn num(v: &RawValue) -> Result<&str, DecodeError> {
    let t = v.get();
    match t.as_bytes().first() {
        // '-' is let through so the parser reports it as a negative value
        Some(b'0'..=b'9' | b'-') => Ok(t),
        _ => Err(DecodeError::Malformed(format!(
            "expected a JSON number, got {}",
            t.chars().take(40).collect::<String>()
        ))),
    }
}

/// Kraken's book checksum over levels held as integers.
///
/// `asks` must iterate low→high and `bids` high→low (best first, as
/// [`Ladder::iter`](crate::book::Ladder::iter) does); the first [`CHECKSUM_LEVELS`] of each are
/// used. `scales` are the instrument's (price, qty) decimals of the raws, `precision` the
/// venue's (price_precision, qty_precision). `None` if a level cannot be written at the venue's
/// precision (finer than the venue's precision, or a precision above 38 decimals): such a book
/// cannot match any checksum the venue sends.
pub fn book_checksum(
    asks: impl IntoIterator<Item = Level>,
    bids: impl IntoIterator<Item = Level>,
    scales: (u8, u8),
    precision: (u8, u8),
) -> Option<u32> {
    // the text is written whole and hashed in one call: 40 small CRC updates per frame cost
    // more than the digits themselves
    let mut text = Vec::with_capacity(CHECKSUM_LEVELS * 2 * 2 * 20);
    for l in asks.into_iter().take(CHECKSUM_LEVELS) {
        write_level(&mut text, l, scales, precision)?;
    }
    for l in bids.into_iter().take(CHECKSUM_LEVELS) {
        write_level(&mut text, l, scales, precision)?;
    }
    Some(crc32fast::hash(&text))
}

#[inline]
fn write_level(text: &mut Vec<u8>, l: Level, scales: (u8, u8), precision: (u8, u8)) -> Option<()> {
    write_digits(text, venue_digits(l.price, scales.0, precision.0)?);
    write_digits(text, venue_digits(l.qty, scales.1, precision.1)?);
    Some(())
}

/// `raw / 10^instrument` as an integer count of `10^-venue` units, if exact.
#[inline]
fn venue_digits(raw: u64, instrument: u8, venue: u8) -> Option<u128> {
    let raw = u128::from(raw);
    if venue >= instrument {
        raw.checked_mul(pow10_u128(u32::from(venue - instrument))?)
    } else {
        let p = pow10_u128(u32::from(instrument - venue))?;
        (raw % p == 0).then_some(raw / p)
    }
}

/// Append `v`'s decimal digits with no leading zeros (0 contributes nothing, as "0.000" →
/// "0000" → "" does). Most values fit a u64, whose formatting is the cheaper one.
#[inline]
fn write_digits(text: &mut Vec<u8>, v: u128) {
    if v == 0 {
        return;
    }
    let mut buf = itoa::Buffer::new();
    let digits = match u64::try_from(v) {
        Ok(small) => buf.format(small),
        Err(_) => buf.format(v),
    };
    text.extend_from_slice(digits.as_bytes());
}

#[cfg(test)]
#[path = "kraken_tests.rs"]
mod tests;
