use super::*;
use crate::book::Level;
use crate::venues::testutil::{fixture, one_book};
use crate::venues::{Market, ResyncReason};
use std::collections::BTreeMap;

fn setup() -> (BybitDecoder, Market, BookRef) {
    let (market, book) = one_book("XRP/USDT", 4, 0, "0.0001", "1");
    let mut symbols = SymbolMap::new();
    symbols.insert("XRPUSDT", book);
    (BybitDecoder::new(symbols), market, book)
}

/// Decode one frame (received at 0) that must not be refused.
fn feed(dec: &mut BybitDecoder, m: &mut Market, f: &str) -> Outcome {
    dec.on_frame(f.as_bytes(), 0, m).unwrap()
}

fn snapshot(u: u64) -> String {
    format!(
        r#"{{"topic":"orderbook.50.XRPUSDT","type":"snapshot","ts":1,"data":{{"s":"XRPUSDT","b":[["1.9531","100"],["1.9530","5"]],"a":[["1.9533","7"]],"u":{u},"seq":10}},"cts":1}}"#
    )
}

fn delta(u: u64, bid: &str, qty: &str) -> String {
    format!(
        r#"{{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":2,"data":{{"s":"XRPUSDT","b":[["{bid}","{qty}"]],"a":[],"u":{u},"seq":11}},"cts":2}}"#
    )
}

/// Independent reference: integer ticks from the decimal text, without the crate's parser.
fn ticks(s: &str, decimals: usize) -> u64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let f = format!("{f:0<decimals$}");
    format!("{i}{}", &f[..decimals]).parse().unwrap()
}

