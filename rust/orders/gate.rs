//! Pre-trade checks of a two-leg ticket on integers: the same checks, in the same terms, as
//! `TicketRunner.check` (venue rules, book LIVE and fresh), `RiskGate.check` (kill switch, open
//! tickets, daily loss, notionals, circuit breakers, positions) and `Ledger.reserve` (funds).
//!
//! The state they read lives in Python (ledger, risk) and is mirrored here as it changes: the
//! Python side pushes every available balance, position, open-ticket count, breaker opening and
//! halt after it changed, always between two tickets (one event loop: nothing interleaves a
//! ticket's check and its reservation). A pass here means the Python path would pass too; the
//! caller then applies the reservations to the Python ledger, which refuses nothing it allowed.
//!
//! Quote notionals and base positions are compared at [`RISK_DECIMALS`] as i128: exact for
//! every price and quantity scale up to 18 decimals in total; a limit with more decimals is
//! floored by the caller, which keeps `x > limit` exact for the integer `x`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::fixed::pow10_u128;

/// The scale of risk amounts (quote notionals, base positions).
pub const RISK_DECIMALS: u32 = 18;
/// Fee rates are in 1e-8 units (`arbcore.FEE_SCALE`).
pub const FEE_SCALE: u128 = 100_000_000;

#[derive(Debug, Clone)]
pub struct AssetSpec {
    pub name: String,
    pub decimals: u8,
}

/// One instrument on one venue, as the Python `Market` holds it (rules at the instrument's scales).
#[derive(Debug, Clone)]
pub struct MarketSpec {
    pub venue: usize,
    pub symbol: String,
    pub instrument: String,
    pub base: usize,
    pub quote: usize,
    pub price_decimals: u8,
    pub qty_decimals: u8,
    pub tick: u64,
    pub lot: u64,
    pub min_qty: u64,
    pub max_qty: u64, // 0: none
    pub min_notional: u128,
    pub taker_fee: u64, // FEE_SCALE units
}

/// Limits at [`RISK_DECIMALS`]; per asset: None when the configuration sets none.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub max_order_notional: i128,
    pub max_ticket_notional: i128,
    pub max_position: Vec<Option<i128>>,
    pub max_net_position: Vec<Option<i128>>,
    pub max_open_tickets: u32,
    pub max_book_age_ns: i64,
}

/// A leg to check: market index, side, raw quantity and limit price, and its book's state.
#[derive(Debug, Clone, Copy)]
pub struct Leg {
    pub market: usize,
    pub buy: bool,
    pub qty: u64,
    pub price: u64,
    pub book_live: bool,
    pub book_recv_ns: i64,
}

/// Funds a leg sets aside: `amount` of asset `asset` on venue `venue`, in the asset's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub venue: usize,
    pub asset: usize,
    pub amount: i128,
}

/// Why the fast path did not accept a ticket. The caller runs the Python path, which words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Rules,
    Book,
    Risk,
    Funds,
    /// an amount or scale this path does not handle exactly (the Python path decides)
    Unsupported,
}

#[derive(Debug, Default)]
pub struct Gate {
    pub assets: Vec<AssetSpec>,
    pub venues: Vec<String>,
    pub markets: Vec<MarketSpec>,
    pub limits: Limits,
    available: HashMap<(usize, usize), i128>,
    positions: HashMap<(usize, usize), i128>,
    net: HashMap<usize, i128>,
    pub open_tickets: u32,
    /// kill switch engaged or daily loss beyond the limit (pushed by the Python risk gate)
    pub halted: bool,
    /// a kill file: its presence refuses (the Python path then engages the switch)
    pub kill_file: Option<PathBuf>,
    breaker_open_until: HashMap<usize, Instant>,
}

fn scale_to(value: u128, from: u32, to: u32) -> Option<i128> {
    let up = pow10_u128(to.checked_sub(from)?)?;
    i128::try_from(value.checked_mul(up)?).ok()
}

