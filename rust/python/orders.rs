//! `OrderPath`: the ticket's order path (`crate::orders`) for Python. Translation only: the
//! checks, encoders and record live in the core module; the built-in taker's take on a book is
//! in `take.rs`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::consolidated::ConsolidatedBook;
use super::log_tail::LogTail;
use super::take::Armed;
use super::wire::Wires;
use crate::book::BookState;
use crate::consolidated::Consolidated;
use crate::orders::client_id::ClientIds;
use crate::orders::encode::{BinanceEncoder, Encoder, OkxEncoder, OrderSpec};
use crate::orders::gate::{AssetSpec, Gate, Leg, MarketSpec, Refusal, Reservation};
use crate::orders::record::{detail_json, frame_record, push_ticket_record, RecordLeg, SecretSet};
use crate::orders::taker::{next_ticket_seq, TakerRule};

/// Validation, risk, funds, both signed frames and the intent record of a two-leg ticket in one
/// call. The Python side mirrors its ledger and risk state in with the `set_*` methods.
#[pyclass(module = "arbcore._core")]
#[derive(Debug, Default)]
pub struct OrderPath {
    pub(super) gate: Gate,
    pub(super) encoders: Vec<Option<Encoder>>, // per venue
    pub(super) book_venue: Vec<usize>, // per market: its venue's index in the instrument's book
    pub(super) armed: Vec<Armed>,      // instruments the built-in taker decides here
    secrets: SecretSet,                // the journal's: a record holding one is never built
    pub(super) wires: Wires,           // per market: its armed order socket (`arm_wire`)
    client_ids: ClientIds, // the last ticket's legs' ids (a dry run's, for the next take)
}

pub(super) fn idx<T>(v: &[T], i: usize, what: &str) -> PyResult<()> {
    if i < v.len() {
        Ok(())
    } else {
        Err(PyIndexError::new_err(format!(
            "{what} {i} is not registered"
        )))
    }
}

fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl OrderPath {
    pub(super) fn legs(
        &self,
        book: &Consolidated,
        buy: usize,
        sell: usize,
        qty: u64,
        buy_limit: u64,
        sell_limit: u64,
    ) -> PyResult<[Leg; 2]> {
        idx(&self.gate.markets, buy, "market")?;
        idx(&self.gate.markets, sell, "market")?;
        let leg = |market: usize, is_buy: bool, price: u64| {
            let b = book.book(self.book_venue[market]);
            Leg {
                market,
                buy: is_buy,
                qty,
                price,
                book_live: b.is_some_and(|b| b.state() == BookState::Live),
                book_recv_ns: b.map_or(0, |b| b.stamp().recv_ts),
            }
        };
        Ok([leg(buy, true, buy_limit), leg(sell, false, sell_limit)])
    }

    /// The reservations of both legs if both venues encode and every check passes.
    pub(super) fn accepts(&self, legs: &[Leg; 2]) -> Option<Vec<Reservation>> {
        let g = &self.gate;
        let (mb, ms) = (&g.markets[legs[0].market], &g.markets[legs[1].market]);
        if !(self.encodes(mb.venue) && self.encodes(ms.venue)) {
            return None;
        }
        g.check(legs, wall_ns(), Instant::now()).ok()
    }

    /// The intent record (framed for the intent log) and both frames of an accepted ticket;
    /// None when a venue has no encoder or the record would hold a registered secret.
    pub(super) fn build(
        &mut self,
        ticket_id: &str,
        legs: &[Leg; 2],
        res: &[Reservation],
        reason: &str,
    ) -> Option<Built> {
        let g = &self.gate;
        let (rb, rs) = (res.first()?, res.get(1)?);
        let [lb, ls] = legs;
        let (mb, ms) = (&g.markets[lb.market], &g.markets[ls.market]);
        let qty = lb.qty;
        let asset = |i: usize| &g.assets[i];
        let record_leg = |leg_id, l: &Leg, r: &Reservation| {
            let m = &g.markets[l.market];
            RecordLeg {
                leg_id,
                venue: &g.venues[m.venue],
                market: m,
                base: asset(m.base),
                quote: asset(m.quote),
                buy: l.buy,
                qty,
                price: l.price,
                reserve_asset: asset(r.asset),
                reserve_amount: r.amount,
            }
        };
        let record_legs = [record_leg("buy", lb, rb), record_leg("sell", ls, rs)];
        let mut record = Vec::with_capacity(1024);
        let detail = detail_json(qty, lb.price, ls.price, reason);
        push_ticket_record(
            &mut record,
            ticket_id,
            &mb.instrument,
            &g.venues[mb.venue],
            &g.venues[ms.venue],
            &detail,
            &record_legs,
        );
        if self.secrets.found_in(&record) {
            return None; // the Python path refuses it, loudly (SecretInJournalError)
        }
        let record = frame_record(&record)?;
        let now_ms = (wall_ns() / 1_000_000) as u64;
        let mut frames: [Vec<u8>; 2] = [Vec::with_capacity(512), Vec::with_capacity(512)];
        let mut rids: [String; 2] = Default::default();
        for (k, (l, leg_id)) in [(lb, "buy"), (ls, "sell")].into_iter().enumerate() {
            let m = &self.gate.markets[l.market];
            let enc = self.encoders[m.venue].as_mut()?;
            let cid = self
                .client_ids
                .first_attempt(enc.dashed_ids(), ticket_id, leg_id);
            let spec = OrderSpec::on(m, l.buy, qty, l.price, cid);
            rids[k] = enc.place(&spec, now_ms, &mut frames[k]);
        }
        Some(Built {
            record,
            frames,
            rids,
        })
    }
}

