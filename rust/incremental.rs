//! Incremental opportunity detection for one instrument (`Consolidated::refresh`): which
//! ordered venue pairs to look at after which changes, and what to remember between refreshes
//! so that most of them are settled without walking the books.
//!
//! Between two refreshes each venue change is classed (see `Consolidated`'s apply methods):
//! - a top-of-book change or a state change marks the venue *dirty* and *moved*: its 2(n-1)
//!   ordered pairs are re-examined;
//! - any other change on a venue that is in a crossing pair marks it dirty only: whether its
//!   pairs cross depends on tops and states alone, so only its crossing pairs are examined;
//! - a *full* change (state, snapshot, clear, balance, limits) also forces each crossing pair
//!   of the venue to be searched again;
//! - on a venue that is in a crossing pair, the prices each message touched are kept per side
//!   (lowest ask, highest bid).
//!
//! Re-examining the pair (buy on A, sell on B) then takes the first step that settles it:
//! 1. A or B not LIVE: no opportunity;
//! 2. the fee-adjusted tops do not cross (one comparison of values cached per dirty venue,
//!    the common case): no opportunity;
//! 3. the pair crossed at the last refresh too, neither venue had a full change, and every ask
//!    touched on A since is above the highest ask the last search of this pair read, every bid
//!    touched on B below the lowest bid it read: the search would read exactly the same levels
//!    (`detect::Reach`), so its result stands; only the record's sequence numbers and
//!    timestamps are brought up to date;
//! 4. otherwise the exact search (`detect::best_fill_reach`), which reports how far it read.
//!
//! The outcome of every refresh is the same as searching every pair again (`detect_all`);
//! `consolidated_tests` checks that after every step of random message sequences.

use crate::book::{BookState, Delta, Side};
use crate::consolidated::{DetectStats, VenueSlot, MAX_VENUES};
use crate::detect::{best_fill_reach, net_ask, net_bid, PairInput, PairLimits};
use crate::opportunity::Opportunity;

/// A venue's fee-adjusted tops as of the last refresh that looked at it: the best ask x
/// (F + taker fee), what buying there costs, and the best bid x (F - taker fee), what selling
/// there yields. An empty side is `i128::MAX` (ask) or `i128::MIN` (bid), which never cross.
#[derive(Debug, Clone, Copy)]
struct NetTop {
    ask: i128,
    bid: i128,
}

impl NetTop {
    const NONE: NetTop = NetTop {
        ask: i128::MAX,
        bid: i128::MIN,
    };
}

/// Prices touched on a venue since the last refresh (only kept for venues in a crossing pair).
#[derive(Debug, Clone, Copy, Default)]
struct Touched {
    /// Lowest ask price touched.
    ask: Option<u64>,
    /// Highest bid price touched.
    bid: Option<u64>,
}

/// Where the last search of a pair stopped reading: a change to A's asks at a price
/// `<= ask` or to B's bids at a price `>= bid` can change its result.
#[derive(Debug, Clone, Copy)]
struct Horizon {
    ask: u64,
    bid: u64,
}

impl Horizon {
    /// Every change matters.
    const ALL: Horizon = Horizon {
        ask: u64::MAX,
        bid: 0,
    };
}

/// Detection state of one consolidated instrument.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    /// Current best fill per ordered pair, `pairs[buy * stride + sell]`.
    pairs: Vec<Option<Opportunity>>,
    /// Per pair: how far its last search read.
    horizons: Vec<Horizon>,
    /// The venues the pair tables have rows for: the book's venue count (see [`Tracker::grow`]).
    stride: usize,
    /// `crossing[a]`: venues b whose bids beat a's asks after fees at the last evaluation.
    crossing: [u16; MAX_VENUES],
    /// Venues in any crossing pair: the union over `crossing`, kept by `refresh`.
    active: u16,
    dirty: u16,
    /// Dirty venues whose top or state moved: all their pairs are examined. A venue that is
    /// dirty only by a change below its top (it is in a crossing pair) cannot change whether
    /// its other pairs cross; only its crossing pairs are examined.
    moved: u16,
    full: u16,
    /// Venues whose book was LIVE at the last refresh that looked at them.
    live: u16,
    tops: [NetTop; MAX_VENUES],
    touched: [Touched; MAX_VENUES],
    pub(crate) stats: DetectStats,
}

