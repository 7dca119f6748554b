//! Detection cost after a top-of-book change, 5 venues on BTC/USDT (price 2 dp, qty 8 dp).
//!
//! Venues 0..3 sit within a few ticks of 60,000.00: their tops cross raw but never after fees
//! (the cheapest pair pays 7 bps, ~4,200 ticks at this price). The "hot" venue 4 (2 bps taker)
//! is placed
//! - `no_cross`: among them; every pair is a quick top-of-book reject (the common case);
//! - `cross`: just far enough above venue 2 (5 bps) that buying on 2 and selling on 4 pays after
//!   both fees by `EDGE_TICKS` at the top, so that pair needs the depth walk (~20 levels per
//!   side), the way a real, small arbitrage looks;
//! - `cross_2pairs`: as `cross`, with venue 1 (7.5 bps) moved down so that 1 -> 4 crosses too.
//!
//! Benchmarks: `refresh` after a top change on the hot venue (8 dirty ordered pairs) and
//! `apply`, the same changes without detection, `detect_all` (all 20 ordered pairs),
//! `best_fill` on the crossing pair, and `five_venues` (`detect/five_venues.rs`): the
//! five-venue stream of workload (d), with and without detection. Before timing, each
//! set-up is checked to produce exactly the intended opportunities.
//!
//! `main` first runs a memory check (5 venues x 50 instruments x 5,000 levels per side), prints
//! `MEMORY ...` and writes `<criterion dir>/memory.json`, then runs criterion.

// Benchmarks may abort on setup errors: a failed setup or a wrong result must stop the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbcore::book::{Delta, Level, Side, Stamp};
use arbcore::consolidated::Consolidated;
use arbcore::detect::{best_fill, PairInput, PairLimits};
use arbcore::instrument::{Instrument, VenueSpec, VenueSpecText, FEE_SCALE};
use arbcore::synth::Generator;
use criterion::{criterion_group, Criterion, Throughput};

#[path = "detect/five_venues.rs"]
mod five_venues;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const NAMES: [&str; 5] = ["binance", "okx", "bybit", "kraken", "coinbase"];
const FEES: [&str; 5] = ["10bps", "7.5bps", "5bps", "10bps", "2bps"];
/// Mid of venues 0..3, in ticks of 0.01 (60,000.00 USDT), and their offsets from it.
const BASE_MID: u64 = 6_000_000;
const OFFSETS: [i64; 4] = [0, 3, -2, 5];
/// The venue whose top moves in the refresh benchmarks.
const HOT: usize = 4;
/// Buying here and selling on HOT is the crossing pair (5 bps + 2 bps, the cheapest pair).
const BUY: usize = 2;
/// Net edge of the crossing pair at the top, in ticks of HOT's best bid (~0.7 bps).
const EDGE_TICKS: u64 = 40;
/// The second crossing pair of `cross_2pairs` buys here (7.5 bps), with this edge in ticks.
const BUY2: usize = 1;
const EDGE2_TICKS: u64 = 20;
/// Synth quantities are 1..=1000 raw; x100,000 at 8 dp makes levels of 0.001..1 BTC, all
/// multiples of the 0.00001 lot (1,000 raw).
const QTY_SCALE: u64 = 100_000;
const DEPTH: usize = 1000;
const F: i128 = FEE_SCALE as i128;
/// Generous balances, so that depth and fees (not funds) bound the fill.
const QUOTE_BALANCE: &str = "10000000"; // USDT per venue
const BASE_BALANCE: &str = "1000"; // BTC per venue

/// Venue rules as text, exactly as a config would give them.
fn spec(inst: &Instrument, v: usize) -> VenueSpec {
    let t = VenueSpecText {
        venue: NAMES[v],
        symbol: "BTCUSDT",
        tick_size: "0.01",
        lot_size: "0.00001",
        min_qty: "0.00001",
        min_notional: "5",
        taker_fee: FEES[v],
        maker_fee: "0",
    };
    VenueSpec::parse(inst, &t).expect("valid venue spec")
}

/// A synthetic snapshot around `mid` with quantities scaled to BTC sizes.
fn snapshot(seed: u64, mid: u64, depth: usize) -> (Vec<Level>, Vec<Level>) {
    let (bids, asks) = Generator::new(seed, mid, depth).snapshot();
    let scale = |v: Vec<Level>| {
        v.into_iter()
            .map(|l| Level {
                price: l.price,
                qty: l.qty * QTY_SCALE,
            })
            .collect()
    };
    (scale(bids), scale(asks))
}

