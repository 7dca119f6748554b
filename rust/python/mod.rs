//! PyO3 bindings: translation only. Every type here wraps a core type; no trading logic lives
//! in this module. Exceptions are defined in Python (`arbcore/errors.py`, so they can inherit
//! from both `ArbcoreError` and the matching builtin) and imported here.

mod book_input;
mod book_output;
mod consolidated;
mod feed;
mod log_tail;
mod orders;
mod take;
mod wire;

use crate::book::{BookState, Side};
use crate::fixed::{self, FixedError};
use crate::opportunity::OPPORTUNITY_FIELDS;
use crate::synth;
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt};

pyo3::import_exception!(arbcore.errors, DecimalError);
pyo3::import_exception!(arbcore.errors, ConfigError);
pyo3::import_exception!(arbcore.errors, UnknownVenueError);
pyo3::import_exception!(arbcore.errors, BookInputError);

/// A decimal error naming what was parsed and the offending text.
pub(crate) fn decimal_err(what: &str, text: &str, e: FixedError) -> PyErr {
    DecimalError::new_err(format!("{what} {text:?}: {e}"))
}

/// An integer argument converted to `T`, or `err` with a message naming the value. Python ints
/// of any size and bools are checked here, so an out-of-range value raises the arbcore error
/// class rather than a bare OverflowError.
pub(crate) fn int_arg<T: TryFrom<i128> + TryFrom<u128>>(
    v: &Bound<'_, PyAny>,
    what: &str,
    err: fn(String) -> PyErr,
) -> PyResult<T> {
    let repr = || {
        v.repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "?".into())
    };
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(err(format!("{what} {}: expected an int", repr())));
    }
    let out_of_range = || err(format!("{what} {}: out of range", repr()));
    // i64 first: one C call on the hot path; wider ints only when it overflows
    if let Ok(i) = v.extract::<i64>() {
        return T::try_from(i128::from(i)).map_err(|_| out_of_range());
    }
    if let Ok(i) = v.extract::<i128>() {
        return T::try_from(i).map_err(|_| out_of_range());
    }
    let u: u128 = v.extract().map_err(|_| out_of_range())?;
    T::try_from(u).map_err(|_| out_of_range())
}

pub(crate) fn decimal_error(m: String) -> PyErr {
    DecimalError::new_err(m)
}

pub(crate) fn book_input_error(m: String) -> PyErr {
    BookInputError::new_err(m)
}

pub(crate) fn config_error(m: String) -> PyErr {
    ConfigError::new_err(m)
}

/// Parse a decimal string into an integer count of 10^-decimals units.
#[pyfunction]
fn parse_decimal(s: &str, decimals: &Bound<'_, PyAny>) -> PyResult<u128> {
    let decimals: u8 = int_arg(decimals, "decimals", decimal_error)?;
    fixed::parse_u128(s.as_bytes(), decimals).map_err(|e| decimal_err("decimal", s, e))
}

/// Format `value / 10^decimals` as the shortest exact decimal string.
#[pyfunction]
fn format_decimal(value: &Bound<'_, PyAny>, decimals: &Bound<'_, PyAny>) -> PyResult<String> {
    let value: u128 = int_arg(value, "value", decimal_error)?;
    let decimals: u8 = int_arg(decimals, "decimals", decimal_error)?;
    if decimals > fixed::MAX_DECIMALS {
        return Err(DecimalError::new_err(format!(
            "decimals {decimals}: {}",
            FixedError::BadScale(decimals)
        )));
    }
    Ok(fixed::format_u128(value, decimals))
}

/// Field names and numpy type codes of an opportunity record, in layout order.
#[pyfunction]
fn opportunity_fields() -> Vec<(&'static str, &'static str)> {
    OPPORTUNITY_FIELDS.to_vec()
}

/// The seeded benchmark stream (see `rust/synth.rs`) as numpy arrays: snapshot levels best
/// first (`bid_prices`, `bid_qtys`, `ask_prices`, `ask_qtys`) and deltas (`sides`, `prices`,
/// `qtys`). Prices are ticks around 6_000_000 (price_decimals 2), quantities 1..=1000.
#[pyfunction]
fn synthetic_stream<'py>(
    py: Python<'py>,
    seed: u64,
    depth: usize,
    n: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let ((bids, asks), deltas) = py.detach(|| synth::stream(seed, depth, n));
    let d = PyDict::new(py);
    let col = |levels: &[crate::book::Level], f: fn(&crate::book::Level) -> u64| -> Vec<u64> {
        levels.iter().map(f).collect()
    };
    d.set_item("bid_prices", col(&bids, |l| l.price).into_pyarray(py))?;
    d.set_item("bid_qtys", col(&bids, |l| l.qty).into_pyarray(py))?;
    d.set_item("ask_prices", col(&asks, |l| l.price).into_pyarray(py))?;
    d.set_item("ask_qtys", col(&asks, |l| l.qty).into_pyarray(py))?;
    let sides: Vec<u8> = deltas.iter().map(|x| x.side).collect();
    let prices: Vec<u64> = deltas.iter().map(|x| x.price).collect();
    let qtys: Vec<u64> = deltas.iter().map(|x| x.qty).collect();
    d.set_item("sides", PyArray1::from_vec(py, sides))?;
    d.set_item("prices", PyArray1::from_vec(py, prices))?;
    d.set_item("qtys", PyArray1::from_vec(py, qtys))?;
    Ok(d)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BID", Side::Bid as u8)?;
    m.add("ASK", Side::Ask as u8)?;
    m.add("SYNCING", BookState::Syncing as u8)?;
    m.add("LIVE", BookState::Live as u8)?;
    m.add("STALE", BookState::Stale as u8)?;
    m.add("BROKEN", BookState::Broken as u8)?;
    m.add("MAX_VENUES", crate::consolidated::MAX_VENUES)?;
    m.add("FEE_SCALE", crate::instrument::FEE_SCALE)?;
    m.add("MAX_DECIMALS", fixed::MAX_DECIMALS)?;
    m.add_function(wrap_pyfunction!(parse_decimal, m)?)?;
    m.add_function(wrap_pyfunction!(format_decimal, m)?)?;
    m.add_function(wrap_pyfunction!(opportunity_fields, m)?)?;
    m.add_function(wrap_pyfunction!(synthetic_stream, m)?)?;
    m.add_class::<consolidated::ConsolidatedBook>()?;
    m.add_class::<feed::Feed>()?;
    m.add_class::<orders::OrderPath>()?;
    m.add_class::<log_tail::LogTail>()?;
    m.add_function(wrap_pyfunction!(orders::py_next_ticket_seq, m)?)?;
    for (name, code) in [
        ("FRAME_CONTROL", feed::CONTROL),
        ("FRAME_APPLIED", feed::APPLIED),
        ("FRAME_APPLIED_TOP", feed::APPLIED_TOP),
        ("FRAME_SYNCED", feed::SYNCED),
        ("FRAME_TRADES", feed::TRADES),
        ("FRAME_BUFFERED", feed::BUFFERED),
        ("FRAME_IGNORED", feed::IGNORED),
        ("FRAME_RESYNC", feed::RESYNC),
        ("FRAME_ERROR", feed::ERROR),
    ] {
        m.add(name, code)?;
    }
    Ok(())
}