/// What a pair search needs besides the two venues.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub instrument: u32,
    pub max_notional: u128,
    pub min_edge: u64,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            pairs: Vec::new(),
            horizons: Vec::new(),
            stride: 0,
            crossing: [0; MAX_VENUES],
            active: 0,
            dirty: 0,
            moved: 0,
            full: 0,
            live: 0,
            tops: [NetTop::NONE; MAX_VENUES],
            touched: [Touched::default(); MAX_VENUES],
            stats: DetectStats::default(),
        }
    }
}

impl Tracker {
    /// True if `v` is in a pair whose tops cross after fees (as of the last refresh): then a
    /// change below its top can move the best fill too.
    #[inline]
    pub fn active(&self, v: usize) -> bool {
        self.active >> v & 1 == 1
    }

    /// Room for `n` venues' pairs (a venue was added), the pairs kept as they were.
    ///
    /// Why sized to the venues there are, not to `MAX_VENUES`: a table of 16 x 16 records is
    /// 36 KB, which [`Tracker::opportunities`] read whole at every decision and the dry run's
    /// crossed copy (`orders::warm`) copied whole: on the taker's two-venue rig that clone was
    /// 23% of a dry run (perf, cpu-clock samples), and its 36 KB went through a 32-48 KB L1.
    pub fn grow(&mut self, n: usize) {
        let old = self.stride;
        if n <= old {
            return;
        }
        let mut pairs = vec![None; n * n];
        let mut horizons = vec![Horizon::ALL; n * n];
        for a in 0..old {
            pairs[a * n..a * n + old].copy_from_slice(&self.pairs[a * old..(a + 1) * old]);
            horizons[a * n..a * n + old].copy_from_slice(&self.horizons[a * old..(a + 1) * old]);
        }
        self.pairs = pairs;
        self.horizons = horizons;
        self.stride = n;
    }

    #[inline]
    pub fn is_dirty(&self) -> bool {
        self.dirty != 0
    }

    /// `v`'s top moved: re-examine its pairs at the next refresh.
    #[inline]
    pub fn mark(&mut self, v: usize) {
        self.dirty |= 1 << v;
        self.moved |= 1 << v;
    }

    /// A change below `v`'s top while `v` is in a crossing pair (its prices were touched).
    #[inline]
    pub fn mark_depth(&mut self, v: usize) {
        self.dirty |= 1 << v;
    }

    /// Re-examine `v`'s pairs and search its crossing pairs again.
    #[inline]
    pub fn mark_full(&mut self, v: usize) {
        self.mark_full_mask(1 << v);
    }

    /// [`Tracker::mark_full`] for every venue of `mask`.
    #[inline]
    pub fn mark_full_mask(&mut self, mask: u16) {
        self.dirty |= mask;
        self.moved |= mask;
        self.full |= mask;
    }

    /// A level of `v` changed at `price` (kept only while `v` is active; see the module docs).
    #[inline]
    pub fn touch(&mut self, v: usize, side: Side, price: u64) {
        let t = &mut self.touched[v];
        match side {
            Side::Ask => t.ask = Some(t.ask.map_or(price, |p| p.min(price))),
            Side::Bid => t.bid = Some(t.bid.map_or(price, |p| p.max(price))),
        }
    }

    /// [`Tracker::touch`] for every delta of a message.
    #[inline]
    pub fn touch_deltas(&mut self, v: usize, deltas: &[Delta]) {
        for d in deltas {
            self.touch(v, d.side, d.price);
        }
    }

