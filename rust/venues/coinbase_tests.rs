use super::*;
use crate::venues::testutil::{byte_mutations, lv, one_book, sides, state};
use crate::venues::Market;

/// Two products on one connection: BTC-USD and ETH-USD (prices 2 decimals, sizes 8).
fn setup() -> (CoinbaseDecoder, Market, BookRef, BookRef) {
    let (mut m, btc) = one_book("BTC/USD", 2, 8, "0.01", "0.00000001");
    let (m2, e) = one_book("ETH/USD", 2, 8, "0.01", "0.00000001");
    m.instruments.extend(m2.instruments);
    let eth = BookRef {
        instrument: 1,
        venue: e.venue,
    };
    let mut symbols = SymbolMap::new();
    symbols.insert("BTC-USD", btc);
    symbols.insert("ETH-USD", eth);
    (CoinbaseDecoder::new(symbols), m, btc, eth)
}

const TS: &str = "2023-02-09T20:32:50.714964855Z";
const TS_NS: i64 = 1_675_974_770_714_964_855;

type Ups<'a> = &'a [(&'a str, &'a str, &'a str)];

fn event(kind: &str, product: &str, updates: Ups<'_>) -> String {
    let u: Vec<String> = updates
        .iter()
        .map(|(side, p, q)| {
            format!(
                r#"{{"side":"{side}","event_time":"1970-01-01T00:00:00Z","price_level":"{p}","new_quantity":"{q}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"type":"{kind}","product_id":"{product}","updates":[{}]}}"#,
        u.join(",")
    )
}

fn l2_events(seq: u64, events: &[String]) -> String {
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"{TS}","sequence_num":{seq},"events":[{}]}}"#,
        events.join(",")
    )
}

fn l2(seq: u64, kind: &str, product: &str, updates: Ups<'_>) -> String {
    l2_events(seq, &[event(kind, product, updates)])
}

/// An `update` of one bid.
fn bid_update(seq: u64, product: &str, price: &str, qty: &str) -> String {
    l2(seq, "update", product, &[("bid", price, qty)])
}

fn heartbeat(seq: u64) -> String {
    format!(
        r#"{{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":{seq},"events":[{{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}}]}}"#
    )
}

fn subscriptions(seq: u64) -> String {
    format!(
        r#"{{"channel":"subscriptions","client_id":"","timestamp":"{TS}","sequence_num":{seq},"events":[{{"subscriptions":{{"level2":["BTC-USD","ETH-USD"],"heartbeats":["heartbeats"]}}}}]}}"#
    )
}

fn trades(seq: u64) -> String {
    format!(
        r#"{{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":{seq},"events":[{{"type":"update","trades":[{{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}},{{"trade_id":"000000001","product_id":"BTC-USD","price":"21921.74","size":"0.00001","side":"SELL","time":"2019-08-14T20:42:27.3Z"}}]}}]}}"#
    )
}

const SNAP: Ups<'static> = &[
    ("bid", "21921.73", "0.06317902"),
    ("bid", "21921.00", "1"),
    ("offer", "21921.74", "1.2"),
    ("offer", "21922.00", "0"),
];

fn feed(dec: &mut CoinbaseDecoder, m: &mut Market, f: &str) -> Outcome {
    dec.on_frame(f.as_bytes(), 7, m).unwrap()
}

/// Both books LIVE after messages 0 (subscriptions), 1 and 2 (snapshots).
fn live_pair() -> (CoinbaseDecoder, Market, BookRef, BookRef) {
    let (mut dec, mut m, btc, eth) = setup();
    assert_eq!(feed(&mut dec, &mut m, &subscriptions(0)), Outcome::Control);
    assert_eq!(
        feed(&mut dec, &mut m, &l2(1, "snapshot", "BTC-USD", SNAP)),
        Outcome::Synced { book: btc }
    );
    let eth_snap = [("bid", "1260.00", "2"), ("offer", "1260.02", "3")];
    assert_eq!(
        feed(&mut dec, &mut m, &l2(2, "snapshot", "ETH-USD", &eth_snap)),
        Outcome::Synced { book: eth }
    );
    (dec, m, btc, eth)
}