/// Mids of the no-cross set-up: venues 0..3 within a few ticks of `BASE_MID`, HOT among them.
fn flat_mids() -> [u64; 5] {
    let mut m = [BASE_MID + 4; 5];
    for (v, off) in OFFSETS.iter().enumerate() {
        m[v] = BASE_MID.checked_add_signed(*off).expect("mid in range");
    }
    m
}

/// 5 venues on one instrument, LIVE, funded, venue `v` around `mids[v]`.
fn build(inst: &Instrument, seed: u64, mids: &[u64; 5], depth: usize) -> Consolidated {
    let mut c = Consolidated::new(inst.clone());
    let quote = inst.parse_notional(QUOTE_BALANCE).expect("quote balance");
    let base = u128::from(inst.parse_qty(BASE_BALANCE).expect("base balance"));
    for (v, &mid) in mids.iter().enumerate() {
        let i = c.add_venue(spec(inst, v)).expect("add venue");
        c.set_quote_balance(i, quote).expect("venue exists");
        c.set_base_balance(i, base).expect("venue exists");
        let (bids, asks) = snapshot(seed.wrapping_mul(31).wrapping_add(v as u64), mid, depth);
        let stamp = Stamp {
            seq: 1,
            venue_ts: 0,
            recv_ts: 0,
        };
        c.apply_snapshot(i, &bids, &asks, stamp)
            .expect("venue exists");
    }
    c
}

/// Smallest bid with `bid * (F - sell_fee) > ask * (F + buy_fee)`: break-even after both fees.
fn breakeven_bid(ask: u64, buy_fee: i64, sell_fee: i64) -> u64 {
    let cost = i128::from(ask) * (F + i128::from(buy_fee));
    u64::try_from(cost / (F - i128::from(sell_fee)) + 1).expect("price fits")
}

/// Largest ask with `ask * (F + buy_fee) < bid * (F - sell_fee)`.
fn breakeven_ask(bid: u64, buy_fee: i64, sell_fee: i64) -> u64 {
    let proceeds = i128::from(bid) * (F - i128::from(sell_fee));
    let fa = F + i128::from(buy_fee);
    u64::try_from((proceeds + fa - 1) / fa - 1).expect("price fits")
}

fn btc() -> Instrument {
    Instrument::new("BTC/USDT", 0, 2, 8).expect("valid instrument")
}

/// One benchmark set-up and the ordered (buy, sell) pairs it must find.
struct Setup {
    name: &'static str,
    book: Consolidated,
    expect: Vec<(usize, usize)>,
}

/// no_cross, cross (BUY -> HOT) and cross_2pairs (BUY -> HOT and BUY2 -> HOT).
fn setups() -> Vec<Setup> {
    let inst = btc();
    let fee = |v: usize| spec(&inst, v).taker_fee;
    // Synth books fill every tick from the mid outwards: best bid = mid - 1, best ask = mid + 1.
    let mut m = flat_mids();
    let flat = build(&inst, 7, &m, DEPTH);
    let hot_bid = breakeven_bid(m[BUY] + 1, fee(BUY), fee(HOT)) + EDGE_TICKS;
    m[HOT] = hot_bid + 1;
    let cross = build(&inst, 7, &m, DEPTH);
    // Venue BUY2 pays 2.5 bps more than BUY, so it must sit ~1,500 ticks lower to cross too.
    m[BUY2] = breakeven_ask(hot_bid, fee(BUY2), fee(HOT)) - EDGE2_TICKS - 1;
    let cross2 = build(&inst, 7, &m, DEPTH);
    vec![
        Setup {
            name: "no_cross",
            book: flat,
            expect: vec![],
        },
        Setup {
            name: "cross",
            book: cross,
            expect: vec![(BUY, HOT)],
        },
        Setup {
            name: "cross_2pairs",
            book: cross2,
            expect: vec![(BUY, HOT), (BUY2, HOT)],
        },
    ]
}

fn opportunity_pairs(c: &Consolidated) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = c
        .opportunities()
        .iter()
        .map(|o| (usize::from(o.buy_venue), usize::from(o.sell_venue)))
        .collect();
    v.sort_unstable();
    v
}

/// Four one-delta messages on HOT that each move its top and together restore the book:
/// drop best bid, drop best ask, put the bid back, put the ask back.
fn top_cycle(c: &Consolidated) -> [Delta; 4] {
    let book = c.book(HOT).expect("HOT exists");
    let (b, a) = (
        book.best_bid().expect("HOT bid"),
        book.best_ask().expect("HOT ask"),
    );
    [
        Delta {
            side: Side::Bid,
            price: b.price,
            qty: 0,
        },
        Delta {
            side: Side::Ask,
            price: a.price,
            qty: 0,
        },
        Delta {
            side: Side::Bid,
            price: b.price,
            qty: b.qty,
        },
        Delta {
            side: Side::Ask,
            price: a.price,
            qty: a.qty,
        },
    ]
}

