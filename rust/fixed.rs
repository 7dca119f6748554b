//! Exact decimal strings <-> integers. No floats anywhere.
//!
//! # Representation
//! A price or quantity is an unsigned integer `raw` together with a number of decimals `d`
//! fixed per canonical instrument: the value is `raw / 10^d`. Prices use the instrument's
//! `price_decimals`, quantities its `qty_decimals`; notionals (price x quantity, fees, profit,
//! quote balances) use `price_decimals + qty_decimals`, so a product of two raws is exact.
//!
//! Books store `u64` raws (16 bytes per level). `d` is at most [`MAX_DECIMALS`] and
//! `price_decimals + qty_decimals` is also capped at 18, so notionals fit `u128` with room for
//! fee arithmetic. Worked ranges (see the tests):
//! - BTC at 1e7 USD, 1e-8 BTC quantities: price_decimals 2, qty_decimals 8 -> price raw 1e9,
//!   1e4 BTC = 1e12 raw; notional scale 1e-10.
//! - a memecoin at 1e-10 USD with 1e12-unit quantities: price_decimals 12, qty_decimals 2 ->
//!   price raw 100, quantity raw 1e14; notional scale 1e-14.
//!
//! A per-instrument scale rather than one global scale is what makes both fit in 64 bits: a
//! global 1e-12 scale would overflow `u64` at 1.8e7 units, a global 1e-8 scale cannot hold 1e-10.
//!
//! # Parsing
//! Accepted: `digits[.digits][e|E[+|-]digits]`, as venues send them ("60000.01", "0.00012000",
//! "5e-05", "1E+3", ".5", "5."). Rejected with an error value, never rounded: empty input, signs
//! (negative values are never valid prices or quantities), NaN/inf, stray characters, more
//! significant decimals than the scale holds ("0.015" at 2 decimals), and values above the target
//! integer type.

use std::fmt;

/// Largest number of decimals a scale may have (10^18 fits u64).
pub const MAX_DECIMALS: u8 = 18;

/// Powers of ten that fit in u64: `POW10[d] == 10^d` for d in 0..=19.
pub const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// 10^d as u128, for d up to 38.
#[inline]
pub fn pow10_u128(d: u32) -> Option<u128> {
    10u128.checked_pow(d)
}

/// Why a decimal string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedError {
    /// No digits at all.
    Empty,
    /// A byte that cannot appear in a decimal number, at this offset.
    InvalidChar(usize),
    /// A leading minus sign: prices and quantities are never negative.
    Negative,
    /// More significant decimals than the scale holds; the value would have to be rounded.
    Precision { decimals: u8 },
    /// The value does not fit the integer type at this scale.
    Overflow,
    /// The scale itself is larger than [`MAX_DECIMALS`].
    BadScale(u8),
}

impl fmt::Display for FixedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixedError::Empty => write!(f, "no digits"),
            FixedError::InvalidChar(i) => write!(f, "invalid character at offset {i}"),
            FixedError::Negative => write!(f, "negative values are not allowed"),
            FixedError::Precision { decimals } => {
                write!(f, "more than {decimals} decimals; refusing to round")
            }
            FixedError::Overflow => write!(f, "value too large"),
            FixedError::BadScale(d) => write!(f, "scale of {d} decimals exceeds {MAX_DECIMALS}"),
        }
    }
}

impl std::error::Error for FixedError {}

