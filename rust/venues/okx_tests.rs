use super::*;
use crate::book::Level;
use crate::fixed::parse_u64;
use crate::venues::testutil::{byte_mutations, fixture, one_book};
use crate::venues::{FeedCounters, Market};

fn setup() -> (OkxDecoder, Market, BookRef) {
    let (market, book) = one_book("BTC/USDT", 2, 8, "0.01", "0.00000001");
    let mut symbols = SymbolMap::new();
    symbols.insert("BTC-USDT", book);
    (OkxDecoder::new(symbols), market, book)
}

/// Decode one frame (received at 0) that must not be refused.
fn feed(dec: &mut OkxDecoder, m: &mut Market, f: &str) -> Outcome {
    dec.on_frame(f.as_bytes(), 0, m).unwrap()
}

fn levels(l: &[(&str, &str)]) -> String {
    l.iter()
        .map(|(p, q)| format!(r#"["{p}","{q}","0","1"]"#))
        .collect::<Vec<_>>()
        .join(",")
}

fn book_frame(
    action: &str,
    prev: i64,
    seq: i64,
    bids: &[(&str, &str)],
    asks: &[(&str, &str)],
    checksum: i32,
) -> String {
    format!(
        r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[{}],"bids":[{}],"ts":"1597026383085","checksum":{checksum},"prevSeqId":{prev},"seqId":{seq}}}]}}"#,
        levels(asks),
        levels(bids)
    )
}

/// The docs' snapshot example (first two levels per side).
fn snapshot(seq: i64) -> String {
    book_frame(
        "snapshot",
        -1,
        seq,
        &[("8476.97", "256"), ("8475.55", "101")],
        &[("8476.98", "415"), ("8477", "7")],
        0,
    )
}

fn update(prev: i64, seq: i64, bid: &str, qty: &str) -> String {
    book_frame("update", prev, seq, &[(bid, qty)], &[], 0)
}

fn keep_alive(prev: i64, seq: i64) -> String {
    book_frame("update", prev, seq, &[], &[], 0)
}

fn raw(l: &[(&str, &str)]) -> Vec<Level> {
    l.iter()
        .map(|(p, q)| Level {
            price: parse_u64(p.as_bytes(), 2).unwrap(),
            qty: parse_u64(q.as_bytes(), 8).unwrap(),
        })
        .collect()
}

/// Independent reference for the checksum input: interleave by index, then join.
fn reference_string(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
    let mut parts = Vec::new();
    for i in 0..25 {
        for side in [bids, asks] {
            if let Some((p, q)) = side.get(i) {
                parts.push(*p);
                parts.push(*q);
            }
        }
    }
    parts.join(":")
}

