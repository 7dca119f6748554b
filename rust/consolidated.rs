//! The multi-venue view of one canonical instrument: up to [`MAX_VENUES`] books, their rules and
//! balances, the consolidated top of book (raw and net of taker fee), merged depth, and the
//! opportunity cache.
//!
//! Detection is incremental: an apply that moves a venue's top of book (or its state, or a
//! balance on it) marks the venue dirty; [`Consolidated::refresh`] re-examines only the ordered
//! pairs that include a dirty venue, and searches the depth only where the change can alter
//! the result (`incremental.rs`). The I/O layer calls it once per drained socket read, so a
//! burst of frames costs one evaluation, and stale intermediate states never produce a signal.

use crate::book::{Book, BookState, Change, Delta, Level, Side, Stamp};
use crate::incremental::{Context, Tracker};
use crate::instrument::{Instrument, SpecError, VenueSpec, FEE_SCALE};
use crate::opportunity::Opportunity;

/// Most venues one consolidated book holds (a u16 bit mask tracks dirty venues).
pub const MAX_VENUES: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct VenueSlot {
    pub spec: VenueSpec,
    pub book: Book,
    /// Base asset available to sell here, qty scale.
    pub base_balance: u128,
    /// Quote asset available to buy with here, notional scale.
    pub quote_balance: u128,
}

/// Counters for reports and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// Ordered pairs evaluated.
    pub pairs_evaluated: u64,
    /// Pairs whose tops crossed after fees and needed the depth walk.
    pub pairs_walked: u64,
    /// Crossing pairs settled without the walk: nothing the last walk read had changed.
    pub pairs_kept: u64,
    /// Fills dropped because a figure did not fit the record's 64-bit fields.
    pub overflow_skips: u64,
}

/// One canonical instrument across venues.
#[derive(Debug, Clone)]
pub struct Consolidated {
    instrument: Instrument,
    venues: Vec<VenueSlot>,
    max_notional: u128,
    min_edge: u64,
    /// Pairs, their current best fills and what changed since the last refresh.
    tracker: Tracker,
}

impl Consolidated {
    pub fn new(instrument: Instrument) -> Self {
        Consolidated {
            instrument,
            venues: Vec::new(),
            max_notional: u128::MAX,
            min_edge: 0,
            tracker: Tracker::default(),
        }
    }

    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    pub fn stats(&self) -> DetectStats {
        self.tracker.stats
    }

    /// Add a venue; returns its index. Names must be unique.
    pub fn add_venue(&mut self, spec: VenueSpec) -> Result<usize, SpecError> {
        if self.venues.len() >= MAX_VENUES {
            return Err(SpecError::new(
                "venue",
                spec.venue,
                format!("at most {MAX_VENUES} venues per instrument"),
            ));
        }
        if self.venue_index(&spec.venue).is_some() {
            return Err(SpecError::new("venue", spec.venue, "venue already added"));
        }
        self.venues.push(VenueSlot {
            spec,
            book: Book::new(),
            base_balance: 0,
            quote_balance: 0,
        });
        self.tracker.grow(self.venues.len());
        Ok(self.venues.len() - 1)
    }

    pub fn venue_count(&self) -> usize {
        self.venues.len()
    }

    pub fn venue_index(&self, name: &str) -> Option<usize> {
        self.venues.iter().position(|v| v.spec.venue == name)
    }

    pub fn spec(&self, v: usize) -> Option<&VenueSpec> {
        self.venues.get(v).map(|s| &s.spec)
    }

    pub fn book(&self, v: usize) -> Option<&Book> {
        self.venues.get(v).map(|s| &s.book)
    }

    /// Largest buy notional per opportunity (notional scale); `u128::MAX` = no cap.
    pub fn set_max_notional(&mut self, n: u128) {
        self.max_notional = n;
        self.mark_all_dirty();
    }

    pub fn max_notional(&self) -> u128 {
        self.max_notional
    }

