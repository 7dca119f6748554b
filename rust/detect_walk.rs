//! The merged walk of A's asks against B's bids that finds the continuous optimum
//! (`detect.rs`, "Why it is fast"), and the reading machinery the search uses.
//!
//! The walk is the hot loop of detection. It has two loops over one state: a narrow one for
//! the common case, where every price, quantity and running sum is far enough below the
//! 128-bit limits that plain arithmetic is exact (single 64x64->128 multiplies, no overflow
//! checks, each cap one comparison against a bound below which it cannot bind, the next level
//! of each side loaded a step ahead, no branch on which side steps), and the general one, the
//! exact reference with checked and saturating 128-bit arithmetic. The narrow loop hands the
//! state over to the general loop at the top of the first segment it cannot take whole; for
//! the segments it takes it computes exactly what the general loop computes
//! (`detect_tests::narrow_walk_equals_general_walk`).

use super::{PairInput, PairLimits, Reach, F};
use crate::book::{Ladder, Level};
use crate::instrument::VenueSpec;
use std::cell::Cell;

/// A ladder as the search reads it: every read goes through [`Reader::nth`], which remembers
/// the deepest level asked for.
pub(super) struct Reader<'a> {
    ladder: &'a Ladder,
    read: Cell<usize>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(ladder: &'a Ladder) -> Self {
        Reader {
            ladder,
            read: Cell::new(0),
        }
    }

    #[inline]
    pub(super) fn nth(&self, i: usize) -> Option<Level> {
        self.read.set(self.read.get().max(i + 1));
        self.ladder.nth(i)
    }

    /// Read `i` without remembering it: the caller records its deepest index with
    /// [`Reader::mark`] (the narrow loop, whose indices only grow).
    #[inline(always)]
    fn peek(&self, i: usize) -> Option<Level> {
        self.ladder.nth(i)
    }

    #[inline]
    fn mark(&self, i: usize) {
        self.read.set(self.read.get().max(i + 1));
    }
}

/// One pair search: the input with its ladders behind readers.
pub(super) struct Search<'a> {
    pub(super) asks: Reader<'a>,
    pub(super) bids: Reader<'a>,
    pub(super) buy: &'a VenueSpec,
    pub(super) sell: &'a VenueSpec,
    pub(super) limits: PairLimits,
}

impl<'a> Search<'a> {
    pub(super) fn new(inp: &PairInput<'a>) -> Self {
        Search {
            asks: Reader::new(inp.asks),
            bids: Reader::new(inp.bids),
            buy: inp.buy,
            sell: inp.sell,
            limits: inp.limits,
        }
    }

    pub(super) fn reach(&self) -> Reach {
        Reach {
            asks: self.asks.read.get(),
            bids: self.bids.read.get(),
        }
    }
}

#[inline]
pub(super) fn sat_i128(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}

// Products in the walk: prices, quantities and fee factors are 64-bit values in practice, and
// the product of two values that fit i64 cannot overflow i128. These take one 64x64->128
// multiply then, instead of the general 128-bit multiply with overflow detection; otherwise
// they are exactly the i128 operation they replace (property-tested), so results never change.

/// `x * y` (the plain i128 operator).
#[inline(always)]
pub(super) fn mul(x: i128, y: i128) -> i128 {
    match (i64::try_from(x), i64::try_from(y)) {
        (Ok(a), Ok(b)) => i128::from(a) * i128::from(b),
        _ => x * y,
    }
}

/// `x.saturating_mul(y)`.
#[inline(always)]
pub(super) fn sat_mul(x: i128, y: i128) -> i128 {
    match (i64::try_from(x), i64::try_from(y)) {
        (Ok(a), Ok(b)) => i128::from(a) * i128::from(b),
        _ => x.saturating_mul(y),
    }
}

/// `x.checked_mul(y)`.
#[inline(always)]
pub(super) fn chk_mul(x: i128, y: i128) -> Option<i128> {
    match (i64::try_from(x), i64::try_from(y)) {
        (Ok(a), Ok(b)) => Some(i128::from(a) * i128::from(b)),
        _ => x.checked_mul(y),
    }
}

/// One stretch of the merged walk where both the ask price `a` and the bid price `b` are fixed:
/// quantities `q0 < q <= q0 + len` cost `cost0 + a * (q - q0)` and yield `proceeds0 + b * (q - q0)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Segment {
    q0: u64,
    len: u64,
    cost0: u128,
    proceeds0: u128,
    a: u64,
    b: u64,
}

