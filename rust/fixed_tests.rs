use super::*;
use proptest::prelude::*;

#[test]
fn parses_venue_strings_exactly() {
    assert_eq!(parse_u64(b"60000.01", 2), Ok(6_000_001));
    assert_eq!(parse_u64(b"0.00012000", 8), Ok(12_000));
    assert_eq!(parse_u64(b"5e-05", 8), Ok(5_000));
    assert_eq!(parse_u64(b"1E+3", 0), Ok(1000));
    assert_eq!(parse_u64(b".5", 1), Ok(5));
    assert_eq!(parse_u64(b"5.", 0), Ok(5));
    assert_eq!(parse_u64(b"0", 8), Ok(0));
    assert_eq!(parse_u64(b"0.000000000000000000000", 2), Ok(0));
    assert_eq!(parse_u64(b"0e-999999999", 2), Ok(0));
    assert_eq!(
        parse_u64(b"1.50000000000000000000000000000000000000000", 1),
        Ok(15)
    );
    assert_eq!(parse_u64(b"000123.4500", 2), Ok(12_345));
}

#[test]
fn refuses_garbage_without_rounding() {
    assert_eq!(parse_u64(b"", 2), Err(FixedError::Empty));
    assert_eq!(parse_u64(b"-1", 2), Err(FixedError::Negative));
    assert_eq!(parse_u64(b"NaN", 2), Err(FixedError::InvalidChar(0)));
    assert_eq!(parse_u64(b"inf", 2), Err(FixedError::InvalidChar(0)));
    assert_eq!(parse_u64(b"1.2.3", 2), Err(FixedError::InvalidChar(3)));
    assert_eq!(parse_u64(b"12a", 2), Err(FixedError::InvalidChar(2)));
    assert_eq!(parse_u64(b"1e", 2), Err(FixedError::InvalidChar(2)));
    assert_eq!(parse_u64(b"e5", 2), Err(FixedError::InvalidChar(0)));
    assert_eq!(parse_u64(b" 1", 2), Err(FixedError::InvalidChar(0)));
    assert_eq!(parse_u64(b"+1", 2), Err(FixedError::InvalidChar(0)));
    assert_eq!(
        parse_u64(b"0.015", 2),
        Err(FixedError::Precision { decimals: 2 })
    );
    assert_eq!(
        parse_u64(b"1e-3", 2),
        Err(FixedError::Precision { decimals: 2 })
    );
    assert_eq!(
        parse_u64(b"18446744073709551616", 0),
        Err(FixedError::Overflow)
    );
    assert_eq!(parse_u64(b"18446744073709551615", 0), Ok(u64::MAX));
    assert_eq!(parse_u64(b"1e20", 0), Err(FixedError::Overflow));
    assert_eq!(parse_u64(b"1e999999999999", 0), Err(FixedError::Overflow));
    assert_eq!(
        parse_u128(b"99999999999999999999999999999999999999999", 0),
        Err(FixedError::Overflow)
    );
    assert_eq!(parse_u64(b"1", 19), Err(FixedError::BadScale(19)));
}

#[test]
fn formats_shortest_exact() {
    assert_eq!(format_u64(6_000_001, 2), "60000.01");
    assert_eq!(format_u64(12_000, 8), "0.00012");
    assert_eq!(format_u64(500, 2), "5");
    assert_eq!(format_u64(0, 8), "0");
    assert_eq!(format_u64(u64::MAX, 18), "18.446744073709551615");
    assert_eq!(format_u128(u128::MAX, 0), u128::MAX.to_string());
}

#[test]
fn extreme_instruments_fit() {
    // BTC at 1e7 USD, 1e-8 BTC lots: price_decimals 2, qty_decimals 8.
    let px = parse_u64(b"10000000.00", 2).unwrap();
    let qty = parse_u64(b"0.00000001", 8).unwrap();
    let big_qty = parse_u64(b"10000", 8).unwrap();
    assert_eq!(px, 1_000_000_000);
    assert_eq!(qty, 1);
    let notional = u128::from(px) * u128::from(big_qty);
    assert_eq!(format_u128(notional, 10), "100000000000");
    // Memecoin at 1e-10 USD with 1e12 units: price_decimals 12, qty_decimals 2.
    let px = parse_u64(b"0.0000000001", 12).unwrap();
    let qty = parse_u64(b"1000000000000", 2).unwrap();
    assert_eq!((px, qty), (100, 100_000_000_000_000));
    let notional = u128::from(px) * u128::from(qty);
    assert_eq!(format_u128(notional, 14), "100");
    // Even the largest raws multiply in u128 without overflow.
    assert!(u128::from(u64::MAX)
        .checked_mul(u128::from(u64::MAX))
        .is_some());
}

