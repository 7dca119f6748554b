//! `OrderPath`: the ticket's order path (`crate::orders`) for Python. Translation only: the
//! checks, encoders and record live in the core module.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::consolidated::ConsolidatedBook;
use crate::book::BookState;
use crate::orders::client_id::push_client_order_id;
use crate::orders::encode::{BinanceEncoder, Encoder, OkxEncoder, OrderSpec};
use crate::orders::gate::{AssetSpec, Gate, Leg, MarketSpec, Refusal};
use crate::orders::record::{detail_json, push_ticket_record, RecordLeg};

/// Validation, risk, funds, both signed frames and the intent record of a two-leg ticket in one
/// call. The Python side mirrors its ledger and risk state in with the `set_*` methods.
#[pyclass(module = "arbcore._core")]
#[derive(Debug, Default)]
pub struct OrderPath {
    gate: Gate,
    encoders: Vec<Option<Encoder>>, // per venue
    book_venue: Vec<usize>,         // per market: its venue's index in the instrument's book
}

fn idx<T>(v: &[T], i: usize, what: &str) -> PyResult<()> {
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
    fn legs(
        &self,
        book: &ConsolidatedBook,
        buy: usize,
        sell: usize,
        qty: u64,
        buy_limit: u64,
        sell_limit: u64,
    ) -> PyResult<[Leg; 2]> {
        idx(&self.gate.markets, buy, "market")?;
        idx(&self.gate.markets, sell, "market")?;
        let leg = |market: usize, is_buy: bool, price: u64| {
            let b = book.inner().book(self.book_venue[market]);
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
        let legs = self.legs(&book, buy, sell, qty, buy_limit, sell_limit)?;
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

    /// A two-leg ticket, decided: if every check passes, (intent record, buy frame, sell frame,
    /// buy request id, sell request id); None when anything refuses it or a venue has no
    /// encoder (the caller runs the Python path). Nothing here changes state but the encoders'
    /// request counters: the caller stores the record, sends, then applies the reservations.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
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
    ) -> PyResult<
        Option<(
            Bound<'py, PyBytes>,
            Bound<'py, PyBytes>,
            Bound<'py, PyBytes>,
            String,
            String,
        )>,
    > {
        let legs = self.legs(&book, buy, sell, qty, buy_limit, sell_limit)?;
        drop(book);
        let g = &self.gate;
        let (mb, ms) = (&g.markets[buy], &g.markets[sell]);
        if !(self.encodes(mb.venue) && self.encodes(ms.venue)) {
            return Ok(None);
        }
        let now = wall_ns();
        let Ok(res) = g.check(&legs, now, Instant::now()) else {
            return Ok(None);
        };
        let (Some(rb), Some(rs)) = (res.first(), res.get(1)) else {
            return Ok(None);
        };
        let asset = |i: usize| &g.assets[i];
        let record_legs = [
            RecordLeg {
                leg_id: "buy",
                venue: &g.venues[mb.venue],
                market: mb,
                base: asset(mb.base),
                quote: asset(mb.quote),
                buy: true,
                qty,
                price: buy_limit,
                reserve_asset: asset(rb.asset),
                reserve_amount: rb.amount,
            },
            RecordLeg {
                leg_id: "sell",
                venue: &g.venues[ms.venue],
                market: ms,
                base: asset(ms.base),
                quote: asset(ms.quote),
                buy: false,
                qty,
                price: sell_limit,
                reserve_asset: asset(rs.asset),
                reserve_amount: rs.amount,
            },
        ];
        let mut record = Vec::with_capacity(1024);
        let detail = detail_json(qty, buy_limit, sell_limit, reason);
        push_ticket_record(
            &mut record,
            ticket_id,
            &mb.instrument,
            &g.venues[mb.venue],
            &g.venues[ms.venue],
            &detail,
            &record_legs,
        );
        let now_ms = (now / 1_000_000) as u64;
        let mut frames: [Vec<u8>; 2] = [Vec::with_capacity(512), Vec::with_capacity(512)];
        let mut rids: [String; 2] = Default::default();
        for (k, (m, leg_id, is_buy, price)) in [
            (mb, "buy", true, buy_limit),
            (ms, "sell", false, sell_limit),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(enc) = self.encoders[m.venue].as_mut() else {
                return Ok(None);
            };
            let mut cid = String::with_capacity(36);
            push_client_order_id(&mut cid, enc.dashed_ids(), ticket_id, leg_id, 0);
            let spec = OrderSpec::on(m, is_buy, qty, price, &cid);
            rids[k] = enc.place(&spec, now_ms, &mut frames[k]);
        }
        let [rid_b, rid_s] = rids;
        Ok(Some((
            PyBytes::new(py, &record),
            PyBytes::new(py, &frames[0]),
            PyBytes::new(py, &frames[1]),
            rid_b,
            rid_s,
        )))
    }
}
