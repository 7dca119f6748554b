//! `arbcore.Feed`: one venue connection's decoder, fed one frame per call from the picows
//! callback. The frame's bytes go to Rust once; the call returns a small int code and the
//! details stay readable through cheap getters, so no Python object is built per level.

use super::consolidated::ConsolidatedBook;
use super::orders::OrderPath;
use super::ConfigError;
use crate::venues::binance::BinanceDecoder;
use crate::venues::bybit::BybitDecoder;
use crate::venues::coinbase::CoinbaseDecoder;
use crate::venues::kraken::KrakenDecoder;
use crate::venues::okx::OkxDecoder;
use crate::venues::{BookRef, BookSink, DecodeError, FeedCounters, Outcome, SymbolMap};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt};

/// Frame outcome codes returned by `Feed.on_frame`.
pub const CONTROL: i32 = 0;
pub const APPLIED: i32 = 1;
pub const APPLIED_TOP: i32 = 2;
pub const SYNCED: i32 = 3;
pub const TRADES: i32 = 4;
pub const BUFFERED: i32 = 5;
pub const IGNORED: i32 = 6;
pub const RESYNC: i32 = 7;
pub const ERROR: i32 = -1;

/// Books owned by Python `ConsolidatedBook` objects, borrowed one instrument at a time.
struct PySink<'a, 'py> {
    py: Python<'py>,
    books: &'a [Py<ConsolidatedBook>],
}

impl BookSink for PySink<'_, '_> {
    fn with<R>(
        &mut self,
        inst: usize,
        f: impl FnOnce(&mut crate::consolidated::Consolidated) -> R,
    ) -> Option<R> {
        let b = self.books.get(inst)?.bind(self.py);
        let mut guard = b.try_borrow_mut().ok()?;
        Some(f(guard.inner_mut()))
    }
}

/// Protocol names accepted by `Feed(protocol, ...)`.
const PROTOCOLS: &str = "bybit, binance_spot, binance_usdm, okx, kraken, coinbase";

enum Decoder {
    Bybit(BybitDecoder),
    Binance(BinanceDecoder),
    Okx(OkxDecoder),
    Kraken(KrakenDecoder),
    Coinbase(CoinbaseDecoder),
}

impl Decoder {
    fn on_frame<M: BookSink>(
        &mut self,
        frame: &[u8],
        recv_ts: i64,
        sink: &mut M,
    ) -> Result<Outcome, DecodeError> {
        match self {
            Decoder::Bybit(d) => d.on_frame(frame, recv_ts, sink),
            Decoder::Binance(d) => d.on_frame(frame, recv_ts, sink),
            Decoder::Okx(d) => d.on_frame(frame, recv_ts, sink),
            Decoder::Kraken(d) => d.on_frame(frame, recv_ts, sink),
            Decoder::Coinbase(d) => d.on_frame(frame, recv_ts, sink),
        }
    }

    /// Take every update as the next (`OkxDecoder::set_replay`); the other protocols keep
    /// their sequence rules (on a scratch feed, which never syncs, they apply nothing).
    fn set_replay(&mut self, on: bool) {
        if let Decoder::Okx(d) = self {
            d.set_replay(on);
        }
    }

    fn reset(&mut self, book: BookRef) {
        match self {
            Decoder::Bybit(d) => d.reset(book),
            Decoder::Binance(d) => d.reset(book),
            Decoder::Okx(d) => d.reset(book),
            Decoder::Kraken(d) => d.reset(book),
            Decoder::Coinbase(d) => d.reset(book),
        }
    }

    /// Checksums verified by decoders that count them (failures are counted from outcomes).
    fn checksum_ok(&self) -> u64 {
        match self {
            Decoder::Okx(d) => d.checksum_ok,
            Decoder::Kraken(d) => d.checksum_ok,
            _ => 0,
        }
    }
}

/// A venue connection's market-data decoder over a set of consolidated books.
#[pyclass(module = "arbcore._core", unsendable)]
pub struct Feed {
    venue: String,
    decoder: Decoder,
    books: Vec<Py<ConsolidatedBook>>,
    counters: FeedCounters,
    last_book: Option<BookRef>,
    last_reason: &'static str,
    last_error: Option<String>,
    last_code: i32,
    taker: Option<FeedTaker>,
    /// A scratch feed's live feed (`Feed.follow`): each frame is replayed on copies of its books.
    replay_of: Option<Py<Feed>>,
}

/// The order path's armed takers on this connection's books (`Feed.attach_taker`).
#[derive(Debug)]
struct FeedTaker {
    path: Py<OrderPath>,
    armed: Vec<Option<usize>>, // per instrument index: its armed taker
    prefix: String,
    dirty: Vec<bool>, // per instrument index: its top changed since the last read's end
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("venue", &self.venue)
            .field("counters", &self.counters)
            .finish()
    }
}

