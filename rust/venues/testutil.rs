//! Shared test set-up for the venue decoders.

use super::{BookRef, Market};
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
