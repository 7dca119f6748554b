use super::*;
use crate::book::Level;
use crate::venues::testutil::{byte_mutations, fixture, lv, one_book, sides, state};
use crate::venues::Market;
use std::collections::BTreeMap;

fn setup(kind: BinanceMarket) -> (BinanceDecoder, Market, BookRef) {
    let (market, book) = one_book("BTC/USDT", 2, 3, "0.10", "0.001");
    let mut symbols = SymbolMap::new();
    symbols.insert("BTCUSDT", book);
    (BinanceDecoder::new(kind, symbols), market, book)
}

type Lv<'a> = &'a [(&'a str, &'a str)];

fn levels(l: Lv<'_>) -> String {
    let items: Vec<String> = l.iter().map(|(p, q)| format!(r#"["{p}","{q}"]"#)).collect();
    format!("[{}]", items.join(","))
}

fn spot_depth(first: u64, last: u64, b: Lv<'_>, a: Lv<'_>) -> String {
    format!(
        r#"{{"e":"depthUpdate","E":1672515782136,"s":"BTCUSDT","U":{first},"u":{last},"b":{},"a":{}}}"#,
        levels(b),
        levels(a)
    )
}

fn fut_depth(first: u64, last: u64, pu: u64, b: Lv<'_>, a: Lv<'_>) -> String {
    format!(
        r#"{{"e":"depthUpdate","E":1672515782136,"T":1672515782135,"s":"BTCUSDT","U":{first},"u":{last},"pu":{pu},"b":{},"a":{}}}"#,
        levels(b),
        levels(a)
    )
}

/// A depth event changing one bid.
fn spot_bid(first: u64, last: u64, price: &str, qty: &str) -> String {
    spot_depth(first, last, &[(price, qty)], &[])
}

fn fut_bid(first: u64, last: u64, pu: u64, price: &str, qty: &str) -> String {
    fut_depth(first, last, pu, &[(price, qty)], &[])
}

fn snapshot(lid: u64, b: Lv<'_>, a: Lv<'_>) -> String {
    format!(
        r#"{{"lastUpdateId":{lid},"bids":{},"asks":{}}}"#,
        levels(b),
        levels(a)
    )
}

fn combined(stream: &str, inner: &str) -> String {
    format!(r#"{{"stream":"{stream}","data":{inner}}}"#)
}

fn frame(dec: &mut BinanceDecoder, m: &mut Market, f: &str) -> Outcome {
    dec.on_frame(f.as_bytes(), 0, m).unwrap()
}

fn snap(dec: &mut BinanceDecoder, m: &mut Market, book: BookRef, body: &str) -> Outcome {
    dec.on_snapshot(book, body.as_bytes(), 0, m).unwrap()
}

const SNAP_B: Lv<'static> = &[("100.00", "5.000"), ("99.00", "1.000")];
const SNAP_A: Lv<'static> = &[("101.00", "9.000"), ("102.00", "1.000")];

/// Independent reference: integer ticks from the decimal text, without the crate's parser.
fn ticks(s: &str, decimals: usize) -> u64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let f = format!("{f:0<decimals$}");
    format!("{i}{}", &f[..decimals]).parse().unwrap()
}

// ---------------------------------------------------------------- spot

#[test]
fn spot_snapshot_replays_buffer_and_deltas_give_exact_book() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    let events = [
        spot_bid(100, 102, "100.00", "1.000"),
        spot_depth(103, 105, &[("100.00", "2.000")], &[("101.00", "1.000")]),
        spot_depth(
            106,
            108,
            &[("99.50", "3.000")],
            &[("101.00", "0.000"), ("101.50", "4.000")],
        ),
    ];
    for e in &events {
        assert_eq!(frame(&mut dec, &mut m, e), Outcome::Buffered { book });
    }
    assert_eq!(dec.buffered(book), 3);
    assert_eq!(state(&m, book), BookState::Syncing);
    assert!(m.book(book).unwrap().bids().is_empty());
    // lastUpdateId 104: the first event (u=102) is dropped, the second (103..105) straddles 105.
    let out = dec
        .on_snapshot(book, snapshot(104, SNAP_B, SNAP_A).as_bytes(), 42, &mut m)
        .unwrap();
    assert_eq!(out, Outcome::Synced { book });
    assert_eq!(state(&m, book), BookState::Live);
    assert_eq!(dec.buffered(book), 0);
    assert_eq!(dec.update_id(book), Some(108));
    assert_eq!(
        sides(&m, book),
        (
            vec![lv(10000, 2000), lv(9950, 3000), lv(9900, 1000)],
            vec![lv(10150, 4000), lv(10200, 1000)]
        )
    );
    let s = m.book(book).unwrap().stamp();
    assert_eq!(
        (s.seq, s.venue_ts, s.recv_ts),
        (108, 1672515782136000000, 0)
    );
    // live: U == id + 1
    let out = frame(&mut dec, &mut m, &spot_bid(109, 110, "100.00", "0"));
    assert_eq!(
        out,
        Outcome::Applied {
            book,
            top_changed: true
        }
    );
    assert_eq!(sides(&m, book).0, vec![lv(9950, 3000), lv(9900, 1000)]);
    assert_eq!(dec.update_id(book), Some(110));
}

#[test]
fn spot_stale_snapshot_is_refused_and_events_before_the_snapshot_are_dropped() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    frame(&mut dec, &mut m, &spot_bid(100, 102, "98.00", "1"));
    frame(&mut dec, &mut m, &spot_bid(103, 105, "97.00", "1"));
    // Rule 2: lastUpdateId 99 < first buffered U 100 -> fetch again; nothing changes.
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(99, SNAP_B, SNAP_A)),
        Outcome::Resync {
            book,
            reason: ResyncReason::StaleSnapshot
        }
    );
    assert_ne!(state(&m, book), BookState::Live);
    assert_eq!(dec.buffered(book), 2);
    assert!(m.book(book).unwrap().bids().is_empty());
    // A newer snapshot covers every buffered event (u <= 105): they are all dropped.
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(105, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert_eq!(dec.buffered(book), 0);
    assert_eq!(
        sides(&m, book),
        (
            vec![lv(10000, 5000), lv(9900, 1000)],
            vec![lv(10100, 9000), lv(10200, 1000)]
        )
    );
    assert_eq!(m.book(book).unwrap().stamp().seq, 105);
    // Late events the snapshot covers are ignored; the next one (U = id + 1) applies.
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(104, 105, "96.00", "1")),
        Outcome::Ignored
    );
    assert!(matches!(
        frame(&mut dec, &mut m, &spot_bid(106, 106, "96.00", "1")),
        Outcome::Applied { .. }
    ));
    assert_eq!(sides(&m, book).0.len(), 3);
}

