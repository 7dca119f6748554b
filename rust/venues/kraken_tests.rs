use super::*;
use crate::book::Level;
use crate::fixed::parse_u64;
use crate::venues::testutil::{byte_mutations, fixture, one_book};
use crate::venues::{FeedCounters, Market};

/// A level as its wire text (price, qty).
type Lv = (String, String);

fn lv(l: &[(&str, &str)]) -> Vec<Lv> {
    l.iter()
        .map(|(p, q)| (p.to_string(), q.to_string()))
        .collect()
}

/// BTC/USD with Kraken's precisions (price 1, qty 8) at the given instrument scales.
fn setup_scaled(price_decimals: u8, qty_decimals: u8) -> (KrakenDecoder, Market, BookRef) {
    let (market, book) = one_book("BTC/USD", price_decimals, qty_decimals, "0.1", "0.00000001");
    let mut symbols = SymbolMap::new();
    symbols.insert("BTC/USD", book);
    let precisions = HashMap::from([(book, (1u8, 8u8))]);
    (KrakenDecoder::new(symbols, precisions, 10), market, book)
}

fn setup() -> (KrakenDecoder, Market, BookRef) {
    setup_scaled(1, 8)
}

/// Decode one frame (received at 0) that must not be refused.
fn feed(dec: &mut KrakenDecoder, m: &mut Market, f: &str) -> Outcome {
    dec.on_frame(f.as_bytes(), 0, m).unwrap()
}

/// Levels as JSON objects with the text written as JSON numbers, as Kraken sends them.
fn levels(l: &[Lv]) -> String {
    l.iter()
        .map(|(p, q)| format!(r#"{{"price":{p},"qty":{q}}}"#))
        .collect::<Vec<_>>()
        .join(",")
}

fn book_frame(kind: &str, bids: &[Lv], asks: &[Lv], checksum: u32) -> String {
    format!(
        r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD","bids":[{}],"asks":[{}],"checksum":{checksum},"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}"#,
        levels(bids),
        levels(asks)
    )
}

/// Independent reference: the docs' algorithm on the text (top 10 asks, then top 10 bids;
/// remove '.', strip leading zeros, concatenate, CRC-32).
fn reference_crc(asks: &[Lv], bids: &[Lv]) -> u32 {
    let mut s = String::new();
    for (p, q) in asks.iter().take(10).chain(bids.iter().take(10)) {
        for t in [p, q] {
            s.push_str(t.replace('.', "").trim_start_matches('0'));
        }
    }
    crc32fast::hash(s.as_bytes())
}

fn fixture_levels(v: &serde_json::Value) -> Vec<Lv> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            if l.is_array() {
                (
                    l[0].as_str().unwrap().to_string(),
                    l[1].as_str().unwrap().to_string(),
                )
            } else {
                (
                    l["price"].as_str().unwrap().to_string(),
                    l["qty"].as_str().unwrap().to_string(),
                )
            }
        })
        .collect()
}

