//! `arbcore.ConsolidatedBook`: the Python face of `consolidated::Consolidated`.
//!
//! Hot methods (`apply_delta`, `apply_deltas`) take plain ints or contiguous numpy arrays and
//! return a bool, so a call costs one crossing and no Python object per level. Every method
//! validates all of its input before it changes anything: a failed call leaves the book as it was.

use super::book_input::{sides_column, Column};
use super::book_output::{
    depth_array, format_signed, records_to_numpy, spec_dict, stats_dict, top_tuple, TopTuple,
};
use super::{
    book_input_error, config_error, decimal_err, int_arg, BookInputError, ConfigError,
    UnknownVenueError,
};
use crate::book::{BookState, Change, Stamp};
use crate::consolidated::{validate_columns, Consolidated};
use crate::fixed;
use crate::instrument::{Instrument, SpecError, VenueSpec, VenueSpecText};
use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn config_err(e: SpecError) -> PyErr {
    ConfigError::new_err(e.to_string())
}

/// One canonical instrument across up to 16 venues: books, rules, balances, opportunities.
#[pyclass(module = "arbcore._core")]
#[derive(Debug)]
pub struct ConsolidatedBook {
    inner: Consolidated,
    last: Vec<Change>,
}

impl ConsolidatedBook {
    /// The core book, read by other bindings (the order path reads book states).
    pub(crate) fn inner(&self) -> &Consolidated {
        &self.inner
    }

    /// The core book, for other bindings (feeds) that decode into it.
    pub(crate) fn inner_mut(&mut self) -> &mut Consolidated {
        &mut self.inner
    }

    /// Keep `c` as the venue's last change (for `last_change`); true if its top moved.
    fn record(&mut self, v: usize, c: Change) -> bool {
        self.last[v] = c;
        c.top_changed()
    }
}

#[pymethods]
impl ConsolidatedBook {
    #[new]
    #[pyo3(signature = (instrument, price_decimals, qty_decimals, instrument_id = None))]
    fn new(
        instrument: &str,
        price_decimals: &Bound<'_, PyAny>,
        qty_decimals: &Bound<'_, PyAny>,
        instrument_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let price_decimals: u8 = int_arg(price_decimals, "price_decimals", config_error)?;
        let qty_decimals: u8 = int_arg(qty_decimals, "qty_decimals", config_error)?;
        let instrument_id: u32 = match instrument_id {
            Some(v) => int_arg(v, "instrument_id", config_error)?,
            None => 0,
        };
        let inst = Instrument::new(instrument, instrument_id, price_decimals, qty_decimals)
            .map_err(config_err)?;
        Ok(ConsolidatedBook {
            inner: Consolidated::new(inst),
            last: Vec::new(),
        })
    }

    #[getter]
    fn instrument(&self) -> String {
        self.inner.instrument().name()
    }
    #[getter]
    fn base(&self) -> String {
        self.inner.instrument().base.clone()
    }
    #[getter]
    fn quote(&self) -> String {
        self.inner.instrument().quote.clone()
    }
    #[getter]
    fn instrument_id(&self) -> u32 {
        self.inner.instrument().id
    }
    #[getter]
    fn price_decimals(&self) -> u8 {
        self.inner.instrument().price_decimals
    }
    #[getter]
    fn qty_decimals(&self) -> u8 {
        self.inner.instrument().qty_decimals
    }
    #[getter]
    fn notional_decimals(&self) -> u8 {
        self.inner.instrument().notional_decimals()
    }
    #[getter]
    fn venues(&self) -> Vec<String> {
        (0..self.inner.venue_count())
            .filter_map(|i| self.inner.spec(i).map(|s| s.venue.clone()))
            .collect()
    }

    /// Add a venue with its rules as exact decimal strings; returns its index.
    #[pyo3(signature = (name, *, symbol, tick_size, lot_size, min_qty = "0", min_notional = "0", taker_fee = "0", maker_fee = "0"))]
    #[allow(clippy::too_many_arguments)]
    fn add_venue(
        &mut self,
        name: &str,
        symbol: &str,
        tick_size: &str,
        lot_size: &str,
        min_qty: &str,
        min_notional: &str,
        taker_fee: &str,
        maker_fee: &str,
    ) -> PyResult<usize> {
        let text = VenueSpecText {
            venue: name,
            symbol,
            tick_size,
            lot_size,
            min_qty,
            min_notional,
            taker_fee,
            maker_fee,
        };
        let spec = VenueSpec::parse(self.inner.instrument(), &text).map_err(config_err)?;
        let i = self.inner.add_venue(spec).map_err(config_err)?;
        self.last.push(Change::default());
        Ok(i)
    }

    fn venue_index(&self, name: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.venue(name)
    }