impl Segment {
    /// Cost, proceeds and the worst prices touched for `q`, if `q` ends inside this segment.
    #[inline]
    pub(super) fn at(&self, q: u64) -> Option<(u128, u128, u64, u64)> {
        if q > self.q0 && q - self.q0 <= self.len {
            let d = u128::from(q - self.q0);
            let cost = self.cost0.checked_add(u128::from(self.a) * d)?;
            let proceeds = self.proceeds0.checked_add(u128::from(self.b) * d)?;
            Some((cost, proceeds, self.a, self.b))
        } else {
            None
        }
    }
}

/// The continuous optimum and the last two segments walked (the lattice candidates next to
/// the optimum almost always end inside them, so they are priced without walking again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Walk {
    pub(super) q_c: u64,
    pub(super) cur: Segment,
    pub(super) prev: Segment,
}

/// The walk between two segments: where it stands on each ladder and what it has summed.
#[derive(Debug, Clone, Copy)]
struct State {
    /// Current ask level (index, level, quantity left in it).
    i: usize,
    a_lv: Level,
    ra: u64,
    /// Current bid level.
    j: usize,
    b_lv: Level,
    rb: u64,
    q: i128,
    cost: i128,
    /// Edge headroom: `net_e - min_edge * cost`, summed per segment.
    h: i128,
    proceeds: u128,
    walk: Walk,
}

/// A pair's fees and caps, as the walk uses them.
#[derive(Debug, Clone, Copy)]
struct Caps {
    fa: i128,
    fb: i128,
    m: i128,
    max_notional: i128,
    quote_cap: i128,
    base_cap: i128,
    /// Up to this cost neither the notional cap nor the quote cap can bind: `c * fa <=
    /// quote_cap` holds for `c <= quote_cap / 2^28` when `0 <= fa < 2^28` (every fee below
    /// 100%). A shift, not the exact 128-bit division: past it the exact tests run.
    room: i128,
}

impl Caps {
    fn new(inp: &Search<'_>) -> Self {
        let fa = F + i128::from(inp.buy.taker_fee);
        let fb = F - i128::from(inp.sell.taker_fee);
        let lim = &inp.limits;
        let max_notional = sat_i128(lim.max_notional);
        let quote_cap = sat_mul(sat_i128(lim.quote_balance), F);
        Caps {
            fa,
            fb,
            m: i128::from(lim.min_edge),
            max_notional,
            quote_cap,
            base_cap: sat_i128(lim.base_balance),
            room: if (0..FACTOR_MAX).contains(&fa) {
                max_notional.min(quote_cap >> 28)
            } else {
                -1
            },
        }
    }
}

/// How a loop stopped.
enum Stop {
    /// The walk is over: `State::walk` holds the segments, `State::q` the optimum.
    Done,
    /// The narrow loop cannot take the next segment: the general loop goes on from here.
    Handover,
}

/// Continuous optimum: walk both ladders while the marginal unit pays and no cap binds.
pub(super) fn continuous_optimum(inp: &Search<'_>) -> Option<Walk> {
    walk_from_start(inp, true)
}

/// The walk by the general loop alone: the reference the narrow loop is tested against.
#[cfg(test)]
pub(super) fn continuous_optimum_general(inp: &Search<'_>) -> Option<Walk> {
    walk_from_start(inp, false)
}

#[inline(always)]
fn walk_from_start(inp: &Search<'_>, use_narrow: bool) -> Option<Walk> {
    let caps = Caps::new(inp);
    let a_lv = inp.asks.nth(0)?;
    let b_lv = inp.bids.nth(0)?;
    let mut st = State {
        i: 0,
        a_lv,
        ra: a_lv.qty,
        j: 0,
        b_lv,
        rb: b_lv.qty,
        q: 0,
        cost: 0,
        h: 0,
        proceeds: 0,
        walk: Walk::default(),
    };
    let stop = if use_narrow {
        narrow(inp, &caps, &mut st)
    } else {
        Stop::Handover
    };
    if let Stop::Handover = stop {
        general(inp, &caps, &mut st)?;
    }
    st.walk.q_c = u64::try_from(st.q).ok()?;
    Some(st.walk)
}

/// Bounds of the narrow loop. With prices below 2^40, quantities below 2^50, fee factors and
/// the minimum edge below 2^28 and running sums below 2^94, every product and sum in a
/// segment, and the edge headroom rebuilt at the end, stay below 2^127.
const PRICE_MAX: u64 = 1 << 40;
const QTY_MAX: u64 = 1 << 50;
const FACTOR_MAX: i128 = 1 << 28;
const Q_MAX: u64 = 1 << 62;
const SUM_MAX: u128 = 1 << 94;