#[test]
fn rounding_helpers() {
    assert_eq!(floor_to(1234, 100), 1200);
    assert_eq!(ceil_to(1234, 100), Some(1300));
    assert_eq!(ceil_to(1200, 100), Some(1200));
    assert_eq!(ceil_to(u64::MAX, 10), None);
}

proptest! {
    #[test]
    fn any_value_round_trips(raw in any::<u64>(), d in 0u8..=18) {
        let s = format_u64(raw, d);
        prop_assert_eq!(parse_u64(s.as_bytes(), d), Ok(raw));
    }

    #[test]
    fn any_valid_decimal_string_round_trips(int in "[0-9]{1,9}", frac in "[0-9]{0,8}", pad in 0usize..6) {
        // A string with trailing zeros parses to the same raw as its canonical form.
        let s = if frac.is_empty() { int.clone() } else { format!("{int}.{frac}{}", "0".repeat(pad)) };
        let raw = parse_u64(s.as_bytes(), 8).unwrap();
        let back = format_u64(raw, 8);
        prop_assert_eq!(parse_u64(back.as_bytes(), 8), Ok(raw));
        let canon_int = int.trim_start_matches('0');
        let canon_frac = frac.trim_end_matches('0');
        let expect = match (canon_int.is_empty(), canon_frac.is_empty()) {
            (true, true) => "0".to_string(),
            (true, false) => format!("0.{canon_frac}"),
            (false, true) => canon_int.to_string(),
            (false, false) => format!("{canon_int}.{canon_frac}"),
        };
        prop_assert_eq!(back, expect);
    }

    #[test]
    fn exponent_form_equals_plain_form(m in 1u64..1_000_000, e in -8i32..8) {
        let s = format!("{m}e{e}");
        let parsed = parse_u128(s.as_bytes(), 8);
        let expect = if e >= 0 {
            Ok(u128::from(m) * 10u128.pow(e as u32) * 100_000_000)
        } else {
            let scaled = u128::from(m) * 100_000_000;
            let div = 10u128.pow((-e) as u32);
            if scaled % div == 0 { Ok(scaled / div) } else { Err(FixedError::Precision { decimals: 8 }) }
        };
        prop_assert_eq!(parsed, expect);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40), d in 0u8..=20) {
        let _ = parse_u128(&bytes, d);
    }
}

// ---- fast path (`scan_plain`, used by `parse_u64`) against the general parser ----

/// The verdict of the general parser, the reference for the fast path.
fn reference(s: &[u8], d: u8) -> Result<u64, FixedError> {
    parse_u64_general(s, d)
}

#[test]
fn fast_path_matches_general_on_edges() {
    let cases: &[&[u8]] = &[
        b"60000.01",
        b"0.00012000",
        b"0",
        b"00000",
        b"5.",
        b".5",
        b".",
        b"..5",
        b"5..",
        b"",
        b"-1",
        b"+1",
        b"1e5",
        b"5e-05",
        b"1.5E+3",
        b"0.015",
        b"0.0150000",
        b"1.0000000000000000000000000001",
        b"18446744073709551615",
        b"18446744073709551616",
        b"184467440737095516.15",
        b"184467440737095516.16",
        b"99999999999999999999999999999999999999999",
        b"000000000000000000000000000000000000000001.5",
        b"1 ",
        b" 1",
        b"1,5",
        b"1.2.3",
        b"NaN",
        b"\xff",
        b"1\x00",
    ];
    for &s in cases {
        for d in 0..=20u8 {
            assert_eq!(
                parse_u64(s, d),
                reference(s, d),
                "{:?} at {d}",
                String::from_utf8_lossy(s)
            );
        }
    }
}

