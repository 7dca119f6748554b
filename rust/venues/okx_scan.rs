//! Fast path for the frame an OKX book connection carries almost exclusively: a push of an
//! order-book channel (`books`, `books-l2-tbt`, `books50-l2-tbt`, `books5`, `bbo-tbt`), in
//! OKX's compact spelling: `{"arg":{"channel":..,"instId":..},"action":..,"data":[{..}]}`.
//!
//! One pass over the bytes, no allocation: the header fields are read as they come, and each
//! level's price and size are parsed straight into the decoder's (reused) scratch at the
//! instrument's scales, which the caller resolves from `instId` (OKX sends `arg` before `data`).
//! Why: the serde path builds a `Vec` of string tuples per side and walks the frame twice (the
//! envelope, then `data`); on a 50-level push that was most of the decode.
//!
//! Anything else returns `None` and the decoder runs its serde path on the frame, which gives
//! the result or names the error (see `jscan`): another channel, an `event` frame, whitespace,
//! escapes, an unknown or repeated key, `data` before `arg` or `action`, more than one element
//! in `data`, an unknown symbol, a number outside `digits[.digits]` at the scale, trailing bytes.
//! So when this returns a head, the serde path would have read the same fields and levels; the
//! checks left (action, `ts`, checksum range, sequence) are the decoder's, shared by both paths.

use super::jscan::Cursor;
use super::Scratch;
use crate::book::{Delta, Level, Side};

/// A book push's header; its levels are in the scratch (snapshot sides, or deltas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BookHead<'a> {
    pub channel: &'a str,
    pub inst: &'a str,
    pub action: Option<&'a str>,
    pub ts: &'a str,
    pub checksum: i64,
    pub prev: Option<i64>,
    pub seq: Option<i64>,
}

/// Recognise a book push. `scales` maps `instId` to the instrument's (price, qty) decimals, or
/// `None` (unknown: the serde path reports it); `is_snapshot(channel, action)` says where the
/// levels go (`None`: not a book channel, or an action the decoder refuses). `s` is cleared.
pub(crate) fn scan_book<'a>(
    frame: &'a [u8],
    mut scales: impl FnMut(&str) -> Option<(u8, u8)>,
    is_snapshot: impl Fn(&str, Option<&str>) -> Option<bool>,
    s: &mut Scratch,
) -> Option<BookHead<'a>> {
    s.clear();
    let mut c = Cursor::new(frame)?;
    c.lit(b"{\"arg\":")?;
    let (channel, inst) = arg(&mut c)?;
    let mut action = None;
    if c.lit(b",\"action\":").is_some() {
        action = Some(text(c.str_bytes()?)?);
    }
    let snapshot = is_snapshot(channel, action)?;
    let sc = scales(inst)?;
    c.lit(b",\"data\":[")?;
    let head = data(&mut c, channel, inst, action, sc, snapshot, s)?;
    c.lit(b"]}")?;
    c.at_end().then_some(head)
}

fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// `{"channel":..,"instId":..}` in either order.
fn arg<'a>(c: &mut Cursor<'a>) -> Option<(&'a str, &'a str)> {
    c.eat(b'{')?;
    let (mut channel, mut inst) = (None, None);
    loop {
        let slot = match c.key()? {
            b"channel" => &mut channel,
            b"instId" => &mut inst,
            _ => return None,
        };
        if slot.replace(text(c.str_bytes()?)?).is_some() {
            return None;
        }
        if !c.more(b'}')? {
            return Some((channel?, inst?));
        }
    }
}

const K_ASKS: u8 = 1;
const K_BIDS: u8 = 1 << 1;
const K_TS: u8 = 1 << 2;
const K_CHECKSUM: u8 = 1 << 3;
const K_PREV: u8 = 1 << 4;
const K_SEQ: u8 = 1 << 5;

/// The one element of `data`.
fn data<'a>(
    c: &mut Cursor<'a>,
    channel: &'a str,
    inst: &'a str,
    action: Option<&'a str>,
    sc: (u8, u8),
    snapshot: bool,
    s: &mut Scratch,
) -> Option<BookHead<'a>> {
    c.eat(b'{')?;
    let mut seen = 0u8;
    let mut h = BookHead {
        channel,
        inst,
        action,
        ts: "",
        checksum: 0,
        prev: None,
        seq: None,
    };
    loop {
        let bit = match c.key()? {
            b"asks" => K_ASKS,
            b"bids" => K_BIDS,
            b"ts" => K_TS,
            b"checksum" => K_CHECKSUM,
            b"prevSeqId" => K_PREV,
            b"seqId" => K_SEQ,
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match bit {
            K_ASKS => side(c, Side::Ask, sc, snapshot, s)?,
            K_BIDS => side(c, Side::Bid, sc, snapshot, s)?,
            K_TS => h.ts = text(c.str_bytes()?)?,
            K_CHECKSUM => h.checksum = c.int()?,
            K_PREV => h.prev = Some(c.int()?),
            _ => h.seq = Some(c.int()?),
        }
        if !c.more(b'}')? {
            break;
        }
    }
    (seen & K_TS != 0).then_some(h)
}

/// `[["px","sz","0","n"],...]` into the snapshot side or the deltas (the serde path's order:
/// each side's levels in frame order).
fn side(
    c: &mut Cursor<'_>,
    side: Side,
    (pd, qd): (u8, u8),
    snapshot: bool,
    s: &mut Scratch,
) -> Option<()> {
    if !c.list_open()? {
        return Some(());
    }
    loop {
        c.eat(b'[')?;
        let price = c.decimal(pd)?;
        c.eat(b',')?;
        let qty = c.decimal(qd)?;
        c.eat(b',')?;
        c.str_span()?; // the deprecated "0"
        c.eat(b',')?;
        c.str_span()?; // number of orders
        c.eat(b']')?;
        match (snapshot, side) {
            (true, Side::Bid) => s.bids.push(Level { price, qty }),
            (true, Side::Ask) => s.asks.push(Level { price, qty }),
            (false, _) => s.deltas.push(Delta { side, price, qty }),
        }
        if !c.more(b']')? {
            return Some(());
        }
    }
}

#[cfg(test)]
#[path = "okx_scan_tests.rs"]
mod tests;
