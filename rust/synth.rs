//! Seeded, realistic L2 streams for benchmarks, tests and the demo.
//!
//! The stream is what the issue and `docs/performance-facts.md` call realistic: a deep snapshot,
//! most deltas within 50 ticks of the touch, about a quarter deletions (of levels that exist),
//! and a slowly walking mid; the book never crosses. The generator tracks its own book so the
//! result is valid by construction. Same seed, same stream, on every machine.

use crate::book::{BTreeLadder, Level, Side};

/// SplitMix64: tiny, fast, good enough for workloads, and identical everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// True with probability `pct` percent.
    #[inline]
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// One generated delta (side 0 = bid, 1 = ask; qty 0 deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthDelta {
    pub side: u8,
    pub price: u64,
    pub qty: u64,
}

/// A one-venue book generator around a mid price (raw ticks of 1).
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Rng,
    mid: u64,
    bids: BTreeLadder,
    asks: BTreeLadder,
}

impl Generator {
    /// A generator whose book starts with `depth` levels per side around `mid`.
    pub fn new(seed: u64, mid: u64, depth: usize) -> Self {
        let mut g = Generator {
            rng: Rng::new(seed),
            mid,
            bids: BTreeLadder::new(Side::Bid),
            asks: BTreeLadder::new(Side::Ask),
        };
        for i in 1..=depth as u64 {
            let q = 1 + g.rng.below(1000);
            g.bids.set(mid - i, q);
            let q = 1 + g.rng.below(1000);
            g.asks.set(mid + i, q);
        }
        g
    }

    /// The current book as a snapshot (best first).
    pub fn snapshot(&self) -> (Vec<Level>, Vec<Level>) {
        (self.bids.levels(), self.asks.levels())
    }

    pub fn mid(&self) -> u64 {
        self.mid
    }

    /// Move the mid to `mid`, emitting the deletions that keep the book uncrossed.
    pub fn move_mid(&mut self, mid: u64, out: &mut Vec<SynthDelta>) {
        self.mid = mid;
        while let Some(b) = self.bids.best() {
            if b.price < mid {
                break;
            }
            self.bids.set(b.price, 0);
            out.push(SynthDelta {
                side: 0,
                price: b.price,
                qty: 0,
            });
        }
        while let Some(a) = self.asks.best() {
            if a.price > mid {
                break;
            }
            self.asks.set(a.price, 0);
            out.push(SynthDelta {
                side: 1,
                price: a.price,
                qty: 0,
            });
        }
    }

    /// Distance from the mid: ~90% within 50 ticks, the rest out to 1,000.
    fn distance(&mut self) -> u64 {
        if self.rng.chance(90) {
            1 + self.rng.below(50)
        } else {
            51 + self.rng.below(950)
        }
    }

    /// One delta: ~25% delete an existing level near the touch, the rest set a quantity.
    pub fn next_delta(&mut self) -> SynthDelta {
        let side = (self.rng.next_u64() & 1) as u8;
        if self.rng.chance(25) {
            let ladder = if side == 0 { &self.bids } else { &self.asks };
            if !ladder.is_empty() {
                // k-th level from the touch, mostly near it.
                let span = if self.rng.chance(90) {
                    ladder.len().min(30)
                } else {
                    ladder.len()
                };
                let k = self.rng.below(span as u64) as usize;
                let price = ladder.nth(k).map_or(self.mid, |l| l.price);
                if side == 0 {
                    self.bids.set(price, 0);
                } else {
                    self.asks.set(price, 0);
                }
                return SynthDelta {
                    side,
                    price,
                    qty: 0,
                };
            }
        }
        let d = self.distance();
        let qty = 1 + self.rng.below(1000);
        let price = if side == 0 {
            self.mid.saturating_sub(d).max(1)
        } else {
            self.mid + d
        };
        if side == 0 {
            self.bids.set(price, qty);
        } else {
            self.asks.set(price, qty);
        }
        SynthDelta { side, price, qty }
    }
}

/// The benchmark stream: a `depth`-level snapshot per side and `n` deltas, the mid taking a
/// one-tick step about every 100 deltas.
pub fn stream(seed: u64, depth: usize, n: usize) -> ((Vec<Level>, Vec<Level>), Vec<SynthDelta>) {
    let mid0 = 6_000_000;
    let mut g = Generator::new(seed, mid0, depth);
    let snap = g.snapshot();
    let mut walk = Rng::new(seed.wrapping_add(1));
    let mut out = Vec::with_capacity(n + n / 50);
    while out.len() < n {
        if walk.chance(1) {
            let m = if walk.next_u64() & 1 == 0 {
                g.mid() + 1
            } else {
                g.mid() - 1
            };
            g.move_mid(m, &mut out);
        }
        out.push(g.next_delta());
    }
    out.truncate(n);
    (snap, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Book, Stamp};

    #[test]
    fn stream_is_deterministic_realistic_and_never_crosses() {
        let (snap, deltas) = stream(7, 1000, 100_000);
        let (_, again) = stream(7, 1000, 100_000);
        assert_eq!(deltas, again);
        let mut b = Book::new();
        b.apply_snapshot(&snap.0, &snap.1, Stamp::default());
        let (mut near, mut dels) = (0usize, 0usize);
        for d in &deltas {
            let side = if d.side == 0 { Side::Bid } else { Side::Ask };
            let touch = b.side(side).best().map_or(d.price, |l| l.price);
            if touch.abs_diff(d.price) <= 50 {
                near += 1;
            }
            if d.qty == 0 {
                dels += 1;
            }
            b.apply_delta(side, d.price, d.qty, None);
            assert!(!b.is_crossed());
        }
        let n = deltas.len() as f64;
        assert!((0.85..0.97).contains(&(near as f64 / n)), "near {near}");
        assert!((0.2..0.32).contains(&(dels as f64 / n)), "deletions {dels}");
    }
}
