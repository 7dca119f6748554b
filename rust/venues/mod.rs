//! Venue market-data protocols, one file per protocol, decoding each frame's bytes exactly as
//! received into the books of a [`Market`].
//!
//! Every decoder follows the same contract:
//! - a frame is parsed and validated **completely** (JSON, numbers, symbol, sequence) into a
//!   scratch buffer before any book is touched, so a malformed frame never half-applies;
//! - the venue's documented sequencing rules are enforced; a gap, duplicate, out-of-order
//!   message, checksum mismatch or crossed book marks the book BROKEN at once (so detection
//!   drops it) and the outcome asks the I/O layer for the venue's documented resync;
//! - the book returns to LIVE only through a snapshot that provably re-synchronises it;
//! - errors are values ([`DecodeError`]) counted in [`FeedCounters`]; nothing panics on input.
//!
//! Symbols map to books only through the configured [`SymbolMap`], never by string guessing.

pub mod binance;
mod binance_scan;
pub mod bybit;
pub mod coinbase;
pub mod harness;
mod jscan;
pub mod kraken;
pub mod okx;
mod okx_scan;
mod scratch;
pub mod time;
mod trades;

pub use scratch::Scratch;

use crate::book::{BookState, Change, Delta, Level, Stamp};
use crate::consolidated::Consolidated;
use crate::fixed::FixedError;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

/// A venue's book: instrument index and venue index within that instrument's consolidated book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BookRef {
    pub instrument: usize,
    pub venue: usize,
}

/// Where decoders put what they decode: the consolidated books of every instrument.
///
/// A trait rather than a struct so the same decoders run on plain Rust books ([`Market`]) and on
/// books owned by Python objects (the bindings borrow only the instrument a frame touches).
pub trait BookSink {
    /// Run `f` on instrument `inst`'s consolidated book; `None` if there is no such instrument.
    fn with<R>(&mut self, inst: usize, f: impl FnOnce(&mut Consolidated) -> R) -> Option<R>;

    /// Price and quantity decimals of the instrument a book belongs to.
    fn scales(&mut self, r: BookRef) -> Result<(u8, u8), DecodeError> {
        self.with(r.instrument, |c| {
            (r.venue < c.venue_count())
                .then(|| (c.instrument().price_decimals, c.instrument().qty_decimals))
        })
        .flatten()
        .ok_or(DecodeError::UnknownBook(r))
    }

    fn state(&mut self, r: BookRef) -> Option<BookState> {
        self.with(r.instrument, |c| c.book(r.venue).map(|b| b.state()))
            .flatten()
    }

    fn set_state(&mut self, r: BookRef, s: BookState) -> Result<(), DecodeError> {
        self.with(r.instrument, |c| c.set_state(r.venue, s))
            .flatten()
            .ok_or(DecodeError::UnknownBook(r))
    }

    fn apply_snapshot(
        &mut self,
        r: BookRef,
        bids: &[Level],
        asks: &[Level],
        stamp: Stamp,
    ) -> Result<Change, DecodeError> {
        self.with(r.instrument, |c| {
            c.apply_snapshot(r.venue, bids, asks, stamp)
        })
        .flatten()
        .ok_or(DecodeError::UnknownBook(r))
    }

    fn apply_deltas(
        &mut self,
        r: BookRef,
        deltas: &[Delta],
        stamp: Stamp,
    ) -> Result<Change, DecodeError> {
        self.with(r.instrument, |c| {
            c.apply_deltas(r.venue, deltas, Some(stamp))
        })
        .flatten()
        .ok_or(DecodeError::UnknownBook(r))
    }

    /// Keep only the best `depth` levels per side (venues such as Kraken send no deletes for
    /// levels that fall out of the subscribed depth).
    fn truncate(&mut self, r: BookRef, depth: usize) -> Result<(), DecodeError> {
        self.with(r.instrument, |c| c.truncate(r.venue, depth))
            .flatten()
            .ok_or(DecodeError::UnknownBook(r))
    }

    /// Run `f` on one venue's book, read-only (checksums over the top levels).
    fn read_book<R>(&mut self, r: BookRef, f: impl FnOnce(&crate::book::Book) -> R) -> Option<R> {
        self.with(r.instrument, |c| c.book(r.venue).map(f))
            .flatten()
    }
}

/// All canonical instruments' consolidated books, in plain Rust.
#[derive(Debug, Default)]
pub struct Market {
    pub instruments: Vec<Consolidated>,
}

impl Market {
    pub fn new() -> Self {
        Market::default()
    }