#[test]
fn snapshot_then_updates_give_exact_book() {
    let (mut dec, mut m, btc, _) = setup();
    assert_eq!(feed(&mut dec, &mut m, &subscriptions(0)), Outcome::Control);
    // updates before the snapshot have nothing to apply to
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(1, "BTC-USD", "1.00", "1")),
        Outcome::Ignored
    );
    assert_eq!(
        feed(&mut dec, &mut m, &l2(2, "snapshot", "BTC-USD", SNAP)),
        Outcome::Synced { book: btc }
    );
    assert_eq!(state(&m, btc), BookState::Live);
    assert_eq!(
        sides(&m, btc),
        (
            vec![lv(2192173, 6317902), lv(2192100, 100000000)],
            vec![lv(2192174, 120000000)]
        )
    );
    let s = m.book(btc).unwrap().stamp();
    assert_eq!((s.seq, s.venue_ts, s.recv_ts), (2, TS_NS, 7));
    let up = [("bid", "21921.73", "0"), ("offer", "21921.80", "0.5")];
    assert_eq!(
        feed(&mut dec, &mut m, &l2(3, "update", "BTC-USD", &up)),
        Outcome::Applied {
            book: btc,
            top_changed: true
        }
    );
    assert_eq!(feed(&mut dec, &mut m, &heartbeat(4)), Outcome::Control);
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(5, "BTC-USD", "21900.00", "3")),
        Outcome::Applied {
            book: btc,
            top_changed: false
        }
    );
    assert_eq!(
        sides(&m, btc),
        (
            vec![lv(2192100, 100000000), lv(2190000, 300000000)],
            vec![lv(2192174, 120000000), lv(2192180, 50000000)]
        )
    );
    assert_eq!(m.book(btc).unwrap().stamp().seq, 5);
    assert_eq!(dec.last_sequence(), Some(5));
}

#[test]
fn sequence_gap_breaks_every_book_of_the_connection_and_snapshots_resync_them() {
    let (mut dec, mut m, btc, eth) = live_pair();
    let eth_before = sides(&m, eth);
    // 3 is missing: the ETH update (4) is not applied and both books break
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(4, "ETH-USD", "1259.00", "1")),
        Outcome::Resync {
            book: eth,
            reason: ResyncReason::Gap
        }
    );
    assert_eq!(dec.broken, vec![btc, eth]);
    assert_eq!(state(&m, btc), BookState::Broken);
    assert_eq!(state(&m, eth), BookState::Broken);
    assert_eq!(sides(&m, eth), eth_before);
    assert_eq!(
        dec.last_sequence(),
        Some(4),
        "the count continues after a gap"
    );
    // broken books ignore updates until their new snapshot (resubscribe)
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(5, "BTC-USD", "1.00", "1")),
        Outcome::Ignored
    );
    assert!(dec.broken.is_empty());
    assert_eq!(
        feed(&mut dec, &mut m, &l2(6, "snapshot", "BTC-USD", SNAP)),
        Outcome::Synced { book: btc }
    );
    assert_eq!(state(&m, btc), BookState::Live);
    assert_eq!(state(&m, eth), BookState::Broken);
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(7, "ETH-USD", "1259.00", "1")),
        Outcome::Ignored
    );
    assert_eq!(
        feed(
            &mut dec,
            &mut m,
            &l2(8, "snapshot", "ETH-USD", &[("bid", "1250.00", "1")])
        ),
        Outcome::Synced { book: eth }
    );
    assert!(matches!(
        feed(&mut dec, &mut m, &bid_update(9, "ETH-USD", "1259.00", "1")),
        Outcome::Applied { .. }
    ));
    assert_eq!(
        sides(&m, eth).0,
        vec![lv(125900, 100000000), lv(125000, 100000000)]
    );
}

