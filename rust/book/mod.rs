//! One venue's L2 order book for one instrument.
//!
//! Quantities are absolute (a delta sets the level; 0 deletes). Every apply returns a
//! [`Change`] with the best bid and ask before and after, so callers re-run detection only
//! when the top of book moved. The crossing check runs once per message, not per delta:
//! within one venue message the intermediate states may legitimately cross.

mod btree_ladder;
mod ladder;

pub use btree_ladder::BTreeLadder;
pub use ladder::Ladder;

/// Bid or ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    Bid = 0,
    Ask = 1,
}

impl Side {
    /// 0 = bid, 1 = ask; anything else is refused.
    #[inline]
    pub fn from_u8(v: u8) -> Option<Side> {
        match v {
            0 => Some(Side::Bid),
            1 => Some(Side::Ask),
            _ => None,
        }
    }
}

/// A price level: raw price and raw quantity at the instrument's scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Level {
    pub price: u64,
    pub qty: u64,
}

/// Synchronisation state of a book. Only LIVE books take part in detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BookState {
    /// Waiting for a snapshot (new, cleared, or resyncing).
    Syncing = 0,
    /// In sync with the venue.
    Live = 1,
    /// In sync as far as we know, but no update arrived within the venue's time limit.
    Stale = 2,
    /// Known to be wrong: gap, checksum mismatch or crossed. Needs a resync.
    Broken = 3,
}

impl BookState {
    pub fn from_u8(v: u8) -> Option<BookState> {
        match v {
            0 => Some(BookState::Syncing),
            1 => Some(BookState::Live),
            2 => Some(BookState::Stale),
            3 => Some(BookState::Broken),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BookState::Syncing => "SYNCING",
            BookState::Live => "LIVE",
            BookState::Stale => "STALE",
            BookState::Broken => "BROKEN",
        }
    }
}

/// Best bid and ask at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Top {
    pub bid: Option<Level>,
    pub ask: Option<Level>,
}

/// What an apply did to the top of book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Change {
    pub old: Top,
    pub new: Top,
}

impl Change {
    /// True if the best bid or ask moved in price or quantity.
    #[inline]
    pub fn top_changed(&self) -> bool {
        self.old != self.new
    }
}

/// Sequence number and the two integer-nanosecond timestamps of the last message applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    pub seq: u64,
    /// Venue event time, ns since the Unix epoch (0 if the venue gives none).
    pub venue_ts: i64,
    /// Local receive time, ns (the clock the engine uses for staleness).
    pub recv_ts: i64,
}

/// One delta of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delta {
    pub side: Side,
    pub price: u64,
    pub qty: u64,
}

/// An L2 book: two ladders, a stamp and a state.
#[derive(Debug, Clone)]
pub struct Book {
    bids: Ladder,
    asks: Ladder,
    stamp: Stamp,
    state: BookState,
}

impl Default for Book {
    fn default() -> Self {
        Self::new()
    }
}

impl Book {
    pub fn new() -> Self {
        Book {
            bids: Ladder::new(Side::Bid),
            asks: Ladder::new(Side::Ask),
            stamp: Stamp::default(),
            state: BookState::Syncing,
        }
    }

    #[inline]
    pub fn side(&self, side: Side) -> &Ladder {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    #[inline]
    fn side_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    #[inline]
    pub fn bids(&self) -> &Ladder {
        &self.bids
    }

    #[inline]
    pub fn asks(&self) -> &Ladder {
        &self.asks
    }

    #[inline]
    pub fn top(&self) -> Top {
        Top {
            bid: self.bids.best(),
            ask: self.asks.best(),
        }
    }

    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    #[inline]
    pub fn state(&self) -> BookState {
        self.state
    }

    pub fn set_state(&mut self, state: BookState) {
        self.state = state;
    }

    #[inline]
    pub fn stamp(&self) -> Stamp {
        self.stamp
    }

    /// True when the best bid is at or above the best ask.
    #[inline]
    pub fn is_crossed(&self) -> bool {
        matches!((self.bids.best(), self.asks.best()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// Set one level without the per-message bookkeeping. Use inside a message, then
    /// [`Book::finish_message`]; or use [`Book::apply_delta`] for a one-delta message.
    #[inline]
    pub fn set_level(&mut self, side: Side, price: u64, qty: u64) {
        self.side_mut(side).set(price, qty);
    }

    /// End of a venue message: record the stamp, update the state (crossed -> BROKEN; a STALE
    /// book that receives data is LIVE again) and report the change since `old`.
    #[inline]
    pub fn finish_message(&mut self, old: Top, stamp: Option<Stamp>) -> Change {
        if let Some(s) = stamp {
            self.stamp = s;
        }
        let new = self.top();
        // the crossing check reads the tops just taken rather than the ladders again
        if matches!((new.bid, new.ask), (Some(b), Some(a)) if b.price >= a.price) {
            self.state = BookState::Broken;
        } else if self.state == BookState::Stale {
            self.state = BookState::Live;
        }
        Change { old, new }
    }

    /// Apply a one-delta message.
    #[inline]
    pub fn apply_delta(
        &mut self,
        side: Side,
        price: u64,
        qty: u64,
        stamp: Option<Stamp>,
    ) -> Change {
        let old = self.top();
        self.side_mut(side).set(price, qty);
        self.finish_message(old, stamp)
    }

    /// Apply one message of several deltas, in order.
    pub fn apply_deltas(&mut self, deltas: &[Delta], stamp: Option<Stamp>) -> Change {
        let old = self.top();
        for d in deltas {
            self.side_mut(d.side).set(d.price, d.qty);
        }
        self.finish_message(old, stamp)
    }

    /// Replace the book with a snapshot; the book becomes LIVE (or BROKEN if crossed).
    pub fn apply_snapshot(&mut self, bids: &[Level], asks: &[Level], stamp: Stamp) -> Change {
        let old = self.top();
        self.bids.load(bids);
        self.asks.load(asks);
        self.state = BookState::Live;
        self.finish_message(old, Some(stamp))
    }

    /// Keep only the best `depth` levels per side.
    pub fn truncate(&mut self, depth: usize) {
        self.bids.truncate(depth);
        self.asks.truncate(depth);
    }

    /// Drop every level; the book waits for a snapshot (SYNCING).
    pub fn clear(&mut self) -> Change {
        let old = self.top();
        self.bids.clear();
        self.asks.clear();
        self.state = BookState::Syncing;
        Change {
            old,
            new: self.top(),
        }
    }

    /// Mark a LIVE book STALE if its last message is older than `max_age_ns` at `now_ns`.
    /// Returns true if the state changed.
    pub fn check_stale(&mut self, now_ns: i64, max_age_ns: i64) -> bool {
        if self.state == BookState::Live && now_ns.saturating_sub(self.stamp.recv_ts) > max_age_ns {
            self.state = BookState::Stale;
            return true;
        }
        false
    }

    /// Heap bytes held by both ladders.
    pub fn heap_bytes(&self) -> usize {
        self.bids.heap_bytes() + self.asks.heap_bytes()
    }
}

#[cfg(test)]
mod tests;
