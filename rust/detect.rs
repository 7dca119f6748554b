//! Cross-venue opportunity search for one ordered pair: buy on A (walk A's asks), sell on B
//! (walk B's bids).
//!
//! # The objective, exactly
//! For a quantity `q` (raw, qty scale): `C(q)` is the cost of taking `q` from A's asks and
//! `P(q)` the proceeds of selling `q` into B's bids, both exact notionals (price raw x qty raw).
//! With `F = FEE_SCALE` and taker fees `fa`, `fb` (in 1/F):
//!
//! `net_e(q) = P(q) * (F - fb) - C(q) * (F + fa)`   (exact, in notional units x F)
//!
//! We maximise `net_e` over `q` that are multiples of both venues' lots, subject to: depth on
//! both books, both venues' minimum quantity, minimum notional at the expected fill prices
//! (`C(q)` on A, `P(q)` on B), `C(q) * (F + fa) <= quote balance on A`, `q <= base balance on B`,
//! `C(q) <= max notional`, edge `net_e / (F * C) >= min edge`, and `net_e > 0`. Ties go to the
//! smaller quantity. Reported profits are `floor(net_e / F)`: never better than the truth.
//!
//! # Why it is fast
//! `net_e` is piecewise linear and concave in `q` (each further unit buys at a price no better
//! and sells at a price no better), the upper constraints (`C`, balances, edge) bind on an
//! interval `[0, q_hi]` and the lower ones (minimums) on `[q_lo, inf)`. So one merged walk of
//! the two ladders up to the point where the marginal unit stops paying (or a cap binds) gives
//! the continuous optimum `q_c`; the lattice optimum is one of `floor(q_c)`, `ceil(q_c)` or
//! `ceil(q_lo)` on the lot lattice, each checked exactly. Most calls stop at the O(1) top-of-book
//! test. `tests` compares this against a brute force over every lattice quantity.

use crate::book::Ladder;
use crate::fixed::{ceil_to, floor_to};
use crate::instrument::{VenueSpec, FEE_SCALE};

const F: i128 = FEE_SCALE as i128;

/// Funds and risk limits for one pair evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairLimits {
    /// Quote asset available on the buy venue, notional scale.
    pub quote_balance: u128,
    /// Base asset available on the sell venue, qty scale.
    pub base_balance: u128,
    /// Largest buy notional, notional scale.
    pub max_notional: u128,
    /// Minimum net edge in bps with 4 decimals (10_000 = 1 bps), i.e. in 1/F of the notional.
    pub min_edge: u64,
}

impl PairLimits {
    pub const UNLIMITED: PairLimits = PairLimits {
        quote_balance: u128::MAX,
        base_balance: u128::MAX,
        max_notional: u128::MAX,
        min_edge: 0,
    };
}

/// The best fill for a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairFill {
    pub qty: u64,
    /// Buy limit on A's tick, rounded down (never pays more than the walk assumed).
    pub buy_limit: u64,
    /// Sell limit on B's tick, rounded up (never sells lower than the walk assumed).
    pub sell_limit: u64,
    /// Exact cost on A before fees, notional scale.
    pub cost: u128,
    /// Exact proceeds on B before fees, notional scale.
    pub proceeds: u128,
    /// Exact net profit after both taker fees, in notional units x F.
    pub net_e: i128,
}

impl PairFill {
    /// Net profit, floored to notional units.
    pub fn net_profit(&self) -> i128 {
        self.net_e.div_euclid(F)
    }

    /// Gross profit (before fees), notional units.
    pub fn gross_profit(&self) -> i128 {
        self.proceeds as i128 - self.cost as i128
    }

    /// Net edge in bps, for display (decisions use the exact integers).
    pub fn edge_bps(&self) -> f64 {
        if self.cost == 0 {
            return 0.0;
        }
        self.net_e as f64 / F as f64 / self.cost as f64 * 1e4
    }
}

/// Everything a pair evaluation needs.
#[derive(Debug, Clone, Copy)]
pub struct PairInput<'a> {
    /// A's asks (we buy there).
    pub asks: &'a Ladder,
    /// B's bids (we sell there).
    pub bids: &'a Ladder,
    pub buy: &'a VenueSpec,
    pub sell: &'a VenueSpec,
    pub limits: PairLimits,
}

