//! The intent log record of a two-leg ticket, byte for byte what `StagedTicket.to_line` writes
//! for the same ticket (orjson, compact): `[ticket, instrument, buy venue, sell venue, detail,
//! [ledger events], [intents]]`. The Python journal reads it back with `StagedTicket.from_line`,
//! so a record from this path and one from the Python path are the same thing on disk.

use memchr::memmem;

use super::encode::{push_int, push_json_str};
use super::gate::{AssetSpec, MarketSpec};

/// One leg of the record: its id ("buy"/"sell"), market, side, raw qty and limit, and the
/// reservation it holds (asset and amount in the asset's units).
#[derive(Debug, Clone, Copy)]
pub struct RecordLeg<'a> {
    pub leg_id: &'a str,
    pub venue: &'a str,
    pub market: &'a MarketSpec,
    pub base: &'a AssetSpec,
    pub quote: &'a AssetSpec,
    pub buy: bool,
    pub qty: u64,
    pub price: u64,
    pub reserve_asset: &'a AssetSpec,
    pub reserve_amount: i128,
}

/// The ticket's detail text as the Python ticket journals it (keys sorted, values as text).
pub fn detail_json(qty: u64, buy_limit: u64, sell_limit: u64, reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + reason.len());
    out.extend_from_slice(b"{\"expected_buy_price\":\"");
    push_int(&mut out, buy_limit);
    out.extend_from_slice(b"\",\"expected_sell_price\":\"");
    push_int(&mut out, sell_limit);
    out.extend_from_slice(b"\",\"qty\":\"");
    push_int(&mut out, qty);
    out.extend_from_slice(b"\",\"reason\":");
    push_json_str(&mut out, reason);
    out.push(b'}');
    out
}

/// Append the record's JSON to `out`. `detail`: the detail JSON text (`detail_json`).
pub fn push_ticket_record(
    out: &mut Vec<u8>,
    ticket_id: &str,
    instrument: &str,
    buy_venue: &str,
    sell_venue: &str,
    detail: &[u8],
    legs: &[RecordLeg<'_>],
) {
    out.push(b'[');
    for s in [ticket_id, instrument, buy_venue, sell_venue] {
        push_json_str(out, s);
        out.push(b',');
    }
    // the detail is JSON text stored as a string
    push_json_str(out, std::str::from_utf8(detail).unwrap_or(""));
    out.extend_from_slice(b",[");
    for (i, leg) in legs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"[\"reserve\",");
        push_json_str(out, leg.venue);
        out.push(b',');
        push_json_str(out, ticket_id);
        out.push(b',');
        push_json_str(out, leg.leg_id);
        out.extend_from_slice(b",\"\",[[\"amount\",");
        push_json_str(out, &leg.reserve_asset.name);
        out.push(b',');
        push_int(out, leg.reserve_asset.decimals);
        out.extend_from_slice(b",\"");
        push_int(out, leg.reserve_amount);
        out.extend_from_slice(b"\"]],\"\"]");
    }
    out.extend_from_slice(b"],[");
    for (i, leg) in legs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let m = leg.market;
        out.push(b'[');
        for s in [ticket_id, leg.leg_id] {
            push_json_str(out, s);
            out.push(b',');
        }
        out.extend_from_slice(b"0,");
        for s in [
            leg.venue,
            &m.symbol,
            &m.instrument,
            &leg.base.name,
            &leg.quote.name,
        ] {
            push_json_str(out, s);
            out.push(b',');
        }
        push_int(out, m.price_decimals);
        out.push(b',');
        push_int(out, m.qty_decimals);
        out.extend_from_slice(if leg.buy { b",\"buy" } else { b",\"sell" });
        out.extend_from_slice(b"\",\"limit\",\"IOC\",\"");
        push_int(out, leg.qty);
        out.extend_from_slice(b"\",\"");
        push_int(out, leg.price);
        out.extend_from_slice(b"\",false]");
    }
    out.extend_from_slice(b"]]");
}

/// zlib's CRC-32 (the intent log's checksum), by `crc32fast`: PCLMULQDQ where the CPU has it.
/// A byte-at-a-time table loop over a ~700-byte record was the order path's largest remaining
/// cost after the secrets check.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// The record as the intent log stores it (`execution/intent_log.py`): little-endian u32 length,
/// u32 CRC-32 of the payload, the payload.
pub fn frame_record(payload: &[u8]) -> Option<Vec<u8>> {
    let n = u32::try_from(payload.len()).ok()?;
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// The journal's registered secrets, searched for in every record before it is stored (a
/// record holding one is never stored).
///
/// Why prebuilt finders: the record is ~700 bytes and a session registers ~6 secrets; a naive
/// window compare made this check ~1 µs per secret, the largest single cost of the order path.
/// A SIMD substring finder built once per secret scans a record in tens of nanoseconds.
#[derive(Debug, Default)]
pub struct SecretSet {
    finders: Vec<memmem::Finder<'static>>,
}

impl SecretSet {
    /// Empty secrets are dropped: they would match every record.
    pub fn new(secrets: &[Vec<u8>]) -> Self {
        let finders = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| memmem::Finder::new(s.as_slice()).into_owned())
            .collect();
        Self { finders }
    }

    /// Whether `haystack` contains any of the secrets.
    pub fn found_in(&self, haystack: &[u8]) -> bool {
        self.finders.iter().any(|f| f.find(haystack).is_some())
    }
}
