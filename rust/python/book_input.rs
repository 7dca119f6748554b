//! Reading `ConsolidatedBook` arguments from Python objects: venues by index or name, prices
//! and quantities as decimal strings or raw ints, sides, (price, qty) level lists, optional
//! message stamps and the numpy columns of `apply_deltas`. Nothing here changes a book.

use super::consolidated::ConsolidatedBook;
use super::{book_input_error, decimal_err, int_arg, BookInputError, UnknownVenueError};
use crate::book::{Level, Side, Stamp};
use crate::fixed;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};
use std::borrow::Cow;

/// A numpy column of u64, given as uint64 or (non-negative) int64.
pub(super) enum Column<'py> {
    U(PyReadonlyArray1<'py, u64>),
    I(Vec<u64>),
}

impl<'py> Column<'py> {
    pub(super) fn extract(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, u64>>() {
            return Ok(Column::U(a));
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, i64>>() {
            let s = a.as_slice().map_err(|_| {
                BookInputError::new_err(format!("{name}: array must be contiguous"))
            })?;
            let mut out = Vec::with_capacity(s.len());
            for (i, &v) in s.iter().enumerate() {
                out.push(u64::try_from(v).map_err(|_| {
                    BookInputError::new_err(format!("{name}[{i}] = {v}: must not be negative"))
                })?);
            }
            return Ok(Column::I(out));
        }
        Err(BookInputError::new_err(format!(
            "{name}: expected a 1-D numpy array of uint64 or int64"
        )))
    }

    pub(super) fn slice(&self, name: &str) -> PyResult<Cow<'_, [u64]>> {
        match self {
            Column::U(a) => a
                .as_slice()
                .map(Cow::Borrowed)
                .map_err(|_| BookInputError::new_err(format!("{name}: array must be contiguous"))),
            Column::I(v) => Ok(Cow::Borrowed(v.as_slice())),
        }
    }
}

/// The sides column: uint8, or any integer array whose values are 0/1 (checked later).
pub(super) enum Sides<'py> {
    U8(PyReadonlyArray1<'py, u8>),
    I64(Vec<u8>),
}

impl Sides<'_> {
    pub(super) fn slice(&self) -> PyResult<Cow<'_, [u8]>> {
        match self {
            Sides::U8(a) => a
                .as_slice()
                .map(Cow::Borrowed)
                .map_err(|_| BookInputError::new_err("sides: array must be contiguous")),
            Sides::I64(v) => Ok(Cow::Borrowed(v.as_slice())),
        }
    }
}

pub(super) fn sides_column<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Sides<'py>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, u8>>() {
        return Ok(Sides::U8(a));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, i64>>() {
        let s = a
            .as_slice()
            .map_err(|_| BookInputError::new_err("sides: array must be contiguous"))?;
        // out-of-range values become 2, which validate_columns reports with their index
        return Ok(Sides::I64(
            s.iter()
                .map(|&x| if x == 0 || x == 1 { x as u8 } else { 2 })
                .collect(),
        ));
    }
    Err(BookInputError::new_err(
        "sides: expected a 1-D numpy array of uint8 or int64",
    ))
}

impl ConsolidatedBook {
    pub(super) fn venue(&self, v: &Bound<'_, PyAny>) -> PyResult<usize> {
        // hot path: an exact int (not a bool) that fits, in range
        if let Ok(i) = v.cast_exact::<PyInt>() {
            if let Ok(i) = i.extract::<i64>() {
                if let Ok(i) = usize::try_from(i) {
                    if i < self.inner().venue_count() {
                        return Ok(i);
                    }
                }
            }
        }
        if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
            let n = self.inner().venue_count();
            let named = || {
                format!(
                    "venue index {} (have {n})",
                    v.repr().map(|r| r.to_string()).unwrap_or_default()
                )
            };
            return int_arg::<usize>(v, "venue index", UnknownVenueError::new_err)
                .ok()
                .filter(|&i| i < n)
                .ok_or_else(|| UnknownVenueError::new_err(named()));
        }
        if let Ok(s) = v.cast::<PyString>() {
            let name = s.to_cow()?;
            return self
                .inner()
                .venue_index(&name)
                .ok_or_else(|| UnknownVenueError::new_err(format!("venue {name:?}")));
        }
        Err(UnknownVenueError::new_err(format!(
            "venue must be an index or a name, got {}",
            v.repr()?
        )))
    }

    fn raw(&self, what: &str, v: &Bound<'_, PyAny>, decimals: u8) -> PyResult<u64> {
        if let Ok(i) = v.cast_exact::<PyInt>() {
            if let Ok(x) = i.extract::<u64>() {
                return Ok(x);
            }
        }
        if v.is_instance_of::<PyBool>() {
            return Err(super::DecimalError::new_err(format!(
                "{what} {}: expected a decimal string or a raw int",
                v.repr()?
            )));
        }
        if let Ok(i) = v.cast::<PyInt>() {
            return i.extract::<u64>().map_err(|_| {
                super::DecimalError::new_err(format!(
                    "{what} {}: must be an integer in 0..2**64",
                    i.repr().map(|r| r.to_string()).unwrap_or_default()
                ))
            });
        }
        if let Ok(s) = v.cast::<PyString>() {
            let t = s.to_cow()?;
            return fixed::parse_u64(t.as_bytes(), decimals).map_err(|e| decimal_err(what, &t, e));
        }
        Err(super::DecimalError::new_err(format!(
            "{what}: expected a decimal string or a raw int, got {}",
            v.repr()?
        )))
    }

    pub(super) fn price(&self, v: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.raw("price", v, self.inner().instrument().price_decimals)
    }

    pub(super) fn qty(&self, v: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.raw("qty", v, self.inner().instrument().qty_decimals)
    }

    pub(super) fn side(v: &Bound<'_, PyAny>) -> PyResult<Side> {
        // hot path: an exact int 0 or 1
        if let Ok(i) = v.cast_exact::<PyInt>() {
            match i.extract::<i64>() {
                Ok(0) => return Ok(Side::Bid),
                Ok(1) => return Ok(Side::Ask),
                _ => {}
            }
        }
        let s: i64 = int_arg(v, "side", book_input_error)?;
        u8::try_from(s)
            .ok()
            .and_then(Side::from_u8)
            .ok_or_else(|| BookInputError::new_err(format!("side {s}: must be 0 (BID) or 1 (ASK)")))
    }

    pub(super) fn stamp(
        &self,
        v: usize,
        seq: Option<u64>,
        venue_ts: Option<i64>,
        recv_ts: Option<i64>,
    ) -> Option<Stamp> {
        if seq.is_none() && venue_ts.is_none() && recv_ts.is_none() {
            return None;
        }
        let prev = self.inner().book(v).map(|b| b.stamp()).unwrap_or_default();
        Some(Stamp {
            seq: seq.unwrap_or(prev.seq),
            venue_ts: venue_ts.unwrap_or(prev.venue_ts),
            recv_ts: recv_ts.unwrap_or(prev.recv_ts),
        })
    }

    pub(super) fn levels(&self, what: &str, seq: &Bound<'_, PyAny>) -> PyResult<Vec<Level>> {
        let mut out = Vec::new();
        for (i, item) in seq.try_iter()?.enumerate() {
            let item = item?;
            let (p, q): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
                BookInputError::new_err(format!("{what}[{i}]: expected a (price, qty) pair"))
            })?;
            out.push(Level {
                price: self.price(&p)?,
                qty: self.qty(&q)?,
            });
        }
        Ok(out)
    }
}
