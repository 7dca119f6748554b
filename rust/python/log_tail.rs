//! `LogTail`: the stores of the intent log (`arbcore.execution.intent_log.IntentLog`) into its
//! file mapping, and where the next record goes.
//!
//! Why in Rust: the order path's own writes (`python::wire`) store the ticket's record just
//! before the first frame; through the Python method that took ~3 µs p50 in profiled e2e
//! rounds, the largest step between the decision and `send`. Here the same two slice stores
//! into the mmap are made from Rust, with no Python frame (a direct write into the buffer
//! would need `unsafe`, which this crate forbids). The Python side keeps the file, its lock,
//! the scan at open and the reading; every store goes through this object, so the offset has
//! one owner.
//!
//! The layout is the Python side's: each record is (payload length u32 LE, zlib CRC-32 of the
//! payload u32 LE, payload), the payload stored before its header, so a crash between the two
//! leaves no record (the header's length is still zero).

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySlice};

use crate::orders::record::crc32;

const HEADER: usize = 8;

/// What a store did (the Python side raises for `TOO_BIG`).
pub(crate) const STORED: i32 = 1;
const NO_ROOM: i32 = 0;
const TOO_BIG: i32 = -1;
const DIRTY: i32 = -2;

#[pyclass(module = "arbcore._core")]
#[derive(Debug)]
pub struct LogTail {
    map: Py<PyAny>, // the log's mmap.mmap (a writable buffer)
    used: usize,    // where the next record goes
    dirty: usize,   // past `used`, bytes a torn store left (0: all zero up to the end)
    fsync: bool,    // flush the mapping after each store (`durable_intents`)
}

impl LogTail {
    /// Store a record already framed (header, payload); `dry`: the same stores, of zeros, where
    /// it would go (which holds only zeros), leaving everything as it was.
    pub(crate) fn store_framed(
        &mut self,
        py: Python<'_>,
        record: &[u8],
        dry: bool,
    ) -> PyResult<i32> {
        if record.len() < HEADER {
            return Err(PyValueError::new_err(
                "a framed record is at least its 8-byte header",
            ));
        }
        let map = self.map.bind(py);
        let (used, n) = (self.used, record.len());
        if used + n > map.len()? {
            return Ok(if used == 0 { TOO_BIG } else { NO_ROOM });
        }
        if dry {
            if self.dirty != 0 {
                return Ok(DIRTY);
            }
            let zeros = vec![0u8; n];
            store(map, used + HEADER, &zeros[HEADER..])?;
            store(map, used, &zeros[..HEADER])?;
            return Ok(STORED);
        }
        store(map, used + HEADER, &record[HEADER..])?;
        store(map, used, &record[..HEADER])?;
        self.used = used + n;
        self.flushed(py)?;
        Ok(STORED)
    }

    fn flushed(&self, py: Python<'_>) -> PyResult<()> {
        if self.fsync {
            self.map.bind(py).call_method0(intern!(py, "flush"))?;
        }
        Ok(())
    }
}

/// `bytes` into the mapping at `at` (the mmap's slice assignment: a copy, no Python frame).
fn store(map: &Bound<'_, PyAny>, at: usize, bytes: &[u8]) -> PyResult<()> {
    let to = PySlice::new(map.py(), to_isize(at)?, to_isize(at + bytes.len())?, 1);
    map.set_item(to, PyBytes::new(map.py(), bytes))
}

fn to_isize(v: usize) -> PyResult<isize> {
    isize::try_from(v).map_err(|_| PyValueError::new_err("offset past isize"))
}

#[pymethods]
impl LogTail {
    #[new]
    #[pyo3(signature = (map, used, dirty, fsync))]
    fn new(map: Py<PyAny>, used: usize, dirty: usize, fsync: bool) -> Self {
        LogTail {
            map,
            used,
            dirty,
            fsync,
        }
    }

    /// Frame `payload` (header: length, CRC-32) and store it: 1 stored, 0 no room (clear first),
    /// -1 larger than the whole log.
    fn append(&mut self, py: Python<'_>, payload: &[u8]) -> PyResult<i32> {
        let mut record = Vec::with_capacity(HEADER + payload.len());
        let n =
            u32::try_from(payload.len()).map_err(|_| PyValueError::new_err("record over 4 GiB"))?;
        record.extend_from_slice(&n.to_le_bytes());
        record.extend_from_slice(&crc32(payload).to_le_bytes());
        record.extend_from_slice(payload);
        self.store_framed(py, &record, false)
    }

    /// Store `record` already framed: as `append`; `dry`: zeros where it would go (-2, nothing
    /// stored, while a torn store's bytes lie past the end).
    #[pyo3(signature = (record, dry=false))]
    fn append_framed(&mut self, py: Python<'_>, record: &[u8], dry: bool) -> PyResult<i32> {
        self.store_framed(py, record, dry)
    }

    /// Zero everything used (and a torn store's bytes) and start over.
    fn clear(&mut self, py: Python<'_>) -> PyResult<()> {
        let end = self.used.max(self.dirty);
        if end == 0 {
            return Ok(());
        }
        let map = self.map.bind(py);
        let end = end.min(map.len()?);
        store(map, 0, &vec![0u8; end])?;
        self.used = 0;
        self.dirty = 0;
        self.flushed(py)
    }

    #[getter]
    fn used(&self) -> usize {
        self.used
    }

    #[getter]
    fn dirty(&self) -> usize {
        self.dirty
    }
}