#[test]
fn duplicate_and_out_of_order_messages_break_the_books_and_are_not_applied() {
    for (seq, reason) in [
        (2u64, ResyncReason::Duplicate),
        (1, ResyncReason::OutOfOrder),
    ] {
        let (mut dec, mut m, btc, eth) = live_pair();
        let before = sides(&m, btc);
        assert_eq!(
            feed(
                &mut dec,
                &mut m,
                &bid_update(seq, "BTC-USD", "21921.50", "9")
            ),
            Outcome::Resync { book: btc, reason }
        );
        assert_eq!(sides(&m, btc), before, "{reason:?}: not applied");
        assert_eq!(dec.broken, vec![btc, eth]);
        assert_eq!(state(&m, btc), BookState::Broken);
        assert_eq!(
            dec.last_sequence(),
            Some(2),
            "the count keeps the highest number"
        );
        assert_eq!(
            feed(&mut dec, &mut m, &bid_update(3, "BTC-USD", "21921.50", "9")),
            Outcome::Ignored
        );
        assert_eq!(
            feed(&mut dec, &mut m, &l2(4, "snapshot", "BTC-USD", SNAP)),
            Outcome::Synced { book: btc }
        );
        assert_eq!(sides(&m, btc), before);
        assert_eq!(state(&m, btc), BookState::Live);
    }
}

#[test]
fn faults_on_control_messages_and_without_live_books() {
    // a gap seen on a heartbeat reports the first affected book
    let (mut dec, mut m, btc, eth) = live_pair();
    assert_eq!(
        feed(&mut dec, &mut m, &heartbeat(5)),
        Outcome::Resync {
            book: btc,
            reason: ResyncReason::Gap
        }
    );
    assert_eq!(dec.broken, vec![btc, eth]);

    // nothing in sync: a gap breaks nothing
    let (mut dec, mut m, btc, _) = setup();
    assert_eq!(feed(&mut dec, &mut m, &heartbeat(0)), Outcome::Control);
    assert_eq!(feed(&mut dec, &mut m, &heartbeat(5)), Outcome::Ignored);
    assert!(dec.broken.is_empty());
    // ... but a snapshot arriving after a gap is dropped and reported
    assert_eq!(
        feed(&mut dec, &mut m, &l2(7, "snapshot", "BTC-USD", SNAP)),
        Outcome::Resync {
            book: btc,
            reason: ResyncReason::Gap
        }
    );
    assert!(m.book(btc).unwrap().bids().is_empty());
    assert_ne!(state(&m, btc), BookState::Live);
    assert_eq!(
        feed(&mut dec, &mut m, &l2(8, "snapshot", "BTC-USD", SNAP)),
        Outcome::Synced { book: btc }
    );
}

#[test]
fn reset_and_reset_connection() {
    let (mut dec, mut m, btc, eth) = setup();
    feed(&mut dec, &mut m, &l2(0, "snapshot", "BTC-USD", SNAP));
    // resubscribing: the book waits for its snapshot
    dec.reset(btc);
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(1, "BTC-USD", "21921.50", "9")),
        Outcome::Ignored
    );
    assert_eq!(
        feed(&mut dec, &mut m, &l2(2, "snapshot", "BTC-USD", SNAP)),
        Outcome::Synced { book: btc }
    );
    // a book subscribed but still waiting for its snapshot is reported by a fault too
    dec.reset(eth);
    assert_eq!(
        feed(&mut dec, &mut m, &heartbeat(9)),
        Outcome::Resync {
            book: btc,
            reason: ResyncReason::Gap
        }
    );
    assert_eq!(dec.broken, vec![btc, eth]);
    // new connection: the count restarts and every book waits for a snapshot
    feed(&mut dec, &mut m, &l2(10, "snapshot", "BTC-USD", SNAP));
    dec.reset_connection();
    assert_eq!(dec.last_sequence(), None);
    assert_eq!(feed(&mut dec, &mut m, &subscriptions(0)), Outcome::Control);
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(1, "BTC-USD", "21921.50", "9")),
        Outcome::Ignored
    );
    assert_eq!(
        feed(&mut dec, &mut m, &l2(2, "snapshot", "BTC-USD", SNAP)),
        Outcome::Synced { book: btc }
    );
    assert!(matches!(
        feed(&mut dec, &mut m, &bid_update(3, "BTC-USD", "21921.50", "9")),
        Outcome::Applied {
            top_changed: false,
            ..
        }
    ));
}

