//! Canonical instruments and their per-venue trading rules.
//!
//! A canonical instrument ("BTC/USDT") fixes the integer scales every venue's book uses for it
//! (see `fixed.rs`). Each venue that lists it has its own symbol, tick, lot, minimums and fees,
//! all parsed exactly at those scales; a venue rule finer than the instrument scale is refused
//! at configuration time rather than rounded later.

use crate::fixed::{self, FixedError, MAX_DECIMALS};
use std::fmt;

/// Fees are fractions with 8 decimals: 100_000 = 0.001 = 10 bps.
pub const FEE_SCALE: i64 = 100_000_000;

/// A configuration value that was refused, naming the field and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

impl SpecError {
    pub fn new(field: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError {
            field,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:?}: {}", self.field, self.value, self.reason)
    }
}

impl std::error::Error for SpecError {}

fn decimal_err(field: &'static str, s: &str, e: FixedError) -> SpecError {
    SpecError::new(field, s, e.to_string())
}

/// A canonical instrument and its integer scales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub id: u32,
    pub base: String,
    pub quote: String,
    pub price_decimals: u8,
    pub qty_decimals: u8,
}

impl Instrument {
    /// `name` is "BASE/QUOTE". `price_decimals + qty_decimals` must not exceed 18 so that
    /// notionals have an exact scale that still fits the balance and profit types.
    pub fn new(
        name: &str,
        id: u32,
        price_decimals: u8,
        qty_decimals: u8,
    ) -> Result<Self, SpecError> {
        let (base, quote) = match name.split_once('/') {
            Some((b, q)) if !b.is_empty() && !q.is_empty() && !q.contains('/') => (b, q),
            _ => {
                return Err(SpecError::new(
                    "instrument",
                    name,
                    "expected BASE/QUOTE, e.g. BTC/USDT",
                ))
            }
        };
        if base == quote {
            return Err(SpecError::new(
                "instrument",
                name,
                "base and quote are the same asset",
            ));
        }
        if price_decimals > MAX_DECIMALS {
            return Err(SpecError::new(
                "price_decimals",
                price_decimals.to_string(),
                "at most 18",
            ));
        }
        if u16::from(price_decimals) + u16::from(qty_decimals) > u16::from(MAX_DECIMALS) {
            return Err(SpecError::new(
                "qty_decimals",
                qty_decimals.to_string(),
                format!("price_decimals + qty_decimals must be at most 18 (price_decimals = {price_decimals})"),
            ));
        }
        Ok(Instrument {
            id,
            base: base.to_string(),
            quote: quote.to_string(),
            price_decimals,
            qty_decimals,
        })
    }

    pub fn name(&self) -> String {
        format!("{}/{}", self.base, self.quote)
    }

    /// Decimals of notionals, fees, profits and quote balances.
    #[inline]
    pub fn notional_decimals(&self) -> u8 {
        self.price_decimals + self.qty_decimals
    }

    pub fn parse_price(&self, s: &str) -> Result<u64, FixedError> {
        fixed::parse_u64(s.as_bytes(), self.price_decimals)
    }

    pub fn parse_qty(&self, s: &str) -> Result<u64, FixedError> {
        fixed::parse_u64(s.as_bytes(), self.qty_decimals)
    }

    pub fn parse_notional(&self, s: &str) -> Result<u128, FixedError> {
        fixed::parse_u128(s.as_bytes(), self.notional_decimals())
    }
}

/// Parse a fee: a decimal fraction ("0.001") or basis points with a suffix ("10bps", "7.5bps").
/// A leading '-' is allowed (maker rebates). Result in units of 1/[`FEE_SCALE`].
pub fn parse_fee(field: &'static str, s: &str) -> Result<i64, SpecError> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let v = if let Some(bps) = body.strip_suffix("bps") {
        // 1 bps = 0.0001 = 10_000 / FEE_SCALE: parse at 4 decimals.
        fixed::parse_u64(bps.trim().as_bytes(), 4).map_err(|e| decimal_err(field, s, e))?
    } else {
        fixed::parse_u64(body.as_bytes(), 8).map_err(|e| decimal_err(field, s, e))?
    };
    let v = i64::try_from(v).map_err(|_| SpecError::new(field, s, "too large"))?;
    if v >= FEE_SCALE {
        return Err(SpecError::new(field, s, "a fee must be below 100%"));
    }
    Ok(if neg { -v } else { v })
}

/// One venue's rules for one canonical instrument, at the instrument's scales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueSpec {
    /// Venue name ("binance", "kraken", ...).
    pub venue: String,
    /// The venue's own symbol ("BTCUSDT", "BTC/USD", "BTC-USDT").
    pub symbol: String,
    /// Price increment, raw at price_decimals (> 0).
    pub tick: u64,
    /// Quantity increment, raw at qty_decimals (> 0).
    pub lot: u64,
    /// Minimum order quantity, raw at qty_decimals.
    pub min_qty: u64,
    /// Minimum order notional, raw at notional_decimals.
    pub min_notional: u128,
    /// Taker fee in 1/FEE_SCALE (0 <= fee < 100%).
    pub taker_fee: i64,
    /// Maker fee in 1/FEE_SCALE (negative = rebate).
    pub maker_fee: i64,
}

