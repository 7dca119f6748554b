//! Opportunity records: a fixed, C-compatible layout that maps 1:1 to a numpy structured dtype
//! (`OPPORTUNITY_FIELDS`), so records are logged, replayed and benchmarked without conversion.

/// One cross-venue opportunity: buy `qty` on `buy_venue`, sell it on `sell_venue`.
///
/// Prices are raw at the instrument's `price_decimals`, `qty` at `qty_decimals`, notionals and
/// profits at `price_decimals + qty_decimals` (quote units). Profits are exact, after both
/// taker fees, floored.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[repr(C)]
pub struct Opportunity {
    pub instrument: u32,
    pub buy_venue: u16,
    pub sell_venue: u16,
    pub qty: u64,
    pub buy_limit: u64,
    pub sell_limit: u64,
    pub buy_notional: u64,
    pub sell_notional: u64,
    pub gross_profit: i64,
    pub net_profit: i64,
    pub edge_bps: f64,
    pub buy_seq: u64,
    pub sell_seq: u64,
    pub buy_venue_ts: i64,
    pub buy_recv_ts: i64,
    pub sell_venue_ts: i64,
    pub sell_recv_ts: i64,
}

/// Field names and numpy type codes, in layout order (native endianness).
pub const OPPORTUNITY_FIELDS: [(&str, &str); 17] = [
    ("instrument", "u4"),
    ("buy_venue", "u2"),
    ("sell_venue", "u2"),
    ("qty", "u8"),
    ("buy_limit", "u8"),
    ("sell_limit", "u8"),
    ("buy_notional", "u8"),
    ("sell_notional", "u8"),
    ("gross_profit", "i8"),
    ("net_profit", "i8"),
    ("edge_bps", "f8"),
    ("buy_seq", "u8"),
    ("sell_seq", "u8"),
    ("buy_venue_ts", "i8"),
    ("buy_recv_ts", "i8"),
    ("sell_venue_ts", "i8"),
    ("sell_recv_ts", "i8"),
];

/// Size of one record in bytes.
pub const OPPORTUNITY_SIZE: usize = std::mem::size_of::<Opportunity>();

impl Opportunity {
    /// Append the record's bytes, in layout order and native endianness, to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.instrument.to_ne_bytes());
        out.extend_from_slice(&self.buy_venue.to_ne_bytes());
        out.extend_from_slice(&self.sell_venue.to_ne_bytes());
        for v in [
            self.qty,
            self.buy_limit,
            self.sell_limit,
            self.buy_notional,
            self.sell_notional,
        ] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
        out.extend_from_slice(&self.gross_profit.to_ne_bytes());
        out.extend_from_slice(&self.net_profit.to_ne_bytes());
        out.extend_from_slice(&self.edge_bps.to_ne_bytes());
        out.extend_from_slice(&self.buy_seq.to_ne_bytes());
        out.extend_from_slice(&self.sell_seq.to_ne_bytes());
        for v in [
            self.buy_venue_ts,
            self.buy_recv_ts,
            self.sell_venue_ts,
            self.sell_recv_ts,
        ] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_has_no_padding_and_matches_fields() {
        let size_of = |code: &str| code[1..].parse::<usize>().unwrap_or(0);
        let total: usize = OPPORTUNITY_FIELDS.iter().map(|(_, c)| size_of(c)).sum();
        assert_eq!(total, OPPORTUNITY_SIZE);
        let mut out = Vec::new();
        Opportunity {
            qty: 7,
            net_profit: -3,
            ..Default::default()
        }
        .write_bytes(&mut out);
        assert_eq!(out.len(), OPPORTUNITY_SIZE);
        assert_eq!(&out[8..16], &7u64.to_ne_bytes());
        assert_eq!(&out[56..64], &(-3i64).to_ne_bytes());
    }
}
