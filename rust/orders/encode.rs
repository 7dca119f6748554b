//! Order frames per venue, byte for byte what the Python clients write for a limit IOC
//! (`venues/orders/binance_requests.py` `order_params` + `binance.py` `_sign_order`, `okx.py`
//! `order_fields` + `_op`): the Python tests put both side by side for the same order and key.
//!
//! Only what the ticket sends is encoded here: a limit order, immediate-or-cancel. Everything
//! else (market orders, post-only, cancels, queries) stays with the Python clients.

use crate::fixed::format_into;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// One leg as the ticket decided it: a limit IOC at raw integer price and quantity.
#[derive(Debug, Clone, Copy)]
pub struct OrderSpec<'a> {
    pub symbol: &'a str,
    pub buy: bool,
    pub price: u64,
    pub price_decimals: u8,
    pub qty: u64,
    pub qty_decimals: u8,
    pub client_order_id: &'a str,
}

impl<'a> OrderSpec<'a> {
    /// A limit IOC on `m`'s symbol at its scales.
    pub fn on(
        m: &'a crate::orders::gate::MarketSpec,
        buy: bool,
        qty: u64,
        price: u64,
        client_order_id: &'a str,
    ) -> Self {
        Self {
            symbol: &m.symbol,
            buy,
            price,
            price_decimals: m.price_decimals,
            qty,
            qty_decimals: m.qty_decimals,
            client_order_id,
        }
    }
}

/// An encoder per venue connection; its request ids are its own (`prefix` + a counter, a
/// namespace the Python client never uses, so the two never collide on one connection).
/// Its `Debug` shows neither key nor secret (it may end up in a log line).
#[derive(Debug)]
pub enum Encoder {
    Binance(BinanceEncoder),
    Okx(OkxEncoder),
}

impl Encoder {
    /// Append the order frame to `out`; returns the request id the venue's reply will carry.
    /// `now_ms`: wall-clock milliseconds (Binance's `timestamp`).
    pub fn place(&mut self, o: &OrderSpec<'_>, now_ms: u64, out: &mut Vec<u8>) -> String {
        match self {
            Encoder::Binance(b) => b.place(o, now_ms, out),
            Encoder::Okx(x) => x.place(o, out),
        }
    }

    /// The request counter (the last id's number), to put back after a dry run ([`Self::set_counter`]).
    pub fn counter(&self) -> u64 {
        match self {
            Encoder::Binance(b) => b.next_id,
            Encoder::Okx(x) => x.next_id,
        }
    }

    pub fn set_counter(&mut self, n: u64) {
        match self {
            Encoder::Binance(b) => b.next_id = n,
            Encoder::Okx(x) => x.next_id = n,
        }
    }

    /// Whether ids must be the dashed UUID form on this venue (none of the two encoded here).
    pub fn dashed_ids(&self) -> bool {
        false
    }
}

/// Binance WS API `order.place` (spot or USD-M futures), signed as the WS API documents:
/// HMAC-SHA256 over every parameter but `signature`, sorted by name, `k=v&k=v`, hex.
pub struct BinanceEncoder {
    futures: bool,
    api_key: String,
    /// the secret keyed and `apiKey=<key>&` (the first name in order) already fed
    keyed: Hmac<Sha256>,
    recv_window: Option<u64>,
    prefix: String,
    next_id: u64,
}

impl fmt::Debug for BinanceEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BinanceEncoder(futures={}, key and secret withheld)",
            self.futures
        )
    }
}

impl BinanceEncoder {
    /// `recv_window`: Some only when it is not Binance's default 5000 (the client sends it then).
    pub fn new(
        futures: bool,
        api_key: &str,
        secret: &[u8],
        recv_window: Option<u64>,
        prefix: &str,
    ) -> Option<Self> {
        let mut keyed = Hmac::<Sha256>::new_from_slice(secret).ok()?;
        keyed.update(format!("apiKey={api_key}&").as_bytes());
        Some(Self {
            futures,
            api_key: api_key.to_owned(),
            keyed,
            recv_window,
            prefix: prefix.to_owned(),
            next_id: 0,
        })
    }