#[test]
fn spot_gap_breaks_the_book_and_events_are_buffered_until_the_next_snapshot() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(10, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert!(matches!(
        frame(&mut dec, &mut m, &spot_bid(11, 12, "99.90", "1")),
        Outcome::Applied { .. }
    ));
    let before = sides(&m, book);
    // U = 14 > id + 1 = 13: events were missed.
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(14, 15, "99.80", "1")),
        Outcome::Resync {
            book,
            reason: ResyncReason::Gap
        }
    );
    assert_eq!(state(&m, book), BookState::Broken);
    assert_eq!(sides(&m, book), before, "the gap event was not applied");
    assert_eq!(dec.update_id(book), None);
    assert_eq!(dec.buffered(book), 1, "the gap event starts the new buffer");
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(16, 17, "99.70", "1")),
        Outcome::Buffered { book }
    );
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(15, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert_eq!(state(&m, book), BookState::Live);
    assert_eq!(dec.update_id(book), Some(17));
    assert_eq!(
        sides(&m, book).0,
        vec![lv(10000, 5000), lv(9970, 1000), lv(9900, 1000)]
    );
    assert!(matches!(
        frame(&mut dec, &mut m, &spot_bid(18, 18, "99.60", "1")),
        Outcome::Applied { .. }
    ));
}