#[pymethods]
impl OrderPath {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    fn add_asset(&mut self, name: &str, decimals: u8) -> usize {
        self.gate.assets.push(AssetSpec {
            name: name.to_owned(),
            decimals,
        });
        self.gate.assets.len() - 1
    }

    fn add_venue(&mut self, name: &str) -> usize {
        self.gate.venues.push(name.to_owned());
        self.encoders.push(None);
        self.gate.venues.len() - 1
    }

    /// Binance WS API order entry for `venue`; `recv_window` only when not the default 5000.
    #[pyo3(signature = (venue, *, futures, api_key, secret, recv_window, prefix))]
    fn set_binance(
        &mut self,
        venue: usize,
        futures: bool,
        api_key: &str,
        secret: &str,
        recv_window: Option<u64>,
        prefix: &str,
    ) -> PyResult<()> {
        idx(&self.encoders, venue, "venue")?;
        let e = BinanceEncoder::new(futures, api_key, secret.as_bytes(), recv_window, prefix)
            .ok_or_else(|| PyValueError::new_err("binance: the secret cannot key HMAC-SHA256"))?;
        self.encoders[venue] = Some(Encoder::Binance(e));
        Ok(())
    }

    /// OKX WS order entry for `venue` (the client's logged-in connection).
    #[pyo3(signature = (venue, *, td_mode, prefix))]
    fn set_okx(&mut self, venue: usize, td_mode: &str, prefix: &str) -> PyResult<()> {
        idx(&self.encoders, venue, "venue")?;
        self.encoders[venue] = Some(Encoder::Okx(OkxEncoder::new(td_mode, prefix)));
        Ok(())
    }