    /// Minimum net edge, bps with 4 decimals.
    pub fn set_min_edge(&mut self, e: u64) {
        self.min_edge = e;
        self.mark_all_dirty();
    }

    pub fn min_edge(&self) -> u64 {
        self.min_edge
    }

    /// Every venue dirty, every crossing pair searched again (limits changed, `detect_all`).
    fn mark_all_dirty(&mut self) {
        if !self.venues.is_empty() {
            self.tracker
                .mark_full_mask(u16::MAX >> (16 - self.venues.len()));
        }
    }

    /// After a message on venue `v`: a state change is a full change; a top change, or any
    /// change on a venue in a crossing pair (its touched prices were recorded), re-examines
    /// its pairs.
    #[inline]
    fn note(&mut self, v: usize, before: BookState, change: &Change) {
        if self.venues[v].book.state() != before {
            self.tracker.mark_full(v);
        } else if change.top_changed() {
            self.tracker.mark(v);
        } else if self.tracker.active(v) {
            self.tracker.mark_depth(v);
        }
    }

    /// Apply a one-delta message to venue `v`.
    #[inline]
    pub fn apply_delta(
        &mut self,
        v: usize,
        side: Side,
        price: u64,
        qty: u64,
        stamp: Option<Stamp>,
    ) -> Option<Change> {
        let slot = self.venues.get_mut(v)?;
        let before = slot.book.state();
        let c = slot.book.apply_delta(side, price, qty, stamp);
        if self.tracker.active(v) {
            self.tracker.touch(v, side, price);
        }
        self.note(v, before, &c);
        Some(c)
    }

    /// Apply one message of deltas to venue `v`.
    pub fn apply_deltas(
        &mut self,
        v: usize,
        deltas: &[Delta],
        stamp: Option<Stamp>,
    ) -> Option<Change> {
        let slot = self.venues.get_mut(v)?;
        let before = slot.book.state();
        let c = slot.book.apply_deltas(deltas, stamp);
        if self.tracker.active(v) {
            self.tracker.touch_deltas(v, deltas);
        }
        self.note(v, before, &c);
        Some(c)
    }

    /// Apply a message given as parallel arrays (sides 0 = bid, 1 = ask). The arrays must have
    /// been validated (equal length, sides 0/1); see [`validate_columns`].
    pub fn apply_columns(
        &mut self,
        v: usize,
        sides: &[u8],
        prices: &[u64],
        qtys: &[u64],
        stamp: Option<Stamp>,
    ) -> Option<Change> {
        let slot = self.venues.get_mut(v)?;
        let before = slot.book.state();
        let old = slot.book.top();
        for ((&s, &p), &q) in sides.iter().zip(prices).zip(qtys) {
            let side = if s == 0 { Side::Bid } else { Side::Ask };
            slot.book.set_level(side, p, q);
        }
        let c = slot.book.finish_message(old, stamp);
        if self.tracker.active(v) {
            self.tracker.touch_columns(v, sides, prices);
        }
        self.note(v, before, &c);
        Some(c)
    }

    pub fn apply_snapshot(
        &mut self,
        v: usize,
        bids: &[Level],
        asks: &[Level],
        stamp: Stamp,
    ) -> Option<Change> {
        let slot = self.venues.get_mut(v)?;
        let c = slot.book.apply_snapshot(bids, asks, stamp);
        self.tracker.mark_full(v);
        Some(c)
    }

    /// Keep only the best `depth` levels per side of venue `v`'s book.
    pub fn truncate(&mut self, v: usize, depth: usize) -> Option<()> {
        let slot = self.venues.get_mut(v)?;
        let old = slot.book.top();
        // The first level dropped on each side is the one nearest the top: the touched price.
        let cut = (slot.book.bids().nth(depth), slot.book.asks().nth(depth));
        slot.book.truncate(depth);
        let top_moved = slot.book.top() != old;
        if self.tracker.active(v) {
            if let Some(l) = cut.0 {
                self.tracker.touch(v, Side::Bid, l.price);
            }
            if let Some(l) = cut.1 {
                self.tracker.touch(v, Side::Ask, l.price);
            }
        }
        if top_moved {
            self.tracker.mark(v);
        } else if self.tracker.active(v) && (cut.0.is_some() || cut.1.is_some()) {
            self.tracker.mark_depth(v);
        }
        Some(())
    }