fn reference_crc(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> i32 {
    crc32fast::hash(reference_string(bids, asks).as_bytes()) as i32
}

struct Vector {
    bids: Vec<(String, String)>,
    asks: Vec<(String, String)>,
    string: String,
    expected: i32,
}

fn vectors() -> Vec<Vector> {
    let Some(path) = fixture("okx/book_checksum_vectors.json") else {
        panic!("fixture missing: ../shared/fixtures/venues/okx/book_checksum_vectors.json");
    };
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let side = |x: &serde_json::Value| -> Vec<(String, String)> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l[0].as_str().unwrap().to_string(),
                    l[1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| Vector {
            bids: side(&x["bids"]),
            asks: side(&x["asks"]),
            string: x["string"].as_str().unwrap().to_string(),
            expected: x["expected_checksum"].as_i64().unwrap() as i32,
        })
        .collect()
}

fn strs(l: &[(String, String)]) -> Vec<(&str, &str)> {
    l.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect()
}

#[test]
fn docs_sequence_reset_is_valid() {
    let (mut dec, mut m, book) = setup();
    let mut counters = FeedCounters::default();
    let frames = [
        (snapshot(10), Outcome::Synced { book }),
        (
            update(10, 15, "8476.50", "1"),
            Outcome::Applied {
                book,
                top_changed: false,
            },
        ),
        (keep_alive(15, 15), Outcome::Ignored),
        (
            update(15, 3, "8476.99", "2"),
            Outcome::Applied {
                book,
                top_changed: false,
            },
        ),
        (
            update(3, 5, "8476.97", "0"),
            Outcome::Applied {
                book,
                top_changed: true,
            },
        ),
    ];
    // the (15,3) update would cross (8476.99 >= ask 8476.98): use an ask-side change instead
    let frames: Vec<_> = frames
        .into_iter()
        .map(|(f, o)| {
            (
                f.replace(
                    r#""asks":[],"bids":[["8476.99","2","0","1"]]"#,
                    r#""asks":[["8478","2","0","1"]],"bids":[]"#,
                ),
                o,
            )
        })
        .collect();
    for (f, expected) in &frames {
        let out = dec.on_frame(f.as_bytes(), 1, &mut m);
        counters.record(f.len(), &out);
        assert_eq!(&out.unwrap(), expected, "{f}");
    }
    assert_eq!((counters.resyncs, counters.decode_errors), (0, 0));
    assert_eq!(
        (counters.snapshots, counters.applied, counters.ignored),
        (1, 3, 1)
    );
    let b = m.book(book).unwrap();
    assert_eq!(b.state(), BookState::Live);
    assert_eq!(b.stamp().seq, 5);
    assert_eq!(
        b.bids().top(10),
        raw(&[("8476.50", "1"), ("8475.55", "101")])
    );
    assert_eq!(
        b.asks().top(10),
        raw(&[("8476.98", "415"), ("8477", "7"), ("8478", "2")])
    );
    // and the chain continues from the reset sequence
    assert!(matches!(
        feed(&mut dec, &mut m, &update(5, 6, "8476.40", "1")),
        Outcome::Applied { .. }
    ));
}

#[test]
fn gap_duplicate_and_out_of_order_break_the_book() {
    for (prev, seq, reason) in [
        (16i64, 20i64, ResyncReason::Gap),
        (10, 15, ResyncReason::Duplicate),
        (3, 12, ResyncReason::OutOfOrder),
        (16, 16, ResyncReason::Gap), // a keep-alive that does not chain
    ] {
        let (mut dec, mut m, book) = setup();
        feed(&mut dec, &mut m, &snapshot(10));
        feed(&mut dec, &mut m, &update(10, 15, "8476.50", "1"));
        let before = m.book(book).unwrap().bids().top(100);
        let f = if prev == seq {
            keep_alive(prev, seq)
        } else {
            update(prev, seq, "8476.40", "3")
        };
        assert_eq!(
            feed(&mut dec, &mut m, &f),
            Outcome::Resync { book, reason },
            "({prev},{seq})"
        );
        assert_eq!(m.book(book).unwrap().state(), BookState::Broken);
        assert_eq!(m.book(book).unwrap().bids().top(100), before);
        // updates after the break are ignored, even ones that would chain
        assert_eq!(
            feed(&mut dec, &mut m, &update(15, 16, "8476.40", "3")),
            Outcome::Ignored
        );
        assert_eq!(
            feed(&mut dec, &mut m, &snapshot(30)),
            Outcome::Synced { book }
        );
        assert_eq!(m.book(book).unwrap().state(), BookState::Live);
        assert!(matches!(
            feed(&mut dec, &mut m, &update(30, 31, "8476.40", "3")),
            Outcome::Applied { .. }
        ));
    }
}

#[test]
fn keep_alive_is_ignored_and_keeps_the_chain() {
    let (mut dec, mut m, book) = setup();
    dec.on_frame(snapshot(10).as_bytes(), 7, &mut m).unwrap();
    let before = (
        m.book(book).unwrap().bids().top(100),
        m.book(book).unwrap().stamp(),
    );
    for _ in 0..3 {
        assert_eq!(
            dec.on_frame(keep_alive(10, 10).as_bytes(), 99, &mut m)
                .unwrap(),
            Outcome::Ignored
        );
    }
    let b = m.book(book).unwrap();
    assert_eq!((b.bids().top(100), b.stamp()), before);
    assert!(matches!(
        feed(&mut dec, &mut m, &update(10, 11, "8476.50", "1")),
        Outcome::Applied { .. }
    ));
}

#[test]
fn update_before_snapshot_is_ignored_and_a_snapshot_always_resets() {
    let (mut dec, mut m, book) = setup();
    assert_eq!(
        feed(&mut dec, &mut m, &update(9, 10, "8476.50", "1")),
        Outcome::Ignored
    );
    assert!(m.book(book).unwrap().bids().is_empty());
    dec.on_frame(snapshot(10).as_bytes(), 77, &mut m).unwrap();
    let s = m.book(book).unwrap().stamp();
    assert_eq!(
        (s.seq, s.venue_ts, s.recv_ts),
        (10, 1_597_026_383_085_000_000, 77)
    );
    // A later snapshot (any seqId, e.g. after resubscribing) replaces the book.
    let snap = book_frame("snapshot", -1, 2, &[("100", "1")], &[("101", "1")], 0);
    assert_eq!(feed(&mut dec, &mut m, &snap), Outcome::Synced { book });
    assert_eq!(m.book(book).unwrap().bids().top(10), raw(&[("100", "1")]));
    assert!(matches!(
        feed(&mut dec, &mut m, &update(2, 3, "99", "1")),
        Outcome::Applied { .. }
    ));
}

#[test]
fn crossing_update_breaks_the_book() {
    let (mut dec, mut m, book) = setup();
    feed(&mut dec, &mut m, &snapshot(10));
    assert_eq!(
        feed(&mut dec, &mut m, &update(10, 11, "8477.50", "1")),
        Outcome::Resync {
            book,
            reason: ResyncReason::Crossed
        }
    );
    assert_eq!(
        feed(&mut dec, &mut m, &update(11, 12, "8476.50", "1")),
        Outcome::Ignored
    );
}

#[test]
fn checksum_vectors_from_the_strings() {
    let vs = vectors();
    assert_eq!(vs.len(), 3);
    for v in &vs {
        let (b, a) = (strs(&v.bids), strs(&v.asks));
        assert_eq!(checksum_string(&b, &a), v.string);
        assert_eq!(reference_string(&b, &a), v.string);
        assert_eq!(checksum_of_text(&b, &a), v.expected);
        assert_eq!(crc32fast::hash(v.string.as_bytes()) as i32, v.expected);
    }
    assert_eq!(vs[0].expected, -1881014294);
    assert_eq!(vs[1].expected, 831078360);
    // the same from integers, rebuilt as trimmed text
    for v in &vs {
        let (b, a) = (strs(&v.bids), strs(&v.asks));
        assert_eq!(
            book_checksum(raw(&b), raw(&a), (2, 8), TextFormat::default()),
            Some(v.expected)
        );
    }
}

#[test]
fn checksum_vectors_through_the_decoder() {
    for v in vectors() {
        let (mut dec, mut m, book) = setup();
        let (b, a) = (strs(&v.bids), strs(&v.asks));
        let snap = book_frame("snapshot", -1, 10, &b, &a, v.expected);
        assert_eq!(
            feed(&mut dec, &mut m, &snap),
            Outcome::Synced { book },
            "{}",
            v.string
        );
        assert_eq!(dec.checksum_ok, 1);
    }
    // An update that turns vector 2's book into vector 1's, carrying vector 1's checksum.
    let vs = vectors();
    let (mut dec, mut m, book) = setup();
    let snap = book_frame(
        "snapshot",
        -1,
        10,
        &strs(&vs[1].bids),
        &strs(&vs[1].asks),
        vs[1].expected,
    );
    feed(&mut dec, &mut m, &snap);
    let upd = book_frame(
        "update",
        10,
        11,
        &[("3366", "6")],
        &[("3372", "0")],
        vs[0].expected,
    );
    assert_eq!(
        feed(&mut dec, &mut m, &upd),
        Outcome::Applied {
            book,
            top_changed: false
        }
    );
    assert_eq!(dec.checksum_ok, 2);
    assert_eq!(
        m.book(book).unwrap().asks().top(10),
        raw(&strs(&vs[0].asks))
    );
}

#[test]
fn wrong_checksum_breaks_the_book_until_a_new_snapshot() {
    let (mut dec, mut m, book) = setup();
    let vs = vectors();
    let (b, a) = (strs(&vs[0].bids), strs(&vs[0].asks));
    let snap = book_frame("snapshot", -1, 10, &b, &a, vs[0].expected);
    feed(&mut dec, &mut m, &snap);
    let mut counters = FeedCounters::default();
    let bad = book_frame("update", 10, 11, &[("3365", "1")], &[], 12345);
    let out = dec.on_frame(bad.as_bytes(), 0, &mut m);
    counters.record(bad.len(), &out);
    assert_eq!(
        out.unwrap(),
        Outcome::Resync {
            book,
            reason: ResyncReason::Checksum
        }
    );
    assert_eq!(counters.checksum_failed, 1);
    assert_eq!((dec.checksum_ok, dec.checksum_failed), (1, 1));
    assert_eq!(m.book(book).unwrap().state(), BookState::Broken);
    assert_eq!(
        feed(&mut dec, &mut m, &update(11, 12, "3365", "2")),
        Outcome::Ignored
    );
    assert_eq!(feed(&mut dec, &mut m, &snap), Outcome::Synced { book });
    assert_eq!(m.book(book).unwrap().state(), BookState::Live);
    // a wrong checksum on a snapshot breaks it too; checksum 0 is never checked
    let bad_snap = book_frame("snapshot", -1, 10, &b, &a, vs[0].expected ^ 1);
    assert_eq!(
        feed(&mut dec, &mut m, &bad_snap),
        Outcome::Resync {
            book,
            reason: ResyncReason::Checksum
        }
    );
    let zero = book_frame("snapshot", -1, 10, &b, &a, 0);
    assert_eq!(feed(&mut dec, &mut m, &zero), Outcome::Synced { book });
}

#[test]
fn checksum_covers_25_levels_interleaved() {
    let (mut dec, mut m, book) = setup();
    let bid_px: Vec<String> = (0..30).map(|i| format!("{}", 1000 - i)).collect();
    let bids: Vec<(&str, &str)> = bid_px.iter().map(|p| (p.as_str(), "1.5")).collect();
    let asks = [("1001.25", "0.00000001"), ("1002", "3")];
    let crc = reference_crc(&bids, &asks);
    assert!(reference_string(&bids, &asks)
        .starts_with("1000:1.5:1001.25:0.00000001:999:1.5:1002:3:998:1.5:"));
    assert!(reference_string(&bids, &asks).ends_with(":976:1.5"));
    let snap = book_frame("snapshot", -1, 1, &bids, &asks, crc);
    assert_eq!(feed(&mut dec, &mut m, &snap), Outcome::Synced { book });
    assert_eq!(m.book(book).unwrap().bids().len(), 30);
}

#[test]
fn fixed_text_format_reproduces_padded_strings() {
    // A feed that pads to its tick/lot decimals: "0.50" is not "0.5".
    let bids = [("0.50", "1.000")];
    let asks = [("0.60", "2.500")];
    let crc = reference_crc(&bids, &asks);
    assert_eq!(reference_string(&bids, &asks), "0.50:1.000:0.60:2.500");
    let snap = book_frame("snapshot", -1, 1, &bids, &asks, crc);
    let (mut dec, mut m, book) = setup();
    dec.set_format(
        book,
        TextFormat {
            price: NumText::Fixed(2),
            qty: NumText::Fixed(3),
        },
    );
    assert_eq!(feed(&mut dec, &mut m, &snap), Outcome::Synced { book });
    // The limitation: with the default (trimmed) text the same book cannot match.
    let (mut dec, mut m, book) = setup();
    assert_eq!(
        feed(&mut dec, &mut m, &snap),
        Outcome::Resync {
            book,
            reason: ResyncReason::Checksum
        }
    );
}

#[test]
fn number_text_rebuilt_from_integers() {
    let f = |raw: u64, d: u8, fmt: NumText| {
        let mut out = b"prefix:".to_vec(); // appends after what is there
        push_num(&mut out, raw, d, fmt).map(|()| {
            assert_eq!(out.pop(), Some(b':'));
            String::from_utf8(out.split_off(7)).unwrap()
        })
    };
    use NumText::{Fixed, Trimmed};
    assert_eq!(f(336610, 2, Trimmed).as_deref(), Some("3366.1"));
    assert_eq!(f(336600, 2, Trimmed).as_deref(), Some("3366"));
    assert_eq!(f(1, 8, Trimmed).as_deref(), Some("0.00000001"));
    assert_eq!(f(0, 8, Trimmed).as_deref(), Some("0"));
    assert_eq!(f(7, 0, Trimmed).as_deref(), Some("7"));
    assert_eq!(
        f(u64::MAX, 0, Trimmed).as_deref(),
        Some("18446744073709551615")
    );
    assert_eq!(
        f(u64::MAX, 18, Trimmed).as_deref(),
        Some("18.446744073709551615")
    );
    assert_eq!(f(50, 2, Fixed(4)).as_deref(), Some("0.5000"));
    assert_eq!(f(5000, 4, Fixed(2)).as_deref(), Some("0.50"));
    assert_eq!(f(5001, 4, Fixed(2)), None);
    assert_eq!(f(3366, 0, Fixed(1)).as_deref(), Some("3366.0"));
    assert_eq!(f(33660, 1, Fixed(0)).as_deref(), Some("3366"));
    assert_eq!(f(1, 0, Fixed(255)), None);
    assert_eq!(f(1, 20, Trimmed), None);
}

#[test]
fn snapshot_only_channels_load_every_push() {
    let (mut dec, mut m, book) = setup();
    let b5 = r#"{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"]],"instId":"BTC-USDT","ts":"1597026383085","seqId":123456}]}"#;
    assert_eq!(feed(&mut dec, &mut m, b5), Outcome::Synced { book });
    let bbo = r#"{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["8477","1","0","1"]],"bids":[["8476","2","0","1"]],"ts":"1597026383086","seqId":5}]}"#;
    assert_eq!(feed(&mut dec, &mut m, bbo), Outcome::Synced { book });
    let b = m.book(book).unwrap();
    assert_eq!(b.bids().top(10), raw(&[("8476", "2")]));
    assert_eq!(b.asks().top(10), raw(&[("8477", "1")]));
    // no books sequence: a books update has nothing to chain to
    assert_eq!(
        feed(&mut dec, &mut m, &update(5, 6, "8475", "1")),
        Outcome::Ignored
    );
}

#[test]
fn malformed_frames_are_errors_and_change_nothing() {
    let (mut dec, mut m, book) = setup();
    feed(&mut dec, &mut m, &snapshot(10));
    let before = (
        m.book(book).unwrap().bids().top(100),
        m.book(book).unwrap().asks().top(100),
    );
    let good = book_frame("update", 10, 11, &[("8476.50", "3")], &[("8478", "1")], 0);
    let entry = &good[good.find("[{\"asks").unwrap() + 1..good.rfind(']').unwrap()];
    let bad = [
        good[..good.len() / 2].to_string(),                   // truncated
        good.replace("\"8476.50\"", "8476.50"),               // number instead of string
        good.replace("\"3\"", "\"99999999999999999999999\""), // too large
        good.replace("\"3\"", "\"-3\""),                      // negative
        good.replace("\"8476.50\"", "\"8476.505\""),          // finer than the scale
        good.replace("\"8476.50\"", "\"\""),                  // empty
        good.replace("BTC-USDT", "ETH-USDT"),                 // unknown symbol
        good.replace("\"update\"", "\"mystery\""),            // unknown action
        good.replace(",\"action\":\"update\"", ""),           // no action
        good.replace(",\"seqId\":11", ""),                    // no seqId
        good.replace("\"prevSeqId\":10", "\"prevSeqId\":\"10\""), // wrong type
        good.replace("\"seqId\":11", "\"seqId\":-11"),        // negative seqId
        good.replace("\"checksum\":0", "\"checksum\":4294967296"), // beyond i32
        good.replace("1597026383085", "15970x6383085"),       // bad ts
        good.replace(",\"0\",\"1\"]],\"bids", "]],\"bids"),   // 2-element level
        good.replace(entry, &format!("{entry},{entry}")),     // two book entries
        good.replace(",\"instId\":\"BTC-USDT\"", ""),         // no instId
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update"}"#.to_string(),
        r#"{"data":[]}"#.to_string(),
        "ping".to_string(),
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
    // the sequence survived the rejected frames: the good update still applies
    assert!(matches!(
        feed(&mut dec, &mut m, &good),
        Outcome::Applied { .. }
    ));
}

#[test]
fn trades() {
    let (mut dec, mut m, book) = setup();
    let t = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","seqId":1234},{"instId":"BTC-USDT","tradeId":"130639475","px":"42219.8","sz":"1","side":"sell","ts":"1630048897898","count":"1","seqId":1235}]}"#;
    assert_eq!(
        dec.on_frame(t.as_bytes(), 5, &mut m).unwrap(),
        Outcome::Trades { book, count: 2 }
    );
    assert_eq!(
        dec.trades[0],
        Trade {
            book,
            price: 4221990,
            qty: 12_060_306,
            buyer_aggressor: true,
            venue_ts: 1_630_048_897_897_000_000,
            recv_ts: 5,
        }
    );
    assert!(!dec.trades[1].buyer_aggressor);
    for bad in [
        t.replace("\"sell\"", "\"hold\""),
        t.replace("\"42219.8\"", "42219.8"),
        t.replace("\"1630048897898\"", "\"soon\""),
        t.replace("\"sz\":\"1\"", "\"sz\":\"-1\""),
    ] {
        assert!(dec.on_frame(bad.as_bytes(), 5, &mut m).is_err(), "{bad}");
        assert!(dec.trades.is_empty());
    }
    let empty = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[]}"#;
    assert_eq!(
        dec.on_frame(empty.as_bytes(), 5, &mut m).unwrap(),
        Outcome::Control
    );
}

#[test]
fn control_frames() {
    let (mut dec, mut m, _) = setup();
    for f in [
        "pong",
        r#"{"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#,
        r#"{"event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\"}","connId":"a4d3ae55"}"#,
        r#"{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#,
        r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT"}]}"#,
    ] {
        assert_eq!(feed(&mut dec, &mut m, f), Outcome::Control, "{f}");
    }
}

#[test]
fn byte_mutations_never_panic_and_errors_change_nothing() {
    let vs = vectors();
    let snap = book_frame(
        "snapshot",
        -1,
        10,
        &strs(&vs[1].bids),
        &strs(&vs[1].asks),
        vs[1].expected,
    );
    let good = book_frame(
        "update",
        10,
        11,
        &[("3366", "6")],
        &[("3372", "0")],
        vs[0].expected,
    );
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