#[test]
fn crossing_update_breaks_only_that_book() {
    let (mut dec, mut m, btc, eth) = live_pair();
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(3, "BTC-USD", "21921.80", "1")),
        Outcome::Resync {
            book: btc,
            reason: ResyncReason::Crossed
        }
    );
    assert_eq!(dec.broken, vec![btc]);
    assert_eq!(state(&m, eth), BookState::Live);
    assert_eq!(
        feed(&mut dec, &mut m, &bid_update(4, "BTC-USD", "21921.00", "1")),
        Outcome::Ignored
    );
    assert_eq!(
        feed(&mut dec, &mut m, &l2(5, "snapshot", "BTC-USD", SNAP)),
        Outcome::Synced { book: btc }
    );
}

#[test]
fn several_events_in_one_message() {
    let (mut dec, mut m, btc, eth) = setup();
    let f = l2_events(
        0,
        &[
            event("snapshot", "BTC-USD", SNAP),
            event("snapshot", "ETH-USD", &[("bid", "1260.00", "2")]),
        ],
    );
    assert_eq!(feed(&mut dec, &mut m, &f), Outcome::Synced { book: btc });
    assert_eq!(state(&m, btc), BookState::Live);
    assert_eq!(state(&m, eth), BookState::Live);
    let f = l2_events(
        1,
        &[
            event("update", "BTC-USD", &[("bid", "21900.00", "1")]),
            event("update", "ETH-USD", &[("bid", "1260.01", "1")]),
        ],
    );
    assert_eq!(
        feed(&mut dec, &mut m, &f),
        Outcome::Applied {
            book: btc,
            top_changed: true
        }
    );
    assert_eq!(m.book(eth).unwrap().best_bid(), Some(lv(126001, 100000000)));
}

#[test]
fn market_trades_take_the_aggressor_opposite_to_the_maker_side() {
    let (mut dec, mut m, btc, eth) = setup();
    assert_eq!(
        dec.on_frame(trades(0).as_bytes(), 11, &mut m).unwrap(),
        Outcome::Trades {
            book: eth,
            count: 2
        }
    );
    assert_eq!(
        dec.trades,
        vec![
            Trade {
                book: eth,
                price: 126001,
                qty: 30000000,
                buyer_aggressor: false, // maker bought: the taker sold
                venue_ts: 1_565_815_347_265_000_000,
                recv_ts: 11
            },
            Trade {
                book: btc,
                price: 2192174,
                qty: 1000,
                buyer_aggressor: true,
                venue_ts: 1_565_815_347_300_000_000,
                recv_ts: 11
            }
        ]
    );
    // bad trades: error, no trades, the sequence is not consumed
    for bad in [
        trades(1).replace("\"SELL\"", "\"sell\""),
        trades(1).replace("\"1260.01\"", "1260.01"),
        trades(1).replace("\"1260.01\"", "\"1260.001\""),
        trades(1).replace("\"ETH-USD\"", "\"DOGE-USD\""),
        trades(1).replace("2019-08-14T20:42:27.3Z", "2019-08-14T20:42:27.3"),
    ] {
        assert!(dec.on_frame(bad.as_bytes(), 0, &mut m).is_err(), "{bad}");
        assert!(dec.trades.is_empty());
        assert_eq!(dec.last_sequence(), Some(0));
    }
    // trades in a message after a gap are dropped with the message
    assert_eq!(feed(&mut dec, &mut m, &trades(5)), Outcome::Ignored);
    assert!(dec.trades.is_empty());
    // the next frame clears the trades of the previous one
    assert!(matches!(
        feed(&mut dec, &mut m, &trades(6)),
        Outcome::Trades { count: 2, .. }
    ));
    feed(&mut dec, &mut m, &heartbeat(7));
    assert!(dec.trades.is_empty());
}