#[pymethods]
impl Feed {
    /// Decode one frame exactly as received (`on_frame`, for a live feed).
    fn decode(&mut self, py: Python<'_>, frame: &[u8], recv_ts: i64) -> i32 {
        let mut sink = PySink {
            py,
            books: &self.books,
        };
        let out = self.decoder.on_frame(frame, recv_ts, &mut sink);
        self.counters.record(frame.len(), &out);
        self.settle(out)
    }

    /// A following scratch feed's frame (`follow`): replayed on copies of the live feed's books;
    /// CONTROL if the live feed is in use (never: one thread, and it is not decoding now).
    fn replay_followed(&mut self, py: Python<'_>, frame: &[u8]) -> i32 {
        let Some(live) = self.replay_of.as_ref().map(|l| l.clone_ref(py)) else {
            return CONTROL;
        };
        let live = live.bind(py).try_borrow();
        match live {
            Ok(live) => self.replay(py, live, frame),
            Err(_) => CONTROL,
        }
    }

    /// `protocol`: one of bybit, binance_spot, binance_usdm, okx, kraken, coinbase. `books`: the
    /// consolidated books this connection feeds, by instrument index. `symbols`: venue symbol ->
    /// (instrument index, venue index). Kraken only: `precisions` maps a symbol to the venue's
    /// (price_precision, qty_precision) used by its checksum, and `depth` is the subscribed depth.
    #[new]
    #[pyo3(signature = (protocol, books, symbols, precisions = None, depth = 10))]
    fn new(
        protocol: &str,
        books: Vec<Py<ConsolidatedBook>>,
        symbols: std::collections::HashMap<String, (usize, usize)>,
        precisions: Option<std::collections::HashMap<String, (u8, u8)>>,
        depth: usize,
    ) -> PyResult<Self> {
        let mut map = SymbolMap::new();
        for (sym, (instrument, venue)) in &symbols {
            let ok = books.get(*instrument).is_some();
            if !ok {
                return Err(ConfigError::new_err(format!(
                    "symbols[{sym:?}]: no book at instrument index {instrument}"
                )));
            }
            map.insert(
                sym,
                BookRef {
                    instrument: *instrument,
                    venue: *venue,
                },
            );
        }
        let mut prec = std::collections::HashMap::new();
        for (sym, p) in precisions.unwrap_or_default() {
            let r = map.get(&sym).map_err(|_| {
                ConfigError::new_err(format!("precisions[{sym:?}]: not in symbols"))
            })?;
            prec.insert(r, p);
        }
        let decoder = match protocol {
            "bybit" => Decoder::Bybit(BybitDecoder::new(map)),
            "binance_spot" => Decoder::Binance(BinanceDecoder::spot(map)),
            "binance_usdm" => Decoder::Binance(BinanceDecoder::usdm(map)),
            "okx" => Decoder::Okx(OkxDecoder::new(map)),
            "kraken" => Decoder::Kraken(KrakenDecoder::new(map, prec, depth)),
            "coinbase" => Decoder::Coinbase(CoinbaseDecoder::new(map)),
            other => {
                return Err(ConfigError::new_err(format!(
                    "protocol {other:?}: expected one of {PROTOCOLS}"
                )))
            }
        };
        Ok(Feed {
            venue: protocol.to_string(),
            decoder,
            books,
            counters: FeedCounters::default(),
            last_book: None,
            last_reason: "",
            last_error: None,
            last_code: CONTROL,
            taker: None,
            replay_of: None,
        })
    }

    /// Decode one frame exactly as received. Returns an outcome code (see `arbcore.feed`).
    /// A scratch feed that follows a live one (`follow`) replays it instead (`replay`).
    fn on_frame(&mut self, py: Python<'_>, frame: &[u8], recv_ts: i64) -> i32 {
        if self.replay_of.is_some() {
            return self.replay_followed(py, frame);
        }
        self.decode(py, frame, recv_ts)
    }