/// Segments taken whole with plain arithmetic (module docs), from the start of the walk;
/// [`Stop::Handover`] at the top of the first one that is out of bounds or in which a cap may
/// bind.
#[inline]
fn narrow(inp: &Search<'_>, caps: &Caps, st: &mut State) -> Stop {
    let factors_ok = (0..FACTOR_MAX).contains(&caps.fa)
        && (0..FACTOR_MAX).contains(&caps.fb)
        && (0..FACTOR_MAX).contains(&caps.m);
    if !factors_ok || caps.room < 0 || st.q != 0 {
        return Stop::Handover;
    }
    if caps.m == 0 {
        narrow_loop::<true>(inp, caps, st)
    } else {
        narrow_loop::<false>(inp, caps, st)
    }
}

/// [`narrow`]'s loop; `NO_EDGE`: no minimum edge, so a segment that pays never lowers the
/// edge headroom. The state lives in locals (registers) and is written back on exit; of the
/// segment before the last only its prices and length are kept, its start is rebuilt from the
/// last one's.
#[inline(always)]
fn narrow_loop<const NO_EDGE: bool>(inp: &Search<'_>, caps: &Caps, st: &mut State) -> Stop {
    // In range (checked by `narrow`): the casts are exact.
    let (fa, fb, fam) = (caps.fa as u128, caps.fb as u128, (caps.fa + caps.m) as u128);
    let (room, base_cap) = (caps.room as u128, caps.base_cap as u128);
    let (mut i, mut j) = (st.i, st.j);
    let (mut a, mut b, mut ra, mut rb) = (st.a_lv.price, st.b_lv.price, st.ra, st.rb);
    let (mut q, mut cost, mut proceeds) = (0u64, 0u128, 0u128);
    // The last two segments walked: (a, b, len) each, `segs` of them so far.
    let (mut last, mut before) = ((0u64, 0u64, 0u64), (0u64, 0u64, 0u64));
    let mut segs = 0u32;
    // Whether the last segment was taken (its quantity is in the sums).
    let mut took_last = false;
    // The level after the current one on each side, loaded a segment ahead: stepping onto it
    // then waits for no load (the walk's chain of dependent steps is its cost).
    let (mut next_a, mut next_b) = (inp.asks.peek(i + 1), inp.bids.peek(j + 1));
    let stop = loop {
        if (a | b) >= PRICE_MAX
            || (ra | rb) >= QTY_MAX
            || q >= Q_MAX
            || cost >= SUM_MAX
            || proceeds >= SUM_MAX
        {
            break Stop::Handover;
        }
        let seg = ra.min(rb);
        let buy = u128::from(a) * fa;
        let sell = u128::from(b) * fb;
        let seg_cost = u128::from(a) * u128::from(seg);
        let pays = sell > buy;
        // The general loop's "whole" test: base cap, notional and quote caps (`room`), and a
        // non-negative edge slope (`sell - buy - m * a >= 0`).
        if pays
            && !(u128::from(seg) <= base_cap.saturating_sub(u128::from(q))
                && cost + seg_cost <= room
                && (NO_EDGE || sell >= u128::from(a) * fam))
        {
            break Stop::Handover;
        }
        before = last;
        last = (a, b, seg);
        segs = segs.saturating_add(1);
        took_last = false;
        if !pays {
            break Stop::Done;
        }
        q += seg;
        cost += seg_cost;
        proceeds += u128::from(b) * u128::from(seg);
        took_last = true;
        ra -= seg;
        rb -= seg;
        // Onto the next level of each exhausted side, without a branch (see `advance`).
        let (step_a, step_b) = (ra == 0, rb == 0);
        i += usize::from(step_a);
        j += usize::from(step_b);
        if step_a && next_a.is_none() || step_b && next_b.is_none() {
            break Stop::Done;
        }
        // (A side that does not step keeps its level; its `next` may be absent.)
        let na = next_a.unwrap_or(Level { price: a, qty: ra });
        let nb = next_b.unwrap_or(Level { price: b, qty: rb });
        a = if step_a { na.price } else { a };
        ra = if step_a { na.qty } else { ra };
        b = if step_b { nb.price } else { b };
        rb = if step_b { nb.qty } else { rb };
        next_a = inp.asks.peek(i + 1);
        next_b = inp.bids.peek(j + 1);
    };
    inp.asks.mark(i);
    inp.bids.mark(j);
    // The segments, rebuilt: the last one starts where the sums stood before it was taken,
    // the one before it one length earlier.
    let (q0, c0, p0) = if took_last {
        (
            q - last.2,
            cost - u128::from(last.0) * u128::from(last.2),
            proceeds - u128::from(last.1) * u128::from(last.2),
        )
    } else {
        (q, cost, proceeds)
    };
    if segs >= 1 {
        st.walk.cur = Segment {
            q0,
            len: last.2,
            cost0: c0,
            proceeds0: p0,
            a: last.0,
            b: last.1,
        };
    }
    if segs >= 2 {
        st.walk.prev = Segment {
            q0: q0 - before.2,
            len: before.2,
            cost0: c0 - u128::from(before.0) * u128::from(before.2),
            proceeds0: p0 - u128::from(before.1) * u128::from(before.2),
            a: before.0,
            b: before.1,
        };
    }
    st.i = i;
    st.j = j;
    st.a_lv = Level { price: a, qty: 0 };
    st.b_lv = Level { price: b, qty: 0 };
    st.ra = ra;
    st.rb = rb;
    // Below the bounds every cast is exact. The edge headroom the general loop sums per
    // segment, `(b * fb - a * fa - m * a) * seg`, adds up to `fb * proceeds - (fa + m) * cost`.
    st.q = i128::from(q);
    st.cost = cost as i128;
    st.proceeds = proceeds;
    st.h = (fb * proceeds) as i128 - (fam * cost) as i128;
    stop
}

