//! The ticket's order path in Rust: from a decided two-leg ticket to both signed order frames
//! and the intent record that goes to disk before them, in one call.
//!
//! Why here and not in the Python clients: on a host that is otherwise quiet between
//! opportunities, the order path runs with cold caches, and cold CPython costs ~1.5 µs per call;
//! the Python ticket path makes ~300 of them (validation, risk, reservations, the record, two
//! clients' encoding and signing). This module does the same work in one call with no
//! allocation per level and no Python objects until the frames come back.
//!
//! It is a fast *accept* path, never a second opinion: every check here is one the Python path
//! (`execution/ticket.py`, `risk.py`, `ledger.py`) makes the same way, on state the Python side
//! mirrors into it ([`gate::Gate`]). Anything it cannot decide exactly (a refusal, a venue it
//! does not encode, an amount that does not fit) returns `None` to the caller, which then runs
//! the Python path: refusals get their worded reasons there, once.
//!
//! - [`client_id`]: the deterministic client order id (the uuid5 of `execution/client_ids.py`).
//! - [`encode`]: per-venue order frames (Binance WS API `order.place` signed with HMAC-SHA256,
//!   OKX WS `order`), byte for byte what the Python clients send.
//! - [`gate`]: venue rules, book freshness, risk limits and funds for both legs.
//! - [`record`]: the intent log record (`execution/intent_log.py`'s JSON), byte for byte.
//! - [`taker`]: the built-in taker strategy's decision on the detector's records.
//! - [`warm`]: the book copy its dry runs walk, so they run the code of a real opportunity.

pub mod client_id;
pub mod encode;
pub mod gate;
pub mod record;
pub mod taker;
pub mod warm;

#[cfg(test)]
mod tests;