/// Parse a decimal string into an integer count of `10^-decimals` units, as u128.
pub fn parse_u128(s: &[u8], decimals: u8) -> Result<u128, FixedError> {
    if decimals > MAX_DECIMALS {
        return Err(FixedError::BadScale(decimals));
    }
    let mut i = 0usize;
    match s.first() {
        None => return Err(FixedError::Empty),
        Some(b'-') => return Err(FixedError::Negative),
        _ => {}
    }
    // Mantissa without trailing zeros; trailing zeros are counted and folded into the exponent
    // so that "0.00012000000000000000000000000000000000" does not overflow the accumulator.
    let mut mantissa: u128 = 0;
    let mut pending_zeros: u32 = 0;
    let mut digits = 0usize;
    let mut frac_digits: i64 = 0;
    let mut seen_dot = false;
    while i < s.len() {
        let c = s[i];
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if seen_dot {
                    frac_digits += 1;
                }
                if c == b'0' {
                    if mantissa != 0 {
                        pending_zeros += 1;
                    }
                } else {
                    if pending_zeros > 0 {
                        let p = pow10_u128(pending_zeros).ok_or(FixedError::Overflow)?;
                        mantissa = mantissa.checked_mul(p).ok_or(FixedError::Overflow)?;
                        pending_zeros = 0;
                    }
                    mantissa = mantissa
                        .checked_mul(10)
                        .and_then(|m| m.checked_add(u128::from(c - b'0')))
                        .ok_or(FixedError::Overflow)?;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return Err(FixedError::InvalidChar(i)),
        }
        i += 1;
    }
    if digits == 0 {
        return Err(if i < s.len() {
            FixedError::InvalidChar(i)
        } else {
            FixedError::Empty
        });
    }
    let mut exp: i64 = 0;
    if i < s.len() {
        // exponent part
        i += 1;
        let mut neg = false;
        match s.get(i) {
            Some(b'+') => i += 1,
            Some(b'-') => {
                neg = true;
                i += 1;
            }
            _ => {}
        }
        let start = i;
        while i < s.len() {
            let c = s[i];
            if !c.is_ascii_digit() {
                return Err(FixedError::InvalidChar(i));
            }
            // Cap the magnitude: anything beyond +-10^6 is over/underflow either way.
            if exp < 1_000_000 {
                exp = exp * 10 + i64::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(FixedError::InvalidChar(i.min(s.len())));
        }
        if neg {
            exp = -exp;
        }
    }
    if mantissa == 0 {
        return Ok(0);
    }
    // value = mantissa * 10^(pending_zeros + exp - frac_digits); scaled by 10^decimals.
    let shift = i64::from(pending_zeros) + exp - frac_digits + i64::from(decimals);
    if shift >= 0 {
        let p = u32::try_from(shift)
            .ok()
            .and_then(pow10_u128)
            .ok_or(FixedError::Overflow)?;
        mantissa.checked_mul(p).ok_or(FixedError::Overflow)
    } else {
        // Dropping digits: only allowed if they are zeros, and mantissa has none trailing.
        Err(FixedError::Precision { decimals })
    }
}

/// Parse a decimal string into a u64 raw at `decimals` (prices and quantities).
///
/// The venues' everyday spelling goes through [`scan_plain`]; anything else (exponents, more
/// than 19 digits, garbage) and every error go through [`parse_u128`], so the result is the
/// same as `parse_u128` narrowed to u64 for every input.
#[inline]
pub fn parse_u64(s: &[u8], decimals: u8) -> Result<u64, FixedError> {
    match scan_plain(s, decimals) {
        Some((v, n)) if n == s.len() => Ok(v),
        _ => parse_u64_general(s, decimals),
    }
}

/// [`parse_u128`] narrowed to u64: the reference for [`parse_u64`], and its slow path.
#[cold]
#[inline(never)]
pub fn parse_u64_general(s: &[u8], decimals: u8) -> Result<u64, FixedError> {
    let v = parse_u128(s, decimals)?;
    u64::try_from(v).map_err(|_| FixedError::Overflow)
}

/// The fast path of [`parse_u64`]: the longest prefix of `s` of the form `digits[.digits]`
/// (at least one digit), as a u64 raw at `decimals`, and how many bytes it took.
///
/// `None` where that prefix needs the general parser's verdict: no digit, a non-zero digit
/// beyond the scale (rounding), more than 19 digits to accumulate (a value that may not fit,
/// or long zero padding in front), a value above u64, or a scale above [`MAX_DECIMALS`].
/// When it returns `Some((v, n))`, `parse_u128(&s[..n], decimals) == Ok(v)` (property-tested);
/// the bytes after the prefix are the caller's to check.
///
/// Why it is fast: one u64 multiply-add per digit, unchecked because at most 19 digits are
/// accumulated (10^19 - 1 < 2^64); zeros below the scale ("60000.01000000" at 2 decimals:
/// Binance pads every price to 8) are skipped, not accumulated and divided away.
#[inline]
pub fn scan_plain(s: &[u8], decimals: u8) -> Option<(u64, usize)> {
    if decimals > MAX_DECIMALS {
        return None;
    }
    let scale = usize::from(decimals);
    let digit = |i: usize| s.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&x| x <= 9);
    let mut v = 0u64;
    let mut i = 0usize;
    while let Some(x) = digit(i) {
        v = v.wrapping_mul(10).wrapping_add(u64::from(x));
        i += 1;
    }
    let int_digits = i;
    let mut kept = 0usize;
    if s.get(i) == Some(&b'.') {
        i += 1;
        if scale >= 8 {
            // Quantities are mostly 8 decimals: take eight fraction digits in one go.
            if let Some(x) = eight_digits(s, i) {
                v = v.wrapping_mul(100_000_000).wrapping_add(x);
                kept = 8;
                i += 8;
            }
        }
        while kept < scale {
            let Some(x) = digit(i) else { break };
            v = v.wrapping_mul(10).wrapping_add(u64::from(x));
            kept += 1;
            i += 1;
        }
        if kept == scale {
            while s.get(i) == Some(&b'0') {
                i += 1;
            }
            if digit(i).is_some() {
                // A significant digit below the scale: rounding, refused by the general parser.
                return None;
            }
        }
        if int_digits == 0 && i == 1 {
            return None;
        }
    } else if int_digits == 0 {
        return None;
    }
    if int_digits + kept > 19 {
        return None;
    }
    let v = v.checked_mul(*POW10.get(scale - kept)?)?;
    Some((v, i))
}