#[test]
fn spot_duplicate_and_out_of_order_events_are_ignored_as_the_docs_say() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    // duplicates while buffering are not buffered twice
    let e1 = spot_bid(11, 15, "99.90", "1");
    assert_eq!(frame(&mut dec, &mut m, &e1), Outcome::Buffered { book });
    assert_eq!(frame(&mut dec, &mut m, &e1), Outcome::Ignored);
    assert_eq!(dec.buffered(book), 1);
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(12, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert_eq!(dec.update_id(book), Some(15));
    let e2 = spot_bid(16, 20, "99.80", "2");
    assert!(matches!(
        frame(&mut dec, &mut m, &e2),
        Outcome::Applied { .. }
    ));
    let before = sides(&m, book);
    // duplicate (u == id) and out of order (u < id): the docs' rule 5 ignores them
    assert_eq!(frame(&mut dec, &mut m, &e2), Outcome::Ignored);
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(11, 15, "99.90", "7")),
        Outcome::Ignored
    );
    assert_eq!(sides(&m, book), before);
    assert_eq!(state(&m, book), BookState::Live);
    assert_eq!(dec.update_id(book), Some(20));
    // an event overlapping the book's id (U <= id + 1 <= u) applies
    assert!(matches!(
        frame(&mut dec, &mut m, &spot_bid(19, 22, "99.80", "3")),
        Outcome::Applied { .. }
    ));
    assert_eq!(dec.update_id(book), Some(22));
}

// ---------------------------------------------------------------- USD-M futures

#[test]
fn usdm_snapshot_keeps_the_event_with_u_equal_to_last_update_id_and_chains_by_pu() {
    let (mut dec, mut m, book) = setup(BinanceMarket::UsdM);
    let events = [
        fut_bid(90, 99, 80, "95.00", "1"),   // u < lastUpdateId: dropped
        fut_bid(100, 110, 99, "98.00", "1"), // u == lastUpdateId: kept (spot would drop)
        fut_depth(111, 120, 110, &[("100.00", "0")], &[("101.00", "2")]),
        fut_depth(121, 130, 120, &[], &[("102.00", "0")]),
    ];
    for e in &events {
        assert_eq!(frame(&mut dec, &mut m, e), Outcome::Buffered { book });
    }
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(110, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert_eq!(
        sides(&m, book),
        (vec![lv(9900, 1000), lv(9800, 1000)], vec![lv(10100, 2000)])
    );
    assert_eq!(dec.update_id(book), Some(130));
    let s = m.book(book).unwrap().stamp();
    assert_eq!((s.seq, s.venue_ts), (130, 1672515782135000000), "T is used");
    assert!(matches!(
        frame(&mut dec, &mut m, &fut_bid(131, 140, 130, "99.50", "1")),
        Outcome::Applied {
            top_changed: true,
            ..
        }
    ));
}

#[test]
fn usdm_stale_snapshot_and_first_event_rule() {
    let (mut dec, mut m, book) = setup(BinanceMarket::UsdM);
    frame(&mut dec, &mut m, &fut_bid(100, 110, 95, "98.00", "1"));
    // lastUpdateId 99 < U 100: the first event cannot satisfy U <= lastUpdateId.
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(99, SNAP_B, SNAP_A)),
        Outcome::Resync {
            book,
            reason: ResyncReason::StaleSnapshot
        }
    );
    assert_eq!(dec.buffered(book), 1);
    assert!(m.book(book).unwrap().bids().is_empty());
    // lastUpdateId 120 covers the buffered event (u < 120): dropped, nothing left to replay.
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(120, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert_eq!(
        sides(&m, book),
        (
            vec![lv(10000, 5000), lv(9900, 1000)],
            vec![lv(10100, 9000), lv(10200, 1000)]
        )
    );
    // The first live event must straddle 120: one ending before it is ignored ...
    assert_eq!(
        frame(&mut dec, &mut m, &fut_bid(111, 119, 110, "97.00", "1")),
        Outcome::Ignored
    );
    // ... one straddling it applies (its pu is not checked: the previous event was not seen) ...
    assert!(matches!(
        frame(&mut dec, &mut m, &fut_bid(115, 125, 114, "97.00", "1")),
        Outcome::Applied { .. }
    ));
    // ... and from then on pu must be the previous u.
    assert!(matches!(
        frame(&mut dec, &mut m, &fut_bid(126, 130, 125, "96.00", "1")),
        Outcome::Applied { .. }
    ));
    assert_eq!(dec.update_id(book), Some(130));

    // A first live event that starts after lastUpdateId is a gap.
    let (mut dec, mut m, book) = setup(BinanceMarket::UsdM);
    snap(&mut dec, &mut m, book, &snapshot(120, SNAP_B, SNAP_A));
    assert_eq!(
        frame(&mut dec, &mut m, &fut_bid(121, 125, 120, "97.00", "1")),
        Outcome::Resync {
            book,
            reason: ResyncReason::Gap
        }
    );
}

