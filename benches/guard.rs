//! Regression guard workloads: the hot paths on a small fixed input, run once each under
//! `valgrind --tool=callgrind` by `benches/guard/guard.py` (from `make test`). Instruction counts
//! do not depend on what else the machine is doing, so a 25% threshold is meaningful on a
//! shared 2-core box where wall-clock timings move by ±40%.
//!
//! `guard <path>` builds its input (not counted), then calls `guard_hot_<path>` once; callgrind
//! counts only inside that function (`--toggle-collect=*guard_hot_<path>*`). Paths:
//! - `book`: 20,000 deltas of the seeded stream applied to a 1,000-level book (the ladder);
//! - `binance`: 2,000 Binance Spot diff-depth frames of 10 levels each, decoded from bytes and
//!   applied through the venue decoder (JSON decode, decimal parse, sequence rules, apply);
//! - `detect`: 5 venues on one instrument, 2,000 top-of-book changes on one venue, each followed
//!   by `refresh()` (consolidated view + incremental opportunity detection), one pair crossing.
//!
//! Every path checks its result (final book equal to a `BTreeMap` replay; frames all applied;
//! opportunities found) and prints a checksum, so a change that breaks the path fails the guard
//! instead of making it faster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbcore::book::{Book, Level, Side, Stamp};
use arbcore::consolidated::Consolidated;
use arbcore::instrument::{Instrument, VenueSpec, VenueSpecText};
use arbcore::synth::{self, Generator, SynthDelta};
use arbcore::venues::binance::BinanceDecoder;
use arbcore::venues::{BookRef, Market, SymbolMap};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;

const SEED: u64 = 42;
const DEPTH: usize = 1000;
const BOOK_DELTAS: usize = 20_000;
const FRAMES: usize = 2_000;
const PER_FRAME: usize = 10;
const CHANGES: usize = 2_000;

fn side(s: u8) -> Side {
    if s == 0 {
        Side::Bid
    } else {
        Side::Ask
    }
}

fn stamp() -> Stamp {
    Stamp {
        seq: 1,
        venue_ts: 0,
        recv_ts: 0,
    }
}

/// BTreeMap replay of the same stream: the expected final book, best level first.
fn reference(bids: &[Level], asks: &[Level], deltas: &[SynthDelta]) -> (Vec<Level>, Vec<Level>) {
    let mut b: BTreeMap<u64, u64> = bids.iter().map(|l| (l.price, l.qty)).collect();
    let mut a: BTreeMap<u64, u64> = asks.iter().map(|l| (l.price, l.qty)).collect();
    for d in deltas {
        let m = if d.side == 0 { &mut b } else { &mut a };
        if d.qty == 0 {
            m.remove(&d.price);
        } else {
            m.insert(d.price, d.qty);
        }
    }
    let lv = |(p, q): (&u64, &u64)| Level { price: *p, qty: *q };
    (b.iter().rev().map(lv).collect(), a.iter().map(lv).collect())
}

fn levels(book: &Book, s: Side) -> Vec<Level> {
    match s {
        Side::Bid => book.bids().iter().collect(),
        Side::Ask => book.asks().iter().collect(),
    }
}

// ---- book ---------------------------------------------------------------------------------

#[inline(never)]
fn guard_hot_book(book: &mut Book, deltas: &[SynthDelta]) -> u64 {
    let mut acc = 0u64;
    for d in deltas {
        book.set_level(side(d.side), d.price, d.qty);
        acc = acc.rotate_left(7) ^ book.best_bid().map_or(0, |l| l.price);
    }
    acc
}

fn run_book() -> u64 {
    let ((bids, asks), deltas) = synth::stream(SEED, DEPTH, BOOK_DELTAS);
    let mut book = Book::new();
    book.apply_snapshot(&bids, &asks, stamp());
    let acc = guard_hot_book(black_box(&mut book), black_box(&deltas));
    let (rb, ra) = reference(&bids, &asks, &deltas);
    assert_eq!(
        levels(&book, Side::Bid),
        rb,
        "book: bids differ from the BTreeMap replay"
    );
    assert_eq!(
        levels(&book, Side::Ask),
        ra,
        "book: asks differ from the BTreeMap replay"
    );
    acc
}

// ---- binance ------------------------------------------------------------------------------

fn price_text(out: &mut String, p: u64) {
    write!(out, "\"{}.{:02}\"", p / 100, p % 100).expect("write to String");
}

fn qty_text(out: &mut String, q: u64) {
    write!(out, "\"{}.{:08}\"", q / 100_000_000, q % 100_000_000).expect("write to String");
}

fn level_list(out: &mut String, levels: impl Iterator<Item = (u64, u64)>) {
    out.push('[');
    for (i, (p, q)) in levels.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        price_text(out, p);
        out.push(',');
        qty_text(out, q);
        out.push(']');
    }
    out.push(']');
}

/// The REST snapshot body and the diff-depth frames of the stream, as Binance Spot sends them.
pub fn binance_frames(
    bids: &[Level],
    asks: &[Level],
    deltas: &[SynthDelta],
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut snap = String::from("{\"lastUpdateId\":0,\"bids\":");
    level_list(&mut snap, bids.iter().map(|l| (l.price, l.qty)));
    snap.push_str(",\"asks\":");
    level_list(&mut snap, asks.iter().map(|l| (l.price, l.qty)));
    snap.push('}');
    let frames = deltas
        .chunks(PER_FRAME)
        .enumerate()
        .map(|(k, msg)| {
            let first = (k * PER_FRAME) as u64 + 1;
            let last = first + msg.len() as u64 - 1;
            let mut f = format!(
                "{{\"e\":\"depthUpdate\",\"E\":{},\"s\":\"BTCUSDT\",\"U\":{first},\"u\":{last},\"b\":",
                1_700_000_000_000u64 + k as u64
            );
            level_list(
                &mut f,
                msg.iter().filter(|d| d.side == 0).map(|d| (d.price, d.qty)),
            );
            f.push_str(",\"a\":");
            level_list(
                &mut f,
                msg.iter().filter(|d| d.side == 1).map(|d| (d.price, d.qty)),
            );
            f.push('}');
            f.into_bytes()
        })
        .collect();
    (snap.into_bytes(), frames)
}

