//! The built-in taker's take on one instrument's book (`OrderPath.take`, and
//! `Feed.on_frame_take` in the same call as the frame's decode): the pick, both legs' checks,
//! record and frames, and the wire write when both markets are armed; or the same code run dry
//! (`[run] keep_warm_ms`), on a crossed copy of the book when nothing is worth taking.

use pyo3::prelude::*;

use super::consolidated::ConsolidatedBook;
use super::orders::{idx, OrderPath};
use crate::consolidated::Consolidated;
use crate::orders::encode::{numbered, Encoder};
use crate::orders::gate::{Leg, MarketSpec, Reservation};
use crate::orders::taker::{next_ticket_seq, peek_ticket_seq, taker_reason, Pick, TakerRule};
use crate::orders::warm::crossed_copy;

/// The built-in taker on one instrument's book.
#[derive(Debug)]
pub(super) struct Armed {
    pub(super) markets: Vec<Option<usize>>, // per book venue: its market on this path
    pub(super) rule: TakerRule,
    pub(super) open: bool, // whether a feed may start its tickets (`set_taker_open`, `Feed.on_frame_take`)
}

/// CLOCK_MONOTONIC in ns: Python's `time.perf_counter_ns` on Linux, so the Python side
/// compares this stamp with its own.
fn mono_ns() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

impl OrderPath {
    /// Whether `armed` is registered.
    pub(crate) fn has_taker(&self, armed: usize) -> bool {
        armed < self.armed.len()
    }

    /// Whether `armed` exists and a feed may start its tickets.
    pub(crate) fn taker_open(&self, armed: usize) -> bool {
        self.armed.get(armed).is_some_and(|a| a.open)
    }

    /// `take` (the pymethod, and `Feed.on_frame_take` in the same call as the frame's decode).
    /// The last item of the tuple's last tuple is when the decision started (`mono_ns`).
    pub(crate) fn take_on<'py>(
        &mut self,
        py: Python<'py>,
        armed: usize,
        prefix: &str,
        mut book: PyRefMut<'_, ConsolidatedBook>,
        dry: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t0 = mono_ns();
        idx(&self.armed, armed, "armed taker")?;
        let inner = book.inner_mut();
        let mut copy = None;
        if dry {
            // Every pair of the book searched again: a refresh with nothing changed skips the
            // walk, and the real take after a dry-only idle then ran ~3x its back-to-back time.
            inner.detect_all();
            // Nothing the taker would take: decide on a copy of the book with a crossing to
            // walk instead, so the code of a real opportunity runs too (`orders::warm`).
            if !matches!(
                self.armed[armed].rule.pick(&inner.opportunities()),
                Pick::Take { .. }
            ) {
                copy = self
                    .first_pair(armed)
                    .and_then(|(b, s)| crossed_copy(inner, self.book_venue[b], self.book_venue[s]));
                if let Some(c) = copy.as_mut() {
                    c.refresh();
                }
            }
        } else {
            inner.refresh();
        }
        let src: &Consolidated = copy.as_ref().unwrap_or_else(|| book.inner());
        let opps = src.opportunities();
        let n = opps.len() as i64;
        let a = &self.armed[armed];
        let python = (-1i64).into_pyobject(py)?.into_any();
        let market = |v: u16| a.markets.get(usize::from(v)).copied().flatten();
        let picked = match a.rule.pick(&opps) {
            Pick::Take { index, qty, calls } => {
                let o = opps[index];
                match (market(o.buy_venue), market(o.sell_venue)) {
                    (Some(b), Some(s)) => {
                        Some((b, s, qty, o.buy_limit, o.sell_limit, o.edge_bps, calls))
                    }
                    _ if dry => None,
                    _ => return Ok(python),
                }
            }
            Pick::Nothing if !dry => return Ok(n.into_pyobject(py)?.into_any()),
            Pick::Python if !dry => return Ok(python),
            _ => None,
        };
        let Some((buy, sell, qty, bl, sl, edge, calls)) =
            picked.or_else(|| self.made_up(armed, src))
        else {
            return Ok(python); // dry, and fewer than two markets on this path
        };
        let legs = self.legs(src, buy, sell, qty, bl, sl)?;
        drop(copy);
        drop(book);
        let res = match self.accepts(&legs) {
            Some(res) => res,
            None if dry => self.made_up_reservations(&legs),
            None => return Ok(python),
        };
        let seq = if dry {
            peek_ticket_seq()
        } else {
            next_ticket_seq()
        };
        let ticket_id = numbered(prefix, seq);
        let reason = taker_reason(edge);
        let counters: Option<Vec<u64>> = dry.then(|| {
            self.encoders
                .iter()
                .map(|e| e.as_ref().map_or(0, Encoder::counter))
                .collect()
        });
        let built = self.build(&ticket_id, &legs, &res, &reason);
        if let Some(counters) = counters {
            for (e, n) in self.encoders.iter_mut().zip(counters) {
                if let Some(e) = e.as_mut() {
                    e.set_counter(n);
                }
            }
        }
        let Some(built) = built else {
            return Ok(python);
        };
        let (record, bf, sf, rb, rs) = built.into_py(py);
        let wire = self
            .wires
            .write(py, (buy, sell), &record, (&bf, &sf), dry, mono_ns)?;
        let out = (
            ticket_id,
            record,
            bf,
            sf,
            rb,
            rs,
            buy,
            sell,
            qty,
            bl,
            sl,
            (reason, n, calls, t0, wire),
        );
        Ok(out.into_pyobject(py)?.into_any())
    }

    /// The first two markets on `armed`'s path: a dry run's buy and sell.
    fn first_pair(&self, armed: usize) -> Option<(usize, usize)> {
        let mut on_path = self.armed.get(armed)?.markets.iter().flatten().copied();
        Some((on_path.next()?, on_path.next()?))
    }

    /// A dry run's ticket when there is no opportunity: the first two markets of `armed`'s path,
    /// the smallest size both take, at the buy venue's best ask (or a tick) on both legs.
    fn made_up(
        &self,
        armed: usize,
        book: &Consolidated,
    ) -> Option<(usize, usize, u64, u64, u64, f64, usize)> {
        let (buy, sell) = self.first_pair(armed)?;
        let (mb, ms) = (&self.gate.markets[buy], &self.gate.markets[sell]);
        let qty = mb.lot.max(mb.min_qty).max(ms.lot).max(ms.min_qty);
        let price = book
            .book(self.book_venue[buy])
            .and_then(|b| b.best_ask())
            .map_or(mb.tick, |l| l.price);
        Some((buy, sell, qty, price, price, 0.0, 0))
    }

    /// A dry run's reservations when the checks refused its ticket (nothing is reserved anyway).
    fn made_up_reservations(&self, legs: &[Leg; 2]) -> Vec<Reservation> {
        let (mb, ms) = (
            &self.gate.markets[legs[0].market],
            &self.gate.markets[legs[1].market],
        );
        let r = |m: &MarketSpec, asset| Reservation {
            venue: m.venue,
            asset,
            amount: 0,
        };
        vec![r(mb, mb.quote), r(ms, ms.base)]
    }
}