#[test]
fn usdm_gap_duplicate_and_out_of_order_break_the_book_and_resync() {
    let a = fut_bid(100, 110, 90, "98.00", "1");
    let b = fut_bid(111, 120, 110, "97.00", "1");
    for (bad, reason, held) in [
        (fut_bid(131, 140, 130, "96.00", "1"), ResyncReason::Gap, 1),
        (b.clone(), ResyncReason::Duplicate, 0),
        (a.clone(), ResyncReason::OutOfOrder, 0),
    ] {
        let (mut dec, mut m, book) = setup(BinanceMarket::UsdM);
        snap(&mut dec, &mut m, book, &snapshot(105, SNAP_B, SNAP_A));
        assert!(matches!(
            frame(&mut dec, &mut m, &a),
            Outcome::Applied { .. }
        ));
        assert!(matches!(
            frame(&mut dec, &mut m, &b),
            Outcome::Applied { .. }
        ));
        let before = sides(&m, book);
        assert_eq!(
            frame(&mut dec, &mut m, &bad),
            Outcome::Resync { book, reason },
            "{reason:?}"
        );
        assert_eq!(state(&m, book), BookState::Broken);
        assert_eq!(sides(&m, book), before, "{reason:?}: not applied");
        assert_eq!(dec.buffered(book), held, "{reason:?}");
        // back to step 1: events are buffered until a snapshot
        assert_eq!(
            frame(&mut dec, &mut m, &fut_bid(141, 150, 140, "95.00", "1")),
            Outcome::Buffered { book }
        );
        assert_eq!(
            snap(&mut dec, &mut m, book, &snapshot(145, SNAP_B, SNAP_A)),
            Outcome::Synced { book }
        );
        assert_eq!(state(&m, book), BookState::Live);
        assert_eq!(dec.update_id(book), Some(150));
        assert_eq!(
            sides(&m, book).0,
            vec![lv(10000, 5000), lv(9900, 1000), lv(9500, 1000)]
        );
        assert!(matches!(
            frame(&mut dec, &mut m, &fut_bid(151, 155, 150, "94.00", "1")),
            Outcome::Applied { .. }
        ));
    }
}

/// Rows of the Tardis CSV: symbol,timestamp,U,u,side,update_type,price,qty,pu.
fn csv_rows(rel: &str) -> Vec<Vec<String>> {
    let Some(path) = fixture(rel) else {
        panic!("fixture missing: ../shared/fixtures/venues/{rel}");
    };
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu"
    );
    lines
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .inspect(|r| assert_eq!(r.len(), 9))
        .collect()
}

fn apply_ref(side: &mut BTreeMap<u64, u64>, price: &str, qty: &str) {
    let (p, q) = (ticks(price, 2), ticks(qty, 3));
    if q == 0 {
        side.remove(&p);
    } else {
        side.insert(p, q);
    }
}

fn expect(bids: &BTreeMap<u64, u64>, asks: &BTreeMap<u64, u64>) -> (Vec<Level>, Vec<Level>) {
    (
        bids.iter().rev().map(|(&p, &q)| lv(p, q)).collect(),
        asks.iter().map(|(&p, &q)| lv(p, q)).collect(),
    )
}

