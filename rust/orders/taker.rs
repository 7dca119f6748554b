//! The built-in `taker` strategy (`runner/strategies/taker.py`) decided on the detector's records,
//! so that a book frame that opens a spread goes to both order frames without a Python object
//! per opportunity, a strategy call or a ticket object in between.
//!
//! Why a copy of a Python strategy: the tick-to-order path from frame to ticket in Python
//! (numpy records to `Opportunity` objects, the strategy host, the proposal, the ticket plan)
//! costs ~170 µs on a cold loop, the Rust order path after it ~130 µs. The decision itself is
//! three comparisons, so it is cheap to keep two copies exactly equal, and
//! `tests/test_order_path.py` checks they are on random records. Any other strategy keeps the
//! Python route.
//!
//! The rule, per opportunity in the detector's order (best net profit first), as the Python
//! host applies it (the session sends the first proposal of an instrument, later ones find the
//! instrument in flight): skip it unless `net_profit > 0` and `edge_bps >= min_edge_bps`; cap its
//! quantity at `cap` rounded down to the larger of the two venues' lots; skip it if that leaves 0.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::opportunity::Opportunity;

/// The taker's parameters for one instrument, at its quantity scale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TakerRule {
    pub min_edge_bps: f64,
    /// `max_qty` of the instrument, if configured.
    pub cap: Option<u64>,
    /// Each book venue's lot as the strategy sees it (its configuration), by book venue index.
    pub lots: Vec<u64>,
}

/// What the rule makes of a list of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The record at `index` as a ticket of `qty`; `calls` records were looked at.
    Take {
        index: usize,
        qty: u64,
        calls: usize,
    },
    /// No record is worth a ticket.
    Nothing,
    /// The Python strategy would fail or word this differently (a lot of 0, an edge that is not
    /// finite): leave the whole decision to it.
    Python,
}

impl TakerRule {
    pub fn pick(&self, opps: &[Opportunity]) -> Pick {
        for (i, o) in opps.iter().enumerate() {
            if o.net_profit <= 0 || o.edge_bps < self.min_edge_bps {
                continue;
            }
            if !o.edge_bps.is_finite() {
                return Pick::Python; // Python words it "inf"/"nan"; never expected from the detector
            }
            let mut qty = o.qty;
            if let Some(cap) = self.cap {
                if qty > cap {
                    let lot = |v: u16| self.lots.get(usize::from(v)).copied();
                    let (Some(lb), Some(ls)) = (lot(o.buy_venue), lot(o.sell_venue)) else {
                        return Pick::Python;
                    };
                    let step = lb.max(ls);
                    if step == 0 {
                        return Pick::Python; // Python's `cap % 0` stops the strategy
                    }
                    qty = cap - cap % step;
                    if qty == 0 {
                        continue;
                    }
                }
            }
            return Pick::Take {
                index: i,
                qty,
                calls: i + 1,
            };
        }
        Pick::Nothing
    }
}

/// The ticket's `reason`, as the Python strategy formats it (`f"{edge_bps:.2f}"`: both round
/// the exact binary value half to even).
pub fn taker_reason(edge_bps: f64) -> String {
    format!("taker: {edge_bps:.2} bps net of fees")
}

/// The run's ticket sequence, shared by the Python path (`execution/ticket.py new_ticket_id`)
/// and tickets the order path starts itself, so ids stay unique and ordered within one run.
static TICKET_SEQ: AtomicU64 = AtomicU64::new(1);

pub fn next_ticket_seq() -> u64 {
    TICKET_SEQ.fetch_add(1, Ordering::Relaxed)
}

/// The number [`next_ticket_seq`] would hand out next, without taking it (a dry run's id).
pub fn peek_ticket_seq() -> u64 {
    TICKET_SEQ.load(Ordering::Relaxed)
}
