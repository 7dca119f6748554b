//! L2 book apply cost: the Vec ladder (`arbcore::book::Book`) against a `BTreeMap` ladder pair
//! on the same realistic stream (`synth::stream(42, 1000, 1_000_000)`: a 1,000-level snapshot
//! per side, then 1M deltas, ~90% near the touch, ~25% deletions, walking mid).
//!
//! One iteration applies the whole stream to a fresh copy of the loaded book; the copy is made
//! in the untimed setup of `iter_batched`. `Throughput::Elements(n)` makes criterion report
//! deltas per second, so per-delta time = iteration time / n.
//!
//! Before anything is timed, the very functions that are timed are run once on both structures
//! and their results compared (full level lists, the top after every delta, checksums): a
//! benchmark of a wrong book is worthless.

// Benchmarks may abort on setup errors: a failed setup or a wrong result must stop the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbcore::book::{BTreeLadder, Book, BookState, Delta, Level, Side, Stamp, Top};
use arbcore::synth;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

const SEED: u64 = 42;
const DEPTH: usize = 1000;
const N: usize = 1_000_000;

/// The comparison structure: one `BTreeLadder` per side.
#[derive(Debug, Clone)]
struct BTreeBook {
    bids: BTreeLadder,
    asks: BTreeLadder,
}

impl BTreeBook {
    fn load(bids: &[Level], asks: &[Level]) -> Self {
        let mut b = BTreeBook {
            bids: BTreeLadder::new(Side::Bid),
            asks: BTreeLadder::new(Side::Ask),
        };
        for l in bids {
            b.bids.set(l.price, l.qty);
        }
        for l in asks {
            b.asks.set(l.price, l.qty);
        }
        b
    }

    #[inline]
    fn set(&mut self, side: Side, price: u64, qty: u64) {
        match side {
            Side::Bid => self.bids.set(price, qty),
            Side::Ask => self.asks.set(price, qty),
        }
    }

    #[inline]
    fn top(&self) -> Top {
        Top {
            bid: self.bids.best(),
            ask: self.asks.best(),
        }
    }
}