    pub fn book(&self, r: BookRef) -> Option<&crate::book::Book> {
        self.instruments.get(r.instrument)?.book(r.venue)
    }
}

impl BookSink for Market {
    fn with<R>(&mut self, inst: usize, f: impl FnOnce(&mut Consolidated) -> R) -> Option<R> {
        self.instruments.get_mut(inst).map(f)
    }
}

/// Hasher for [`BookRef`] keys (per-frame lookups of a decoder's sync state). The keys are
/// small integers from configuration, never venue input, so SipHash's resistance to chosen
/// keys buys nothing there and costs a few hundred instructions per frame.
#[derive(Debug, Default, Clone, Copy)]
pub struct RefHasher(u64);

impl RefHasher {
    #[inline]
    fn mix(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for RefHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

/// A map keyed by [`BookRef`] with [`RefHasher`].
pub type RefMap<V> = HashMap<BookRef, V, std::hash::BuildHasherDefault<RefHasher>>;

/// Up to this many symbols, lookups scan a vector (a connection usually carries a few).
const SMALL_SYMBOLS: usize = 8;

/// Configured venue symbol -> book. Built from configuration; unknown symbols are an error.
#[derive(Debug, Clone, Default)]
pub struct SymbolMap {
    map: HashMap<String, BookRef>,
    /// The same entries while there are at most [`SMALL_SYMBOLS`]: comparing a few short
    /// strings is cheaper than hashing the frame's symbol.
    small: Vec<(Box<[u8]>, BookRef)>,
}

impl SymbolMap {
    pub fn new() -> Self {
        SymbolMap::default()
    }

    pub fn insert(&mut self, symbol: &str, r: BookRef) {
        self.map.insert(symbol.to_string(), r);
        self.small = if self.map.len() <= SMALL_SYMBOLS {
            self.map
                .iter()
                .map(|(k, v)| (k.as_bytes().into(), *v))
                .collect()
        } else {
            Vec::new()
        };
    }

    pub fn get(&self, symbol: &str) -> Result<BookRef, DecodeError> {
        let found = if self.map.len() <= SMALL_SYMBOLS {
            self.small
                .iter()
                .find(|(k, _)| **k == *symbol.as_bytes())
                .map(|(_, v)| *v)
        } else {
            self.map.get(symbol).copied()
        };
        found.ok_or_else(|| DecodeError::UnknownSymbol(symbol.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, BookRef)> {
        self.map.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Why a frame was refused. The frame changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not valid JSON, or not the shape the venue documents.
    Malformed(String),
    /// A price or quantity that is not an exact decimal at the instrument's scale.
    Number {
        field: &'static str,
        text: String,
        error: FixedError,
    },
    /// A symbol that the configuration does not map to a book.
    UnknownSymbol(String),
    /// A book reference outside the market (configuration bug).
    UnknownBook(BookRef),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed(m) => write!(f, "malformed frame: {m}"),
            DecodeError::Number { field, text, error } => write!(f, "{field} {text:?}: {error}"),
            DecodeError::UnknownSymbol(s) => write!(f, "unknown symbol {s:?}"),
            DecodeError::UnknownBook(r) => write!(
                f,
                "no book for instrument {} venue {}",
                r.instrument, r.venue
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        DecodeError::Malformed(e.to_string())
    }
}

/// Why a book must be resynchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResyncReason {
    /// A sequence number was skipped.
    Gap,
    /// The same message (sequence) arrived twice where the venue forbids it.
    Duplicate,
    /// A sequence number went backwards.
    OutOfOrder,
    /// The venue's checksum disagrees with the book.
    Checksum,
    /// The book crossed after a message.
    Crossed,
    /// A book frame failed to decode; its effect on the book is unknown.
    Malformed,
    /// A snapshot could not be chained to the buffered stream (stale snapshot).
    StaleSnapshot,
}

impl ResyncReason {
    pub fn name(self) -> &'static str {
        match self {
            ResyncReason::Gap => "gap",
            ResyncReason::Duplicate => "duplicate",
            ResyncReason::OutOfOrder => "out_of_order",
            ResyncReason::Checksum => "checksum",
            ResyncReason::Crossed => "crossed",
            ResyncReason::Malformed => "malformed",
            ResyncReason::StaleSnapshot => "stale_snapshot",
        }
    }
}

/// What one frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not book data: subscription ack, heartbeat, pong, status.
    Control,
    /// A book message was applied; `top_changed` says whether detection must re-run.
    Applied { book: BookRef, top_changed: bool },
    /// A snapshot was applied and the book is LIVE.
    Synced { book: BookRef },
    /// Trades decoded (see the feed's trade buffer).
    Trades { book: BookRef, count: usize },
    /// Held until the snapshot arrives (the venue's sync procedure).
    Buffered { book: BookRef },
    /// Dropped as the venue's rules say (already covered by the snapshot, keep-alive).
    Ignored,
    /// The book is BROKEN; the I/O layer must run the venue's resync for it.
    Resync { book: BookRef, reason: ResyncReason },
}

/// Per-venue counters, reported by the feed clients and `arbcore replay`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounters {
    pub frames: u64,
    pub bytes: u64,
    pub applied: u64,
    pub snapshots: u64,
    pub decode_errors: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub checksum_ok: u64,
    pub checksum_failed: u64,
    pub crossed: u64,
    pub resyncs: u64,
    pub trades: u64,
    pub ignored: u64,
}

impl FeedCounters {
    /// Count one frame's outcome.
    pub fn record(&mut self, len: usize, r: &Result<Outcome, DecodeError>) {
        self.frames += 1;
        self.bytes += len as u64;
        match r {
            Err(_) => self.decode_errors += 1,
            Ok(Outcome::Applied { .. }) => self.applied += 1,
            Ok(Outcome::Synced { .. }) => self.snapshots += 1,
            Ok(Outcome::Trades { count, .. }) => self.trades += *count as u64,
            Ok(Outcome::Ignored) => self.ignored += 1,
            Ok(Outcome::Resync { reason, .. }) => {
                self.resyncs += 1;
                match reason {
                    ResyncReason::Gap => self.gaps += 1,
                    ResyncReason::Duplicate => self.duplicates += 1,
                    ResyncReason::OutOfOrder => self.out_of_order += 1,
                    ResyncReason::Checksum => self.checksum_failed += 1,
                    ResyncReason::Crossed => self.crossed += 1,
                    ResyncReason::Malformed | ResyncReason::StaleSnapshot => {}
                }
            }
            Ok(Outcome::Control | Outcome::Buffered { .. }) => {}
        }
    }
}

/// A trade print, exact integers at the instrument's scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    pub book: BookRef,
    pub price: u64,
    pub qty: u64,
    /// true if the aggressor bought (taker side buy).
    pub buyer_aggressor: bool,
    pub venue_ts: i64,
    pub recv_ts: i64,
}

