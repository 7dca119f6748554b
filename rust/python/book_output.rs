//! Python values made from `ConsolidatedBook` data: opportunity records as a numpy structured
//! array, depth as (k, 2) uint64 arrays, tops as tuples, venue rules and detection counters as
//! dicts, signed decimal text.

use super::BookInputError;
use crate::book::{Level, Top};
use crate::consolidated::DetectStats;
use crate::fixed;
use crate::instrument::{Instrument, VenueSpec};
use crate::opportunity::{Opportunity, OPPORTUNITY_FIELDS, OPPORTUNITY_SIZE};
use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyDict};

static OPPORTUNITY_DTYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The numpy dtype of opportunity records, built once from `OPPORTUNITY_FIELDS`.
pub(crate) fn opportunity_dtype(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    let d = OPPORTUNITY_DTYPE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let np = py.import("numpy")?;
        let dt = np.getattr("dtype")?.call1((OPPORTUNITY_FIELDS.to_vec(),))?;
        let size: usize = dt.getattr("itemsize")?.extract()?;
        if size != OPPORTUNITY_SIZE {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "opportunity dtype size mismatch",
            ));
        }
        Ok(dt.unbind())
    })?;
    Ok(d.bind(py))
}

/// Records -> numpy structured array (one copy into a bytearray numpy then owns a view of).
pub(super) fn records_to_numpy<'py>(
    py: Python<'py>,
    recs: &[Opportunity],
) -> PyResult<Bound<'py, PyAny>> {
    let mut bytes = Vec::with_capacity(recs.len() * OPPORTUNITY_SIZE);
    for r in recs {
        r.write_bytes(&mut bytes);
    }
    let buf = PyByteArray::new(py, &bytes);
    let np = py.import("numpy")?;
    np.getattr("frombuffer")?
        .call1((buf, opportunity_dtype(py)?))
}

/// (bid, ask) of a top of book, each as an optional (price, qty).
pub(super) type TopTuple = (Option<(u64, u64)>, Option<(u64, u64)>);

pub(super) fn top_tuple(t: &Top) -> TopTuple {
    (
        t.bid.map(|l| (l.price, l.qty)),
        t.ask.map(|l| (l.price, l.qty)),
    )
}

/// Levels as a (k, 2) uint64 array of (price, qty) rows.
pub(super) fn depth_array<'py>(
    py: Python<'py>,
    levels: &[Level],
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let rows: Vec<Vec<u64>> = levels.iter().map(|l| vec![l.price, l.qty]).collect();
    if rows.is_empty() {
        return Ok(PyArray2::zeros(py, [0, 2], false));
    }
    PyArray2::from_vec2(py, &rows).map_err(|e| BookInputError::new_err(e.to_string()))
}

/// `raw / 10^decimals` as exact decimal text, with a leading "-" when negative.
pub(super) fn format_signed(raw: i128, decimals: u8) -> String {
    let t = fixed::format_u128(raw.unsigned_abs(), decimals);
    if raw < 0 {
        format!("-{t}")
    } else {
        t
    }
}

/// A venue's rules as exact decimal strings; fees at 8 decimals (units of 1/FEE_SCALE).
pub(super) fn spec_dict<'py>(
    py: Python<'py>,
    inst: &Instrument,
    s: &VenueSpec,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &s.venue)?;
    d.set_item("symbol", &s.symbol)?;
    d.set_item("tick_size", fixed::format_u64(s.tick, inst.price_decimals))?;
    d.set_item("lot_size", fixed::format_u64(s.lot, inst.qty_decimals))?;
    d.set_item("min_qty", fixed::format_u64(s.min_qty, inst.qty_decimals))?;
    d.set_item(
        "min_notional",
        fixed::format_u128(s.min_notional, inst.notional_decimals()),
    )?;
    d.set_item("taker_fee", format_signed(i128::from(s.taker_fee), 8))?;
    d.set_item("maker_fee", format_signed(i128::from(s.maker_fee), 8))?;
    Ok(d)
}

/// Detection counters by name.
pub(super) fn stats_dict<'py>(py: Python<'py>, s: &DetectStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("pairs_evaluated", s.pairs_evaluated)?;
    d.set_item("pairs_walked", s.pairs_walked)?;
    d.set_item("pairs_kept", s.pairs_kept)?;
    d.set_item("overflow_skips", s.overflow_skips)?;
    Ok(d)
}
