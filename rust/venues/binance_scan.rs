//! Fast path for the frame a Binance depth connection carries almost exclusively: the
//! `depthUpdate` event, raw (`/ws/<stream>`) or in the combined-stream wrapper
//! (`{"stream":"..","data":{..}}`), in Binance's compact spelling.
//!
//! One pass over the bytes, no allocation: header fields are read as integers, and each
//! level's decimal strings are parsed straight into the caller's (reused) delta buffer at the
//! instrument's scales, which the caller resolves from the symbol when the scanner reaches it
//! (Binance sends `s` before `b` and `a`).
//!
//! Anything else returns `None` and the decoder runs its serde path on the frame, which gives
//! the result or names the error (see `jscan`): another event, whitespace, escapes, an unknown
//! or repeated key, a number that is not a plain integer, levels before the symbol, an unknown
//! symbol, a price or quantity outside `digits[.digits]` at the scale (exponents, rounding,
//! overflow, garbage), trailing bytes. So when this returns a head, the serde path would have
//! parsed the same fields and the same deltas, and every check left (`U <= u`, `pu`, the
//! sequence) is the decoder's, shared by both paths. Tested against the serde path on every
//! frame shape of the tests, on mutations and in the fuzz harness.

use super::jscan::Cursor;
use crate::book::{Delta, Side};

/// A depth event's header; its levels are in the caller's delta buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DepthHead<'a> {
    pub event_time: Option<i64>,
    pub tx_time: Option<i64>,
    pub symbol: &'a [u8],
    pub first: u64,
    pub last: u64,
    pub prev: Option<u64>,
}

/// Recognise a `depthUpdate` frame. `scales` maps the symbol to the instrument's (price, qty)
/// decimals, or `None` (unknown symbol: the serde path reports it). `deltas` is cleared, then
/// holds the bids and the asks in frame order (each side's deltas are independent of the
/// other's, so the side order does not change what applying them does).
pub(crate) fn scan_depth<'a>(
    frame: &'a [u8],
    scales: impl FnMut(&'a [u8]) -> Option<(u8, u8)>,
    deltas: &mut Vec<Delta>,
) -> Option<DepthHead<'a>> {
    deltas.clear();
    let mut c = Cursor::new(frame)?;
    let head = if frame.starts_with(b"{\"stream\":") {
        c.lit(b"{\"stream\":")?;
        c.str_span()?;
        c.lit(b",\"data\":")?;
        let h = event(&mut c, scales, deltas)?;
        c.eat(b'}')?;
        h
    } else {
        event(&mut c, scales, deltas)?
    };
    c.at_end().then_some(head)
}

/// Key bits, to refuse a repeated key (serde refuses a duplicate field).
const K_E: u16 = 1;
const K_EVENT_TIME: u16 = 1 << 1;
const K_TX_TIME: u16 = 1 << 2;
const K_S: u16 = 1 << 3;
const K_FIRST: u16 = 1 << 4;
const K_LAST: u16 = 1 << 5;
const K_PREV: u16 = 1 << 6;
const K_B: u16 = 1 << 7;
const K_A: u16 = 1 << 8;
const REQUIRED: u16 = K_E | K_S | K_FIRST | K_LAST;

fn event<'a>(
    c: &mut Cursor<'a>,
    mut scales: impl FnMut(&'a [u8]) -> Option<(u8, u8)>,
    deltas: &mut Vec<Delta>,
) -> Option<DepthHead<'a>> {
    c.eat(b'{')?;
    let mut seen = 0u16;
    let mut sc = None;
    let mut h = DepthHead {
        event_time: None,
        tx_time: None,
        symbol: b"",
        first: 0,
        last: 0,
        prev: None,
    };
    loop {
        let bit = match c.key()? {
            b"e" => K_E,
            b"E" => K_EVENT_TIME,
            b"T" => K_TX_TIME,
            b"s" => K_S,
            b"U" => K_FIRST,
            b"u" => K_LAST,
            b"pu" => K_PREV,
            b"b" => K_B,
            b"a" => K_A,
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match bit {
            K_E => {
                if c.str_bytes()? != b"depthUpdate" {
                    return None;
                }
            }
            K_EVENT_TIME => h.event_time = Some(c.int_i64()?),
            K_TX_TIME => h.tx_time = Some(c.int_i64()?),
            K_S => {
                h.symbol = c.str_bytes()?;
                sc = Some(scales(h.symbol)?);
            }
            K_FIRST => h.first = c.uint()?,
            K_LAST => h.last = c.uint()?,
            K_PREV => h.prev = Some(c.uint()?),
            K_B => side(c, Side::Bid, sc?, deltas)?,
            _ => side(c, Side::Ask, sc?, deltas)?,
        }
        if !c.more(b'}')? {
            break;
        }
    }
    (seen & REQUIRED == REQUIRED).then_some(h)
}

/// `[["price","qty"],...]` into `deltas`.
#[inline]
fn side(c: &mut Cursor<'_>, side: Side, (pd, qd): (u8, u8), deltas: &mut Vec<Delta>) -> Option<()> {
    if !c.list_open()? {
        return Some(());
    }
    loop {
        c.eat(b'[')?;
        let price = c.decimal(pd)?;
        c.eat(b',')?;
        let qty = c.decimal(qd)?;
        c.eat(b']')?;
        deltas.push(Delta { side, price, qty });
        if !c.more(b']')? {
            return Some(());
        }
    }
}

#[cfg(test)]
#[path = "binance_scan_tests.rs"]
mod tests;
