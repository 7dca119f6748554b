//! Deterministic client order ids: RFC 9562 version 5 (SHA-1) of `(ticket, leg, attempt)` in the
//! namespace of `arbcore/execution/client_ids.py`, scheme version 1. Same bits as the Python
//! `client_order_id`; the Python tests compare the two on many triples.

use sha1::{Digest, Sha1};

/// `uuid5(NAMESPACE_URL, "arbcore:client-order-id:v1")`, the scheme's fixed namespace.
pub const NAMESPACE: [u8; 16] = [
    222, 37, 145, 196, 222, 54, 85, 141, 131, 23, 165, 140, 244, 21, 140, 119,
];

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The client order id of `(ticket, leg, attempt)`, appended to `out`: 32 lowercase hex digits,
/// or the dashed UUID form (`dashed`, the venues whose rule is a UUID: Kraken, Coinbase).
pub fn push_client_order_id(out: &mut String, dashed: bool, ticket: &str, leg: &str, attempt: u32) {
    let mut h = Sha1::new();
    h.update(NAMESPACE);
    // lengths in characters, as Python's len(): the name is unambiguous for any text
    let name = format!(
        "{}:{ticket}{}:{leg}{attempt}",
        ticket.chars().count(),
        leg.chars().count()
    );
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut d = [0u8; 16];
    d.copy_from_slice(&digest[..16]);
    d[6] = (d[6] & 0x0F) | 0x50;
    d[8] = (d[8] & 0x3F) | 0x80;
    for (i, b) in d.iter().enumerate() {
        if dashed && matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// [`push_client_order_id`] as a new string.
pub fn client_order_id(dashed: bool, ticket: &str, leg: &str, attempt: u32) -> String {
    let mut s = String::with_capacity(36);
    push_client_order_id(&mut s, dashed, ticket, leg, attempt);
    s
}

/// The client order ids of one ticket's legs, kept until another ticket's are asked for.
///
/// Why: an id is a SHA-1 and some formatting (~0.3 µs per leg hot, several times that cold on
/// the frame that opens a spread). A ticket's id depends only on the run's ticket sequence
/// number, which the order path's dry run peeks at (`OrderPath.take` with `dry`), so the dry
/// run makes the next ticket's ids and the real take that follows finds them here.
#[derive(Debug, Default)]
pub struct ClientIds {
    ticket: String,
    legs: Vec<(bool, String, String)>, // (dashed, leg id, client order id)
}

impl ClientIds {
    /// The client order id of `(ticket, leg, 0)`, made now unless it was made for the same
    /// ticket before; the ids of any other ticket are dropped.
    pub fn first_attempt(&mut self, dashed: bool, ticket: &str, leg: &str) -> &str {
        if self.ticket != ticket {
            self.ticket.clear();
            self.ticket.push_str(ticket);
            self.legs.clear();
        }
        let at = match self
            .legs
            .iter()
            .position(|(d, l, _)| *d == dashed && l == leg)
        {
            Some(i) => i,
            None => {
                let id = client_order_id(dashed, ticket, leg, 0);
                self.legs.push((dashed, leg.to_owned(), id));
                self.legs.len() - 1
            }
        };
        &self.legs[at].2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_ids_are_the_ids_made_afresh() {
        let mut ids = ClientIds::default();
        for ticket in ["T1", "T1", "T2", "T1"] {
            for leg in ["buy", "sell", "buy"] {
                for dashed in [false, true] {
                    let kept = ids.first_attempt(dashed, ticket, leg).to_owned();
                    assert_eq!(kept, client_order_id(dashed, ticket, leg, 0));
                }
            }
        }
        assert_eq!(
            ids.legs.len(),
            4,
            "one entry per (dashed, leg) of the last ticket"
        );
    }
}
