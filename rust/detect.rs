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
#[cfg(test)]
use walk::continuous_optimum_general;
use walk::{chk_mul, continuous_optimum, mul, sat_i128, sat_mul, Reader, Search, Walk};

#[path = "detect_walk.rs"]
mod walk;

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
        to_f64(self.net_e) / F as f64 / to_f64(self.cost as i128) * 1e4
    }
}

/// `x as f64` (nearest), through a 64-bit conversion when `x` fits: the same value, without the
/// 128-bit conversion routine.
#[inline]
fn to_f64(x: i128) -> f64 {
    match i64::try_from(x) {
        Ok(v) => v as f64,
        Err(_) => x as f64,
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

/// How deep a search read each ladder: the levels `0..asks` of A's asks and `0..bids` of B's
/// bids, best first. A count above the ladder's length means the search looked past its end.
///
/// The search is a function of those levels alone (and of the venues' rules and limits), so a
/// later change that leaves them as they were, i.e. one at a price beyond the last level read,
/// cannot change its result: [`crate::consolidated::Consolidated::refresh`] relies on this.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    pub asks: usize,
    pub bids: usize,
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
    if a == b {
        return Some(a);
    }
    (a / gcd(a, b)).checked_mul(b)
}

/// Cost (or proceeds) of `q` units walked from the best level, and the worst price touched.
/// `None` if the ladder holds less than `q` or the sum overflows.
fn walk_cost(ladder: &Reader<'_>, q: u64) -> Option<(u128, u64)> {
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
fn min_qty_for_notional(ladder: &Reader<'_>, x: u128) -> Option<u64> {
    if x == 0 {
        return Some(0);
    }
    let mut cum: u128 = 0;
    let mut q: u64 = 0;
    let mut i = 0;
    while let Some(l) = ladder.nth(i) {
        i += 1;
        let level_notional = u128::from(l.price) * u128::from(l.qty);
        if cum + level_notional >= x {
            let need = x - cum;
            let price = l.price.max(1);
            // A 64-bit division where the figures fit (the usual case), else the 128-bit one.
            let units = match u64::try_from(need) {
                Ok(n) => u128::from(n.div_ceil(price)),
                Err(_) => need.div_ceil(u128::from(price)),
            };
            return q.checked_add(u64::try_from(units).ok()?);
        }
        cum += level_notional;
        q = q.checked_add(l.qty)?;
    }
    None
}

/// Evaluate one quantity exactly against every rule; `Some` only if all hold.
pub fn evaluate(inp: &PairInput<'_>, q: u64) -> Option<PairFill> {
    evaluate_in(&Search::new(inp), q)
}

fn evaluate_in(inp: &Search<'_>, q: u64) -> Option<PairFill> {
    if q == 0 {
        return None;
    }
    let (cost, worst_ask) = walk_cost(&inp.asks, q)?;
    let (proceeds, worst_bid) = walk_cost(&inp.bids, q)?;
    check(inp, q, cost, proceeds, worst_ask, worst_bid)
}

/// [`evaluate`] using the walk's last segments when `q` ends inside one of them.
fn evaluate_near(inp: &Search<'_>, walk: &Walk, q: u64) -> Option<PairFill> {
    match walk.cur.at(q).or_else(|| walk.prev.at(q)) {
        Some((cost, proceeds, wa, wb)) => check(inp, q, cost, proceeds, wa, wb),
        None => evaluate_in(inp, q),
    }
}

/// Every rule, given the exact cost and proceeds of `q` and the worst prices it touches.
fn check(
    inp: &Search<'_>,
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
    let spend = chk_mul(c, fa)?;
    let quote_cap = sat_mul(sat_i128(inp.limits.quote_balance), F);
    if spend > quote_cap {
        return None;
    }
    let net_e = chk_mul(p, fb)?.checked_sub(spend)?;
    if net_e <= 0 || net_e < chk_mul(i128::from(inp.limits.min_edge), c)? {
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

/// A top ask as it costs after the buyer's taker fee, in price units x F: `price * (F + fee)`.
#[inline]
pub fn net_ask(price: u64, taker_fee: i64) -> i128 {
    mul(i128::from(price), F + i128::from(taker_fee))
}

/// A top bid as it yields after the seller's taker fee, in price units x F: `price * (F - fee)`.
#[inline]
pub fn net_bid(price: u64, taker_fee: i64) -> i128 {
    mul(i128::from(price), F - i128::from(taker_fee))
}

/// Quick test on the two tops: can any quantity pay after fees?
#[inline]
pub fn tops_cross(inp: &PairInput<'_>) -> bool {
    tops_cross_in(&Search::new(inp))
}

#[inline]
fn tops_cross_in(inp: &Search<'_>) -> bool {
    match (inp.asks.nth(0), inp.bids.nth(0)) {
        (Some(a), Some(b)) => {
            net_bid(b.price, inp.sell.taker_fee) > net_ask(a.price, inp.buy.taker_fee)
        }
        _ => false,
    }
}

/// The most profitable fill for buying on A and selling on B, if any.
pub fn best_fill(inp: &PairInput<'_>) -> Option<PairFill> {
    best_fill_reach(inp).0
}

/// [`best_fill`], and how deep it read each ladder.
pub fn best_fill_reach(inp: &PairInput<'_>) -> (Option<PairFill>, Reach) {
    let s = Search::new(inp);
    let fill = search(&s);
    (fill, s.reach())
}

fn search(inp: &Search<'_>) -> Option<PairFill> {
    if !tops_cross_in(inp) {
        return None;
    }
    let lot = lot_lattice(inp.buy.lot, inp.sell.lot)?;
    let walk = continuous_optimum(inp)?;
    let q_c = walk.q_c;
    let mut q_lo = inp.buy.min_qty.max(inp.sell.min_qty);
    if inp.buy.min_notional > 0 {
        q_lo = q_lo.max(min_qty_for_notional(&inp.asks, inp.buy.min_notional)?);
    }
    if inp.sell.min_notional > 0 {
        q_lo = q_lo.max(min_qty_for_notional(&inp.bids, inp.sell.min_notional)?);
    }
    // floor and ceil of q_c from one remainder
    let below = floor_to(q_c, lot);
    let above = if below == q_c {
        q_c
    } else {
        below.checked_add(lot).unwrap_or(0)
    };
    let candidates = [below, above, ceil_to(q_lo, lot).unwrap_or(0)];
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
