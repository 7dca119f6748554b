//! Reusable per-feed buffers: a frame is parsed into these completely before any book changes.
//! Reused across frames so the steady state allocates nothing per message.

use super::DecodeError;
use crate::book::{Delta, Level, Side};
use crate::fixed;

#[derive(Debug, Default, Clone)]
pub struct Scratch {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub deltas: Vec<Delta>,
}

/// Parse a venue decimal into a raw integer, naming the field on error.
#[inline]
pub fn parse_num(field: &'static str, text: &str, decimals: u8) -> Result<u64, DecodeError> {
    parse_num_bytes(field, text.as_bytes(), decimals)
}

/// [`parse_num`] on the text's bytes (the scanners' spans), with the same error.
#[inline]
pub fn parse_num_bytes(field: &'static str, text: &[u8], decimals: u8) -> Result<u64, DecodeError> {
    fixed::parse_u64(text, decimals).map_err(|error| number_error(field, text, error))
}

#[cold]
fn number_error(field: &'static str, text: &[u8], error: fixed::FixedError) -> DecodeError {
    DecodeError::Number {
        field,
        // Lossless for the UTF-8 text every caller passes (scanners pass ASCII only).
        text: String::from_utf8_lossy(text).chars().take(40).collect(),
        error,
    }
}

impl Scratch {
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.deltas.clear();
    }

    /// Parse one (price, qty) pair into a snapshot side.
    #[inline]
    pub fn push_level(
        &mut self,
        side: Side,
        price: &str,
        qty: &str,
        scales: (u8, u8),
    ) -> Result<(), DecodeError> {
        let l = Level {
            price: parse_num("price", price, scales.0)?,
            qty: parse_num("qty", qty, scales.1)?,
        };
        match side {
            Side::Bid => self.bids.push(l),
            Side::Ask => self.asks.push(l),
        }
        Ok(())
    }

    /// Parse one (price, qty) pair into the delta list.
    #[inline]
    pub fn push_delta(
        &mut self,
        side: Side,
        price: &str,
        qty: &str,
        scales: (u8, u8),
    ) -> Result<(), DecodeError> {
        self.push_delta_bytes(side, price.as_bytes(), qty.as_bytes(), scales)
    }

    /// [`Scratch::push_delta`] on the texts' bytes.
    #[inline]
    pub fn push_delta_bytes(
        &mut self,
        side: Side,
        price: &[u8],
        qty: &[u8],
        scales: (u8, u8),
    ) -> Result<(), DecodeError> {
        self.deltas.push(Delta {
            side,
            price: parse_num_bytes("price", price, scales.0)?,
            qty: parse_num_bytes("qty", qty, scales.1)?,
        });
        Ok(())
    }
}