/// Past the segment of `seg` units: onto the next level of each exhausted side. Which side
/// runs out first is data-dependent and unpredictable, so both next levels are loaded (the
/// current one again for a side that is not exhausted) and selected without a branch. False
/// when an exhausted side has no further level: the walk ends.
#[inline(always)]
fn advance(inp: &Search<'_>, st: &mut State, seg: u64) -> bool {
    st.ra -= seg;
    st.rb -= seg;
    let (step_a, step_b) = (st.ra == 0, st.rb == 0);
    st.i += usize::from(step_a);
    st.j += usize::from(step_b);
    let (Some(na), Some(nb)) = (inp.asks.nth(st.i), inp.bids.nth(st.j)) else {
        return false;
    };
    st.a_lv = if step_a { na } else { st.a_lv };
    st.ra = if step_a { na.qty } else { st.ra };
    st.b_lv = if step_b { nb } else { st.b_lv };
    st.rb = if step_b { nb.qty } else { st.rb };
    true
}

/// The exact walk with checked and saturating 128-bit arithmetic; `None` where a figure does
/// not fit.
fn general(inp: &Search<'_>, caps: &Caps, st: &mut State) -> Option<()> {
    let Caps {
        fa,
        fb,
        m,
        max_notional,
        quote_cap,
        base_cap,
        room,
    } = *caps;
    loop {
        let seg64 = st.ra.min(st.rb);
        st.walk.prev = st.walk.cur;
        st.walk.cur = Segment {
            q0: u64::try_from(st.q).ok()?,
            len: seg64,
            cost0: u128::try_from(st.cost).ok()?,
            proceeds0: st.proceeds,
            a: st.a_lv.price,
            b: st.b_lv.price,
        };
        let (q, cost, h) = (st.q, st.cost, st.h);
        let a = i128::from(st.a_lv.price);
        let b = i128::from(st.b_lv.price);
        let marginal = mul(b, fb) - mul(a, fa);
        if marginal <= 0 {
            return Some(());
        }
        let seg = i128::from(seg64);
        // Saturating: an absurd minimum edge (m * a beyond i128) makes the slope hugely
        // negative, so the edge cap binds at once, instead of wrapping.
        let slope_h = marginal.saturating_sub(sat_mul(m, a));
        // a and seg are not negative: on overflow the saturated product is i128::MAX.
        let seg_cost_exact = chk_mul(a, seg);
        let seg_cost = seg_cost_exact.unwrap_or(i128::MAX);
        let whole = seg <= base_cap - q && cost.saturating_add(seg_cost) <= room && slope_h >= 0;
        if !whole {
            // The (slow, 128-bit) division that finds where inside the segment a cap binds
            // runs only for the cap that actually binds.
            let mut x = seg.min(base_cap - q);
            if cost.saturating_add(seg_cost) > max_notional {
                x = x.min((max_notional - cost) / a.max(1));
            }
            if sat_mul(cost.saturating_add(seg_cost), fa) > quote_cap {
                x = x.min((quote_cap - sat_mul(cost, fa)) / mul(a, fa).max(1));
            }
            if slope_h < 0 && h.saturating_add(sat_mul(slope_h, seg)) < 0 {
                x = x.min(h / slope_h.saturating_neg());
            }
            let x = x.max(0);
            if x < seg {
                st.q += x;
                return Some(());
            }
        }
        st.q += seg;
        st.cost = cost.checked_add(seg_cost_exact?)?;
        st.h = h.checked_add(chk_mul(slope_h, seg)?)?;
        st.proceeds = st
            .proceeds
            .checked_add(u128::from(st.b_lv.price) * u128::from(seg64))?;
        if !advance(inp, st, seg64) {
            return Some(());
        }
    }
}
