//! Shared test set-up for the venue decoders.

use super::{BookRef, DecodeError, Market, Outcome};
use crate::book::{BookState, Level, Stamp};
use crate::consolidated::Consolidated;
use crate::instrument::{Instrument, VenueSpec, VenueSpecText};

/// A market with one instrument and one venue; returns the market and the venue's book.
pub fn one_book(
    instrument: &str,
    price_decimals: u8,
    qty_decimals: u8,
    tick: &str,
    lot: &str,
) -> (Market, BookRef) {
    let inst = Instrument::new(instrument, 0, price_decimals, qty_decimals).unwrap();
    let mut c = Consolidated::new(inst);
    let spec = VenueSpec::parse(
        c.instrument(),
        &VenueSpecText {
            venue: "venue",
            symbol: "SYM",
            tick_size: tick,
            lot_size: lot,
            ..Default::default()
        }
        .with_defaults(),
    )
    .unwrap();
    let venue = c.add_venue(spec).unwrap();
    (
        Market {
            instruments: vec![c],
        },
        BookRef {
            instrument: 0,
            venue,
        },
    )
}

/// Path of a shared venue fixture (`../shared/fixtures/venues/...`), if present.
pub fn fixture(rel: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/venues")
        .join(rel);
    p.exists().then_some(p)
}

/// A level from raw integers.
pub fn lv(price: u64, qty: u64) -> Level {
    Level { price, qty }
}

/// Every level of a book: (bids best first, asks best first).
pub fn sides(m: &Market, book: BookRef) -> (Vec<Level>, Vec<Level>) {
    let b = m.book(book).unwrap();
    (b.bids().top(usize::MAX), b.asks().top(usize::MAX))
}

/// All a decoder may change in a book: both sides, the stamp and the state (two decoders fed
/// the same frames must leave the same image).
pub fn image(m: &Market, book: BookRef) -> (Vec<Level>, Vec<Level>, Stamp, BookState) {
    let (bids, asks) = sides(m, book);
    let b = m.book(book).unwrap();
    (bids, asks, b.stamp(), b.state())
}

pub fn state(m: &Market, book: BookRef) -> BookState {
    m.book(book).unwrap().state()
}

/// Every one-byte change of `good`, position by position: the byte deleted, then replaced by
/// each of `reps` in turn.
pub fn byte_mutations(good: &str, reps: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..good.len() {
        let mut f = good.as_bytes().to_vec();
        f.remove(i);
        out.push(f);
        for &c in reps {
            let mut f = good.as_bytes().to_vec();
            f[i] = c;
            out.push(f);
        }
    }
    out
}

/// Two decoders (one with its scanner, one serde-only) on their own markets, fed the same
/// frames: the same outcome (errors included) and the same book image after every frame, and
/// whatever else `also` compares (sequence state, counters).
pub fn differential<D>(
    frames: &[Vec<u8>],
    book: BookRef,
    (mut fast, mut mf): (D, Market),
    (mut slow, mut ms): (D, Market),
    on_frame: impl Fn(&mut D, &[u8], i64, &mut Market) -> Result<Outcome, DecodeError>,
    also: impl Fn(&D, &D),
) {
    for (i, f) in frames.iter().enumerate() {
        let a = on_frame(&mut fast, f, i as i64, &mut mf);
        let b = on_frame(&mut slow, f, i as i64, &mut ms);
        let text = String::from_utf8_lossy(f);
        assert_eq!(a, b, "frame {text:?}");
        assert_eq!(image(&mf, book), image(&ms, book), "frame {text:?}");
        also(&fast, &slow);
    }
}