#[test]
fn control_messages() {
    let (mut dec, mut m, _, _) = setup();
    assert_eq!(feed(&mut dec, &mut m, &subscriptions(0)), Outcome::Control);
    assert_eq!(feed(&mut dec, &mut m, &heartbeat(1)), Outcome::Control);
    let ticker = r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":2,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98"}]}]}"#;
    assert_eq!(feed(&mut dec, &mut m, ticker), Outcome::Control);
    assert_eq!(dec.last_sequence(), Some(2));
    let err = dec
        .on_frame(
            br#"{"type":"error","message":"failure to subscribe"}"#,
            0,
            &mut m,
        )
        .unwrap_err();
    assert!(matches!(&err, DecodeError::Malformed(s) if s.contains("failure to subscribe")));
}

#[test]
fn malformed_frames_change_nothing_and_do_not_consume_the_sequence() {
    let (mut dec, mut m, btc, _) = live_pair();
    let before = sides(&m, btc);
    let good = bid_update(3, "BTC-USD", "21921.50", "9");
    let bad = [
        good[..good.len() / 2].to_string(),                   // truncated
        good.replace("\"21921.50\"", "21921.50"),             // number instead of string
        good.replace("\"9\"", "\"99999999999999999999999\""), // too large
        good.replace("\"9\"", "\"-9\""),                      // negative
        good.replace("\"21921.50\"", "\"21921.505\""),        // finer than the price scale
        good.replace("BTC-USD", "DOGE-USD"),                  // unknown product
        good.replace("\"bid\"", "\"ask\""),                   // unknown side
        good.replace("\"update\"", "\"mystery\""),            // unknown event type
        good.replace(TS, "2023-02-30T20:32:50Z"),             // bad timestamp
        good.replace("\"sequence_num\":3,", ""),              // no sequence number
        good.replace("\"sequence_num\":3", "\"sequence_num\":-3"), // negative sequence number
        good.replace("\"sequence_num\":3", "\"sequence_num\":\"3\""), // wrong type
        good.replace("\"channel\":\"l2_data\",", ""),         // no channel
        good.replace("\"updates\":[", "\"updates\":{")
            .replace("}]}]", "}}]"), // wrong type
        // second event bad: the first must not be applied either
        l2_events(
            3,
            &[
                event("update", "BTC-USD", &[("bid", "21921.50", "9")]),
                event("update", "ETH-USD", &[("bid", "x", "1")]),
            ],
        ),
        "[]".to_string(),
        "{}".to_string(),
        String::new(),
    ];
    for f in &bad {
        assert!(
            dec.on_frame(f.as_bytes(), 0, &mut m).is_err(),
            "accepted: {f}"
        );
        assert_eq!(sides(&m, btc), before, "changed by: {f}");
        assert_eq!(state(&m, btc), BookState::Live);
        assert_eq!(dec.last_sequence(), Some(2));
        assert!(dec.broken.is_empty());
    }
    // the sequence survived the rejected frames: the good message still applies
    assert!(matches!(
        feed(&mut dec, &mut m, &good),
        Outcome::Applied { .. }
    ));
}

