//! A checked frame-replay harness shared by the fuzz targets (`fuzz/`) and the regression tests.
//!
//! It feeds a sequence of frames to one decoder over a one-book market and checks, after every
//! frame, the properties every decoder promises whatever the input:
//! - a refused frame (`Err`) leaves the book exactly as it was (levels, stamp and state);
//! - a LIVE book is never crossed;
//! - nothing panics (the fuzzer reports panics itself);
//! - Binance: the decoder with its `depthUpdate` scanner gives the same outcome (errors
//!   included) and the same book as the serde-only decoder, frame by frame.

use super::binance::{BinanceDecoder, BinanceMarket};
use super::bybit::BybitDecoder;
use super::coinbase::CoinbaseDecoder;
use super::kraken::KrakenDecoder;
use super::okx::OkxDecoder;
use super::{BookRef, DecodeError, Market, Outcome, SymbolMap};
use crate::book::{BookState, Level, Stamp};
use crate::consolidated::Consolidated;
use crate::instrument::{Instrument, VenueSpec, VenueSpecText};
use std::collections::HashMap;

/// Protocols the harness drives.
pub const PROTOCOLS: [&str; 6] = [
    "bybit",
    "binance_spot",
    "binance_usdm",
    "okx",
    "kraken",
    "coinbase",
];

/// The symbols real fixtures and tests use; all map to the one book.
const SYMBOLS: [&str; 8] = [
    "BTCUSDT",
    "XRPUSDT",
    "BTC-USDT",
    "BTC/USD",
    "BTC-USD",
    "MATIC/USD",
    "ETHUSDT",
    "BNBBTC",
];

enum Any {
    Bybit(BybitDecoder),
    Binance(BinanceDecoder),
    Okx(OkxDecoder),
    Kraken(KrakenDecoder),
    Coinbase(CoinbaseDecoder),
}

/// What a replay saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HarnessReport {
    pub frames: usize,
    pub errors: usize,
    pub applied: usize,
    pub resyncs: usize,
}

type BookImage = (Vec<Level>, Vec<Level>, Stamp, BookState);

fn image(m: &Market, r: BookRef) -> Option<BookImage> {
    let b = m.book(r)?;
    Some((
        b.bids().top(usize::MAX),
        b.asks().top(usize::MAX),
        b.stamp(),
        b.state(),
    ))
}

fn market() -> Option<(Market, BookRef)> {
    // 6 price and 8 quantity decimals accept every fixture's numbers
    let inst = Instrument::new("BTC/USDT", 0, 6, 8).ok()?;
    let mut c = Consolidated::new(inst);
    let text = VenueSpecText {
        venue: "v",
        symbol: "S",
        tick_size: "0.000001",
        lot_size: "0.00000001",
        ..Default::default()
    }
    .with_defaults();
    let spec = VenueSpec::parse(c.instrument(), &text).ok()?;
    let venue = c.add_venue(spec).ok()?;
    Some((
        Market {
            instruments: vec![c],
        },
        BookRef {
            instrument: 0,
            venue,
        },
    ))
}

/// Replay `frames` through `protocol`'s decoder. A frame starting with `{"lastUpdateId"` is a
/// Binance REST snapshot body. `Err` describes a broken promise (the fuzzers turn it into a crash).
pub fn replay_checked(protocol: &str, frames: &[&[u8]]) -> Result<HarnessReport, String> {
    let (mut m, book) = market().ok_or("harness set-up failed")?;
    let mut symbols = SymbolMap::new();
    for s in SYMBOLS {
        symbols.insert(s, book);
    }
    let mut dec = match protocol {
        "bybit" => Any::Bybit(BybitDecoder::new(symbols)),
        "binance_spot" => Any::Binance(BinanceDecoder::spot(symbols)),
        "binance_usdm" => Any::Binance(BinanceDecoder::usdm(symbols)),
        "okx" => Any::Okx(OkxDecoder::new(symbols)),
        "kraken" => Any::Kraken(KrakenDecoder::new(
            symbols,
            HashMap::from([(book, (1, 8))]),
            10,
        )),
        "coinbase" => Any::Coinbase(CoinbaseDecoder::new(symbols)),
        other => return Err(format!("unknown protocol {other}")),
    };
    // Binance: the serde-only reference decoder on its own market.
    let mut reference = match protocol {
        "binance_spot" | "binance_usdm" => {
            let (m2, _) = market().ok_or("harness set-up failed")?;
            let kind = if protocol == "binance_spot" {
                BinanceMarket::Spot
            } else {
                BinanceMarket::UsdM
            };
            let mut symbols = SymbolMap::new();
            for s in SYMBOLS {
                symbols.insert(s, book);
            }
            Some((BinanceDecoder::new(kind, symbols).with_fast_path(false), m2))
        }
        _ => None,
    };
    let mut rep = HarnessReport::default();
    for (i, f) in frames.iter().enumerate() {
        let before = image(&m, book);
        let out: Result<Outcome, DecodeError> = match &mut dec {
            Any::Bybit(d) => d.on_frame(f, i as i64, &mut m),
            Any::Binance(d) => binance_step(d, &mut m, book, f, i as i64),
            Any::Okx(d) => d.on_frame(f, i as i64, &mut m),
            Any::Kraken(d) => d.on_frame(f, i as i64, &mut m),
            Any::Coinbase(d) => d.on_frame(f, i as i64, &mut m),
        };
        if let Some((d2, m2)) = &mut reference {
            let want = binance_step(d2, m2, book, f, i as i64);
            if out != want {
                return Err(format!(
                    "frame {i}: scanner gave {out:?}, serde path {want:?}"
                ));
            }
            if image(&m, book) != image(m2, book) {
                return Err(format!("frame {i}: scanner and serde path books differ"));
            }
        }
        rep.frames += 1;
        match out {
            Err(e) => {
                rep.errors += 1;
                if image(&m, book) != before {
                    return Err(format!("frame {i} was refused ({e}) but changed the book"));
                }
            }
            Ok(Outcome::Applied { .. } | Outcome::Synced { .. }) => rep.applied += 1,
            Ok(Outcome::Resync { .. }) => rep.resyncs += 1,
            Ok(_) => {}
        }
        if let Some(b) = m.book(book) {
            if b.state() == BookState::Live && b.is_crossed() {
                return Err(format!("frame {i} left a LIVE book crossed"));
            }
        }
    }
    Ok(rep)
}

/// A frame starting with `{"lastUpdateId"` is a REST snapshot body, anything else a WS frame.
fn binance_step(
    d: &mut BinanceDecoder,
    m: &mut Market,
    book: BookRef,
    f: &[u8],
    i: i64,
) -> Result<Outcome, DecodeError> {
    if f.starts_with(b"{\"lastUpdateId\"") {
        d.on_snapshot(book, f, i, m)
    } else {
        d.on_frame(f, i, m)
    }
}

/// Split fuzz input into frames at NUL bytes (NUL never occurs in valid JSON text).
pub fn split_frames(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == 0).collect()
}

#[cfg(test)]
#[path = "harness_tests.rs"]
mod tests;