#[test]
fn real_usdm_event_chains_to_a_synthetic_snapshot_and_matches_reconstruction() {
    let rows = csv_rows("binance/usdm_btcusdt_depth_update.csv");
    assert_eq!(rows.len(), 100);
    let ids = |r: &[String]| -> (u64, u64, u64) {
        (
            r[2].parse().unwrap(),
            r[3].parse().unwrap(),
            r[8].parse().unwrap(),
        )
    };
    let (first, last, pu) = ids(&rows[0]);
    assert_eq!(
        (first, last, pu),
        (2098041693435, 2098041696700, 2098041693400)
    );
    let ts: i64 = rows[0][1].parse().unwrap();
    let (mut fb, mut fa) = (Vec::new(), Vec::new());
    for r in &rows {
        assert_eq!(ids(r), (first, last, pu), "one event only");
        assert_eq!((r[0].as_str(), r[5].as_str()), ("BTCUSDT", "set"));
        let lvl = format!(r#"["{}","{}"]"#, r[6], r[7]);
        match r[4].as_str() {
            "b" => fb.push(lvl),
            "a" => fa.push(lvl),
            other => panic!("side {other}"),
        }
    }
    let event = format!(
        r#"{{"e":"depthUpdate","E":{ts},"T":{ts},"s":"BTCUSDT","U":{first},"u":{last},"pu":{pu},"b":[{}],"a":[{}]}}"#,
        fb.join(","),
        fa.join(",")
    );

    // Synthetic REST snapshot: the real bid levels of the snapshot fixture, synthetic asks (some
    // of which the event deletes), and a lastUpdateId inside [U, u] so that it chains.
    let snap_rows = csv_rows("binance/usdm_btcusdt_depth_snapshot.csv");
    let snap_bids: Vec<(String, String)> = snap_rows
        .iter()
        .map(|r| (r[6].clone(), r[7].clone()))
        .collect();
    assert_eq!(snap_bids.len(), 100);
    let snap_asks: Vec<(String, String)> = [
        ("20472.30", "1.000"),
        ("20472.80", "0.500"),
        ("20473.10", "0.250"),
        ("20600.00", "2.000"),
    ]
    .iter()
    .map(|(p, q)| (p.to_string(), q.to_string()))
    .collect();
    let lid = first + 1000;
    assert!(first <= lid && lid <= last);
    let json_levels = |l: &[(String, String)]| {
        l.iter()
            .map(|(p, q)| format!(r#"["{p}","{q}"]"#))
            .collect::<Vec<_>>()
            .join(",")
    };
    let body = format!(
        r#"{{"lastUpdateId":{lid},"E":{ts},"T":{ts},"bids":[{}],"asks":[{}]}}"#,
        json_levels(&snap_bids),
        json_levels(&snap_asks)
    );

    // Independent reconstruction: snapshot, then the rows in file order.
    let (mut rb, mut ra) = (BTreeMap::new(), BTreeMap::new());
    for (p, q) in &snap_bids {
        apply_ref(&mut rb, p, q);
    }
    for (p, q) in &snap_asks {
        apply_ref(&mut ra, p, q);
    }
    for r in &rows {
        let side = if r[4] == "b" { &mut rb } else { &mut ra };
        apply_ref(side, &r[6], &r[7]);
    }

    let (mut dec, mut m, book) = setup(BinanceMarket::UsdM);
    // the event arrives first (combined stream) and is buffered until the snapshot
    let out = dec
        .on_frame(
            combined("btcusdt@depth@100ms", &event).as_bytes(),
            1,
            &mut m,
        )
        .unwrap();
    assert_eq!(out, Outcome::Buffered { book });
    let out = dec.on_snapshot(book, body.as_bytes(), 2, &mut m).unwrap();
    assert_eq!(out, Outcome::Synced { book });
    assert_eq!(state(&m, book), BookState::Live);
    assert_eq!(sides(&m, book), expect(&rb, &ra));
    let s = m.book(book).unwrap().stamp();
    assert_eq!((s.seq, s.venue_ts, s.recv_ts), (last, ts * 1_000_000, 1));
    assert_eq!(
        m.book(book).unwrap().best_bid(),
        Some(lv(2047210, 22276)),
        "20472.10 x 22.276"
    );
    assert_eq!(m.book(book).unwrap().best_ask(), Some(lv(2047220, 4211)));

    // The next event chains by pu == previous u (its U is not previous u + 1 on futures).
    let next = fut_depth(
        last + 7,
        last + 20,
        last,
        &[("20472.00", "1.500")],
        &[("20475.20", "0.000")],
    );
    assert!(matches!(
        frame(&mut dec, &mut m, &next),
        Outcome::Applied { .. }
    ));
    apply_ref(&mut rb, "20472.00", "1.500");
    apply_ref(&mut ra, "20475.20", "0.000");
    assert_eq!(sides(&m, book), expect(&rb, &ra));
    assert_eq!(dec.update_id(book), Some(last + 20));

    // A wrong pu is a gap: the book is BROKEN and nothing is applied.
    let wrong = fut_depth(
        last + 31,
        last + 40,
        last + 25,
        &[("20471.00", "9.000")],
        &[],
    );
    assert_eq!(
        frame(&mut dec, &mut m, &wrong),
        Outcome::Resync {
            book,
            reason: ResyncReason::Gap
        }
    );
    assert_eq!(state(&m, book), BookState::Broken);
    assert_eq!(sides(&m, book), expect(&rb, &ra));
}

// ---------------------------------------------------------------- common

#[test]
fn reset_returns_the_book_to_buffering_and_a_new_snapshot_makes_it_live() {
    for kind in [BinanceMarket::Spot, BinanceMarket::UsdM] {
        let (mut dec, mut m, book) = setup(kind);
        snap(&mut dec, &mut m, book, &snapshot(10, SNAP_B, SNAP_A));
        assert_eq!(dec.update_id(book), Some(10));
        dec.reset(book);
        assert_eq!(dec.update_id(book), None);
        assert_eq!(
            frame(&mut dec, &mut m, &fut_bid(11, 20, 10, "99.00", "0")),
            Outcome::Buffered { book },
            "{kind:?}"
        );
        assert_eq!(
            snap(&mut dec, &mut m, book, &snapshot(15, SNAP_B, SNAP_A)),
            Outcome::Synced { book }
        );
        assert_eq!(dec.update_id(book), Some(20));
        assert_eq!(sides(&m, book).0, vec![lv(10000, 5000)]);
        assert_eq!(state(&m, book), BookState::Live);
    }
}

#[test]
fn crossed_snapshot_and_crossing_event_resync() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    let crossed = snapshot(10, &[("101.00", "1")], &[("100.00", "1")]);
    assert_eq!(
        snap(&mut dec, &mut m, book, &crossed),
        Outcome::Resync {
            book,
            reason: ResyncReason::Crossed
        }
    );
    assert_eq!(dec.update_id(book), None);
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(11, 11, "99.00", "1")),
        Outcome::Buffered { book }
    );
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(11, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(12, 12, "101.50", "1")),
        Outcome::Resync {
            book,
            reason: ResyncReason::Crossed
        }
    );
    assert_eq!(state(&m, book), BookState::Broken);
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(13, 13, "99.00", "1")),
        Outcome::Buffered { book }
    );
}