    /// `on_frame`, then at the end of a socket read (`last_in_buffer`), the order path's armed
    /// taker on each book whose top changed during the read (and whose taker is open): if one
    /// starts a ticket, its tuple (`OrderPath.take`'s) instead of the code, which `last_code`
    /// keeps. Why in one call: on the frame that opens a spread the Python between the decode
    /// and the decision ran cold, a few µs on the way to the wire. Its other results (counts,
    /// -1) are dropped: the Python route (`on_read`) takes the book again and sees them.
    fn on_frame_take<'py>(
        &mut self,
        py: Python<'py>,
        frame: &[u8],
        recv_ts: i64,
        last_in_buffer: i64, // (picows's frame.last_in_buffer is an int)
    ) -> Bound<'py, PyAny> {
        if self.replay_of.is_some() {
            // a scratch feed (`follow`): the frame replayed on copies of the live feed's books
            let code = self.replay_followed(py, frame);
            self.last_code = code;
            return PyInt::new(py, code).into_any();
        }
        let code = self.decode(py, frame, recv_ts);
        self.last_code = code;
        let Some(t) = self.taker.as_mut() else {
            return PyInt::new(py, code).into_any();
        };
        if code == APPLIED_TOP || code == SYNCED {
            if let Some(d) = self.last_book.and_then(|b| t.dirty.get_mut(b.instrument)) {
                *d = true;
            }
        }
        if last_in_buffer != 0 {
            for inst in 0..t.dirty.len() {
                if !std::mem::take(&mut t.dirty[inst]) {
                    continue;
                }
                let (Some(a), Some(book)) = (t.armed[inst], self.books.get(inst)) else {
                    continue;
                };
                let Ok(mut path) = t.path.bind(py).try_borrow_mut() else {
                    continue;
                };
                let Ok(book) = book.bind(py).try_borrow_mut() else {
                    continue;
                };
                if !path.taker_open(a) {
                    continue;
                }
                // an error here is a set-up fault (attach_taker checked the indices): the
                // Python route takes the book again and raises it where it is caught
                match path.take_on(py, a, &t.prefix, book, false) {
                    Ok(out) if !out.is_instance_of::<PyInt>() => {
                        t.dirty.iter_mut().for_each(|d| *d = false);
                        return out;
                    }
                    _ => {}
                }
            }
        }
        PyInt::new(py, code).into_any()
    }

    /// Let `on_frame_take` run `path`'s armed takers: `armed` maps each instrument index of
    /// this feed's books to its armed taker (None: none); `prefix` is the ticket ids'.
    fn attach_taker(
        &mut self,
        py: Python<'_>,
        path: Py<OrderPath>,
        armed: Vec<Option<usize>>,
        prefix: String,
    ) -> PyResult<()> {
        if armed.len() != self.books.len() {
            return Err(ConfigError::new_err(format!(
                "armed: {} entries for {} books",
                armed.len(),
                self.books.len()
            )));
        }
        for a in armed.iter().flatten() {
            if !path.bind(py).borrow().has_taker(*a) {
                return Err(PyIndexError::new_err(format!(
                    "armed taker {a} is not registered"
                )));
            }
        }
        let dirty = vec![false; armed.len()];
        self.taker = Some(FeedTaker {
            path,
            armed,
            prefix,
            dirty,
        });
        Ok(())
    }

    /// The code of the last frame (`on_frame_take` returns a ticket instead when it starts one).
    #[getter]
    fn last_code(&self) -> i32 {
        self.last_code
    }

    /// A REST depth snapshot for a book (Binance's sync procedure); returns an outcome code.
    fn on_snapshot(
        &mut self,
        py: Python<'_>,
        instrument: usize,
        venue: usize,
        body: &[u8],
        recv_ts: i64,
    ) -> i32 {
        let book = BookRef { instrument, venue };
        let mut sink = PySink {
            py,
            books: &self.books,
        };
        let out = match &mut self.decoder {
            Decoder::Binance(d) => d.on_snapshot(book, body, recv_ts, &mut sink),
            _ => Err(DecodeError::Malformed(format!(
                "{}: snapshots arrive on the WebSocket",
                self.venue
            ))),
        };
        self.counters.record(body.len(), &out);
        self.settle(out)
    }

    /// A scratch feed's warm-up: copy `live`'s books (by instrument index) over this feed's,
    /// decode `frame` (one `live` applied) taking it as the next update, then forget the
    /// sequences. Why: a scratch feed that only parsed the frame left the apply and the checksum
    /// cold for the frame that opens a spread. OKX applies the frame (its absolute sizes leave
    /// the copy as it was); the other protocols parse it and apply nothing. Never on a live
    /// feed: it loses its books. Returns the frame's code.
    fn replay(&mut self, py: Python<'_>, live: PyRef<'_, Feed>, frame: &[u8]) -> i32 {
        for (mine, theirs) in self.books.iter().zip(&live.books) {
            if mine.is(theirs) {
                continue;
            }
            let (Ok(mut to), Ok(from)) =
                (mine.bind(py).try_borrow_mut(), theirs.bind(py).try_borrow())
            else {
                continue;
            };
            to.inner_mut().clone_from(from.inner());
        }
        self.decoder.set_replay(true);
        let code = self.decode(py, frame, 0);
        self.reset_connection();
        code
    }

    /// Make this a scratch feed of `live` (None: no longer): from now on `on_frame_take` replays
    /// each frame on copies of `live`'s books (`replay`) and never takes. Why: the warm-up
    /// (`FeedClient.warm_decoder`) then runs the same Python frame handler and the same Rust
    /// entry as a live frame, on a twin of the connection; a twin function warms only itself.
    #[pyo3(signature = (live))]
    fn follow(slf: &Bound<'_, Self>, live: Option<Py<Feed>>) -> PyResult<()> {
        if live.as_ref().is_some_and(|l| l.is(slf)) {
            return Err(ConfigError::new_err("a feed cannot follow itself"));
        }
        if let Some(l) = &live {
            let (Ok(l), Ok(me)) = (l.bind(slf.py()).try_borrow(), slf.try_borrow()) else {
                return Err(ConfigError::new_err("follow: a feed is in use"));
            };
            if l.books.len() != me.books.len() {
                return Err(ConfigError::new_err(format!(
                    "follow: {} books here, {} on the live feed",
                    me.books.len(),
                    l.books.len()
                )));
            }
        }
        slf.try_borrow_mut()?.replay_of = live;
        Ok(())
    }

    /// Forget every book's sequence (a new connection; Coinbase's sequence is per connection).
    fn reset_connection(&mut self) {
        if let Decoder::Coinbase(d) = &mut self.decoder {
            d.reset_connection();
        }
        let refs: Vec<BookRef> = match &self.decoder {
            Decoder::Bybit(d) => d.symbols().iter().map(|(_, r)| r).collect(),
            Decoder::Binance(d) => d.symbols().iter().map(|(_, r)| r).collect(),
            Decoder::Okx(d) => d.symbols().iter().map(|(_, r)| r).collect(),
            Decoder::Kraken(d) => d.symbols().iter().map(|(_, r)| r).collect(),
            Decoder::Coinbase(d) => d.symbols().iter().map(|(_, r)| r).collect(),
        };
        for r in refs {
            self.decoder.reset(r);
        }
    }

    /// Forget a book's sequence before resubscribing; its next snapshot resyncs it.
    fn reset(&mut self, instrument: usize, venue: usize) {
        self.decoder.reset(BookRef { instrument, venue });
    }

    /// (instrument, venue) of the book the last frame touched, or None.
    fn last_book(&self) -> Option<(usize, usize)> {
        self.last_book.map(|b| (b.instrument, b.venue))
    }

    /// Why the last frame asked for a resync ("gap", "checksum", ...), or "".
    fn last_reason(&self) -> &'static str {
        self.last_reason
    }

    /// The last decode error, or None.
    fn last_error(&self) -> Option<String> {
        self.last_error.clone()
    }

    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.counters;
        let d = PyDict::new(py);
        for (k, v) in [
            ("frames", c.frames),
            ("bytes", c.bytes),
            ("applied", c.applied),
            ("snapshots", c.snapshots),
            ("decode_errors", c.decode_errors),
            ("gaps", c.gaps),
            ("duplicates", c.duplicates),
            ("out_of_order", c.out_of_order),
            ("checksum_ok", c.checksum_ok + self.decoder.checksum_ok()),
            ("checksum_failed", c.checksum_failed),
            ("crossed", c.crossed),
            ("resyncs", c.resyncs),
            ("trades", c.trades),
            ("ignored", c.ignored),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    #[getter]
    fn venue(&self) -> &str {
        &self.venue
    }
}

impl Feed {
    /// Remember the details of an outcome and turn it into its code.
    fn settle(&mut self, out: Result<Outcome, DecodeError>) -> i32 {
        self.last_error = None;
        match out {
            Err(e) => {
                self.last_error = Some(e.to_string());
                ERROR
            }
            Ok(o) => {
                let (code, book) = match o {
                    Outcome::Control => (CONTROL, None),
                    Outcome::Ignored => (IGNORED, None),
                    Outcome::Applied { book, top_changed } => {
                        (if top_changed { APPLIED_TOP } else { APPLIED }, Some(book))
                    }
                    Outcome::Synced { book } => (SYNCED, Some(book)),
                    Outcome::Trades { book, .. } => (TRADES, Some(book)),
                    Outcome::Buffered { book } => (BUFFERED, Some(book)),
                    Outcome::Resync { book, reason } => {
                        self.last_reason = reason.name();
                        (RESYNC, Some(book))
                    }
                };
                self.last_book = book;
                code
            }
        }
    }
}