    pub fn clear(&mut self, v: usize) -> Option<Change> {
        let slot = self.venues.get_mut(v)?;
        let c = slot.book.clear();
        self.tracker.mark_full(v);
        Some(c)
    }

    pub fn set_state(&mut self, v: usize, state: BookState) -> Option<()> {
        let slot = self.venues.get_mut(v)?;
        if slot.book.state() != state {
            slot.book.set_state(state);
            self.tracker.mark_full(v);
        }
        Some(())
    }

    /// Mark LIVE books with no message for more than `max_age_ns` STALE; returns the venues
    /// that changed as a bit mask.
    pub fn check_stale(&mut self, now_ns: i64, max_age_ns: i64) -> u16 {
        let mut changed = 0u16;
        for (i, s) in self.venues.iter_mut().enumerate() {
            if s.book.check_stale(now_ns, max_age_ns) {
                changed |= 1 << i;
            }
        }
        self.tracker.mark_full_mask(changed);
        changed
    }

    /// [`Consolidated::check_stale`] for one venue only (a feed checks the books it feeds).
    pub fn check_stale_venue(&mut self, v: usize, now_ns: i64, max_age_ns: i64) -> Option<bool> {
        let changed = self.venues.get_mut(v)?.book.check_stale(now_ns, max_age_ns);
        if changed {
            self.tracker.mark_full(v);
        }
        Some(changed)
    }

    /// Set the base-asset balance on venue `v` (qty scale).
    pub fn set_base_balance(&mut self, v: usize, amount: u128) -> Option<()> {
        self.venues.get_mut(v)?.base_balance = amount;
        self.tracker.mark_full(v);
        Some(())
    }

    /// Set the quote-asset balance on venue `v` (notional scale).
    pub fn set_quote_balance(&mut self, v: usize, amount: u128) -> Option<()> {
        self.venues.get_mut(v)?.quote_balance = amount;
        self.tracker.mark_full(v);
        Some(())
    }

    pub fn base_balance(&self, v: usize) -> Option<u128> {
        self.venues.get(v).map(|s| s.base_balance)
    }

    pub fn quote_balance(&self, v: usize) -> Option<u128> {
        self.venues.get(v).map(|s| s.quote_balance)
    }

    fn live(&self) -> impl Iterator<Item = (usize, &VenueSlot)> {
        self.venues
            .iter()
            .enumerate()
            .filter(|(_, s)| s.book.state() == BookState::Live)
    }

    /// Best bid across LIVE venues: highest price, then larger quantity, then lower index.
    pub fn best_bid(&self) -> Option<(usize, Level)> {
        self.live()
            .filter_map(|(i, s)| s.book.best_bid().map(|l| (i, l)))
            .max_by(|a, b| {
                a.1.price
                    .cmp(&b.1.price)
                    .then(a.1.qty.cmp(&b.1.qty))
                    .then(b.0.cmp(&a.0))
            })
    }

    /// Best ask across LIVE venues: lowest price, then larger quantity, then lower index.
    pub fn best_ask(&self) -> Option<(usize, Level)> {
        self.live()
            .filter_map(|(i, s)| s.book.best_ask().map(|l| (i, l)))
            .min_by(|a, b| {
                a.1.price
                    .cmp(&b.1.price)
                    .then(b.1.qty.cmp(&a.1.qty))
                    .then(a.0.cmp(&b.0))
            })
    }