#[inline(never)]
fn guard_hot_binance(dec: &mut BinanceDecoder, market: &mut Market, frames: &[Vec<u8>]) -> u64 {
    let mut applied = 0u64;
    for (i, f) in frames.iter().enumerate() {
        if dec.on_frame(f, i as i64, market).is_ok() {
            applied += 1;
        }
    }
    applied
}

fn run_binance() -> u64 {
    let n = FRAMES * PER_FRAME;
    let ((bids, asks), deltas) = synth::stream(SEED, DEPTH, n);
    let (snap, frames) = binance_frames(&bids, &asks, &deltas);
    let inst = Instrument::new("BTC/USDT", 0, 2, 8).expect("instrument");
    let mut c = Consolidated::new(inst.clone());
    c.add_venue(spec(&inst, "binance", "10bps", "0.00000001"))
        .expect("venue");
    let mut market = Market::new();
    market.instruments.push(c);
    let r = BookRef {
        instrument: 0,
        venue: 0,
    };
    let mut map = SymbolMap::new();
    map.insert("BTCUSDT", r);
    let mut dec = BinanceDecoder::spot(map);
    dec.on_snapshot(r, &snap, 0, &mut market)
        .expect("snapshot accepted");
    let applied = guard_hot_binance(black_box(&mut dec), &mut market, black_box(&frames));
    assert_eq!(
        applied,
        frames.len() as u64,
        "binance: not every frame applied"
    );
    let book = market.book(r).expect("book");
    let (rb, ra) = reference(&bids, &asks, &deltas);
    assert_eq!(levels(book, Side::Bid), rb, "binance: bids differ");
    assert_eq!(levels(book, Side::Ask), ra, "binance: asks differ");
    applied
}

// ---- detect -------------------------------------------------------------------------------

fn spec(inst: &Instrument, venue: &str, fee: &str, lot: &str) -> VenueSpec {
    let t = VenueSpecText {
        venue,
        symbol: "BTCUSDT",
        tick_size: "0.01",
        lot_size: lot,
        min_qty: lot,
        min_notional: "5",
        taker_fee: fee,
        maker_fee: "0",
    };
    VenueSpec::parse(inst, &t).expect("valid venue spec")
}

#[inline(never)]
fn guard_hot_detect(c: &mut Consolidated, cycle: &[(Side, u64, u64)]) -> usize {
    let mut evaluated = 0;
    for k in 0..CHANGES {
        let (s, p, q) = cycle[k % cycle.len()];
        c.apply_delta(4, s, p, q, None);
        evaluated += c.refresh();
        let _ = black_box((c.best_bid(), c.best_ask()));
    }
    evaluated
}

fn run_detect() -> u64 {
    const FEES: [&str; 5] = ["10bps", "7.5bps", "5bps", "10bps", "2bps"];
    let inst = Instrument::new("BTC/USDT", 0, 2, 8).expect("instrument");
    let mut c = Consolidated::new(inst.clone());
    // venues 0..3 around 60,000.00; venue 4 (2 bps) ~7.4 bps higher: buying on 2 (5 bps) and
    // selling on 4 pays after both fees by ~25 ticks at the top, a small, realistic crossing.
    let mids = [6_000_000u64, 6_000_003, 5_999_998, 6_000_005, 6_004_250];
    for (v, &mid) in mids.iter().enumerate() {
        let name = format!("v{v}");
        let i = c
            .add_venue(spec(&inst, &name, FEES[v], "0.00001"))
            .expect("venue");
        c.set_quote_balance(i, inst.parse_notional("10000000").expect("quote"))
            .expect("venue");
        c.set_base_balance(i, u128::from(inst.parse_qty("1000").expect("base")))
            .expect("venue");
        let (bids, asks) = Generator::new(7 + v as u64, mid, 200).snapshot();
        let scale = |l: Vec<Level>| -> Vec<Level> {
            l.into_iter()
                .map(|x| Level {
                    price: x.price,
                    qty: x.qty * 100_000,
                })
                .collect()
        };
        c.apply_snapshot(i, &scale(bids), &scale(asks), stamp())
            .expect("venue");
    }
    c.refresh();
    let book = c.book(4).expect("venue 4");
    let (b, a) = (book.best_bid().expect("bid"), book.best_ask().expect("ask"));
    let cycle = [
        (Side::Bid, b.price, 0),
        (Side::Ask, a.price, 0),
        (Side::Bid, b.price, b.qty),
        (Side::Ask, a.price, a.qty),
    ];
    let evaluated = guard_hot_detect(black_box(&mut c), black_box(&cycle));
    assert!(
        evaluated >= CHANGES,
        "detect: refresh evaluated {evaluated} pairs"
    );
    assert!(
        !c.opportunities().is_empty(),
        "detect: the crossing pair found nothing"
    );
    evaluated as u64
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let out = match path.as_str() {
        "book" => run_book(),
        "binance" => run_binance(),
        "detect" => run_detect(),
        other => {
            eprintln!("usage: guard book|binance|detect (got {other:?})");
            std::process::exit(2);
        }
    };
    println!("{path} ok {out}");
}