#[test]
fn eight_digit_chunks() {
    assert_eq!(eight_digits(b"12345678", 0), Some(12_345_678));
    assert_eq!(eight_digits(b"x00000123\"", 1), Some(123));
    assert_eq!(eight_digits(b"99999999", 0), Some(99_999_999));
    assert_eq!(eight_digits(b"1234567", 0), None);
    assert_eq!(eight_digits(b"12345678", 1), None);
    assert_eq!(eight_digits(b"12345678", usize::MAX), None);
    // any one byte that is not a digit, anywhere in the eight
    for pos in 0..8 {
        for b in (0..=255u8).filter(|b| !b.is_ascii_digit()) {
            let mut s = *b"12345678";
            s[pos] = b;
            assert_eq!(eight_digits(&s, 0), None, "{pos} {b}");
        }
    }
}

#[test]
fn scan_plain_reports_the_prefix_it_took() {
    assert_eq!(scan_plain(b"60000.01\",", 2), Some((6_000_001, 8)));
    assert_eq!(scan_plain(b"1.50000000\"]", 8), Some((150_000_000, 10)));
    assert_eq!(scan_plain(b"0.12345678\"]", 8), Some((12_345_678, 10)));
    assert_eq!(
        scan_plain(b"0.1234567890\"]", 10),
        Some((1_234_567_890, 12))
    );
    assert_eq!(scan_plain(b"0.123456789", 8), None);
    assert_eq!(scan_plain(b"0.123456780", 8), Some((12_345_678, 11)));
    assert_eq!(scan_plain(b"0.1234567:", 8), Some((12_345_670, 9)));
    assert_eq!(scan_plain(b"5e-05", 8), Some((500_000_000, 1)));
    assert_eq!(scan_plain(b"0.015\"", 2), None);
    assert_eq!(scan_plain(b"\"", 2), None);
    assert_eq!(scan_plain(b"18446744073709551616", 0), None);
    assert_eq!(scan_plain(b"1", 19), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// Valid venue decimals (any digits, optional fraction, zero padding): same value or error.
    #[test]
    fn fast_equals_general_on_valid_decimals(
        int in "[0-9]{0,22}",
        frac in proptest::option::of("[0-9]{0,22}"),
        d in 0u8..=18,
    ) {
        let s = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
        prop_assert_eq!(parse_u64(s.as_bytes(), d), reference(s.as_bytes(), d), "{}", s);
        if let Some((v, n)) = scan_plain(s.as_bytes(), d) {
            prop_assert_eq!(n, s.len());
            prop_assert_eq!(parse_u128(s.as_bytes(), d), Ok(u128::from(v)));
        }
    }

    /// Any raw of up to 19 digits formatted at its scale, zero-padded or not (the shapes venues
    /// send), takes the fast path.
    #[test]
    fn formatted_values_take_the_fast_path(raw in 0u64..10_000_000_000_000_000_000, d in 0u8..=18, pad in 0usize..10) {
        let mut s = format_u64(raw, d);
        if pad > 0 {
            if !s.contains('.') { s.push('.'); }
            s.push_str(&"0".repeat(pad));
        }
        prop_assert_eq!(scan_plain(s.as_bytes(), d), Some((raw, s.len())));
    }

    /// Malformed text: the fast path never accepts what the general parser refuses, and the
    /// error is the general parser's own.
    #[test]
    fn fast_equals_general_on_malformed(
        s in "[0-9.eE+\\-a ]{0,30}",
        d in 0u8..=20,
    ) {
        prop_assert_eq!(parse_u64(s.as_bytes(), d), reference(s.as_bytes(), d), "{}", s);
    }

    /// Arbitrary bytes: no panic, same verdict.
    #[test]
    fn fast_equals_general_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40), d in 0u8..=20) {
        prop_assert_eq!(parse_u64(&bytes, d), reference(&bytes, d));
    }

    /// Huge exponents and long digit runs: overflow and precision errors, never a panic.
    #[test]
    fn huge_exponents_are_errors(m in "[1-9][0-9]{0,30}", e in any::<i64>(), d in 0u8..=18) {
        let s = format!("{m}e{e}");
        let r = parse_u64(s.as_bytes(), d);
        prop_assert_eq!(r, reference(s.as_bytes(), d));
        if e > 40 { prop_assert_eq!(r, Err(FixedError::Overflow)); }
    }
}