#[inline]
fn sat_i128(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Least common multiple of the two lots: the quantity lattice both venues accept.
pub fn lot_lattice(a: u64, b: u64) -> Option<u64> {
    if a == 0 || b == 0 {
        return None;
    }
    (a / gcd(a, b)).checked_mul(b)
}

/// Cost (or proceeds) of `q` units walked from the best level, and the worst price touched.
/// `None` if the ladder holds less than `q` or the sum overflows.
fn walk_cost(ladder: &Ladder, q: u64) -> Option<(u128, u64)> {
    let mut left = q;
    let mut cost: u128 = 0;
    let mut worst = 0u64;
    let mut i = 0usize;
    while left > 0 {
        let l = ladder.nth(i)?;
        let take = left.min(l.qty);
        cost = cost.checked_add(u128::from(l.price) * u128::from(take))?;
        worst = l.price;
        left -= take;
        i += 1;
    }
    Some((cost, worst))
}

/// Smallest `q` with walked notional >= `x`; `None` if the ladder's whole notional is below.
fn min_qty_for_notional(ladder: &Ladder, x: u128) -> Option<u64> {
    if x == 0 {
        return Some(0);
    }
    let mut cum: u128 = 0;
    let mut q: u64 = 0;
    for l in ladder.iter() {
        let level_notional = u128::from(l.price) * u128::from(l.qty);
        if cum + level_notional >= x {
            let need = x - cum;
            let units = need.div_ceil(u128::from(l.price.max(1)));
            return q.checked_add(u64::try_from(units).ok()?);
        }
        cum += level_notional;
        q = q.checked_add(l.qty)?;
    }
    None
}

/// One stretch of the merged walk where both the ask price `a` and the bid price `b` are fixed:
/// quantities `q0 < q <= q0 + len` cost `cost0 + a * (q - q0)` and yield `proceeds0 + b * (q - q0)`.
#[derive(Debug, Clone, Copy, Default)]
struct Segment {
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
    fn at(&self, q: u64) -> Option<(u128, u128, u64, u64)> {
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
#[derive(Debug, Clone, Copy, Default)]
struct Walk {
    q_c: u64,
    cur: Segment,
    prev: Segment,
}

/// Continuous optimum: walk both ladders while the marginal unit pays and no cap binds.
fn continuous_optimum(inp: &PairInput<'_>) -> Option<Walk> {
    let fa = F + i128::from(inp.buy.taker_fee);
    let fb = F - i128::from(inp.sell.taker_fee);
    let lim = &inp.limits;
    let m = i128::from(lim.min_edge);
    let max_notional = sat_i128(lim.max_notional);
    let quote_cap = sat_i128(lim.quote_balance).saturating_mul(F);
    let base_cap = sat_i128(lim.base_balance);

    let (mut i, mut j) = (0usize, 0usize);
    let mut a_lv = inp.asks.nth(0)?;
    let mut b_lv = inp.bids.nth(0)?;
    let (mut ra, mut rb) = (a_lv.qty, b_lv.qty);
    let (mut q, mut cost, mut h): (i128, i128, i128) = (0, 0, 0);
    let mut proceeds: u128 = 0;
    let mut walk = Walk::default();
    loop {
        walk.prev = walk.cur;
        walk.cur = Segment {
            q0: u64::try_from(q).ok()?,
            len: ra.min(rb),
            cost0: u128::try_from(cost).ok()?,
            proceeds0: proceeds,
            a: a_lv.price,
            b: b_lv.price,
        };
        let a = i128::from(a_lv.price);
        let b = i128::from(b_lv.price);
        let marginal = b * fb - a * fa;
        if marginal <= 0 {
            break;
        }
        let seg = i128::from(ra.min(rb));
        let slope_h = marginal - m * a;
        // Each cap is tested with multiplications first; the (slow, 128-bit) division that
        // finds where inside the segment it binds runs only for the cap that actually binds.
        let mut x = seg.min(base_cap - q);
        let seg_cost = a.saturating_mul(seg);
        if cost.saturating_add(seg_cost) > max_notional {
            x = x.min((max_notional - cost) / a.max(1));
        }
        if cost.saturating_add(seg_cost).saturating_mul(fa) > quote_cap {
            x = x.min((quote_cap - cost.saturating_mul(fa)) / (a * fa).max(1));
        }
        if slope_h < 0 && h.saturating_add(slope_h.saturating_mul(seg)) < 0 {
            x = x.min(h / -slope_h);
        }
        let x = x.max(0);
        if x < seg {
            q += x;
            break;
        }
        q += seg;
        cost = cost.checked_add(a.checked_mul(seg)?)?;
        h = h.checked_add(slope_h.checked_mul(seg)?)?;
        let seg = seg as u64;
        proceeds = proceeds.checked_add(u128::from(b_lv.price) * u128::from(seg))?;
        ra -= seg;
        rb -= seg;
        if ra == 0 {
            i += 1;
            match inp.asks.nth(i) {
                Some(l) => {
                    a_lv = l;
                    ra = l.qty;
                }
                None => break,
            }
        }
        if rb == 0 {
            j += 1;
            match inp.bids.nth(j) {
                Some(l) => {
                    b_lv = l;
                    rb = l.qty;
                }
                None => break,
            }
        }
    }
    walk.q_c = u64::try_from(q).ok()?;
    Some(walk)
}

/// Evaluate one quantity exactly against every rule; `Some` only if all hold.
pub fn evaluate(inp: &PairInput<'_>, q: u64) -> Option<PairFill> {
    if q == 0 {
        return None;
    }
    let (cost, worst_ask) = walk_cost(inp.asks, q)?;
    let (proceeds, worst_bid) = walk_cost(inp.bids, q)?;
    check(inp, q, cost, proceeds, worst_ask, worst_bid)
}

/// [`evaluate`] using the walk's last segments when `q` ends inside one of them.
fn evaluate_near(inp: &PairInput<'_>, walk: &Walk, q: u64) -> Option<PairFill> {
    match walk.cur.at(q).or_else(|| walk.prev.at(q)) {
        Some((cost, proceeds, wa, wb)) => check(inp, q, cost, proceeds, wa, wb),
        None => evaluate(inp, q),
    }
}

/// Every rule, given the exact cost and proceeds of `q` and the worst prices it touches.
fn check(
    inp: &PairInput<'_>,
    q: u64,
    cost: u128,
    proceeds: u128,
    worst_ask: u64,
    worst_bid: u64,
) -> Option<PairFill> {
    if q == 0 || q < inp.buy.min_qty || q < inp.sell.min_qty {
        return None;
    }
    if u128::from(q) > inp.limits.base_balance {
        return None;
    }
    if cost < inp.buy.min_notional
        || proceeds < inp.sell.min_notional
        || cost > inp.limits.max_notional
    {
        return None;
    }
    let fa = F + i128::from(inp.buy.taker_fee);
    let fb = F - i128::from(inp.sell.taker_fee);
    let c = i128::try_from(cost).ok()?;
    let p = i128::try_from(proceeds).ok()?;
    let spend = c.checked_mul(fa)?;
    let quote_cap = sat_i128(inp.limits.quote_balance).saturating_mul(F);
    if spend > quote_cap {
        return None;
    }
    let net_e = p.checked_mul(fb)?.checked_sub(spend)?;
    if net_e <= 0 || net_e < i128::from(inp.limits.min_edge).checked_mul(c)? {
        return None;
    }
    Some(PairFill {
        qty: q,
        buy_limit: floor_to(worst_ask, inp.buy.tick),
        sell_limit: ceil_to(worst_bid, inp.sell.tick)?,
        cost,
        proceeds,
        net_e,
    })
}

/// Quick test on the two tops: can any quantity pay after fees?
#[inline]
pub fn tops_cross(inp: &PairInput<'_>) -> bool {
    match (inp.asks.best(), inp.bids.best()) {
        (Some(a), Some(b)) => {
            let fa = F + i128::from(inp.buy.taker_fee);
            let fb = F - i128::from(inp.sell.taker_fee);
            i128::from(b.price) * fb > i128::from(a.price) * fa
        }
        _ => false,
    }
}

/// The most profitable fill for buying on A and selling on B, if any.
pub fn best_fill(inp: &PairInput<'_>) -> Option<PairFill> {
    if !tops_cross(inp) {
        return None;
    }
    let lot = lot_lattice(inp.buy.lot, inp.sell.lot)?;
    let walk = continuous_optimum(inp)?;
    let q_c = walk.q_c;
    let mut q_lo = inp.buy.min_qty.max(inp.sell.min_qty);
    if inp.buy.min_notional > 0 {
        q_lo = q_lo.max(min_qty_for_notional(inp.asks, inp.buy.min_notional)?);
    }
    if inp.sell.min_notional > 0 {
        q_lo = q_lo.max(min_qty_for_notional(inp.bids, inp.sell.min_notional)?);
    }
    let candidates = [
        floor_to(q_c, lot),
        ceil_to(q_c, lot).unwrap_or(0),
        ceil_to(q_lo, lot).unwrap_or(0),
    ];
    let mut best: Option<PairFill> = None;
    for (k, &q) in candidates.iter().enumerate() {
        if q == 0 || candidates[..k].contains(&q) {
            continue;
        }
        if let Some(f) = evaluate_near(inp, &walk, q) {
            let better = match &best {
                None => true,
                Some(b) => f.net_e > b.net_e || (f.net_e == b.net_e && f.qty < b.qty),
            };
            if better {
                best = Some(f);
            }
        }
    }
    best
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