    /// [`Tracker::touch`] for a message given as columns (sides 0 = bid, 1 = ask).
    #[inline]
    pub fn touch_columns(&mut self, v: usize, sides: &[u8], prices: &[u64]) {
        let (mut ask, mut bid) = (u64::MAX, 0u64);
        let (mut any_ask, mut any_bid) = (false, false);
        for (&s, &p) in sides.iter().zip(prices) {
            if s == 0 {
                bid = bid.max(p);
                any_bid = true;
            } else {
                ask = ask.min(p);
                any_ask = true;
            }
        }
        if any_ask {
            self.touch(v, Side::Ask, ask);
        }
        if any_bid {
            self.touch(v, Side::Bid, bid);
        }
    }

    /// Current opportunities, best net profit first.
    pub fn opportunities(&self) -> Vec<Opportunity> {
        let mut out: Vec<Opportunity> = self.pairs.iter().flatten().copied().collect();
        out.sort_by(|x, y| {
            y.net_profit
                .cmp(&x.net_profit)
                .then(x.buy_venue.cmp(&y.buy_venue))
                .then(x.sell_venue.cmp(&y.sell_venue))
        });
        out
    }

    /// Re-examine the pairs that include a dirty venue; returns how many ordered pairs.
    pub fn refresh(&mut self, venues: &[VenueSlot], ctx: Context) -> usize {
        let dirty = self.dirty;
        if dirty == 0 {
            return 0;
        }
        let n = venues.len().min(MAX_VENUES);
        let all = if n == 0 { 0 } else { u16::MAX >> (16 - n) };
        let moved = self.moved & all;
        for v in bits(moved) {
            if let Some(slot) = venues.get(v) {
                let live = slot.book.state() == BookState::Live;
                self.live = self.live & !(1 << v) | u16::from(live) << v;
                self.tops[v] = net_top(slot);
            }
        }
        // Every ordered pair with a dirty venue once: (dirty, any) then (clean, dirty).
        for a in bits(dirty & all) {
            for b in bits(all & !(1 << a)) {
                self.visit(venues, ctx, moved, a, b);
            }
            for b in bits(all & !dirty) {
                self.visit(venues, ctx, moved, b, a);
            }
        }
        // Only now: a pair of two dirty venues reads both venues' touched prices.
        for a in bits(dirty & all) {
            self.touched[a] = Touched::default();
        }
        self.dirty = 0;
        self.moved = 0;
        self.full = 0;
        self.active = 0;
        for a in 0..n {
            let row = self.crossing[a];
            if row != 0 {
                self.active |= row | 1 << a;
            }
        }
        // n(n-1) ordered pairs, less those between two clean venues.
        let clean = n - (dirty & all).count_ones() as usize;
        n * n.saturating_sub(1) - clean * clean.saturating_sub(1)
    }

    /// A pair with a dirty venue. If neither venue's top or state moved, its crossing status
    /// stands (it only depends on both tops and states), so only a crossing pair is examined.
    #[inline(always)]
    fn visit(&mut self, venues: &[VenueSlot], ctx: Context, moved: u16, a: usize, b: usize) {
        if (moved >> a | moved >> b) & 1 == 1 || self.crossing[a] >> b & 1 == 1 {
            self.examine(venues, ctx, a, b);
        } else if self.live >> a & self.live >> b & 1 == 1 {
            self.stats.pairs_evaluated += 1;
        }
    }

    /// Settle the ordered pair (buy on `a`, sell on `b`): steps 1-2 of the module docs here,
    /// 3-4 in [`Tracker::crossing_pair`].
    #[inline(always)]
    fn examine(&mut self, venues: &[VenueSlot], ctx: Context, a: usize, b: usize) {
        if self.live >> a & self.live >> b & 1 == 0 {
            self.no_pair(a, b);
            return;
        }
        self.stats.pairs_evaluated += 1;
        if self.tops[b].bid <= self.tops[a].ask {
            self.no_pair(a, b);
            return;
        }
        self.crossing_pair(venues, ctx, a, b);
    }

    /// The pair has no opportunity. A record exists only for a pair marked crossing, so a
    /// pair that was not crossing has nothing to clear (its record slot is not touched).
    #[inline(always)]
    fn no_pair(&mut self, a: usize, b: usize) {
        if self.crossing[a] >> b & 1 == 1 {
            self.crossing[a] &= !(1 << b);
            if let Some(p) = self.pairs.get_mut(a * self.stride + b) {
                *p = None;
            }
        }
    }