    /// The venue's rules as exact decimal strings.
    fn venue_spec<'py>(
        &self,
        py: Python<'py>,
        venue: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let v = self.venue(venue)?;
        let s = self
            .inner
            .spec(v)
            .ok_or_else(|| UnknownVenueError::new_err(v))?;
        spec_dict(py, self.inner.instrument(), s)
    }

    /// Set a venue balance of the base or quote asset, as a decimal string.
    fn set_balance(&mut self, venue: &Bound<'_, PyAny>, asset: &str, amount: &str) -> PyResult<()> {
        let v = self.venue(venue)?;
        let inst = self.inner.instrument();
        if asset == inst.base {
            let a = fixed::parse_u128(amount.as_bytes(), inst.qty_decimals)
                .map_err(|e| decimal_err("balance", amount, e))?;
            self.inner.set_base_balance(v, a);
        } else if asset == inst.quote {
            let a = inst
                .parse_notional(amount)
                .map_err(|e| decimal_err("balance", amount, e))?;
            self.inner.set_quote_balance(v, a);
        } else {
            return Err(ConfigError::new_err(format!(
                "asset {asset:?}: not {} or {} of {}",
                inst.base,
                inst.quote,
                inst.name()
            )));
        }
        Ok(())
    }

    /// A venue balance as a decimal string.
    fn balance(&self, venue: &Bound<'_, PyAny>, asset: &str) -> PyResult<String> {
        let v = self.venue(venue)?;
        let inst = self.inner.instrument();
        if asset == inst.base {
            Ok(fixed::format_u128(
                self.inner.base_balance(v).unwrap_or(0),
                inst.qty_decimals,
            ))
        } else if asset == inst.quote {
            Ok(fixed::format_u128(
                self.inner.quote_balance(v).unwrap_or(0),
                inst.notional_decimals(),
            ))
        } else {
            Err(ConfigError::new_err(format!(
                "asset {asset:?}: not {} or {}",
                inst.base, inst.quote
            )))
        }
    }

    /// Cap on the buy notional of one opportunity (quote units, decimal string); None = no cap.
    #[pyo3(signature = (amount))]
    fn set_max_notional(&mut self, amount: Option<&str>) -> PyResult<()> {
        let n = match amount {
            None => u128::MAX,
            Some(a) => self
                .inner
                .instrument()
                .parse_notional(a)
                .map_err(|e| decimal_err("max_notional", a, e))?,
        };
        self.inner.set_max_notional(n);
        Ok(())
    }

    /// Minimum net edge in bps, as a decimal string with up to 4 decimals ("2.5").
    fn set_min_edge_bps(&mut self, bps: &str) -> PyResult<()> {
        let e =
            fixed::parse_u64(bps.as_bytes(), 4).map_err(|e| decimal_err("min_edge_bps", bps, e))?;
        self.inner.set_min_edge(e);
        Ok(())
    }

    /// Replace a venue's book. Levels are (price, qty) pairs of decimal strings or raw ints.
    #[pyo3(signature = (venue, bids, asks, seq = 0, venue_ts = 0, recv_ts = 0))]
    fn apply_snapshot(
        &mut self,
        venue: &Bound<'_, PyAny>,
        bids: &Bound<'_, PyAny>,
        asks: &Bound<'_, PyAny>,
        seq: u64,
        venue_ts: i64,
        recv_ts: i64,
    ) -> PyResult<bool> {
        let v = self.venue(venue)?;
        let b = self.levels("bids", bids)?;
        let a = self.levels("asks", asks)?;
        let c = self
            .inner
            .apply_snapshot(
                v,
                &b,
                &a,
                Stamp {
                    seq,
                    venue_ts,
                    recv_ts,
                },
            )
            .unwrap_or_default();
        Ok(self.record(v, c))
    }

    /// One delta (absolute quantity, 0 deletes) as its own message. Returns True if the top moved.
    #[pyo3(signature = (venue, side, price, qty, seq = None, venue_ts = None, recv_ts = None))]
    #[allow(clippy::too_many_arguments)]
    fn apply_delta(
        &mut self,
        venue: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        seq: Option<u64>,
        venue_ts: Option<i64>,
        recv_ts: Option<i64>,
    ) -> PyResult<bool> {
        let v = self.venue(venue)?;
        let side = Self::side(side)?;
        let p = self.price(price)?;
        let q = self.qty(qty)?;
        let stamp = self.stamp(v, seq, venue_ts, recv_ts);
        let c = self
            .inner
            .apply_delta(v, side, p, q, stamp)
            .unwrap_or_default();
        Ok(self.record(v, c))
    }

    /// One message of deltas as numpy arrays: sides (uint8, 0/1), raw prices and quantities
    /// (uint64 or non-negative int64). Validated whole before anything is applied.
    #[pyo3(signature = (venue, sides, prices, qtys, seq = None, venue_ts = None, recv_ts = None))]
    #[allow(clippy::too_many_arguments)]
    fn apply_deltas(
        &mut self,
        venue: &Bound<'_, PyAny>,
        sides: &Bound<'_, PyAny>,
        prices: &Bound<'_, PyAny>,
        qtys: &Bound<'_, PyAny>,
        seq: Option<u64>,
        venue_ts: Option<i64>,
        recv_ts: Option<i64>,
    ) -> PyResult<bool> {
        let v = self.venue(venue)?;
        let pc = Column::extract("prices", prices)?;
        let qc = Column::extract("qtys", qtys)?;
        let sides = sides_column(sides)?;
        let s = sides.slice()?;
        let (p, q) = (pc.slice("prices")?, qc.slice("qtys")?);
        validate_columns(&s, &p, &q)
            .map_err(|(i, why)| BookInputError::new_err(format!("entry {i}: {why}")))?;
        let stamp = self.stamp(v, seq, venue_ts, recv_ts);
        let c = self
            .inner
            .apply_columns(v, &s, &p, &q, stamp)
            .unwrap_or_default();
        Ok(self.record(v, c))
    }

    /// Drop a venue's levels; its book waits for a snapshot (SYNCING).
    fn clear(&mut self, venue: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = self.venue(venue)?;
        let c = self.inner.clear(v).unwrap_or_default();
        self.record(v, c);
        Ok(())
    }

    fn state(&self, venue: &Bound<'_, PyAny>) -> PyResult<u8> {
        let v = self.venue(venue)?;
        Ok(self.inner.book(v).map_or(0, |b| b.state() as u8))
    }

    fn state_name(&self, venue: &Bound<'_, PyAny>) -> PyResult<&'static str> {
        let v = self.venue(venue)?;
        Ok(self.inner.book(v).map_or("SYNCING", |b| b.state().name()))
    }

    fn set_state(&mut self, venue: &Bound<'_, PyAny>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = self.venue(venue)?;
        let state: i64 = int_arg(state, "state", book_input_error)?;
        let s = u8::try_from(state)
            .ok()
            .and_then(BookState::from_u8)
            .ok_or_else(|| {
                BookInputError::new_err(format!(
                    "state {state}: must be SYNCING, LIVE, STALE or BROKEN (0-3)"
                ))
            })?;
        self.inner.set_state(v, s);
        Ok(())
    }

    /// Mark LIVE books with no message for more than `max_age_ns` STALE (all venues, or only
    /// `venue`); returns the indices of the books that became STALE.
    #[pyo3(signature = (now_ns, max_age_ns, venue = None))]
    fn check_stale(
        &mut self,
        now_ns: i64,
        max_age_ns: i64,
        venue: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<usize>> {
        if let Some(venue) = venue {
            let v = self.venue(venue)?;
            return Ok(
                if self.inner.check_stale_venue(v, now_ns, max_age_ns) == Some(true) {
                    vec![v]
                } else {
                    vec![]
                },
            );
        }
        let mask = self.inner.check_stale(now_ns, max_age_ns);
        Ok((0..16).filter(|i| mask >> i & 1 == 1).collect())
    }

    fn seq(&self, venue: &Bound<'_, PyAny>) -> PyResult<u64> {
        let v = self.venue(venue)?;
        Ok(self.inner.book(v).map_or(0, |b| b.stamp().seq))
    }

    /// (venue event time, local receive time) of the last message, integer ns.
    fn timestamps(&self, venue: &Bound<'_, PyAny>) -> PyResult<(i64, i64)> {
        let v = self.venue(venue)?;
        let s = self.inner.book(v).map(|b| b.stamp()).unwrap_or_default();
        Ok((s.venue_ts, s.recv_ts))
    }

    /// Best bid of one venue as (raw price, raw qty), or None.
    fn best_bid(&self, venue: &Bound<'_, PyAny>) -> PyResult<Option<(u64, u64)>> {
        let v = self.venue(venue)?;
        Ok(self
            .inner
            .book(v)
            .and_then(|b| b.best_bid())
            .map(|l| (l.price, l.qty)))
    }

    fn best_ask(&self, venue: &Bound<'_, PyAny>) -> PyResult<Option<(u64, u64)>> {
        let v = self.venue(venue)?;
        Ok(self
            .inner
            .book(v)
            .and_then(|b| b.best_ask())
            .map(|l| (l.price, l.qty)))
    }

    /// The last apply on a venue: ((old bid, old ask), (new bid, new ask)), levels as (price, qty).
    fn last_change(&self, venue: &Bound<'_, PyAny>) -> PyResult<(TopTuple, TopTuple)> {
        let v = self.venue(venue)?;
        let c = self.last[v];
        Ok((top_tuple(&c.old), top_tuple(&c.new)))
    }

    /// Up to `n` levels of one side from the best, as a (k, 2) uint64 array of (price, qty).
    fn depth<'py>(
        &self,
        py: Python<'py>,
        venue: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        n: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<u64>>> {
        let n: usize = int_arg(n, "n", book_input_error)?;
        let v = self.venue(venue)?;
        let side = Self::side(side)?;
        let levels = self
            .inner
            .book(v)
            .map(|b| b.side(side).top(n))
            .unwrap_or_default();
        depth_array(py, &levels)
    }

    /// Total quantity on one side at prices at least as good as `limit_price`.
    fn cumulative_qty(
        &self,
        venue: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        limit_price: &Bound<'_, PyAny>,
    ) -> PyResult<u128> {
        let v = self.venue(venue)?;
        let side = Self::side(side)?;
        let p = self.price(limit_price)?;
        Ok(self
            .inner
            .book(v)
            .map_or(0, |b| b.side(side).qty_through(p)))
    }

    /// Best bid across LIVE venues as (venue, price, qty). With `net=True` the price is net of
    /// that venue's taker fee (floored) and the venue is the one that pays most after fees.
    #[pyo3(signature = (net = false))]
    fn consolidated_bid(&self, net: bool) -> Option<(usize, u64, u64)> {
        if net {
            self.inner.best_bid_net().map(|(v, l, p)| (v, p, l.qty))
        } else {
            self.inner.best_bid().map(|(v, l)| (v, l.price, l.qty))
        }
    }

    /// Best ask across LIVE venues; with `net=True` including the taker fee (rounded up).
    #[pyo3(signature = (net = false))]
    fn consolidated_ask(&self, net: bool) -> Option<(usize, u64, u64)> {
        if net {
            self.inner.best_ask_net().map(|(v, l, p)| (v, p, l.qty))
        } else {
            self.inner.best_ask().map(|(v, l)| (v, l.price, l.qty))
        }
    }

    /// Up to `n` price levels merged over LIVE venues, as a (k, 2) uint64 array.
    fn merged_depth<'py>(
        &self,
        py: Python<'py>,
        side: &Bound<'_, PyAny>,
        n: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<u64>>> {
        let n: usize = int_arg(n, "n", book_input_error)?;
        let side = Self::side(side)?;
        depth_array(py, &self.inner.merged_depth(side, n))
    }

    /// Re-evaluate the pairs whose venues changed since the last refresh; returns how many.
    fn refresh(&mut self) -> usize {
        self.inner.refresh()
    }

    /// Current opportunities after refreshing changed pairs, best net profit first, as a numpy
    /// structured array (`arbcore.OPPORTUNITY_DTYPE`).
    fn opportunities<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.refresh();
        records_to_numpy(py, &self.inner.opportunities())
    }

    /// Re-evaluate every pair now, then return the opportunities.
    fn detect<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.detect_all();
        records_to_numpy(py, &self.inner.opportunities())
    }

    fn parse_price(&self, s: &str) -> PyResult<u64> {
        self.inner
            .instrument()
            .parse_price(s)
            .map_err(|e| decimal_err("price", s, e))
    }
    fn parse_qty(&self, s: &str) -> PyResult<u64> {
        self.inner
            .instrument()
            .parse_qty(s)
            .map_err(|e| decimal_err("qty", s, e))
    }
    fn format_price(&self, raw: u64) -> String {
        fixed::format_u64(raw, self.inner.instrument().price_decimals)
    }
    fn format_qty(&self, raw: u64) -> String {
        fixed::format_u64(raw, self.inner.instrument().qty_decimals)
    }
    /// Format a notional or profit (quote units at `notional_decimals`); negatives allowed.
    fn format_notional(&self, raw: i128) -> String {
        format_signed(raw, self.inner.instrument().notional_decimals())
    }

    /// Detection counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.inner.stats())
    }

    /// Heap bytes held by all books (capacity), for memory reports.
    fn heap_bytes(&self) -> usize {
        self.inner.heap_bytes()
    }

    fn __len__(&self) -> usize {
        self.inner.venue_count()
    }

    fn __repr__(&self) -> String {
        let states: Vec<String> = (0..self.inner.venue_count())
            .filter_map(|i| {
                Some(format!(
                    "{}={}",
                    self.inner.spec(i)?.venue,
                    self.inner.book(i)?.state().name()
                ))
            })
            .collect();
        format!(
            "ConsolidatedBook({:?}, venues=[{}])",
            self.inner.instrument().name(),
            states.join(", ")
        )
    }
}