    fn place(&mut self, o: &OrderSpec<'_>, now_ms: u64, out: &mut Vec<u8>) -> String {
        self.next_id += 1;
        let rid = numbered(&self.prefix, self.next_id);
        let mut price = String::with_capacity(24);
        format_into(u128::from(o.price), o.price_decimals, &mut price);
        let mut qty = String::with_capacity(24);
        format_into(u128::from(o.qty), o.qty_decimals, &mut qty);
        let side: &[u8] = if o.buy { b"BUY" } else { b"SELL" };
        let resp: &[u8] = if self.futures { b"RESULT" } else { b"FULL" };
        // the signature payload after `apiKey=..&`, names in sorted order
        let mut tail = Vec::with_capacity(256);
        for piece in [
            b"newClientOrderId=",
            o.client_order_id.as_bytes(),
            b"&newOrderRespType=",
            resp,
            b"&price=",
            price.as_bytes(),
            b"&quantity=",
            qty.as_bytes(),
            b"&",
        ] {
            tail.extend_from_slice(piece);
        }
        if let Some(w) = self.recv_window {
            tail.extend_from_slice(b"recvWindow=");
            push_int(&mut tail, w);
            tail.push(b'&');
        }
        for piece in [
            b"side=",
            side,
            b"&symbol=",
            o.symbol.as_bytes(),
            b"&timeInForce=IOC&timestamp=",
        ] {
            tail.extend_from_slice(piece);
        }
        push_int(&mut tail, now_ms);
        tail.extend_from_slice(b"&type=LIMIT");
        let mut mac = self.keyed.clone();
        mac.update(&tail);
        let sig = mac.finalize().into_bytes();
        // the JSON, in the Python dict's insertion order
        out.extend_from_slice(b"{\"id\":");
        push_json_str(out, &rid);
        out.extend_from_slice(b",\"method\":\"order.place\",\"params\":{\"symbol\":");
        push_json_str(out, o.symbol);
        for piece in [
            b",\"side\":\"",
            side,
            b"\",\"type\":\"LIMIT\",\"timeInForce\":\"IOC\",\"price\":\"",
            price.as_bytes(),
            b"\",\"quantity\":\"",
            qty.as_bytes(),
            b"\",\"newClientOrderId\":",
        ] {
            out.extend_from_slice(piece);
        }
        push_json_str(out, o.client_order_id);
        for piece in [b",\"newOrderRespType\":\"", resp, b"\",\"timestamp\":"] {
            out.extend_from_slice(piece);
        }
        push_int(out, now_ms);
        if let Some(w) = self.recv_window {
            out.extend_from_slice(b",\"recvWindow\":");
            push_int(out, w);
        }
        out.extend_from_slice(b",\"apiKey\":");
        push_json_str(out, &self.api_key);
        out.extend_from_slice(b",\"signature\":\"");
        for b in sig.iter() {
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        }
        out.extend_from_slice(b"\"}}");
        rid
    }
}

/// OKX WS `order` op: the login signed the connection; an order carries no signature.
#[derive(Debug)]
pub struct OkxEncoder {
    td_mode: String,
    prefix: String,
    next_id: u64,
}

impl OkxEncoder {
    pub fn new(td_mode: &str, prefix: &str) -> Self {
        Self {
            td_mode: td_mode.to_owned(),
            prefix: prefix.to_owned(),
            next_id: 0,
        }
    }

    fn place(&mut self, o: &OrderSpec<'_>, out: &mut Vec<u8>) -> String {
        self.next_id += 1;
        let rid = numbered(&self.prefix, self.next_id);
        out.extend_from_slice(b"{\"id\":");
        push_json_str(out, &rid);
        out.extend_from_slice(b",\"op\":\"order\",\"args\":[{\"instId\":");
        push_json_str(out, o.symbol);
        out.extend_from_slice(b",\"tdMode\":");
        push_json_str(out, &self.td_mode);
        out.extend_from_slice(if o.buy {
            b",\"side\":\"buy"
        } else {
            b",\"side\":\"sell"
        });
        out.extend_from_slice(b"\",\"ordType\":\"ioc\",\"sz\":\"");
        let mut s = String::with_capacity(24);
        format_into(u128::from(o.qty), o.qty_decimals, &mut s);
        s.push_str("\",\"px\":\"");
        format_into(u128::from(o.price), o.price_decimals, &mut s);
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\",\"clOrdId\":");
        push_json_str(out, o.client_order_id);
        out.extend_from_slice(b"}]}");
        rid
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An integer's decimal digits appended. Why not `write!`: `core::fmt` goes through a vtable
/// call per piece and a generic integer formatter; the order path writes ~30 pieces per ticket.
pub fn push_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `prefix` then `n`: a request id (`b17`), a ticket id.
pub fn numbered(prefix: &str, n: u64) -> String {
    let mut digits = itoa::Buffer::new();
    let d = digits.format(n);
    let mut s = String::with_capacity(prefix.len() + d.len());
    s.push_str(prefix);
    s.push_str(d);
    s
}

/// A JSON string as orjson writes it: `"` and `\` escaped, the short escapes for \b \t \n \f
/// \r, `\u00xx` (lowercase) for the other control characters, everything else as UTF-8.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Runs that need no escape (all of them, in practice: ids, symbols, venue names) are copied
    // whole; a push per byte was a tenth of the order path's time.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}