    /// A pair whose tops cross after fees: keep its result if nothing it read changed, else
    /// search it again.
    #[inline(never)]
    fn crossing_pair(&mut self, venues: &[VenueSlot], ctx: Context, a: usize, b: usize) {
        let idx = a * self.stride + b;
        let was_crossing = self.crossing[a] >> b & 1 == 1;
        let (Some(sa), Some(sb)) = (venues.get(a), venues.get(b)) else {
            return;
        };
        if a >= self.stride || b >= self.stride {
            return; // (never: every venue was grown into the tables when it was added)
        }
        let h = self.horizons[idx];
        let unchanged = was_crossing
            && (self.full >> a | self.full >> b) & 1 == 0
            && self.touched[a].ask.map_or(true, |p| p > h.ask)
            && self.touched[b].bid.map_or(true, |p| p < h.bid);
        if unchanged {
            self.stats.pairs_kept += 1;
            if let Some(r) = &mut self.pairs[idx] {
                stamp(r, sa, sb);
            }
            return;
        }
        self.crossing[a] |= 1 << b;
        self.stats.pairs_walked += 1;
        let inp = PairInput {
            asks: sa.book.asks(),
            bids: sb.book.bids(),
            buy: &sa.spec,
            sell: &sb.spec,
            limits: PairLimits {
                quote_balance: sa.quote_balance,
                base_balance: sb.base_balance,
                max_notional: ctx.max_notional,
                min_edge: ctx.min_edge,
            },
        };
        let (fill, reach) = best_fill_reach(&inp);
        self.horizons[idx] = Horizon {
            ask: match reach.asks.checked_sub(1).and_then(|i| inp.asks.nth(i)) {
                Some(l) => l.price,
                None => u64::MAX,
            },
            bid: match reach.bids.checked_sub(1).and_then(|i| inp.bids.nth(i)) {
                Some(l) => l.price,
                None => 0,
            },
        };
        let rec = fill.and_then(|fill| {
            let mut r = Opportunity {
                instrument: ctx.instrument,
                buy_venue: a as u16,
                sell_venue: b as u16,
                qty: fill.qty,
                buy_limit: fill.buy_limit,
                sell_limit: fill.sell_limit,
                buy_notional: u64::try_from(fill.cost).ok()?,
                sell_notional: u64::try_from(fill.proceeds).ok()?,
                gross_profit: i64::try_from(fill.gross_profit()).ok()?,
                net_profit: i64::try_from(fill.net_profit()).ok()?,
                edge_bps: fill.edge_bps(),
                ..Opportunity::default()
            };
            stamp(&mut r, sa, sb);
            Some(r)
        });
        if fill.is_some() && rec.is_none() {
            self.stats.overflow_skips += 1;
        }
        self.pairs[idx] = rec;
    }
}

/// The indices of the set bits of `mask`, lowest first.
#[inline]
fn bits(mut mask: u16) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let i = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(i)
    })
}

/// The fee-adjusted tops of a venue.
fn net_top(s: &VenueSlot) -> NetTop {
    let fee = s.spec.taker_fee;
    NetTop {
        ask: s
            .book
            .best_ask()
            .map_or(i128::MAX, |l| net_ask(l.price, fee)),
        bid: s
            .book
            .best_bid()
            .map_or(i128::MIN, |l| net_bid(l.price, fee)),
    }
}

/// The sequence numbers and timestamps of the two books a record was computed from.
#[inline]
fn stamp(r: &mut Opportunity, sa: &VenueSlot, sb: &VenueSlot) {
    let (ta, tb) = (sa.book.stamp(), sb.book.stamp());
    r.buy_seq = ta.seq;
    r.sell_seq = tb.seq;
    r.buy_venue_ts = ta.venue_ts;
    r.buy_recv_ts = ta.recv_ts;
    r.sell_venue_ts = tb.venue_ts;
    r.sell_recv_ts = tb.recv_ts;
}