/// The value of the eight bytes at `i` if all eight are ASCII digits (one u64 load for the
/// check and the conversion instead of eight multiply-adds; no `unsafe`: the load goes
/// through a bounds-checked slice).
#[inline]
fn eight_digits(s: &[u8], i: usize) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let bytes: [u8; 8] = s.get(i..i.checked_add(8)?)?.try_into().ok()?;
    let x = u64::from_le_bytes(bytes); // first character in the lowest byte
                                       // Every byte in 0x30..=0x39: high nibble 3, and adding 6 does not carry into the high
                                       // nibble. A carry out of a byte only happens above a byte that already fails the test.
    let hi = x & (0xF0 * ONES);
    let carried = (x.wrapping_add(0x06 * ONES) & (0xF0 * ONES)) >> 4;
    if hi | carried != 0x33 * ONES {
        return None;
    }
    // Pairs, then quads, then all eight (Lemire's eight-digit conversion).
    let d = x.wrapping_sub(0x30 * ONES);
    let d = d.wrapping_mul(10).wrapping_add(d >> 8);
    let mask = 0x0000_00FF_0000_00FF;
    let mul1 = 100 + (1_000_000 << 32);
    let mul2 = 1 + (10_000 << 32);
    Some(
        ((d & mask)
            .wrapping_mul(mul1)
            .wrapping_add(((d >> 16) & mask).wrapping_mul(mul2)))
            >> 32,
    )
}

/// Format `raw / 10^decimals` as the shortest exact decimal string ("60000.01", "5", "0.00012").
pub fn format_u128(raw: u128, decimals: u8) -> String {
    let mut out = String::with_capacity(24);
    format_into(raw, decimals, &mut out);
    out
}

/// Same as [`format_u128`] for u64 raws.
#[inline]
pub fn format_u64(raw: u64, decimals: u8) -> String {
    format_u128(u128::from(raw), decimals)
}

/// Append the decimal form of `raw / 10^decimals` to `out`.
pub fn format_into(raw: u128, decimals: u8, out: &mut String) {
    use std::fmt::Write;
    let d = u32::from(decimals.min(38));
    let p = pow10_u128(d).unwrap_or(1);
    let int = raw / p;
    let mut frac = raw % p;
    let _ = write!(out, "{int}");
    if frac == 0 {
        return;
    }
    let mut width = d as usize;
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    let _ = write!(out, ".{frac:0width$}");
}

/// Round `v` down to a multiple of `step` (step > 0).
#[inline]
pub fn floor_to(v: u64, step: u64) -> u64 {
    // A step of 0 or 1 (a tick of one price unit, the usual case) needs no division.
    if step <= 1 {
        v
    } else {
        v - v % step
    }
}

/// Round `v` up to a multiple of `step` (step > 0); `None` on overflow.
#[inline]
pub fn ceil_to(v: u64, step: u64) -> Option<u64> {
    if step <= 1 {
        return Some(v);
    }
    let r = v % step;
    if r == 0 {
        Some(v)
    } else {
        v.checked_add(step - r)
    }
}

#[cfg(test)]
#[path = "fixed_tests.rs"]
mod tests;