fn load_fixture(rel: &str) -> serde_json::Value {
    let Some(path) = fixture(rel) else {
        panic!("fixture missing: ../shared/fixtures/venues/{rel}");
    };
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The docs' v2 example: (bids high→low, asks low→high, checksum).
fn docs_v2() -> (Vec<Lv>, Vec<Lv>, u32) {
    let v = load_fixture("kraken/book_v2_checksum_docs_example.json");
    let d = &v["data"][0];
    (
        fixture_levels(&d["bids"]),
        fixture_levels(&d["asks"]),
        d["checksum"].as_u64().unwrap() as u32,
    )
}

fn raw_levels(l: &[Lv], scales: (u8, u8)) -> Vec<Level> {
    l.iter()
        .map(|(p, q)| Level {
            price: parse_u64(p.as_bytes(), scales.0).unwrap(),
            qty: parse_u64(q.as_bytes(), scales.1).unwrap(),
        })
        .collect()
}

fn synced_on_docs_example() -> (KrakenDecoder, Market, BookRef, Vec<Lv>, Vec<Lv>) {
    let (mut dec, mut m, book) = setup();
    let (bids, asks, crc) = docs_v2();
    let out = feed(&mut dec, &mut m, &book_frame("snapshot", &bids, &asks, crc));
    assert_eq!(out, Outcome::Synced { book });
    (dec, m, book, bids, asks)
}

#[test]
fn docs_v2_vector_loads_through_the_decoder() {
    let (bids, asks, crc) = docs_v2();
    assert_eq!(crc, 3310070434);
    assert_eq!(reference_crc(&asks, &bids), 3310070434);
    let (mut dec, mut m, book) = setup();
    let frame = book_frame("snapshot", &bids, &asks, crc);
    assert!(
        frame.contains(r#""qty":0.00100000}"#),
        "numbers, not strings"
    );
    assert_eq!(
        dec.on_frame(frame.as_bytes(), 9, &mut m).unwrap(),
        Outcome::Synced { book }
    );
    assert_eq!((dec.checksum_ok, dec.checksum_failed), (1, 0));
    let b = m.book(book).unwrap();
    assert_eq!(b.state(), BookState::Live);
    assert_eq!(b.bids().top(100), raw_levels(&bids, (1, 8)));
    assert_eq!(b.asks().top(100), raw_levels(&asks, (1, 8)));
    assert_eq!(b.bids().best().unwrap().price, 452835);
}

#[test]
fn checksum_digits_do_not_depend_on_the_instrument_scale() {
    // The instrument holds more decimals than Kraken prints; the digits are rebuilt at the
    // venue's precision, so the docs' checksum still matches.
    let (mut dec, mut m, book) = setup_scaled(4, 10);
    let (bids, asks, crc) = docs_v2();
    assert_eq!(
        feed(&mut dec, &mut m, &book_frame("snapshot", &bids, &asks, crc)),
        Outcome::Synced { book }
    );
    assert_eq!(
        m.book(book).unwrap().bids().best().unwrap().price,
        452835000
    );
    // Without a configured precision the instrument's scales are used: the digits then carry
    // extra zeros and cannot match.
    let (m2, book2) = one_book("BTC/USD", 4, 10, "0.1", "0.00000001");
    let mut m2 = m2;
    let mut symbols = SymbolMap::new();
    symbols.insert("BTC/USD", book2);
    let mut dec2 = KrakenDecoder::new(symbols, HashMap::new(), 10);
    assert_eq!(
        dec2.on_frame(
            book_frame("snapshot", &bids, &asks, crc).as_bytes(),
            0,
            &mut m2
        )
        .unwrap(),
        Outcome::Resync {
            book: book2,
            reason: ResyncReason::Checksum
        }
    );
    dec2.set_precision(book2, 1, 8);
    assert_eq!(
        dec2.on_frame(
            book_frame("snapshot", &bids, &asks, crc).as_bytes(),
            0,
            &mut m2
        )
        .unwrap(),
        Outcome::Synced { book: book2 }
    );
}

#[test]
fn docs_v1_vector_via_checksum_function() {
    let v = load_fixture("kraken/book_v1_checksum_docs_example.json");
    let (asks, bids) = (fixture_levels(&v["asks"]), fixture_levels(&v["bids"]));
    let expected = v["expected_checksum"].as_u64().unwrap() as u32;
    assert_eq!(expected, 974947235);
    assert_eq!(reference_crc(&asks, &bids), expected);
    for scales in [(5u8, 8u8), (6, 10), (9, 9)] {
        let (a, b) = (raw_levels(&asks, scales), raw_levels(&bids, scales));
        assert_eq!(
            book_checksum(a, b, scales, (5, 8)),
            Some(expected),
            "{scales:?}"
        );
    }
    // A level finer than the venue's precision cannot be written: no checksum can match.
    let fine = [Level {
        price: 500_501,
        qty: 500,
    }];
    assert_eq!(book_checksum(fine, [], (6, 8), (5, 8)), None);
    // Only the top 10 per side count.
    let mut a = raw_levels(&asks, (5, 8));
    a.push(Level {
        price: 5055,
        qty: 1,
    });
    assert_eq!(
        book_checksum(a, raw_levels(&bids, (5, 8)), (5, 8), (5, 8)),
        Some(expected)
    );
}

#[test]
fn update_with_correct_checksum_applies_and_truncates_to_depth() {
    let (mut dec, mut m, book, bids, asks) = synced_on_docs_example();
    // New best bid (11 bids -> the worst falls out of depth 10) and the best ask deleted.
    let upd_bids = lv(&[("45283.6", "0.50000000")]);
    let upd_asks = lv(&[("45285.2", "0")]);
    let mut exp_bids = upd_bids.clone();
    exp_bids.extend(bids[..9].iter().cloned());
    let exp_asks = asks[1..].to_vec();
    let crc = reference_crc(&exp_asks, &exp_bids);
    let out = dec
        .on_frame(
            book_frame("update", &upd_bids, &upd_asks, crc).as_bytes(),
            5,
            &mut m,
        )
        .unwrap();
    assert_eq!(
        out,
        Outcome::Applied {
            book,
            top_changed: true
        }
    );
    assert_eq!(dec.checksum_ok, 2);
    let b = m.book(book).unwrap();
    assert_eq!(b.bids().top(100), raw_levels(&exp_bids, (1, 8)));
    assert_eq!(b.asks().top(100), raw_levels(&exp_asks, (1, 8)));
    let s = b.stamp();
    assert_eq!(
        (s.seq, s.venue_ts, s.recv_ts),
        (1, 1_696_613_755_440_295_000, 5)
    );
}

#[test]
fn exponent_numbers_parse_exactly_and_checksum_at_venue_precision() {
    let (mut dec, mut m, book, bids, asks) = synced_on_docs_example();
    let upd_bids = lv(&[("45283.6", "5e-1")]);
    let mut exp_bids = lv(&[("45283.6", "0.50000000")]);
    exp_bids.extend(bids[..9].iter().cloned());
    let crc = reference_crc(&asks, &exp_bids);
    assert!(matches!(
        feed(&mut dec, &mut m, &book_frame("update", &upd_bids, &[], crc)),
        Outcome::Applied { .. }
    ));
    assert_eq!(
        m.book(book).unwrap().bids().best(),
        Some(Level {
            price: 452836,
            qty: 50_000_000
        })
    );
}

#[test]
fn wrong_checksum_breaks_the_book_until_a_new_snapshot() {
    let (mut dec, mut m, book, bids, asks) = synced_on_docs_example();
    let mut counters = FeedCounters::default();
    let upd = lv(&[("45283.6", "0.50000000")]);
    let mut exp_bids = upd.clone();
    exp_bids.extend(bids[..9].iter().cloned());
    let good_crc = reference_crc(&asks, &exp_bids);
    let bad = book_frame("update", &upd, &[], good_crc ^ 1);
    let out = dec.on_frame(bad.as_bytes(), 0, &mut m);
    counters.record(bad.len(), &out);
    assert_eq!(
        out.unwrap(),
        Outcome::Resync {
            book,
            reason: ResyncReason::Checksum
        }
    );
    assert_eq!(m.book(book).unwrap().state(), BookState::Broken);
    assert_eq!((dec.checksum_ok, dec.checksum_failed), (1, 1));
    assert_eq!((counters.checksum_failed, counters.resyncs), (1, 1));
    // Later updates, even with the right checksum, are ignored while BROKEN.
    let good = book_frame("update", &upd, &[], good_crc);
    assert_eq!(feed(&mut dec, &mut m, &good), Outcome::Ignored);
    // A new snapshot resyncs.
    let (_, _, crc) = docs_v2();
    assert_eq!(
        feed(&mut dec, &mut m, &book_frame("snapshot", &bids, &asks, crc)),
        Outcome::Synced { book }
    );
    assert_eq!(m.book(book).unwrap().state(), BookState::Live);
    assert!(matches!(
        feed(&mut dec, &mut m, &good),
        Outcome::Applied { .. }
    ));
    assert_eq!(dec.checksum_ok, 3);
}

#[test]
fn wrong_checksum_on_a_snapshot_breaks_the_book() {
    let (mut dec, mut m, book) = setup();
    let (bids, asks, crc) = docs_v2();
    let out = feed(
        &mut dec,
        &mut m,
        &book_frame("snapshot", &bids, &asks, crc.wrapping_add(1)),
    );
    assert_eq!(
        out,
        Outcome::Resync {
            book,
            reason: ResyncReason::Checksum
        }
    );
    assert_eq!(m.book(book).unwrap().state(), BookState::Broken);
    let upd = book_frame("update", &lv(&[("45283.6", "1")]), &[], 0);
    assert_eq!(feed(&mut dec, &mut m, &upd), Outcome::Ignored);
}

#[test]
fn configured_depth_truncates_and_the_checksum_sees_the_truncated_book() {
    let (mut dec, mut m, book) = setup();
    dec.set_depth(book, 3);
    assert_eq!(dec.depth(book), 3);
    let bids = lv(&[
        ("100.0", "1.00000000"),
        ("99.0", "2.00000000"),
        ("98.0", "3.00000000"),
    ]);
    let asks = lv(&[
        ("101.0", "1.00000000"),
        ("102.0", "2.00000000"),
        ("103.0", "3.00000000"),
    ]);
    let snap = book_frame("snapshot", &bids, &asks, reference_crc(&asks, &bids));
    assert_eq!(feed(&mut dec, &mut m, &snap), Outcome::Synced { book });
    // Insert a better bid: 98.0 falls out of depth 3 and out of the checksum.
    let exp_bids = lv(&[
        ("100.5", "4.00000000"),
        ("100.0", "1.00000000"),
        ("99.0", "2.00000000"),
    ]);
    let upd = book_frame(
        "update",
        &lv(&[("100.5", "4.00000000")]),
        &[],
        reference_crc(&asks, &exp_bids),
    );
    assert!(matches!(
        feed(&mut dec, &mut m, &upd),
        Outcome::Applied { .. }
    ));
    assert_eq!(
        m.book(book).unwrap().bids().top(100),
        raw_levels(&exp_bids, (1, 8))
    );
    // Delete it: the truncated level does not come back by itself; Kraken re-sends it.
    let exp_bids = lv(&[
        ("100.0", "1.00000000"),
        ("99.0", "2.00000000"),
        ("98.0", "3.00000000"),
    ]);
    let upd = book_frame(
        "update",
        &lv(&[("100.5", "0.00000000"), ("98.0", "3.00000000")]),
        &[],
        reference_crc(&asks, &exp_bids),
    );
    assert!(matches!(
        feed(&mut dec, &mut m, &upd),
        Outcome::Applied { .. }
    ));
    assert_eq!(
        m.book(book).unwrap().bids().top(100),
        raw_levels(&exp_bids, (1, 8))
    );
    // Had the book not been truncated, the 4-level checksum would differ.
    let four = lv(&[
        ("100.5", "4.00000000"),
        ("100.0", "1.00000000"),
        ("99.0", "2.00000000"),
        ("98.0", "3.00000000"),
    ]);
    assert_ne!(
        reference_crc(&asks, &four),
        reference_crc(&asks, &four[..3])
    );
}

#[test]
fn update_before_snapshot_is_ignored() {
    let (mut dec, mut m, book) = setup();
    let upd = book_frame("update", &lv(&[("45283.6", "1")]), &[], 0);
    assert_eq!(feed(&mut dec, &mut m, &upd), Outcome::Ignored);
    assert!(m.book(book).unwrap().bids().is_empty());
    assert_eq!(dec.checksum_ok + dec.checksum_failed, 0);
}

#[test]
fn crossing_update_breaks_the_book() {
    let (mut dec, mut m, book, _, _) = synced_on_docs_example();
    let upd = book_frame("update", &lv(&[("45290.0", "1.00000000")]), &[], 0);
    assert_eq!(
        feed(&mut dec, &mut m, &upd),
        Outcome::Resync {
            book,
            reason: ResyncReason::Crossed
        }
    );
    let upd = book_frame("update", &lv(&[("45283.6", "1")]), &[], 0);
    assert_eq!(feed(&mut dec, &mut m, &upd), Outcome::Ignored);
}

#[test]
fn malformed_frames_are_errors_and_change_nothing() {
    let (mut dec, mut m, book, bids, asks) = synced_on_docs_example();
    let before = (
        m.book(book).unwrap().bids().top(100),
        m.book(book).unwrap().asks().top(100),
    );
    let upd = lv(&[("45283.6", "0.50000000")]);
    let mut exp_bids = upd.clone();
    exp_bids.extend(bids[..9].iter().cloned());
    let crc = reference_crc(&asks, &exp_bids);
    let good = book_frame("update", &upd, &[], crc);
    let entry = &good[good.find("[{\"symbol").unwrap() + 1..good.rfind(']').unwrap()];
    let bad = [
        good[..good.len() / 2].to_string(), // truncated
        good.replace("\"price\":45283.6", "\"price\":\"45283.6\""), // string instead of number
        good.replace("0.50000000", "99999999999999999999999"), // too large
        good.replace("0.50000000", "-0.5"), // negative
        good.replace("45283.6", "45283.65"), // finer than the scale
        good.replace("45283.6", "true"),    // not a number at all
        good.replace("45283.6", "null"),
        good.replace("BTC/USD", "ETH/USD"), // unknown symbol
        good.replace("\"update\"", "\"mystery\""), // unknown type
        good.replace(&format!("\"checksum\":{crc},"), ""), // no checksum
        good.replace(&format!(":{crc},"), ":4294967296,"), // checksum beyond u32
        good.replace(&format!(":{crc},"), ":-1,"), // negative checksum
        good.replace("2023-10-06T", "2023-13-06T"), // bad timestamp
        good.replace(entry, &format!("{entry},{entry}")), // two book entries
        good.replace("\"bids\":[", "\"bids\":{")
            .replace("}],\"asks", "}},\"asks"), // wrong type
        r#"{"channel":"book","type":"update"}"#.to_string(), // no data
        r#"{"foo":1}"#.to_string(),
        "[]".to_string(),
        "".to_string(),
    ];
    for f in &bad {
        assert_ne!(f, &good);
        assert!(
            dec.on_frame(f.as_bytes(), 0, &mut m).is_err(),
            "accepted: {f}"
        );
        let b = m.book(book).unwrap();
        assert_eq!(
            (b.bids().top(100), b.asks().top(100)),
            before,
            "changed by: {f}"
        );
        assert_eq!(b.state(), BookState::Live);
    }
    // the sync survived the rejected frames: the good update still applies
    assert!(matches!(
        feed(&mut dec, &mut m, &good),
        Outcome::Applied { .. }
    ));
    assert_eq!(dec.checksum_failed, 0);
}

#[test]
fn trades() {
    let (mut dec, mut m, book) = setup();
    let t = r#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":45283.5,"qty":0.00010000,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"},{"symbol":"BTC/USD","side":"buy","price":45285.2,"qty":1.5,"ord_type":"limit","trade_id":4665907,"timestamp":"2023-09-25T07:49:37.708706Z"}]}"#;
    assert_eq!(
        dec.on_frame(t.as_bytes(), 5, &mut m).unwrap(),
        Outcome::Trades { book, count: 2 }
    );
    assert_eq!(
        dec.trades[0],
        Trade {
            book,
            price: 452835,
            qty: 10_000,
            buyer_aggressor: false,
            venue_ts: 1_695_628_177_708_706_000,
            recv_ts: 5,
        }
    );
    assert!(dec.trades[1].buyer_aggressor);
    assert_eq!(dec.trades[1].qty, 150_000_000);
    let snap = t.replace("\"update\"", "\"snapshot\"");
    assert!(matches!(
        dec.on_frame(snap.as_bytes(), 5, &mut m).unwrap(),
        Outcome::Trades { count: 2, .. }
    ));
    for bad in [
        t.replace("\"sell\"", "\"hold\""),
        t.replace("45285.2", "\"45285.2\""),
        t.replace("T07:49", "X07:49"),
        t.replace("BTC/USD\",\"side\":\"buy", "ETH/USD\",\"side\":\"buy"),
    ] {
        assert!(dec.on_frame(bad.as_bytes(), 5, &mut m).is_err(), "{bad}");
        assert!(dec.trades.is_empty());
    }
    let empty = r#"{"channel":"trade","type":"update","data":[]}"#;
    assert_eq!(
        dec.on_frame(empty.as_bytes(), 5, &mut m).unwrap(),
        Outcome::Control
    );
}

#[test]
fn control_frames() {
    let (mut dec, mut m, _) = setup();
    for f in [
        r#"{"channel":"heartbeat"}"#,
        r#"{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":1}]}"#,
        r#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}"#,
        r#"{"error":"Currency pair not supported","method":"subscribe","success":false,"req_id":2}"#,
        r#"{"method":"pong","req_id":1,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}"#,
        r#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD"}]}"#,
    ] {
        assert_eq!(feed(&mut dec, &mut m, f), Outcome::Control, "{f}");
    }
    assert!(dec.on_frame(br#"{"type":"update"}"#, 0, &mut m).is_err());
}

#[test]
fn rfc3339_timestamps() {
    // Kraken's form; the parser itself is shared with Coinbase (venues/time.rs)
    assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(
        parse_rfc3339_ns("2023-09-25T07:49:37.708706Z"),
        Ok(1_695_628_177_708_706_000)
    );
    assert_eq!(
        parse_rfc3339_ns("2023-09-25T09:49:37.708706+02:00"),
        Ok(1_695_628_177_708_706_000)
    );
    assert_eq!(
        parse_rfc3339_ns("2024-02-29T00:00:00.123456789Z"),
        Ok(1_709_164_800_123_456_789)
    );
    for bad in [
        "",
        "2023-02-29T00:00:00Z",
        "2023-09-25T07:49:37",
        "2023-09-25T07:49:37.Z",
        "2024-02-29T00:00:00.1234567891Z",
        "2023-09-25T24:00:00Z",
        "2023-09-25T07:49:37+0200",
        "２023-09-25T07:49:37Z",
    ] {
        assert!(parse_rfc3339_ns(bad).is_err(), "{bad}");
    }
}

#[test]
fn byte_mutations_never_panic_and_errors_change_nothing() {
    let (bids, asks, crc) = docs_v2();
    let snap = book_frame("snapshot", &bids, &asks, crc);
    let upd = lv(&[("45283.6", "0.50000000")]);
    let mut exp_bids = upd.clone();
    exp_bids.extend(bids[..9].iter().cloned());
    let good = book_frame("update", &upd, &[], reference_crc(&asks, &exp_bids));
    let (mut dec, mut m, book) = setup();
    for f in byte_mutations(&good, b"\"9-.}\xff") {
        feed(&mut dec, &mut m, &snap);
        let before = m.book(book).unwrap().clone();
        if dec.on_frame(&f, 0, &mut m).is_err() {
            let b = m.book(book).unwrap();
            assert_eq!(b.bids().top(100), before.bids().top(100));
            assert_eq!(b.asks().top(100), before.asks().top(100));
            assert_eq!(b.state(), before.state());
        }
    }
}