/// Apply a parsed message and turn a crossed result into a resync.
pub(crate) fn apply_checked<M: BookSink>(
    market: &mut M,
    book: BookRef,
    deltas: &[Delta],
    stamp: Stamp,
) -> Result<Outcome, DecodeError> {
    let change = market.apply_deltas(book, deltas, stamp)?;
    if market.state(book) == Some(BookState::Broken) {
        return Ok(Outcome::Resync {
            book,
            reason: ResyncReason::Crossed,
        });
    }
    Ok(Outcome::Applied {
        book,
        top_changed: change.top_changed(),
    })
}

/// Load a snapshot and report Synced, or Resync(Crossed) if the snapshot itself is crossed.
pub(crate) fn load_snapshot<M: BookSink>(
    market: &mut M,
    book: BookRef,
    bids: &[Level],
    asks: &[Level],
    stamp: Stamp,
) -> Result<Outcome, DecodeError> {
    market.apply_snapshot(book, bids, asks, stamp)?;
    if market.state(book) == Some(BookState::Broken) {
        return Ok(Outcome::Resync {
            book,
            reason: ResyncReason::Crossed,
        });
    }
    Ok(Outcome::Synced { book })
}

/// Mark a book BROKEN and ask for a resync.
pub(crate) fn break_book<M: BookSink>(
    market: &mut M,
    book: BookRef,
    reason: ResyncReason,
) -> Result<Outcome, DecodeError> {
    market.set_state(book, BookState::Broken)?;
    Ok(Outcome::Resync { book, reason })
}

/// Why sequence number `seq` cannot follow `last`, once the venue's own continuity rule has
/// refused it: the same number again is a `Duplicate`, a lower one `OutOfOrder`, a higher one a
/// `Gap`.
pub(crate) fn fault_reason<T: Ord>(seq: T, last: T) -> ResyncReason {
    match seq.cmp(&last) {
        Ordering::Equal => ResyncReason::Duplicate,
        Ordering::Less => ResyncReason::OutOfOrder,
        Ordering::Greater => ResyncReason::Gap,
    }
}

/// Milliseconds since the epoch -> integer nanoseconds (saturating).
#[inline]
pub(crate) fn ms_to_ns(ms: i64) -> i64 {
    ms.saturating_mul(1_000_000)
}

#[cfg(test)]
pub(crate) mod testutil;
