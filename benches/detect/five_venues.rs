//! Workload (d) in Rust: the five-venue stream of `benches/test_five_venues.py`, message by
//! message, with and without detection, so that the cost detection adds per top-of-book change
//! is measured beside the apply-only cost of the same messages.
//!
//! Five seeded streams (`synth::stream(100 + v, 1000, n)`, quantities x100,000 so levels hold
//! 0.001..1 BTC), venue 4 (2 bps) quoted 4,200 ticks above the others, near the break-even
//! against venue 2 (5 bps); interleaved one message of 10 deltas at a time. Per message:
//! `apply_columns`, the consolidated best bid and ask, then (`apply_refresh`) `refresh()`.
//! Throughput is the number of top-of-book changes, so criterion's per-element time is per
//! top-of-book change. Criterion times the two one after the other; on a shared machine the
//! load can change in between, so the figure for what detection adds comes from [`paired`]:
//! both runs side by side in chunks, alternating, the median per chunk over several reps
//! (as `benches/test_five_venues.py` does from Python).

use arbcore::book::{Level, Stamp};
use arbcore::consolidated::Consolidated;
use arbcore::instrument::{Instrument, VenueSpec, VenueSpecText};
use arbcore::synth;
use criterion::{BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

const FEES: [&str; 5] = ["10bps", "7.5bps", "5bps", "10bps", "2bps"];
const DRIFT_TICKS: u64 = 4_200;
const QTY_SCALE: u64 = 100_000;
const PER_MESSAGE: usize = 10;
const DEPTH: usize = 1000;
/// As the Python workload: 1M deltas over five venues.
const DELTAS: usize = 1_000_000;

/// One venue message as columns.
pub struct Message {
    venue: usize,
    sides: Vec<u8>,
    prices: Vec<u64>,
    qtys: Vec<u64>,
}

/// The books at the start and the interleaved messages.
pub struct Stream {
    books: Consolidated,
    messages: Vec<Message>,
    top_changes: u64,
}

fn venue_spec(inst: &Instrument, v: usize) -> VenueSpec {
    let name = format!("v{v}");
    let t = VenueSpecText {
        venue: &name,
        symbol: "BTCUSDT",
        tick_size: "0.01",
        lot_size: "0.00001",
        min_qty: "0",
        min_notional: "5",
        taker_fee: FEES[v],
        maker_fee: "0",
    };
    VenueSpec::parse(inst, &t).expect("valid venue spec")
}

pub fn stream() -> Stream {
    let inst = Instrument::new("BTC/USDT", 0, 2, 8).expect("valid instrument");
    let per_venue = DELTAS / FEES.len() / PER_MESSAGE * PER_MESSAGE;
    let mut books = Consolidated::new(inst.clone());
    let mut per_venue_msgs: Vec<Vec<Message>> = Vec::new();
    for v in 0..FEES.len() {
        let ((bids, asks), deltas) = synth::stream(100 + v as u64, DEPTH, per_venue);
        let shift = if v == FEES.len() - 1 { DRIFT_TICKS } else { 0 };
        let scale = |l: Vec<Level>| -> Vec<Level> {
            l.into_iter()
                .map(|x| Level {
                    price: x.price + shift,
                    qty: x.qty * QTY_SCALE,
                })
                .collect()
        };
        let i = books.add_venue(venue_spec(&inst, v)).expect("add venue");
        books
            .set_quote_balance(i, inst.parse_notional("10000000").expect("quote"))
            .expect("venue");
        books
            .set_base_balance(i, u128::from(inst.parse_qty("1000").expect("base")))
            .expect("venue");
        let stamp = Stamp {
            seq: 1,
            venue_ts: 0,
            recv_ts: 0,
        };
        books
            .apply_snapshot(i, &scale(bids), &scale(asks), stamp)
            .expect("venue");
        per_venue_msgs.push(
            deltas
                .chunks(PER_MESSAGE)
                .map(|m| Message {
                    venue: v,
                    sides: m.iter().map(|d| d.side).collect(),
                    prices: m.iter().map(|d| d.price + shift).collect(),
                    qtys: m.iter().map(|d| d.qty * QTY_SCALE).collect(),
                })
                .collect(),
        );
    }
    let rounds = per_venue_msgs[0].len();
    let mut iters: Vec<_> = per_venue_msgs.into_iter().map(Vec::into_iter).collect();
    let mut messages = Vec::with_capacity(rounds * FEES.len());
    for _ in 0..rounds {
        for it in iters.iter_mut() {
            messages.extend(it.next());
        }
    }
    books.refresh();
    let mut probe = books.clone();
    let top_changes = messages
        .iter()
        .filter(|m| {
            probe
                .apply_columns(m.venue, &m.sides, &m.prices, &m.qtys, None)
                .is_some_and(|c| c.top_changed())
        })
        .count() as u64;
    Stream {
        books,
        messages,
        top_changes,
    }
}

#[inline]
fn run(c: &mut Consolidated, messages: &[Message], detect: bool) -> usize {
    let mut evaluated = 0;
    for m in messages {
        c.apply_columns(m.venue, &m.sides, &m.prices, &m.qtys, None);
        black_box((c.best_bid(), c.best_ask()));
        if detect {
            evaluated += c.refresh();
        }
    }
    evaluated
}

pub fn bench(c: &mut Criterion) {
    let s = stream();
    // Untimed check: the stream is the Python workload's (same top-of-book changes) and the
    // detection run finds opportunities.
    let mut check = s.books.clone();
    run(&mut check, &s.messages, true);
    assert!(
        !check.opportunities().is_empty() || check.stats().pairs_walked > 0,
        "the five-venue stream is meant to cross"
    );
    eprintln!(
        "five_venues: {} messages, {} top-of-book changes, {:?}",
        s.messages.len(),
        s.top_changes,
        check.stats()
    );
    let mut g = c.benchmark_group("five_venues");
    g.throughput(Throughput::Elements(s.top_changes));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(8));
    for (name, detect) in [("apply_only", false), ("apply_refresh", true)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || s.books.clone(),
                |mut books| run(&mut books, black_box(&s.messages), detect),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// Messages per timed chunk and reps of [`paired`].
const CHUNK: usize = 1000;
const REPS: usize = 7;

/// What detection adds to the stream, measured side by side: per rep, two copies of the books
/// go through the messages chunk by chunk, one with `refresh()` per message and one without,
/// alternating which goes first; the median per chunk over the reps, summed. Returns the JSON
/// line `report.py` reads (`five_venues_paired.json` in the criterion directory).
pub fn paired() -> String {
    let s = stream();
    let chunks: Vec<&[Message]> = s.messages.chunks(CHUNK).collect();
    let mut with = vec![Vec::with_capacity(REPS); chunks.len()];
    let mut without = vec![Vec::with_capacity(REPS); chunks.len()];
    let time = |c: &mut Consolidated, m: &[Message], detect: bool| -> u128 {
        let t0 = Instant::now();
        black_box(run(c, black_box(m), detect));
        t0.elapsed().as_nanos()
    };
    for rep in 0..REPS {
        let (mut plain, mut detecting) = (s.books.clone(), s.books.clone());
        for (k, chunk) in chunks.iter().enumerate() {
            if (rep + k) % 2 == 0 {
                without[k].push(time(&mut plain, chunk, false));
                with[k].push(time(&mut detecting, chunk, true));
            } else {
                with[k].push(time(&mut detecting, chunk, true));
                without[k].push(time(&mut plain, chunk, false));
            }
        }
    }
    let median_sum = |v: &mut Vec<Vec<u128>>| -> f64 {
        v.iter_mut()
            .map(|c| {
                c.sort_unstable();
                c[c.len() / 2] as f64
            })
            .sum()
    };
    let (w, wo) = (median_sum(&mut with), median_sum(&mut without));
    let (msgs, tops) = (s.messages.len() as f64, s.top_changes as f64);
    let line = format!(
        "{{\"messages\":{},\"top_changes\":{},\"chunk\":{CHUNK},\"reps\":{REPS},\
         \"with_ns\":{w:.0},\"without_ns\":{wo:.0},\"added_per_top_change_ns\":{:.1},\
         \"added_per_message_ns\":{:.1},\"apply_only_per_top_change_ns\":{:.1},\
         \"apply_only_per_message_ns\":{:.1}}}",
        s.messages.len(),
        s.top_changes,
        (w - wo) / tops,
        (w - wo) / msgs,
        wo / tops,
        wo / msgs,
    );
    eprintln!("five_venues paired: {line}");
    line
}