fn ceil_div(a: u128, b: u128) -> u128 {
    a / b + u128::from(a % b != 0)
}

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_available(&mut self, venue: usize, asset: usize, amount: i128) {
        self.available.insert((venue, asset), amount);
    }

    pub fn available(&self, venue: usize, asset: usize) -> i128 {
        self.available.get(&(venue, asset)).copied().unwrap_or(0)
    }

    /// A venue's net position in `asset`, at RISK_DECIMALS; the net across venues follows.
    pub fn set_position(&mut self, venue: usize, asset: usize, qty: i128) {
        let old = self.positions.insert((venue, asset), qty).unwrap_or(0);
        *self.net.entry(asset).or_insert(0) += qty - old;
    }

    /// The venue's circuit breaker is open until `until` (no ticket uses it before).
    pub fn set_breaker_open_until(&mut self, venue: usize, until: Instant) {
        self.breaker_open_until.insert(venue, until);
    }

    /// Check every leg; the reservations they need (one per leg, in leg order) if all pass.
    /// `now_ns`: wall clock (the books' receive stamps); `mono`: now, for the breakers.
    pub fn check(
        &self,
        legs: &[Leg],
        now_ns: i64,
        mono: Instant,
    ) -> Result<Vec<Reservation>, Refusal> {
        let mut markets = Vec::with_capacity(legs.len());
        for leg in legs {
            let m = self.markets.get(leg.market).ok_or(Refusal::Unsupported)?;
            check_rules(m, leg)?;
            let age = if leg.book_recv_ns != 0 {
                now_ns.saturating_sub(leg.book_recv_ns)
            } else {
                i64::MAX
            };
            if !leg.book_live || age > self.limits.max_book_age_ns {
                return Err(Refusal::Book);
            }
            markets.push(m);
        }
        self.check_risk(legs, &markets, mono)?;
        let mut out = Vec::with_capacity(legs.len());
        for (leg, m) in legs.iter().zip(&markets) {
            let r = self.reservation(leg, m)?;
            // two legs never draw on the same (venue, asset): a buy holds quote, a sell base
            if self.available(r.venue, r.asset) < r.amount {
                return Err(Refusal::Funds);
            }
            out.push(r);
        }
        Ok(out)
    }

    fn check_risk(
        &self,
        legs: &[Leg],
        markets: &[&MarketSpec],
        mono: Instant,
    ) -> Result<(), Refusal> {
        let lim = &self.limits;
        if self.halted || self.kill_file.as_ref().is_some_and(|p| p.exists()) {
            return Err(Refusal::Risk);
        }
        if self.open_tickets >= lim.max_open_tickets {
            return Err(Refusal::Risk);
        }
        let mut total: i128 = 0;
        let mut net_change: Vec<(usize, i128)> = Vec::with_capacity(2);
        for (leg, m) in legs.iter().zip(markets) {
            let s = u32::from(m.price_decimals) + u32::from(m.qty_decimals);
            let notional = scale_to(
                u128::from(leg.price) * u128::from(leg.qty),
                s,
                RISK_DECIMALS,
            )
            .ok_or(Refusal::Unsupported)?;
            total = total.checked_add(notional).ok_or(Refusal::Unsupported)?;
            if self
                .breaker_open_until
                .get(&m.venue)
                .is_some_and(|&t| t > mono)
            {
                return Err(Refusal::Risk);
            }
            if notional > lim.max_order_notional {
                return Err(Refusal::Risk);
            }
            let qty = scale_to(
                u128::from(leg.qty),
                u32::from(m.qty_decimals),
                RISK_DECIMALS,
            )
            .ok_or(Refusal::Unsupported)?;
            let change = if leg.buy { qty } else { -qty };
            if let Some(Some(cap)) = lim.max_position.get(m.base) {
                // as the net's: a leg that brings a venue back toward its cap is always allowed
                let before = self.positions.get(&(m.venue, m.base)).copied().unwrap_or(0);
                let after = before + change;
                if after.abs() > *cap && after.abs() > before.abs() {
                    return Err(Refusal::Risk);
                }
            }
            match net_change.iter_mut().find(|(a, _)| *a == m.base) {
                Some((_, c)) => *c += change,
                None => net_change.push((m.base, change)),
            }
        }
        if total > lim.max_ticket_notional {
            return Err(Refusal::Risk);
        }
        for (asset, change) in net_change {
            if let Some(Some(cap)) = lim.max_net_position.get(asset) {
                let before = self.net.get(&asset).copied().unwrap_or(0);
                let after = before + change;
                if after.abs() > *cap && after.abs() > before.abs() {
                    return Err(Refusal::Risk);
                }
            }
        }
        Ok(())
    }

    /// `amounts.buy_reservation` / `sell_reservation`: a buy holds its notional at the limit
    /// plus the taker fee, rounded up to the quote's units; a sell holds exactly its quantity.
    fn reservation(&self, leg: &Leg, m: &MarketSpec) -> Result<Reservation, Refusal> {
        let (asset, amount) = if leg.buy {
            let quote = self.assets.get(m.quote).ok_or(Refusal::Unsupported)?;
            let n = u128::from(leg.price) * u128::from(leg.qty);
            let fee = ceil_div(
                n.checked_mul(u128::from(m.taker_fee))
                    .ok_or(Refusal::Unsupported)?,
                FEE_SCALE,
            );
            let total = n.checked_add(fee).ok_or(Refusal::Unsupported)?;
            let from = u32::from(m.price_decimals) + u32::from(m.qty_decimals);
            let to = u32::from(quote.decimals);
            let units = if to >= from {
                scale_to(total, from, to).ok_or(Refusal::Unsupported)?
            } else {
                let div = pow10_u128(from - to).ok_or(Refusal::Unsupported)?;
                i128::try_from(ceil_div(total, div)).map_err(|_| Refusal::Unsupported)?
            };
            (m.quote, units)
        } else {
            let base = self.assets.get(m.base).ok_or(Refusal::Unsupported)?;
            let (from, to) = (u32::from(m.qty_decimals), u32::from(base.decimals));
            let units = if to >= from {
                scale_to(u128::from(leg.qty), from, to).ok_or(Refusal::Unsupported)?
            } else {
                let div = pow10_u128(from - to).ok_or(Refusal::Unsupported)?;
                let q = u128::from(leg.qty);
                if q % div != 0 {
                    return Err(Refusal::Unsupported); // not exact in the asset: Python refuses it
                }
                i128::try_from(q / div).map_err(|_| Refusal::Unsupported)?
            };
            (m.base, units)
        };
        Ok(Reservation {
            venue: m.venue,
            asset,
            amount,
        })
    }
}

/// `TicketRunner._check_leg`'s venue rules: lot grid and minimum, maximum, tick grid, notional.
fn check_rules(m: &MarketSpec, leg: &Leg) -> Result<(), Refusal> {
    let on_grid = |v: u64, step: u64| step == 0 || v % step == 0;
    if !on_grid(leg.qty, m.lot) || leg.qty < m.min_qty.max(1) {
        return Err(Refusal::Rules);
    }
    if m.max_qty != 0 && leg.qty > m.max_qty {
        return Err(Refusal::Rules);
    }
    if leg.price == 0 || !on_grid(leg.price, m.tick) {
        return Err(Refusal::Rules);
    }
    if u128::from(leg.price) * u128::from(leg.qty) < m.min_notional {
        return Err(Refusal::Rules);
    }
    Ok(())
}
