//! A `BTreeMap` ladder: the straightforward alternative to [`super::Ladder`].
//!
//! Kept for two reasons: it is the independent reference model the property tests compare the
//! Vec ladder against, and `benches/book.rs` measures it beside the Vec ladder on the same
//! stream, which is the evidence for the choice documented in `ladder.rs`.

use super::{Level, Side};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct BTreeLadder {
    side: Side,
    levels: BTreeMap<u64, u64>,
}

impl BTreeLadder {
    pub fn new(side: Side) -> Self {
        BTreeLadder {
            side,
            levels: BTreeMap::new(),
        }
    }

    /// Set the absolute quantity at `price`; 0 deletes.
    #[inline]
    pub fn set(&mut self, price: u64, qty: u64) {
        if qty == 0 {
            self.levels.remove(&price);
        } else {
            self.levels.insert(price, qty);
        }
    }

    #[inline]
    pub fn best(&self) -> Option<Level> {
        let kv = match self.side {
            Side::Bid => self.levels.last_key_value(),
            Side::Ask => self.levels.first_key_value(),
        };
        kv.map(|(&price, &qty)| Level { price, qty })
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// The `k`-th level from the best (0 = best), in O(k).
    pub fn nth(&self, k: usize) -> Option<Level> {
        let kv = match self.side {
            Side::Bid => self.levels.iter().rev().nth(k),
            Side::Ask => self.levels.iter().nth(k),
        };
        kv.map(|(&price, &qty)| Level { price, qty })
    }

    /// Levels from the best outwards.
    pub fn levels(&self) -> Vec<Level> {
        let it = self
            .levels
            .iter()
            .map(|(&price, &qty)| Level { price, qty });
        match self.side {
            Side::Bid => it.rev().collect(),
            Side::Ask => it.collect(),
        }
    }
}