    /// Whether orders to `venue` can go this way (an encoder is set).
    fn encodes(&self, venue: usize) -> bool {
        self.encoders.get(venue).is_some_and(Option::is_some)
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (venue, book_venue, *, symbol, instrument, base, quote, price_decimals, qty_decimals, tick, lot, min_qty, max_qty, min_notional, taker_fee))]
    fn add_market(
        &mut self,
        venue: usize,
        book_venue: usize,
        symbol: &str,
        instrument: &str,
        base: usize,
        quote: usize,
        price_decimals: u8,
        qty_decimals: u8,
        tick: u64,
        lot: u64,
        min_qty: u64,
        max_qty: u64,
        min_notional: u128,
        taker_fee: u64,
    ) -> PyResult<usize> {
        idx(&self.gate.venues, venue, "venue")?;
        idx(&self.gate.assets, base, "asset")?;
        idx(&self.gate.assets, quote, "asset")?;
        self.gate.markets.push(MarketSpec {
            venue,
            symbol: symbol.to_owned(),
            instrument: instrument.to_owned(),
            base,
            quote,
            price_decimals,
            qty_decimals,
            tick,
            lot,
            min_qty,
            max_qty,
            min_notional,
            taker_fee,
        });
        self.book_venue.push(book_venue);
        Ok(self.gate.markets.len() - 1)
    }

    /// Notional limits at 18 decimals (floored), the open-ticket limit, the book age bound.
    fn set_limits(
        &mut self,
        max_order_notional: i128,
        max_ticket_notional: i128,
        max_open_tickets: u32,
        max_book_age_ns: i64,
    ) {
        let l = &mut self.gate.limits;
        l.max_order_notional = max_order_notional;
        l.max_ticket_notional = max_ticket_notional;
        l.max_open_tickets = max_open_tickets;
        l.max_book_age_ns = max_book_age_ns;
    }

    /// |position| caps of `asset` at 18 decimals: per venue and net across venues (None: none).
    fn set_position_limits(
        &mut self,
        asset: usize,
        per_venue: Option<i128>,
        net: Option<i128>,
    ) -> PyResult<()> {
        idx(&self.gate.assets, asset, "asset")?;
        let l = &mut self.gate.limits;
        let n = self.gate.assets.len();
        l.max_position.resize(n, None);
        l.max_net_position.resize(n, None);
        l.max_position[asset] = per_venue;
        l.max_net_position[asset] = net;
        Ok(())
    }

    fn set_available(&mut self, venue: usize, asset: usize, amount: i128) {
        self.gate.set_available(venue, asset, amount);
    }

    fn available(&self, venue: usize, asset: usize) -> i128 {
        self.gate.available(venue, asset)
    }

    /// A venue's net position in `asset` at 18 decimals.
    fn set_position(&mut self, venue: usize, asset: usize, qty: i128) {
        self.gate.set_position(venue, asset, qty);
    }

    fn set_open_tickets(&mut self, n: u32) {
        self.gate.open_tickets = n;
    }

    fn set_halted(&mut self, halted: bool) {
        self.gate.halted = halted;
    }

    #[pyo3(signature = (path = None))]
    fn set_kill_file(&mut self, path: Option<PathBuf>) {
        self.gate.kill_file = path;
    }

    /// The journal's registered secrets: a ticket whose record would contain one is left to
    /// the Python path (which refuses to journal it).
    fn set_secrets(&mut self, secrets: Vec<Vec<u8>>) {
        self.secrets = SecretSet::new(&secrets);
    }

    /// `venue`'s circuit breaker opened: no ticket uses it for `seconds`.
    fn open_breaker(&mut self, venue: usize, seconds: f64) {
        let until = Instant::now() + Duration::from_secs_f64(seconds.clamp(0.0, 1e9));
        self.gate.set_breaker_open_until(venue, until);
    }

    /// The fast path's verdict on a ticket: "ok", or what refused it (for tests and tools).
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        book: PyRef<'_, ConsolidatedBook>,
        buy: usize,
        sell: usize,
        qty: u64,
        buy_limit: u64,
        sell_limit: u64,
    ) -> PyResult<&'static str> {
        let legs = self.legs(book.inner(), buy, sell, qty, buy_limit, sell_limit)?;
        Ok(match self.gate.check(&legs, wall_ns(), Instant::now()) {
            Ok(_) => "ok",
            Err(Refusal::Rules) => "rules",
            Err(Refusal::Book) => "book",
            Err(Refusal::Risk) => "risk",
            Err(Refusal::Funds) => "funds",
            Err(Refusal::Unsupported) => "unsupported",
        })
    }

    /// One leg's frame as the ticket would send it (tests compare it with the Python client's).
    #[allow(clippy::too_many_arguments)]
    fn encode<'py>(
        &mut self,
        py: Python<'py>,
        market: usize,
        buy: bool,
        qty: u64,
        price: u64,
        client_order_id: &str,
        now_ms: u64,
    ) -> PyResult<(String, Bound<'py, PyBytes>)> {
        idx(&self.gate.markets, market, "market")?;
        let m = &self.gate.markets[market];
        let enc = self.encoders[m.venue]
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("no encoder for this market's venue"))?;
        let spec = OrderSpec::on(m, buy, qty, price, client_order_id);
        let mut out = Vec::with_capacity(512);
        let rid = enc.place(&spec, now_ms, &mut out);
        Ok((rid, PyBytes::new(py, &out)))
    }

    /// A two-leg ticket, decided: if every check passes, (intent record framed as the intent
    /// log stores it: u32 length, u32 CRC-32, payload; buy frame, sell frame,
    /// buy request id, sell request id); None when anything refuses it or a venue has no
    /// encoder (the caller runs the Python path). Nothing here changes state but the encoders'
    /// request counters: the caller stores the record, sends, then applies the reservations.
    #[allow(clippy::too_many_arguments)]
    fn prepare<'py>(
        &mut self,
        py: Python<'py>,
        ticket_id: &str,
        book: PyRef<'_, ConsolidatedBook>,
        buy: usize,
        sell: usize,
        qty: u64,
        buy_limit: u64,
        sell_limit: u64,
        reason: &str,
    ) -> PyResult<Option<PreparedPy<'py>>> {
        let legs = self.legs(book.inner(), buy, sell, qty, buy_limit, sell_limit)?;
        drop(book);
        let Some(res) = self.accepts(&legs) else {
            return Ok(None);
        };
        Ok(self
            .build(ticket_id, &legs, &res, reason)
            .map(|b| b.into_py(py)))
    }

    /// Arm the built-in taker strategy on an instrument: `markets` is, per venue of its book (by
    /// book venue index), the market registered for it (None: not on this path); `lots` the
    /// venues' lots as the strategy's configuration has them. Returns the armed index for `take`.
    #[pyo3(signature = (markets, *, min_edge_bps, cap, lots))]
    fn arm_taker(
        &mut self,
        markets: Vec<Option<usize>>,
        min_edge_bps: f64,
        cap: Option<u64>,
        lots: Vec<u64>,
    ) -> PyResult<usize> {
        for m in markets.iter().flatten() {
            idx(&self.gate.markets, *m, "market")?;
        }
        self.armed.push(Armed {
            markets,
            rule: TakerRule {
                min_edge_bps,
                cap,
                lots,
            },
            open: true,
        });
        Ok(self.armed.len() - 1)
    }

    /// The armed taker on `book` after a read: refresh the detector, decide, and if the first
    /// opportunity the strategy would take passes every check, start its ticket (id `prefix` +
    /// the run's next sequence number) and return (ticket id, record, buy frame, sell frame, buy
    /// rid, sell rid, buy market, sell market, qty, buy limit, sell limit, (reason,
    /// opportunities, records looked at, decision start in ns of CLOCK_MONOTONIC)). Otherwise
    /// the number of opportunities (0: nothing to decide), or -1 when there is something the
    /// Python route must decide or refuse (it runs the strategy).
    ///
    /// `dry`: the same call with no effect, for keeping the path warm (`[run] keep_warm_ms`).
    /// When the book has nothing the taker would take, it decides on a copy of the book in
    /// which the first two venues of the path cross (`orders::warm`: the walk and pick of a real
    /// opportunity, never on the live book); failing that it makes one up (the smallest size,
    /// at the buy venue's best ask). A refusal does not stop it; it always returns the tuple,
    /// whose ticket id is the next one (not taken) and whose frames are dropped (the encoders'
    /// request counters are put back).
    /// Why the same call and not a separate one: between opportunities an idle engine's caches
    /// and TLBs lose this code and its data, and on this path every part counts, down to PyO3's
    /// argument handling and the result's objects: a twin method keeps its own code warm, not
    /// this one (`benches/test_order_path_take.py`: ~25 µs vs ~6 µs after 20 ms).
    #[pyo3(signature = (armed, prefix, book, dry = false))]
    fn take<'py>(
        &mut self,
        py: Python<'py>,
        armed: usize,
        prefix: &str,
        book: PyRefMut<'_, ConsolidatedBook>,
        dry: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.take_on(py, armed, prefix, book, dry)
    }

    /// Where the order path's own writes store a ticket's record first (`IntentLog.tail`)
    /// and the frame type they write (picows `WSMsgType.TEXT`); see `python::wire`.
    fn set_wire_store(&mut self, store: Py<LogTail>, text: Py<PyAny>) {
        self.wires.set_store(store, text);
    }

    /// Let `take` write `market`'s leg itself on `transport` while it stays connected and
    /// `limiter` (None: none) stays at `version`; until a write or `disarm_wire`.
    #[pyo3(signature = (market, transport, limiter, version))]
    fn arm_wire(
        &mut self,
        py: Python<'_>,
        market: usize,
        transport: Py<PyAny>,
        limiter: Option<Py<PyAny>>,
        version: u64,
    ) -> PyResult<()> {
        idx(&self.gate.markets, market, "market")?;
        self.wires.arm(py, market, transport, limiter, version)
    }

    /// `market` (None: every market) no longer written by `take` until armed again.
    #[pyo3(signature = (market=None))]
    fn disarm_wire(&mut self, market: Option<usize>) {
        match market {
            Some(m) => self.wires.disarm(m),
            None => self.wires.disarm_all(),
        }
    }

    /// The markets whose arm is missing or no longer holds (to arm again).
    fn stale_wires(&self, py: Python<'_>) -> PyResult<Vec<usize>> {
        self.wires.stale(py, self.gate.markets.len())
    }

    /// Whether a feed may start `armed`'s tickets itself (`Feed.on_frame_take`): the Python
    /// side closes it while the instrument has a ticket in flight or the engine takes none.
    fn set_taker_open(&mut self, armed: usize, open: bool) -> PyResult<()> {
        idx(&self.armed, armed, "armed taker")?;
        self.armed[armed].open = open;
        Ok(())
    }
}

/// The Python view of [`Built`]: (record, buy frame, sell frame, buy rid, sell rid).
type PreparedPy<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    String,
    String,
);

/// A ticket ready to go: its intent record (length, CRC, payload) and both legs' frames and
/// request ids.
#[derive(Debug)]
pub(super) struct Built {
    record: Vec<u8>,
    frames: [Vec<u8>; 2],
    rids: [String; 2],
}

impl Built {
    pub(super) fn into_py(self, py: Python<'_>) -> PreparedPy<'_> {
        let [rb, rs] = self.rids;
        (
            PyBytes::new(py, &self.record),
            PyBytes::new(py, &self.frames[0]),
            PyBytes::new(py, &self.frames[1]),
            rb,
            rs,
        )
    }
}

/// The run's ticket sequence number (see `orders::taker::next_ticket_seq`).
#[pyfunction(name = "next_ticket_seq")]
pub fn py_next_ticket_seq() -> u64 {
    next_ticket_seq()
}
