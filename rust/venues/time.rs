//! RFC 3339 timestamps (Coinbase, Kraken) to integer nanoseconds, exactly, without a date crate.

use super::DecodeError;

/// Parse an RFC 3339 date-time into integer nanoseconds since the Unix epoch, exactly.
///
/// Accepts `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` (`t`/space for `T` and `z` for `Z` as RFC 3339
/// allows). Refused, as [`DecodeError::Malformed`]: more than 9 fraction digits (they could not be
/// kept exactly), leap seconds (`:60`), invalid calendar dates, and instants outside the i64
/// nanosecond range (1677-09-21 .. 2262-04-11).
pub fn parse_rfc3339_ns(text: &str) -> Result<i64, DecodeError> {
    rfc3339(text.as_bytes()).ok_or_else(|| {
        DecodeError::Malformed(format!(
            "timestamp {:?}",
            text.chars().take(40).collect::<String>()
        ))
    })
}

/// `n` ASCII digits at `*i` as a number; advances `*i`.
fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<i64> {
    let mut v = 0i64;
    for _ in 0..n {
        let c = *b.get(*i)?;
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
        *i += 1;
    }
    Some(v)
}

fn expect(b: &[u8], i: &mut usize, what: &[u8]) -> Option<()> {
    let c = *b.get(*i)?;
    if what.contains(&c) {
        *i += 1;
        Some(())
    } else {
        None
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn rfc3339(b: &[u8]) -> Option<i64> {
    let mut i = 0usize;
    let year = digits(b, &mut i, 4)?;
    expect(b, &mut i, b"-")?;
    let month = digits(b, &mut i, 2)?;
    expect(b, &mut i, b"-")?;
    let day = digits(b, &mut i, 2)?;
    expect(b, &mut i, b"Tt ")?;
    let hour = digits(b, &mut i, 2)?;
    expect(b, &mut i, b":")?;
    let minute = digits(b, &mut i, 2)?;
    expect(b, &mut i, b":")?;
    let second = digits(b, &mut i, 2)?;
    let mut frac_ns = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut n = 0u32;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if n == 9 {
                return None;
            }
            frac_ns = frac_ns * 10 + i64::from(c - b'0');
            n += 1;
            i += 1;
        }
        if n == 0 {
            return None;
        }
        frac_ns *= 10i64.pow(9 - n);
    }
    let offset_s = match *b.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            i += 1;
            let oh = digits(b, &mut i, 2)?;
            expect(b, &mut i, b":")?;
            let om = digits(b, &mut i, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let s = oh * 3600 + om * 60;
            if sign == b'-' {
                -s
            } else {
                s
            }
        }
        _ => return None,
    };
    if i != b.len()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    i64::try_from(i128::from(secs) * 1_000_000_000 + i128::from(frac_ns)).ok()
}