/// The timed refresh routine: apply each message, then refresh (as the I/O layer does per
/// drained read). Returns the number of pairs evaluated.
#[inline]
fn run_cycle(c: &mut Consolidated, cycle: &[Delta]) -> usize {
    let mut n = 0;
    for d in cycle {
        c.apply_delta(HOT, d.side, d.price, d.qty, None);
        n += c.refresh();
    }
    n
}

fn pair_input(c: &Consolidated, buy: usize, sell: usize) -> PairInput<'_> {
    let (a, b) = (
        c.book(buy).expect("buy venue"),
        c.book(sell).expect("sell venue"),
    );
    PairInput {
        asks: a.asks(),
        bids: b.bids(),
        buy: c.spec(buy).expect("buy venue"),
        sell: c.spec(sell).expect("sell venue"),
        limits: PairLimits {
            quote_balance: c.quote_balance(buy).expect("buy venue"),
            base_balance: c.base_balance(sell).expect("sell venue"),
            max_notional: c.max_notional(),
            min_edge: c.min_edge(),
        },
    }
}

/// Check, untimed, that each set-up measures what it claims: exactly the expected crossing
/// pairs, one depth walk per crossing pair per refresh, none without a cross.
fn verify(setups: &[Setup]) {
    let pairs = NAMES.len() * (NAMES.len() - 1);
    for s in setups {
        let mut c = s.book.clone();
        let mut want = s.expect.clone();
        want.sort_unstable();
        assert_eq!(c.detect_all(), pairs, "{}: detect_all pairs", s.name);
        assert_eq!(opportunity_pairs(&c), want, "{}: opportunities", s.name);
        assert_eq!(
            c.stats().pairs_walked,
            want.len() as u64,
            "{}: only crossing pairs walk depth",
            s.name
        );

        // Each step of the refresh cycle: 8 dirty pairs, the same opportunities (HOT's top moves
        // by one tick, the edges stay positive), and the cycle restores HOT's book.
        let cycle = top_cycle(&c);
        let before = (c.book(HOT).expect("HOT").top(), c.stats().pairs_walked);
        for (k, d) in cycle.iter().enumerate() {
            let ch = c
                .apply_delta(HOT, d.side, d.price, d.qty, None)
                .expect("HOT exists");
            assert!(ch.top_changed(), "{}: step {k} must move HOT's top", s.name);
            assert_eq!(c.refresh(), 2 * (NAMES.len() - 1), "{}: step {k}", s.name);
            assert_eq!(opportunity_pairs(&c), want, "{}: step {k}", s.name);
        }
        // Every crossing pair sells on HOT: its two bid steps change what the search reads (a
        // walk each), its two ask steps cannot change such a pair (kept without a walk).
        let walked = c.stats().pairs_walked - before.1;
        assert_eq!(walked, 2 * want.len() as u64, "{}: walks per cycle", s.name);
        assert_eq!(
            c.book(HOT).expect("HOT").top(),
            before.0,
            "{}: cycle restores",
            s.name
        );

        for &(buy, sell) in &want {
            let fill =
                best_fill(&pair_input(&s.book, buy, sell)).expect("crossing pair has a fill");
            let opp = c
                .opportunities()
                .into_iter()
                .find(|o| (usize::from(o.buy_venue), usize::from(o.sell_venue)) == (buy, sell))
                .expect("opportunity present");
            assert_eq!(
                fill.qty, opp.qty,
                "{}: best_fill and refresh disagree",
                s.name
            );
            let asks = s.book.book(buy).expect("buy").asks();
            let bids = s.book.book(sell).expect("sell").bids();
            let a = asks
                .iter()
                .take_while(|l| l.price <= fill.buy_limit)
                .count();
            let b = bids
                .iter()
                .take_while(|l| l.price >= fill.sell_limit)
                .count();
            eprintln!(
                "{}: {}->{} qty {:.5} BTC, net {:.2} USDT, edge {:.2} bps, walks {a} ask / {b} bid levels",
                s.name,
                NAMES[buy],
                NAMES[sell],
                fill.qty as f64 / 1e8,
                fill.net_profit() as f64 / 1e10,
                fill.edge_bps()
            );
        }
    }
}

fn setup<'a>(all: &'a [Setup], name: &str) -> &'a Setup {
    all.iter().find(|s| s.name == name).expect("known set-up")
}