    /// Best bid net of the venue's taker fee: what selling there really yields. Returns the
    /// venue, the level, and the net price floored to the price scale.
    pub fn best_bid_net(&self) -> Option<(usize, Level, u64)> {
        let f = u128::from(FEE_SCALE as u64);
        self.live()
            .filter_map(|(i, s)| {
                let l = s.book.best_bid()?;
                let mult = f - s.spec.taker_fee as u128;
                Some((i, l, u128::from(l.price) * mult))
            })
            .max_by(|a, b| a.2.cmp(&b.2).then(b.0.cmp(&a.0)))
            .map(|(i, l, net)| (i, l, (net / f) as u64))
    }

    /// Best ask including the venue's taker fee: what buying there really costs. The net price
    /// is rounded up to the price scale.
    pub fn best_ask_net(&self) -> Option<(usize, Level, u64)> {
        let f = u128::from(FEE_SCALE as u64);
        self.live()
            .filter_map(|(i, s)| {
                let l = s.book.best_ask()?;
                let mult = f + s.spec.taker_fee as u128;
                Some((i, l, u128::from(l.price) * mult))
            })
            .min_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(&b.0)))
            .map(|(i, l, net)| (i, l, u64::try_from(net.div_ceil(f)).unwrap_or(u64::MAX)))
    }

    /// Up to `n` price levels of `side` merged over LIVE venues, quantities summed per price.
    pub fn merged_depth(&self, side: Side, n: usize) -> Vec<Level> {
        let mut all: Vec<Level> = Vec::new();
        for (_, s) in self.live() {
            all.extend(s.book.side(side).iter().take(n));
        }
        match side {
            Side::Bid => all.sort_unstable_by_key(|l| std::cmp::Reverse(l.price)),
            Side::Ask => all.sort_unstable_by_key(|l| l.price),
        }
        let mut out: Vec<Level> = Vec::with_capacity(n.min(all.len()));
        for l in all {
            match out.last_mut() {
                Some(last) if last.price == l.price => last.qty = last.qty.saturating_add(l.qty),
                _ => {
                    if out.len() == n {
                        break;
                    }
                    out.push(l);
                }
            }
        }
        out
    }

    /// Re-examine the pairs that include a dirty venue (see `incremental.rs`); returns how
    /// many ordered pairs were examined.
    pub fn refresh(&mut self) -> usize {
        let ctx = Context {
            instrument: self.instrument.id,
            max_notional: self.max_notional,
            min_edge: self.min_edge,
        };
        self.tracker.refresh(&self.venues, ctx)
    }

    /// Search every pair again, dirty or not.
    pub fn detect_all(&mut self) -> usize {
        self.mark_all_dirty();
        self.refresh()
    }

    /// True if some venue changed since the last refresh.
    pub fn is_dirty(&self) -> bool {
        self.tracker.is_dirty()
    }

    /// Current opportunities (after [`Consolidated::refresh`]), best net profit first.
    pub fn opportunities(&self) -> Vec<Opportunity> {
        self.tracker.opportunities()
    }

    /// Heap bytes of all books.
    pub fn heap_bytes(&self) -> usize {
        self.venues.iter().map(|s| s.book.heap_bytes()).sum()
    }
}

/// Check parallel delta columns before anything is applied, so a bad batch changes nothing.
/// Returns the index and a description of the first bad entry.
pub fn validate_columns(
    sides: &[u8],
    prices: &[u64],
    qtys: &[u64],
) -> Result<(), (usize, &'static str)> {
    if sides.len() != prices.len() || sides.len() != qtys.len() {
        return Err((
            sides.len().min(prices.len()).min(qtys.len()),
            "arrays differ in length",
        ));
    }
    match sides.iter().position(|&s| s > 1) {
        Some(i) => Err((i, "side must be 0 (bid) or 1 (ask)")),
        None => Ok(()),
    }
}

#[cfg(test)]
#[path = "consolidated_tests.rs"]
mod tests;