/// Folds a top of book into a checksum so the reads cannot be optimised away, and so the Vec
/// and BTree runs can be compared.
#[inline]
fn fold(acc: u64, t: Top) -> u64 {
    let b = t.bid.map_or(0, |l| l.price.rotate_left(17) ^ l.qty);
    let a = t.ask.map_or(0, |l| l.price.rotate_left(29) ^ l.qty);
    acc.rotate_left(5) ^ b ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

// The timed routines. Each is also run once, untimed, by `verify`.

fn vec_set_level(book: &mut Book, deltas: &[Delta]) {
    for d in deltas {
        book.set_level(d.side, d.price, d.qty);
    }
}

/// Per-delta messages; returns how many moved the top (the caller's branch in the engine).
fn vec_apply_delta(book: &mut Book, deltas: &[Delta]) -> u64 {
    let mut moved = 0u64;
    for d in deltas {
        moved += u64::from(book.apply_delta(d.side, d.price, d.qty, None).top_changed());
    }
    moved
}

fn btree_set(book: &mut BTreeBook, deltas: &[Delta]) {
    for d in deltas {
        book.set(d.side, d.price, d.qty);
    }
}

fn vec_set_best(book: &mut Book, deltas: &[Delta]) -> u64 {
    let mut acc = 0u64;
    for d in deltas {
        book.set_level(d.side, d.price, d.qty);
        acc = fold(acc, book.top());
    }
    acc
}

fn btree_set_best(book: &mut BTreeBook, deltas: &[Delta]) -> u64 {
    let mut acc = 0u64;
    for d in deltas {
        book.set(d.side, d.price, d.qty);
        acc = fold(acc, book.top());
    }
    acc
}

struct Fixture {
    /// Vec-ladder book holding the snapshot (LIVE).
    book: Book,
    /// BTree pair holding the same snapshot.
    btree: BTreeBook,
    deltas: Vec<Delta>,
}

fn fixture() -> Fixture {
    let ((bids, asks), raw) = synth::stream(SEED, DEPTH, N);
    assert_eq!(
        (bids.len(), asks.len(), raw.len()),
        (DEPTH, DEPTH, N),
        "unexpected stream shape"
    );
    // Convert once so the timed loops do not pay the u8 -> Side decode.
    let deltas: Vec<Delta> = raw
        .iter()
        .map(|d| Delta {
            side: Side::from_u8(d.side).expect("synth side is 0 or 1"),
            price: d.price,
            qty: d.qty,
        })
        .collect();
    let mut book = Book::new();
    book.apply_snapshot(&bids, &asks, Stamp::default());
    assert_eq!(
        book.state(),
        BookState::Live,
        "snapshot left the book {:?}",
        book.state()
    );
    let btree = BTreeBook::load(&bids, &asks);
    Fixture {
        book,
        btree,
        deltas,
    }
}

fn levels(book: &Book) -> (Vec<Level>, Vec<Level>) {
    (book.bids().iter().collect(), book.asks().iter().collect())
}

/// Run every timed routine once and check Vec against BTree. Panics on any difference.
fn verify(fx: &Fixture) {
    assert_eq!(
        levels(&fx.book),
        (fx.btree.bids.levels(), fx.btree.asks.levels()),
        "snapshots differ"
    );

    // Top after every single delta, and the top-change count, against the BTree reference.
    let mut book = fx.book.clone();
    let mut bt = fx.btree.clone();
    let mut moved = 0u64;
    for (i, d) in fx.deltas.iter().enumerate() {
        let c = book.apply_delta(d.side, d.price, d.qty, None);
        let old = bt.top();
        bt.set(d.side, d.price, d.qty);
        assert_eq!(c.old, old, "old top differs at delta {i}");
        assert_eq!(c.new, bt.top(), "new top differs at delta {i}");
        moved += u64::from(old != bt.top());
    }
    assert_eq!(
        book.state(),
        BookState::Live,
        "stream left the book {:?}",
        book.state()
    );
    assert_eq!(
        vec_apply_delta(&mut fx.book.clone(), &fx.deltas),
        moved,
        "top-change count differs"
    );

    // Final full level lists of every timed routine.
    let want = (bt.bids.levels(), bt.asks.levels());
    assert_eq!(
        levels(&book),
        want,
        "apply_delta book differs from BTree at the end"
    );
    let mut b = fx.book.clone();
    vec_set_level(&mut b, &fx.deltas);
    assert_eq!(
        levels(&b),
        want,
        "set_level book differs from BTree at the end"
    );
    let mut t = fx.btree.clone();
    btree_set(&mut t, &fx.deltas);
    assert_eq!(
        (t.bids.levels(), t.asks.levels()),
        want,
        "btree_set differs from the reference run"
    );

    let vs = vec_set_best(&mut fx.book.clone(), &fx.deltas);
    let bs = btree_set_best(&mut fx.btree.clone(), &fx.deltas);
    assert_eq!(vs, bs, "apply+best checksums differ");

    eprintln!(
        "verified: {} deltas, {} top changes, final depth {} bids / {} asks, Vec == BTree",
        fx.deltas.len(),
        moved,
        want.0.len(),
        want.1.len()
    );
}

fn bench_book(c: &mut Criterion) {
    let fx = fixture();
    verify(&fx);
    let deltas = fx.deltas.as_slice();

    let mut g = c.benchmark_group("book_apply");
    g.throughput(Throughput::Elements(deltas.len() as u64));
    g.bench_function("vec_set_level", |b| {
        b.iter_batched(
            || fx.book.clone(),
            |mut book| {
                vec_set_level(&mut book, black_box(deltas));
                book
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("vec_apply_delta", |b| {
        b.iter_batched(
            || fx.book.clone(),
            |mut book| {
                black_box(vec_apply_delta(&mut book, black_box(deltas)));
                book
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("btree_set", |b| {
        b.iter_batched(
            || fx.btree.clone(),
            |mut book| {
                btree_set(&mut book, black_box(deltas));
                book
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("book_apply_best");
    g.throughput(Throughput::Elements(deltas.len() as u64));
    g.bench_function("vec_set_level_best", |b| {
        b.iter_batched(
            || fx.book.clone(),
            |mut book| {
                black_box(vec_set_best(&mut book, black_box(deltas)));
                book
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("btree_set_best", |b| {
        b.iter_batched(
            || fx.btree.clone(),
            |mut book| {
                black_box(btree_set_best(&mut book, black_box(deltas)));
                book
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // One iteration is 1M deltas (tens of ms): 10 samples are plenty and keep the run short.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = bench_book
}
criterion_main!(benches);