/// The venue rules as strings, exactly as a config file or a venue's metadata endpoint gives them.
#[derive(Debug, Clone, Default)]
pub struct VenueSpecText<'a> {
    pub venue: &'a str,
    pub symbol: &'a str,
    pub tick_size: &'a str,
    pub lot_size: &'a str,
    pub min_qty: &'a str,
    pub min_notional: &'a str,
    pub taker_fee: &'a str,
    pub maker_fee: &'a str,
}

impl<'a> VenueSpecText<'a> {
    /// Fill empty optional fields with their defaults ("0"): no minimums, no fees.
    pub fn with_defaults(mut self) -> Self {
        for f in [
            &mut self.min_qty,
            &mut self.min_notional,
            &mut self.taker_fee,
            &mut self.maker_fee,
        ] {
            if f.is_empty() {
                *f = "0";
            }
        }
        self
    }
}

impl VenueSpec {
    /// Parse and validate venue rules against the instrument's scales.
    pub fn parse(inst: &Instrument, t: &VenueSpecText<'_>) -> Result<Self, SpecError> {
        if t.venue.is_empty() {
            return Err(SpecError::new("venue", t.venue, "empty venue name"));
        }
        if t.symbol.is_empty() {
            return Err(SpecError::new("symbol", t.symbol, "empty symbol"));
        }
        let tick = inst
            .parse_price(t.tick_size)
            .map_err(|e| decimal_err("tick_size", t.tick_size, e))?;
        if tick == 0 {
            return Err(SpecError::new("tick_size", t.tick_size, "must be positive"));
        }
        let lot = inst
            .parse_qty(t.lot_size)
            .map_err(|e| decimal_err("lot_size", t.lot_size, e))?;
        if lot == 0 {
            return Err(SpecError::new("lot_size", t.lot_size, "must be positive"));
        }
        let min_qty = inst
            .parse_qty(t.min_qty)
            .map_err(|e| decimal_err("min_qty", t.min_qty, e))?;
        let min_notional = inst
            .parse_notional(t.min_notional)
            .map_err(|e| decimal_err("min_notional", t.min_notional, e))?;
        let taker_fee = parse_fee("taker_fee", t.taker_fee)?;
        if taker_fee < 0 {
            return Err(SpecError::new(
                "taker_fee",
                t.taker_fee,
                "a taker fee cannot be negative",
            ));
        }
        let maker_fee = parse_fee("maker_fee", t.maker_fee)?;
        Ok(VenueSpec {
            venue: t.venue.to_string(),
            symbol: t.symbol.to_string(),
            tick,
            lot,
            min_qty,
            min_notional,
            taker_fee,
            maker_fee,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Instrument {
        Instrument::new("BTC/USDT", 1, 2, 8).unwrap()
    }

    fn text<'a>() -> VenueSpecText<'a> {
        VenueSpecText {
            venue: "binance",
            symbol: "BTCUSDT",
            tick_size: "0.01",
            lot_size: "0.00001",
            min_qty: "0.00001",
            min_notional: "5",
            taker_fee: "0.001",
            maker_fee: "-0.5bps",
        }
    }

    #[test]
    fn parses_venue_rules_exactly() {
        let s = VenueSpec::parse(&btc(), &text()).unwrap();
        assert_eq!((s.tick, s.lot, s.min_qty), (1, 1000, 1000));
        assert_eq!(s.min_notional, 5 * 10u128.pow(10));
        assert_eq!(s.taker_fee, 100_000);
        assert_eq!(s.maker_fee, -5_000);
        assert_eq!(parse_fee("f", "7.5bps"), Ok(75_000));
    }

    #[test]
    fn errors_name_the_field() {
        let mut t = text();
        t.tick_size = "0.001";
        let e = VenueSpec::parse(&btc(), &t).unwrap_err();
        assert_eq!(e.field, "tick_size");
        assert!(e.to_string().contains("0.001"), "{e}");
        let mut t = text();
        t.lot_size = "0";
        assert_eq!(VenueSpec::parse(&btc(), &t).unwrap_err().field, "lot_size");
        let mut t = text();
        t.taker_fee = "-1bps";
        assert_eq!(VenueSpec::parse(&btc(), &t).unwrap_err().field, "taker_fee");
        let mut t = text();
        t.taker_fee = "1";
        assert_eq!(VenueSpec::parse(&btc(), &t).unwrap_err().field, "taker_fee");
        let mut t = text();
        t.min_notional = "abc";
        assert_eq!(
            VenueSpec::parse(&btc(), &t).unwrap_err().field,
            "min_notional"
        );
        assert_eq!(
            Instrument::new("BTCUSDT", 0, 2, 8).unwrap_err().field,
            "instrument"
        );
        assert_eq!(
            Instrument::new("BTC/USDT", 0, 12, 8).unwrap_err().field,
            "qty_decimals"
        );
    }
}