#[test]
fn rfc3339_parses_exactly() {
    for (text, ns) in [
        ("1970-01-01T00:00:00Z", 0),
        (TS, TS_NS),
        ("2019-08-14T20:42:27.265Z", 1_565_815_347_265_000_000),
        ("2024-02-29T23:59:59.000000001Z", 1_709_251_199_000_000_001),
        ("2023-02-09T21:32:50.714964855+01:00", TS_NS),
        ("2023-02-09T15:02:50.714964855-05:30", TS_NS),
        ("2023-02-09t20:32:50.714964855z", TS_NS),
        ("2023-02-09 20:32:50.714964855Z", TS_NS),
        ("1969-12-31T23:59:59.5Z", -500_000_000),
        ("2000-03-01T00:00:00Z", 951_868_800_000_000_000),
        ("2262-04-11T23:47:16.854775807Z", i64::MAX),
        ("1677-09-21T00:12:43.145224192Z", i64::MIN),
    ] {
        assert_eq!(parse_rfc3339_ns(text), Ok(ns), "{text}");
    }
    for text in [
        "",
        "2023-02-09",
        "2023-02-09T20:32:50",
        "2023-02-09T20:32:50.Z",
        "2023-02-09T20:32:50.7149648551Z",
        "2023-13-09T20:32:50Z",
        "2023-00-09T20:32:50Z",
        "2023-02-00T20:32:50Z",
        "2023-02-29T20:32:50Z",
        "1900-02-29T00:00:00Z",
        "2023-04-31T00:00:00Z",
        "2023-02-09T24:00:00Z",
        "2023-02-09T20:60:00Z",
        "2016-12-31T23:59:60Z",
        "2023-02-09T20:32:50Z ",
        "2023-2-09T20:32:50Z",
        "2023-02-09T20:32:50+0100",
        "2023-02-09T20:32:50+24:00",
        "2023-02-09T20:32:50+01:60",
        "2023-02-09X20:32:50Z",
        "+2023-02-09T20:32:50Z",
        "2262-04-11T23:47:16.854775808Z",
        "1677-09-21T00:12:43.145224191Z",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2023-02-09T20:32:50é",
        "2023-02-0\u{669}T20:32:50Z",
        "２０２３-02-09T20:32:50Z",
    ] {
        assert!(
            matches!(parse_rfc3339_ns(text), Err(DecodeError::Malformed(_))),
            "accepted: {text:?}"
        );
    }
}

#[test]
fn rfc3339_matches_a_naive_day_count() {
    // Walk the calendar day by day from 1900-01-01 (-25567 days) with an independent month table.
    let (mut y, mut mo, mut d) = (1900i64, 1i64, 1i64);
    let mut days = -25_567i64;
    while y < 2101 {
        if days % 97 == 0 || (mo == 2 && d >= 28) || (mo == 3 && d == 1) {
            let text = format!("{y:04}-{mo:02}-{d:02}T12:34:56.789Z");
            let want = days * 86_400_000_000_000 + 45_296_789_000_000;
            assert_eq!(parse_rfc3339_ns(&text), Ok(want), "{text}");
        }
        let leap = y % 400 == 0 || (y % 4 == 0 && y % 100 != 0);
        let len = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][(mo - 1) as usize];
        d += 1;
        if d > len {
            d = 1;
            mo += 1;
            if mo > 12 {
                mo = 1;
                y += 1;
            }
        }
        days += 1;
    }
    assert_eq!(days, 47_847, "2101-01-01");
}

#[test]
fn byte_mutations_never_panic_and_errors_change_nothing() {
    let good = bid_update(3, "BTC-USD", "21921.50", "9");
    for f in byte_mutations(&good, b"\"9-.}\xff") {
        let (mut dec, mut m, btc, eth) = live_pair();
        let before = (sides(&m, btc), sides(&m, eth));
        if dec.on_frame(&f, 0, &mut m).is_err() {
            assert_eq!((sides(&m, btc), sides(&m, eth)), before);
            assert_eq!(state(&m, btc), BookState::Live);
            assert_eq!(state(&m, eth), BookState::Live);
            assert_eq!(dec.last_sequence(), Some(2));
        }
    }
    // the timestamp parser alone, on every byte of a full-precision stamp
    let ts = "2023-02-09T21:32:50.714964855+01:00";
    for i in 0..ts.len() {
        for rep in [b'0', b'9', b':', b'-', b'.', b'Z', b'+', 0xff] {
            let mut f = ts.as_bytes().to_vec();
            f[i] = rep;
            if let Ok(s) = std::str::from_utf8(&f) {
                let _ = parse_rfc3339_ns(s);
            }
            f.remove(i);
            if let Ok(s) = std::str::from_utf8(&f) {
                assert!(parse_rfc3339_ns(s).is_err() || i >= 19, "{s}");
            }
        }
    }
}
