//! The order path's own writes (`OrderPath.arm_wire`): a ticket the taker decides in Rust has
//! its intent record stored and both legs' frames written in the same call, with no Python
//! frame between the decision and the wire.
//!
//! Why: on the frame that opens a spread, returning the ticket to Python and running its
//! checks there (`FastPath.started`, the clients' `primed_transport`) came to ~5 µs p50 before
//! the first leg's `send` in profiled e2e rounds; here the same checks are a few attribute reads.
//!
//! Why it is safe: the Python side (`FastPath`) arms a market only when its client would hand
//! out the order socket now (`primed_transport`: connected, logged in, room for one order in
//! the rate limiter), keeping the socket and the limiter's version of that moment. The write
//! goes ahead only if, for both legs, the socket is still connected and the limiter's version
//! unchanged (every charge, penalty or 429 bumps it), and the two legs do not share a limiter
//! (room for one order each is not room for both). Anything else that would make a client
//! refuse disarms its markets from Python (a user stream ended on a live socket, a test hook).
//! A write disarms both legs: the Python side spends their charges and arms them again.
//! Anything not armed goes the way it went before: the ticket goes back to Python unwritten.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::log_tail::{LogTail, STORED};

/// One market's armed order socket.
#[derive(Debug)]
struct Wire {
    transport: Py<PyAny>,       // the client's picows WSTransport
    send: Py<PyAny>,            // its bound `send` (looked up at arming, not per write)
    limiter: Option<Py<PyAny>>, // its RateLimiter (None: the client has none)
    version: u64,               // the limiter's version when the client found room
}

/// Per market: its armed socket, if any; and where records go before the frames.
#[derive(Debug, Default)]
pub(crate) struct Wires {
    arms: Vec<Option<Wire>>,
    store: Option<Py<LogTail>>, // the intent log's stores
    text: Option<Py<PyAny>>,    // picows WSMsgType.TEXT
}

/// What `write` did: the ticket's last item (`OrderPath.take`).
pub(crate) const NOT_WRITTEN: i64 = 0;
pub(crate) const DRY_STORED: i64 = -1;

impl Wires {
    pub(crate) fn set_store(&mut self, store: Py<LogTail>, text: Py<PyAny>) {
        self.store = Some(store);
        self.text = Some(text);
    }

    pub(crate) fn arm(
        &mut self,
        py: Python<'_>,
        market: usize,
        transport: Py<PyAny>,
        limiter: Option<Py<PyAny>>,
        version: u64,
    ) -> PyResult<()> {
        let send = transport.bind(py).getattr(intern!(py, "send"))?.unbind();
        if self.arms.len() <= market {
            self.arms.resize_with(market + 1, || None);
        }
        self.arms[market] = Some(Wire {
            transport,
            send,
            limiter,
            version,
        });
        Ok(())
    }

    pub(crate) fn disarm(&mut self, market: usize) {
        if let Some(a) = self.arms.get_mut(market) {
            *a = None;
        }
    }

    pub(crate) fn disarm_all(&mut self) {
        self.arms.iter_mut().for_each(|a| *a = None);
    }

    /// The markets among the first `n` whose arm is missing or no longer holds.
    pub(crate) fn stale(&self, py: Python<'_>, n: usize) -> PyResult<Vec<usize>> {
        let mut out = Vec::new();
        for m in 0..n {
            match self.arms.get(m).and_then(Option::as_ref) {
                Some(w) if holds(py, w)? => {}
                _ => out.push(m),
            }
        }
        Ok(out)
    }

    /// The record stored and both frames written, if both markets are armed and their arms hold:
    /// when the frames left (CLOCK_MONOTONIC ns, as `mono_ns`), else `NOT_WRITTEN` (nothing
    /// stored or written; also when the log is full: the Python side makes room). `dry`: the
    /// same checks and a dry store (`IntentLog.append_framed`'s), no write: `DRY_STORED`.
    pub(crate) fn write(
        &mut self,
        py: Python<'_>,
        legs: (usize, usize),
        record: &Bound<'_, PyBytes>,
        frames: (&Bound<'_, PyBytes>, &Bound<'_, PyBytes>),
        dry: bool,
        now_ns: fn() -> i64,
    ) -> PyResult<i64> {
        let (Some(store), Some(text)) = (&self.store, &self.text) else {
            return Ok(NOT_WRITTEN);
        };
        let arm = |m: usize| self.arms.get(m).and_then(Option::as_ref);
        let (Some(b), Some(s)) = (arm(legs.0), arm(legs.1)) else {
            return Ok(NOT_WRITTEN);
        };
        if let (Some(lb), Some(ls)) = (&b.limiter, &s.limiter) {
            if lb.is(ls) {
                return Ok(NOT_WRITTEN);
            }
        }
        if !(holds(py, b)? && holds(py, s)?) {
            return Ok(NOT_WRITTEN);
        }
        let mut store = store.bind(py).try_borrow_mut()?;
        let stored = store.store_framed(py, record.as_bytes(), dry)?;
        drop(store);
        if dry {
            return Ok(DRY_STORED);
        }
        if stored != STORED {
            return Ok(NOT_WRITTEN); // the Python side makes room (or says the record is too big)
        }
        let (tb, ts) = (b.send.clone_ref(py), s.send.clone_ref(py));
        let text = text.clone_ref(py);
        self.disarm(legs.0);
        self.disarm(legs.1);
        // The record is stored: from here the ticket is out whatever happens, and its orders
        // are followed (an order that never left times out and is queried, never resent).
        // picows' send does not raise on a socket that closed meanwhile (it drops the frame).
        for (send, frame) in [(tb, frames.0), (ts, frames.1)] {
            if let Err(e) = send.bind(py).call1((&text, frame)) {
                e.write_unraisable(py, Some(send.bind(py)));
            }
        }
        Ok(now_ns())
    }
}

/// Whether an arm still holds: its socket connected and its limiter's version unchanged.
fn holds(py: Python<'_>, w: &Wire) -> PyResult<bool> {
    let t = w.transport.bind(py);
    if t.getattr(intern!(py, "is_disconnected"))?.is_truthy()? {
        return Ok(false);
    }
    match &w.limiter {
        None => Ok(true),
        Some(l) => Ok(l
            .bind(py)
            .getattr(intern!(py, "version"))?
            .extract::<u64>()?
            == w.version),
    }
}
