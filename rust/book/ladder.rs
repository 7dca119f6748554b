//! One side of an L2 book: a sorted `Vec` of levels with the best level at the end.
//!
//! # Why this structure
//! Measured in `benches/book.rs` on the realistic stream of `synth` (1,000-level snapshot,
//! ~90% of deltas within 50 ticks of the touch, ~25% deletions, walking mid) against a
//! `BTreeMap` ladder (the reference model in `btree_ladder.rs`); see BENCHMARKS.md for the
//! figures of the current run. The Vec wins because:
//! - the best level is `last()`: O(1) with no pointer chase;
//! - updates cluster at the touch, i.e. at the end of the Vec, so a short backwards scan finds
//!   the slot without a binary search and an insert/delete there moves only a few elements;
//! - levels are 16 contiguous bytes: the top 4 levels share one cache line, a BTreeMap node walk
//!   touches several lines per lookup.
//!
//! Deep updates fall back to binary search plus a memmove of at most `len` * 16 bytes, which at
//! 5,000 levels is still well under a microsecond and rare in real streams.
//!
//! # Both sides, one code path
//! Levels are ordered by a `key`: for bids `key = price`, for asks `key = !price` (that is,
//! `u64::MAX - price`). Ascending keys then put the highest bid and the lowest ask at the end.

use super::{Level, Side};

/// How far from the touch a linear scan goes before switching to binary search.
const LINEAR_SCAN: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    key: u64,
    qty: u64,
}

/// One side of a book, best level last.
#[derive(Debug, Clone)]
pub struct Ladder {
    side: Side,
    slots: Vec<Slot>,
}

impl Ladder {
    pub fn new(side: Side) -> Self {
        Ladder {
            side,
            slots: Vec::new(),
        }
    }

    #[inline]
    fn key(&self, price: u64) -> u64 {
        match self.side {
            Side::Bid => price,
            Side::Ask => !price,
        }
    }

    #[inline]
    fn level(&self, s: Slot) -> Level {
        Level {
            price: self.key(s.key),
            qty: s.qty,
        }
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// Number of price levels.
    #[inline]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Best level (highest bid, lowest ask) in O(1).
    #[inline]
    pub fn best(&self) -> Option<Level> {
        self.slots.last().map(|s| self.level(*s))
    }

    /// Position of `key`: `Ok(i)` if present, `Err(i)` where it would be inserted.
    ///
    /// Tuned for updates near the touch: first a guess that is exact when the levels next to
    /// the touch sit on consecutive ticks (liquid books), then a short backwards scan, then a
    /// galloping search from the end, so the cost grows with the distance from the touch, not
    /// with the size of the book.
    #[inline]
    fn find(&self, key: u64) -> Result<usize, usize> {
        let s = &self.slots;
        let n = s.len();
        let Some(last) = s.last() else { return Err(0) };
        if key >= last.key {
            return if key == last.key { Ok(n - 1) } else { Err(n) };
        }
        let gap = last.key - key;
        if gap < n as u64 {
            let g = n - 1 - gap as usize;
            if s[g].key == key {
                return Ok(g);
            }
        }
        let stop = n.saturating_sub(LINEAR_SCAN);
        let mut i = n - 1;
        while i > stop {
            let k = s[i - 1].key;
            if k == key {
                return Ok(i - 1);
            }
            if k < key {
                return Err(i);
            }
            i -= 1;
        }
        // every slot from `stop` up is above `key`: gallop downwards, then binary search
        let mut hi = stop;
        let mut step = LINEAR_SCAN.max(1);
        while hi > 0 {
            let lo = hi.saturating_sub(step);
            if s[lo].key <= key {
                return match s[lo..hi].binary_search_by(|x| x.key.cmp(&key)) {
                    Ok(j) => Ok(lo + j),
                    Err(j) => Err(lo + j),
                };
            }
            hi = lo;
            step *= 2;
        }
        Err(0)
    }

    /// Set the absolute quantity at `price`; 0 deletes (deleting an absent level is a no-op).
    #[inline]
    pub fn set(&mut self, price: u64, qty: u64) {
        let key = self.key(price);
        match self.find(key) {
            Ok(i) => {
                if qty == 0 {
                    self.slots.remove(i);
                } else {
                    self.slots[i].qty = qty;
                }
            }
            Err(i) => {
                if qty != 0 {
                    self.slots.insert(i, Slot { key, qty });
                }
            }
        }
    }

    /// Quantity resting at `price`, 0 if none.
    pub fn qty_at(&self, price: u64) -> u64 {
        match self.find(self.key(price)) {
            Ok(i) => self.slots[i].qty,
            Err(_) => 0,
        }
    }

    /// Keep only the best `depth` levels.
    pub fn truncate(&mut self, depth: usize) {
        let n = self.slots.len();
        if n > depth {
            self.slots.drain(..n - depth);
        }
    }

    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// Replace all levels. `levels` may be in any order; a repeated price keeps its last entry;
    /// zero quantities are dropped.
    pub fn load(&mut self, levels: &[Level]) {
        self.slots.clear();
        self.slots.reserve(levels.len());
        let side = self.side;
        self.slots.extend(levels.iter().map(|l| Slot {
            key: match side {
                Side::Bid => l.price,
                Side::Ask => !l.price,
            },
            qty: l.qty,
        }));
        // Stable sort keeps input order among equal keys, so "last wins" below is well defined.
        self.slots.sort_by_key(|s| s.key);
        let mut w = 0usize;
        for r in 0..self.slots.len() {
            let s = self.slots[r];
            if w > 0 && self.slots[w - 1].key == s.key {
                self.slots[w - 1] = s;
            } else {
                self.slots[w] = s;
                w += 1;
            }
        }
        self.slots.truncate(w);
        self.slots.retain(|s| s.qty != 0);
    }

    /// Levels from the best outwards.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Level> + ExactSizeIterator + '_ {
        self.slots.iter().rev().map(move |s| self.level(*s))
    }

    /// The `i`-th level from the best (0 = best).
    #[inline]
    pub fn nth(&self, i: usize) -> Option<Level> {
        let n = self.slots.len();
        if i < n {
            Some(self.level(self.slots[n - 1 - i]))
        } else {
            None
        }
    }

    /// Up to `n` levels from the best.
    pub fn top(&self, n: usize) -> Vec<Level> {
        self.iter().take(n).collect()
    }

    /// Total quantity at prices at least as good as `limit` (bids >= limit, asks <= limit).
    pub fn qty_through(&self, limit: u64) -> u128 {
        let key = self.key(limit);
        let start = match self.slots.binary_search_by(|s| s.key.cmp(&key)) {
            Ok(i) | Err(i) => i,
        };
        self.slots[start..].iter().map(|s| u128::from(s.qty)).sum()
    }

    /// Total quantity of the best `n` levels.
    pub fn qty_top(&self, n: usize) -> u128 {
        self.iter().take(n).map(|l| u128::from(l.qty)).sum()
    }

    /// Bytes held by this side (capacity, not length), for memory reports.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}