fn bench_refresh(c: &mut Criterion) {
    let all = setups();
    verify(&all);
    let mut g = c.benchmark_group("refresh");
    // One iteration = 4 (apply one delta + refresh) steps; throughput gives per-refresh time.
    g.throughput(Throughput::Elements(4));
    for s in &all {
        let mut book = s.book.clone();
        let cycle = top_cycle(&book);
        g.bench_function(s.name, |b| {
            b.iter(|| run_cycle(&mut book, black_box(&cycle)))
        });
    }
    g.finish();
    // The same four top-of-book changes without detection: refresh/X - apply/X is what
    // detection adds per change.
    let mut g = c.benchmark_group("apply");
    g.throughput(Throughput::Elements(4));
    for s in &all {
        let mut book = s.book.clone();
        let cycle = top_cycle(&book);
        g.bench_function(s.name, |b| {
            b.iter(|| {
                for d in black_box(&cycle) {
                    book.apply_delta(HOT, d.side, d.price, d.qty, None);
                }
            })
        });
    }
    g.finish();
}

fn bench_detect_all(c: &mut Criterion) {
    let all = setups();
    let mut g = c.benchmark_group("detect_all");
    for name in ["cross", "no_cross"] {
        let mut book = setup(&all, name).book.clone();
        g.bench_function(name, |b| b.iter(|| black_box(&mut book).detect_all()));
    }
    g.finish();
}

fn bench_best_fill(c: &mut Criterion) {
    let all = setups();
    let inp = pair_input(&setup(&all, "cross").book, BUY, HOT);
    let mut g = c.benchmark_group("best_fill");
    g.bench_function("cross_pair", |b| b.iter(|| best_fill(black_box(&inp))));
    g.finish();
}

// ---- memory check ----

const MEM_INSTRUMENTS: usize = 50;
const MEM_LEVELS: usize = 5000;

/// VmRSS of this process in kB (Linux), if readable.
fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Where criterion writes its reports: the same rule criterion uses, minus `cargo metadata`.
fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).join("criterion"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("criterion"),
    }
}

fn memory_check() {
    let rss_before = rss_kb();
    let books: Vec<Consolidated> = (0..MEM_INSTRUMENTS)
        .map(|i| {
            let inst =
                Instrument::new(&format!("C{i}/USDT"), i as u32, 2, 8).expect("valid instrument");
            build(&inst, 1000 + i as u64, &flat_mids(), MEM_LEVELS)
        })
        .collect();
    let n_books: usize = books.iter().map(Consolidated::venue_count).sum();
    for c in &books {
        for v in 0..c.venue_count() {
            let b = c.book(v).expect("venue exists");
            assert_eq!(
                (b.bids().len(), b.asks().len()),
                (MEM_LEVELS, MEM_LEVELS),
                "memory check depth"
            );
        }
    }
    let heap: usize = books.iter().map(Consolidated::heap_bytes).sum();
    let rss = rss_kb();
    let show = |v: Option<u64>| v.map_or_else(|| "null".to_string(), |v| v.to_string());
    println!(
        "MEMORY 5x{MEM_INSTRUMENTS}x{MEM_LEVELS}: heap_bytes={heap} rss_kb={} (rss before build {} kB, {n_books} books)",
        show(rss),
        show(rss_before)
    );
    let json = format!(
        "{{\"books\":{n_books},\"levels_per_side\":{MEM_LEVELS},\"heap_bytes\":{heap},\"rss_kb\":{},\"rss_before_kb\":{}}}\n",
        show(rss),
        show(rss_before)
    );
    let dir = criterion_dir();
    std::fs::create_dir_all(&dir).expect("create criterion output directory");
    std::fs::write(dir.join("memory.json"), json).expect("write memory.json");
    drop(books);
}

criterion_group! {
    name = benches;
    // Sub-microsecond to microsecond routines: short windows are stable enough.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_refresh, bench_detect_all, bench_best_fill, five_venues::bench
}

// criterion_main! cannot run anything before the groups, hence a hand-written main.
fn main() {
    // `--list` must only list; everything else (bench, --test) runs the check first.
    if !std::env::args().any(|a| a == "--list") {
        memory_check();
        // Only for a real bench run (not `cargo test --benches`): it takes a few seconds.
        if std::env::args().any(|a| a == "--bench") {
            let dir = criterion_dir();
            std::fs::create_dir_all(&dir).expect("create criterion output directory");
            std::fs::write(dir.join("five_venues_paired.json"), five_venues::paired())
                .expect("write five_venues_paired.json");
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