#[test]
fn a_book_broken_elsewhere_goes_back_to_buffering() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    snap(&mut dec, &mut m, book, &snapshot(10, SNAP_B, SNAP_A));
    m.set_state(book, BookState::Broken).unwrap();
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(11, 11, "99.00", "1")),
        Outcome::Buffered { book }
    );
    assert_eq!(dec.update_id(book), None);
}

#[test]
fn buffer_overflow_restarts_the_buffer_and_asks_for_a_new_snapshot() {
    let (dec, mut m, book) = setup(BinanceMarket::Spot);
    let mut dec = dec.with_buffer_cap(3);
    for i in 0..3u64 {
        let e = spot_depth(10 + i, 10 + i, &[("99.00", "1")], &[]);
        assert_eq!(frame(&mut dec, &mut m, &e), Outcome::Buffered { book });
    }
    assert_eq!(
        frame(&mut dec, &mut m, &spot_bid(13, 14, "98.00", "1")),
        Outcome::Resync {
            book,
            reason: ResyncReason::StaleSnapshot
        }
    );
    assert_eq!(dec.buffered(book), 1);
    // a snapshot older than the new buffer is stale now; one chaining to it syncs
    assert!(matches!(
        snap(&mut dec, &mut m, book, &snapshot(11, SNAP_B, SNAP_A)),
        Outcome::Resync {
            reason: ResyncReason::StaleSnapshot,
            ..
        }
    ));
    assert_eq!(
        snap(&mut dec, &mut m, book, &snapshot(13, SNAP_B, SNAP_A)),
        Outcome::Synced { book }
    );
    assert_eq!(dec.update_id(book), Some(14));
    assert_eq!(sides(&m, book).0.last(), Some(&lv(9800, 1000)));
}

