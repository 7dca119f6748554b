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
