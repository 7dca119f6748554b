//! Shared test set-up for the venue decoders.

use super::{BookRef, Market};
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