#[test]
fn malformed_frames_and_snapshots_change_nothing() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    // while buffering
    let held = spot_bid(5, 6, "99.00", "1");
    frame(&mut dec, &mut m, &held);
    let bad_held = held.replace("\"99.00\"", "99.00");
    assert!(dec.on_frame(bad_held.as_bytes(), 0, &mut m).is_err());
    assert_eq!(dec.buffered(book), 1);
    // malformed snapshots
    for body in [
        snapshot(10, SNAP_B, SNAP_A)[..30].to_string(),
        snapshot(10, SNAP_B, SNAP_A).replace("lastUpdateId", "lastId"),
        snapshot(10, SNAP_B, SNAP_A).replace("\"5.000\"", "\"-5.000\""),
        snapshot(10, SNAP_B, SNAP_A).replace("\"5.000\"", "\"5.0001\""),
        snapshot(10, SNAP_B, SNAP_A).replace(":10,", ":-10,"),
        r#"{"code":-1121,"msg":"Invalid symbol."}"#.to_string(),
        String::new(),
    ] {
        assert!(
            dec.on_snapshot(book, body.as_bytes(), 0, &mut m).is_err(),
            "accepted: {body}"
        );
        assert!(m.book(book).unwrap().bids().is_empty(), "changed by {body}");
        assert_eq!(dec.buffered(book), 1);
        assert_ne!(state(&m, book), BookState::Live);
    }
    let stranger = BookRef {
        instrument: 0,
        venue: 7,
    };
    assert_eq!(
        dec.on_snapshot(stranger, snapshot(10, SNAP_B, SNAP_A).as_bytes(), 0, &mut m),
        Err(DecodeError::UnknownBook(stranger))
    );

    // live
    snap(&mut dec, &mut m, book, &snapshot(10, SNAP_B, SNAP_A));
    let before = sides(&m, book);
    let good = spot_bid(11, 12, "99.50", "3");
    let bad = [
        good[..good.len() / 2].to_string(),                    // truncated
        good.replace("\"99.50\"", "99.50"),                    // number instead of string
        good.replace("\"3\"", "\"99999999999999999999999\""),  // too large
        good.replace("\"3\"", "\"-3\""),                       // negative
        good.replace("\"99.50\"", "\"99.505\""),               // finer than the price scale
        good.replace("BTCUSDT", "ETHUSDT"),                    // unknown symbol
        good.replace("\"U\":11", "\"U\":13"),                  // U > u
        good.replace("\"U\":11", "\"U\":-11"),                 // negative id
        good.replace("\"u\":12,", ""),                         // no u
        good.replace("\"b\":[[\"99.50\",\"3\"]]", "\"b\":{}"), // wrong type
        good.replace("[\"99.50\",\"3\"]", "[\"99.50\",\"3\",\"x\"]"), // 3-element level
        combined("btcusdt@depth", r#"{"s":"BTCUSDT","U":1}"#), // data without event type
        r#"{"foo":1}"#.to_string(),
        "[]".to_string(),
        String::new(),
    ];
    for f in &bad {
        assert!(
            dec.on_frame(f.as_bytes(), 0, &mut m).is_err(),
            "accepted: {f}"
        );
        assert_eq!(sides(&m, book), before, "changed by: {f}");
        assert_eq!(dec.update_id(book), Some(10));
        assert_eq!(state(&m, book), BookState::Live);
    }
    // the sync survived the rejected frames: the good event still applies
    assert!(matches!(
        frame(&mut dec, &mut m, &good),
        Outcome::Applied { .. }
    ));

    // futures events must carry pu
    let (mut dec, mut m, _) = setup(BinanceMarket::UsdM);
    assert!(dec.on_frame(good.as_bytes(), 0, &mut m).is_err());
}