#[test]
fn real_capture_replays_with_no_gaps_and_matches_reconstruction() {
    let Some(path) = fixture("bybit/xrpusdt_orderbook500_2024-12-01.jsonl") else {
        panic!("fixture missing: ../shared/fixtures/venues/bybit/xrpusdt_orderbook500_2024-12-01.jsonl");
    };
    let text = std::fs::read_to_string(path).unwrap();
    let (mut dec, mut market, book) = setup();
    let mut counters = crate::venues::FeedCounters::default();
    let (mut bids, mut asks) = (BTreeMap::<u64, u64>::new(), BTreeMap::<u64, u64>::new());
    for (n, line) in text.lines().enumerate() {
        let out = dec.on_frame(line.as_bytes(), n as i64, &mut market);
        counters.record(line.len(), &out);
        assert!(
            matches!(out, Ok(Outcome::Synced { .. } | Outcome::Applied { .. })),
            "line {n}: {out:?}"
        );
        // independent reconstruction with serde_json::Value
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "snapshot" {
            bids.clear();
            asks.clear();
        }
        for (key, side) in [("b", &mut bids), ("a", &mut asks)] {
            for lvl in v["data"][key].as_array().unwrap() {
                let (p, q) = (
                    ticks(lvl[0].as_str().unwrap(), 4),
                    ticks(lvl[1].as_str().unwrap(), 0),
                );
                if q == 0 {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
            }
        }
    }
    assert_eq!(counters.frames, 50);
    assert_eq!(
        (counters.gaps, counters.decode_errors, counters.resyncs),
        (0, 0, 0)
    );
    assert_eq!(counters.snapshots, 1);
    assert_eq!(counters.applied, 49);
    let b = market.book(book).unwrap();
    assert_eq!(b.state(), BookState::Live);
    assert_eq!(b.stamp().seq, 20254918);
    let expect_bids: Vec<Level> = bids
        .iter()
        .rev()
        .map(|(&price, &qty)| Level { price, qty })
        .collect();
    let expect_asks: Vec<Level> = asks
        .iter()
        .map(|(&price, &qty)| Level { price, qty })
        .collect();
    assert_eq!(b.bids().top(usize::MAX), expect_bids);
    assert_eq!(b.asks().top(usize::MAX), expect_asks);
}

#[test]
fn gap_duplicate_and_out_of_order_break_the_book() {
    for (second, reason) in [
        (12u64, ResyncReason::Gap),
        (10, ResyncReason::Duplicate),
        (9, ResyncReason::OutOfOrder),
    ] {
        let (mut dec, mut m, book) = setup();
        feed(&mut dec, &mut m, &snapshot(10));
        let out = feed(&mut dec, &mut m, &delta(second, "1.9529", "3"));
        assert_eq!(out, Outcome::Resync { book, reason });
        assert_eq!(m.book(book).unwrap().state(), BookState::Broken);
        // deltas after the break are ignored until a snapshot resyncs
        assert_eq!(
            feed(&mut dec, &mut m, &delta(second + 1, "1.9529", "3")),
            Outcome::Ignored
        );
        assert_eq!(
            feed(&mut dec, &mut m, &snapshot(20)),
            Outcome::Synced { book }
        );
        assert_eq!(m.book(book).unwrap().state(), BookState::Live);
        assert!(matches!(
            feed(&mut dec, &mut m, &delta(21, "1.9529", "3")),
            Outcome::Applied { .. }
        ));
    }
}

#[test]
fn u_equal_one_resets_the_book() {
    let (mut dec, mut m, book) = setup();
    feed(&mut dec, &mut m, &snapshot(10));
    let out = feed(&mut dec, &mut m, &delta(1, "1.9500", "9"));
    assert_eq!(out, Outcome::Synced { book });
    let b = m.book(book).unwrap();
    assert_eq!(
        b.bids().top(10),
        vec![Level {
            price: 19500,
            qty: 9
        }]
    );
    assert!(b.asks().is_empty());
    assert!(matches!(
        feed(&mut dec, &mut m, &delta(2, "1.9501", "1")),
        Outcome::Applied {
            top_changed: true,
            ..
        }
    ));
}

#[test]
fn delta_before_snapshot_is_ignored_and_stamps_are_kept() {
    let (mut dec, mut m, book) = setup();
    assert_eq!(
        feed(&mut dec, &mut m, &delta(5, "1.9529", "3")),
        Outcome::Ignored
    );
    dec.on_frame(snapshot(10).as_bytes(), 77, &mut m).unwrap();
    let s = m.book(book).unwrap().stamp();
    assert_eq!((s.seq, s.venue_ts, s.recv_ts), (10, 1_000_000, 77));
}

#[test]
fn crossing_delta_breaks_the_book() {
    let (mut dec, mut m, book) = setup();
    feed(&mut dec, &mut m, &snapshot(10));
    let out = feed(&mut dec, &mut m, &delta(11, "1.9540", "3"));
    assert_eq!(
        out,
        Outcome::Resync {
            book,
            reason: ResyncReason::Crossed
        }
    );
    assert_eq!(
        feed(&mut dec, &mut m, &delta(12, "1.9529", "3")),
        Outcome::Ignored
    );
}

#[test]
fn malformed_frames_are_errors_and_change_nothing() {
    let (mut dec, mut m, book) = setup();
    feed(&mut dec, &mut m, &snapshot(10));
    let before = m.book(book).unwrap().bids().top(100);
    let good = delta(11, "1.9529", "3");
    let bad = [
        good[..good.len() / 2].to_string(),                   // truncated
        good.replace("\"1.9529\"", "1.9529"),                 // number instead of string
        good.replace("\"3\"", "\"99999999999999999999999\""), // too large
        good.replace("\"3\"", "\"-3\""),                      // negative
        good.replace("\"1.9529\"", "\"1.95291\""),            // finer than the tick scale
        good.replace("XRPUSDT\",\"b", "DOGEUSDT\",\"b"),      // unknown symbol
        good.replace("\"delta\"", "\"mystery\""),             // unknown type
        r#"{"topic":"orderbook.50.XRPUSDT"}"#.to_string(),    // no data
        "[]".to_string(),
        "".to_string(),
    ];
    for f in &bad {
        assert!(
            dec.on_frame(f.as_bytes(), 0, &mut m).is_err(),
            "accepted: {f}"
        );
        assert_eq!(
            m.book(book).unwrap().bids().top(100),
            before,
            "changed by: {f}"
        );
    }
    // the sequence survived the rejected frames: the good delta still applies
    assert!(matches!(
        feed(&mut dec, &mut m, &good),
        Outcome::Applied { .. }
    ));
}

#[test]
fn control_and_trades() {
    let (mut dec, mut m, book) = setup();
    let ack = r#"{"success":true,"ret_msg":"","conn_id":"x","req_id":"","op":"subscribe"}"#;
    assert_eq!(feed(&mut dec, &mut m, ack), Outcome::Control);
    let t = r#"{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":1,"data":[{"T":1672304486865,"s":"XRPUSDT","S":"Buy","v":"10","p":"1.9532","L":"PlusTick","i":"x","BT":false},{"T":1672304486866,"s":"XRPUSDT","S":"Sell","v":"2","p":"1.9531","i":"y","BT":false}]}"#;
    assert_eq!(
        dec.on_frame(t.as_bytes(), 5, &mut m).unwrap(),
        Outcome::Trades { book, count: 2 }
    );
    assert_eq!(dec.trades[0].price, 19532);
    assert!(dec.trades[0].buyer_aggressor && !dec.trades[1].buyer_aggressor);
    let bad = t.replace("\"Sell\"", "\"Hold\"");
    assert!(dec.on_frame(bad.as_bytes(), 5, &mut m).is_err());
    assert!(dec.trades.is_empty());
}

#[test]
fn update_id_at_u64_max_is_a_gap_not_an_overflow() {
    // found in review: `last + 1` overflowed (panic in debug builds, wrap in release)
    let (mut dec, mut m, book) = setup();
    dec.on_frame(snapshot(u64::MAX).as_bytes(), 0, &mut m)
        .unwrap();
    let out = dec
        .on_frame(delta(0, "1.9529", "3").as_bytes(), 0, &mut m)
        .unwrap();
    assert_eq!(
        out,
        Outcome::Resync {
            book,
            reason: ResyncReason::OutOfOrder
        }
    );
}