#[test]
fn combined_and_raw_frames_control_and_errors() {
    let (mut dec, mut m, book) = setup(BinanceMarket::Spot);
    snap(&mut dec, &mut m, book, &snapshot(10, SNAP_B, SNAP_A));
    let raw = spot_bid(11, 11, "99.50", "1");
    assert!(matches!(
        frame(&mut dec, &mut m, &combined("btcusdt@depth@100ms", &raw)),
        Outcome::Applied { .. }
    ));
    assert!(matches!(
        frame(&mut dec, &mut m, &spot_bid(12, 12, "99.40", "1")),
        Outcome::Applied { .. }
    ));
    for ack in [
        r#"{"result":null,"id":1}"#,
        r#"{"result":null,"id":"Ab-3"}"#,
        r#"{"result":null,"id":null}"#,
        r#"{"result":["btcusdt@depth"],"id":3}"#,
        r#"{"e":"serverShutdown","E":1672515782136}"#,
        r#"{"e":"24hrTicker","E":1,"s":"BTCUSDT"}"#,
        r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1}}"#,
    ] {
        assert_eq!(frame(&mut dec, &mut m, ack), Outcome::Control, "{ack}");
    }
    let err = dec
        .on_frame(
            br#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#,
            0,
            &mut m,
        )
        .unwrap_err();
    assert!(matches!(&err, DecodeError::Malformed(s) if s.contains("Invalid request")));
}

#[test]
fn trades_and_agg_trades() {
    let (mut dec, mut m, book) = setup(BinanceMarket::UsdM);
    let t = r#"{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"20472.10","q":"0.010","T":1672515782135,"m":true,"M":true}"#;
    assert_eq!(
        dec.on_frame(t.as_bytes(), 9, &mut m).unwrap(),
        Outcome::Trades { book, count: 1 }
    );
    assert_eq!(
        dec.trades,
        vec![Trade {
            book,
            price: 2047210,
            qty: 10,
            buyer_aggressor: false,
            venue_ts: 1672515782135000000,
            recv_ts: 9
        }]
    );
    let agg = r#"{"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"20472.20","q":"1.500","f":100,"l":105,"T":123456785,"m":false}"#;
    assert_eq!(
        frame(&mut dec, &mut m, &combined("btcusdt@aggTrade", agg)),
        Outcome::Trades { book, count: 1 }
    );
    assert_eq!(dec.trades.len(), 1);
    assert_eq!(
        (
            dec.trades[0].price,
            dec.trades[0].qty,
            dec.trades[0].buyer_aggressor
        ),
        (2047220, 1500, true)
    );
    // a bad trade is an error and leaves no trades behind
    for bad in [
        agg.replace("\"20472.20\"", "20472.20"),
        agg.replace("BTCUSDT", "ETHUSDT"),
        agg.replace("\"m\":false", "\"m\":\"no\""),
        agg.replace("\"1.500\"", "\"1.5001\""),
    ] {
        assert!(dec.on_frame(bad.as_bytes(), 0, &mut m).is_err(), "{bad}");
        assert!(dec.trades.is_empty());
    }
    // a depth frame clears the previous frame's trades
    frame(&mut dec, &mut m, agg);
    frame(&mut dec, &mut m, &fut_depth(1, 2, 0, &[], &[]));
    assert!(dec.trades.is_empty());
}

/// Every one-byte deletion or replacement: never a panic, and a refused frame changes nothing.
fn mutations(good: &str) -> Vec<Vec<u8>> {
    byte_mutations(good, b"\"9-.]\xff")
}

#[test]
fn byte_mutations_never_panic_and_errors_change_nothing() {
    for kind in [BinanceMarket::Spot, BinanceMarket::UsdM] {
        let good = combined(
            "btcusdt@depth",
            &fut_depth(11, 12, 10, &[("99.50", "3")], &[("101.00", "0")]),
        );
        for f in mutations(&good) {
            let (mut dec, mut m, book) = setup(kind);
            snap(&mut dec, &mut m, book, &snapshot(10, SNAP_B, SNAP_A));
            let before = sides(&m, book);
            if dec.on_frame(&f, 0, &mut m).is_err() {
                assert_eq!(sides(&m, book), before);
                assert_eq!(state(&m, book), BookState::Live);
                assert_eq!(dec.update_id(book), Some(10));
            }
        }
        let body = snapshot(10, SNAP_B, SNAP_A);
        for f in mutations(&body) {
            let (mut dec, mut m, book) = setup(kind);
            frame(&mut dec, &mut m, &fut_bid(9, 12, 8, "99.50", "3"));
            if dec.on_snapshot(book, &f, 0, &mut m).is_err() {
                assert!(m.book(book).unwrap().bids().is_empty());
                assert_eq!(state(&m, book), BookState::Syncing);
                assert_eq!(dec.buffered(book), 1);
            }
        }
    }
}
