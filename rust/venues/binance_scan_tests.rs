//! The scanner against the serde path: what it recognises it must read exactly as serde does
//! (same outcome, errors included, same book), and whatever it declines goes to serde.

use super::*;
use crate::book::{Delta, Side};
use crate::venues::binance::{BinanceDecoder, BinanceMarket};
use crate::venues::testutil::{self, byte_mutations, fixture, one_book};
use crate::venues::{BookRef, Market, Outcome, SymbolMap};
use proptest::prelude::*;

const SPOT: &str = r#"{"e":"depthUpdate","E":1672515782136,"s":"BTCUSDT","U":157,"u":160,"b":[["100.10","10.000"],["99.00","0.000"]],"a":[["101.20","100.500"]]}"#;
const USDM: &str = r#"{"e":"depthUpdate","E":1672515782136,"T":1672515782135,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["100.10","10.000"]],"a":[]}"#;
const SNAPSHOT: &str = r#"{"lastUpdateId":156,"bids":[["100.00","5.000"],["99.00","1.000"]],"asks":[["101.00","9.000"],["102.00","1.000"]]}"#;

fn combined(inner: &str) -> String {
    format!(r#"{{"stream":"btcusdt@depth@100ms","data":{inner}}}"#)
}

/// Scan at 2 price and 3 qty decimals, for the symbols BTCUSDT and X.
fn scan(frame: &str) -> Option<(DepthHead<'_>, Vec<Delta>)> {
    let mut deltas = vec![Delta {
        side: Side::Bid,
        price: 1,
        qty: 1,
    }];
    let scales = |s: &[u8]| (s == b"BTCUSDT" || s == b"X").then_some((2, 3));
    let h = scan_depth(frame.as_bytes(), scales, &mut deltas)?;
    Some((h, deltas))
}

fn d(side: Side, price: u64, qty: u64) -> Delta {
    Delta { side, price, qty }
}

#[test]
fn reads_raw_combined_spot_and_futures_frames() {
    let (h, lv) = scan(SPOT).unwrap();
    assert_eq!(
        (h.symbol, h.first, h.last, h.prev, h.event_time, h.tx_time),
        (&b"BTCUSDT"[..], 157, 160, None, Some(1672515782136), None)
    );
    assert_eq!(
        lv,
        vec![
            d(Side::Bid, 10_010, 10_000),
            d(Side::Bid, 9_900, 0),
            d(Side::Ask, 10_120, 100_500)
        ]
    );

    let c = combined(USDM);
    let (h, lv) = scan(&c).unwrap();
    assert_eq!((h.prev, h.tx_time), (Some(149), Some(1672515782135)));
    assert_eq!(lv, vec![d(Side::Bid, 10_010, 10_000)]);

    // any key order once the symbol is known; asks before bids
    let swapped = r#"{"u":2,"s":"X","a":[["2","1"]],"b":[["1.5","1."]],"U":1,"e":"depthUpdate"}"#;
    let (h, lv) = scan(swapped).unwrap();
    assert_eq!((h.first, h.last), (1, 2));
    assert_eq!(lv, vec![d(Side::Ask, 200, 1000), d(Side::Bid, 150, 1000)]);
}

#[test]
fn declines_everything_outside_the_compact_depth_layout() {
    for f in [
        SPOT.replace(",\"s\"", ", \"s\""),                // whitespace
        format!("{SPOT}\n"),                              // trailing whitespace
        format!("{SPOT}x"),                               // trailing bytes
        SPOT.replace("BTCUSDT", "BTC\\u0055SDT"),         // escape
        SPOT.replace("BTCUSDT", "BTC\u{e9}"),             // non-ASCII
        SPOT.replace("\"E\":", "\"X\":"),                 // unknown key
        SPOT.replace("\"U\":157", "\"U\":157,\"U\":157"), // repeated key
        SPOT.replace("\"U\":157", "\"U\":157.0"),         // not an integer
        SPOT.replace("\"U\":157", "\"U\":1e2"),           // exponent
        SPOT.replace("\"U\":157", "\"U\":0157"),          // leading zero
        SPOT.replace("\"U\":157", "\"U\":-157"),          // sign
        SPOT.replace("\"U\":157", "\"U\":18446744073709551616"), // above u64
        SPOT.replace("1672515782136", "9223372036854775808"), // above i64
        SPOT.replace("\"U\":157", "\"U\":null"),
        SPOT.replace("\"U\":157,", ""),         // missing U
        SPOT.replace("\"s\":\"BTCUSDT\",", ""), // missing s
        SPOT.replace("depthUpdate", "trade"),   // other event
        SPOT.replace("[\"99.00\",\"0.000\"]", "[\"99.00\",\"0.000\",\"x\"]"),
        SPOT.replace("[\"99.00\",\"0.000\"]", "[\"99.00\"]"),
        SPOT.replace("\"101.20\"", "101.20"), // number, not string
        SPOT.replace("\"b\":[", "\"b\":{")
            .replace("]],\"a\"", "]},\"a\""),
        SPOT[..SPOT.len() - 1].to_string(), // truncated
        String::new(),
        "{}".to_string(),
        format!(r#"{{"data":{SPOT},"stream":"x"}}"#), // wrapper keys swapped
        format!(r#"{{"stream":"x","data":{SPOT},"id":1}}"#),
        SPOT.replace("BTCUSDT", "ETHUSDT"), // unknown symbol
        r#"{"e":"depthUpdate","b":[],"s":"X","U":1,"u":2}"#.to_string(), // levels before s
        SPOT.replace("\"101.20\"", "\"1e5\""), // exponent: general parser
        SPOT.replace("\"101.20\"", "\"101.205\""), // rounding
        SPOT.replace("\"101.20\"", "\"-101.20\""), // sign
        SPOT.replace("\"101.20\"", "\"\""), // empty
        SPOT.replace("\"101.20\"", "\"1.0.1\""),
        SPOT.replace("\"101.20\"", "\"99999999999999999999\""), // overflow
    ] {
        assert!(scan(&f).is_none(), "recognised: {f}");
    }
    // what the scanner reads but the checks refuse stays the decoder's business
    assert!(scan(&SPOT.replace("\"U\":157", "\"U\":161")).is_some());
}

/// Two decoders, one with the scanner and one serde-only, fed the same frames after the same
/// snapshot: the same outcome (errors included) and the same book after every frame.
fn differential(kind: BinanceMarket, frames: &[Vec<u8>]) {
    let make = |fast: bool| -> (BinanceDecoder, Market, BookRef) {
        let (mut m, book) = one_book("BTC/USDT", 2, 3, "0.01", "0.001");
        let mut symbols = SymbolMap::new();
        symbols.insert("BTCUSDT", book);
        let mut d = BinanceDecoder::new(kind, symbols).with_fast_path(fast);
        d.on_snapshot(book, SNAPSHOT.as_bytes(), 0, &mut m).unwrap();
        (d, m, book)
    };
    let (fast, mf, book) = make(true);
    let (slow, ms, _) = make(false);
    testutil::differential(
        frames,
        book,
        (fast, mf),
        (slow, ms),
        |d, f, t, m| d.on_frame(f, t, m),
        |a, b| {
            assert_eq!(a.update_id(book), b.update_id(book));
            assert_eq!(a.buffered(book), b.buffered(book));
        },
    );
}

#[test]
fn same_outcome_as_serde_on_good_bad_and_mutated_frames() {
    let good = [
        SPOT.to_string(),
        combined(SPOT),
        USDM.to_string(),
        combined(USDM),
    ];
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for g in &good {
        frames.push(g.clone().into_bytes());
        // bad numbers the scanner reads as strings: the number parser decides, same error
        for (from, to) in [
            ("\"100.10\"", "\"1e5\""),            // exponent: exact, general parser
            ("\"100.10\"", "\"5e-05\""),          // finer than the scale
            ("\"100.10\"", "\"100.105\""),        // finer than the scale
            ("\"100.10\"", "\"-100.10\""),        // negative
            ("\"100.10\"", "\"\""),               // empty
            ("\"100.10\"", "\"1.0.0\""),          // two dots
            ("\"100.10\"", "\"1e999999999999\""), // huge exponent
            ("\"100.10\"", "\"99999999999999999999999\""), // overflow
            ("\"10.000\"", "\"184467440737095516.16\""), // overflow at the scale
            ("\"10.000\"", "\"NaN\""),
            ("\"10.000\"", "\"0x10\""),
            ("BTCUSDT", "ETHUSDT"),     // unknown symbol
            ("\"U\":157", "\"U\":161"), // U > u
            ("\"u\":160", "\"u\":150"), // old
        ] {
            frames.push(g.replace(from, to).into_bytes());
        }
        // truncated at every length
        for n in 0..g.len() {
            frames.push(g.as_bytes()[..n].to_vec());
        }
        frames.extend(byte_mutations(g, b"\"9-.e]}, \\\xff"));
    }
    for kind in [BinanceMarket::Spot, BinanceMarket::UsdM] {
        differential(kind, &frames);
    }
}

/// The real USD-M event (nautilus_trader's capture, `SOURCES.md`) as the frame Binance sends.
fn real_usdm_event() -> Option<String> {
    let path = fixture("binance/usdm_btcusdt_depth_update.csv")?;
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let r0 = &rows[0];
    let (mut b, mut a) = (Vec::new(), Vec::new());
    for r in &rows {
        let lvl = format!(r#"["{}","{}"]"#, r[6], r[7]);
        if r[4] == "b" {
            b.push(lvl)
        } else {
            a.push(lvl)
        }
    }
    Some(format!(
        r#"{{"e":"depthUpdate","E":{ts},"T":{ts},"s":"BTCUSDT","U":{},"u":{},"pu":{},"b":[{}],"a":[{}]}}"#,
        r0[2],
        r0[3],
        r0[8],
        b.join(","),
        a.join(","),
        ts = r0[1]
    ))
}

/// Integer ticks from decimal text without the crate's parser.
fn ticks(s: &str, decimals: usize) -> u64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let f = format!("{f:0<decimals$}");
    format!("{i}{}", &f[..decimals]).parse().unwrap()
}

/// The fixture's rows as deltas at 2 price and 3 qty decimals, bids first, in file order.
fn expected_deltas() -> Vec<Delta> {
    let path = fixture("binance/usdm_btcusdt_depth_update.csv").unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<(u8, Delta)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let r: Vec<&str> = l.split(',').collect();
            let side = if r[4] == "b" { Side::Bid } else { Side::Ask };
            (
                u8::from(side == Side::Ask),
                d(side, ticks(r[6], 2), ticks(r[7], 3)),
            )
        })
        .collect();
    out.sort_by_key(|x| x.0); // stable: file order within a side
    out.into_iter().map(|x| x.1).collect()
}

#[test]
fn real_fixture_event_decodes_identically() {
    let Some(ev) = real_usdm_event() else {
        panic!("fixture missing: ../shared/fixtures/venues/binance/usdm_btcusdt_depth_update.csv");
    };
    let (h, lv) = scan(&ev).expect("the real event takes the fast path");
    assert_eq!(
        (h.first, h.last, h.prev),
        (2098041693435, 2098041696700, Some(2098041693400))
    );
    assert_eq!(lv.len(), 100);
    assert_eq!(
        lv,
        expected_deltas(),
        "the CSV's levels, parsed independently"
    );
    let c = combined(&ev);
    assert!(scan(&c).is_some());
    // Buffered on both paths (no snapshot yet), then the same book after the same snapshot.
    for kind in [BinanceMarket::UsdM, BinanceMarket::Spot] {
        let run = |fast: bool| {
            let (mut m, book) = one_book("BTC/USDT", 2, 3, "0.10", "0.001");
            let mut symbols = SymbolMap::new();
            symbols.insert("BTCUSDT", book);
            let mut d = BinanceDecoder::new(kind, symbols).with_fast_path(fast);
            let o1 = d.on_frame(c.as_bytes(), 1, &mut m);
            let snap = r#"{"lastUpdateId":2098041694435,"bids":[["20472.00","1.000"]],"asks":[["20600.00","2.000"]]}"#;
            let o2 = d.on_snapshot(book, snap.as_bytes(), 2, &mut m);
            let bk = m.book(book).unwrap();
            (
                o1,
                o2,
                bk.bids().top(usize::MAX),
                bk.asks().top(usize::MAX),
                bk.stamp(),
            )
        };
        let fast = run(true);
        assert_eq!(fast, run(false));
        assert!(matches!(fast.0, Ok(Outcome::Buffered { .. })), "{fast:?}");
    }
}

fn decimal() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0u64..10_000_000, 0u32..4).prop_map(|(v, d)| {
            let s = v.to_string();
            if d == 0 { s } else { format!("{}.{:0>w$}", v / 10u64.pow(d), v % 10u64.pow(d), w = d as usize) }
        }),
        1 => "[0-9.eE+\\-]{0,12}",
        1 => "[0-9]{15,25}(\\.[0-9]{0,6})?",
    ]
}

fn side_strategy() -> impl Strategy<Value = String> {
    let level = (decimal(), decimal()).prop_map(|(p, q)| format!(r#"["{p}","{q}"]"#));
    proptest::collection::vec(level, 0..6).prop_map(|v| format!("[{}]", v.join(",")))
}

fn frame_strategy() -> impl Strategy<Value = String> {
    (
        side_strategy(),
        side_strategy(),
        150u64..170,
        0u64..4,
        proptest::option::of(140u64..170),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(b, a, first, n, pu, wrap, swap)| {
            let pu = pu.map(|p| format!(r#","pu":{p}"#)).unwrap_or_default();
            let body = if swap {
                format!(
                    r#""a":{a},"b":{b},"s":"BTCUSDT","u":{},"U":{first}{pu}"#,
                    first + n
                )
            } else {
                format!(
                    r#""s":"BTCUSDT","U":{first},"u":{}{pu},"b":{b},"a":{a}"#,
                    first + n
                )
            };
            let ev = format!(r#"{{"e":"depthUpdate","E":1672515782136,{body}}}"#);
            if wrap {
                combined(&ev)
            } else {
                ev
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random frame sequences (valid and bad numbers, ids in and out of order, both spellings):
    /// the scanner and the serde path agree frame by frame.
    #[test]
    fn random_sequences_agree(frames in proptest::collection::vec(frame_strategy(), 1..12), usdm in any::<bool>()) {
        let kind = if usdm { BinanceMarket::UsdM } else { BinanceMarket::Spot };
        let frames: Vec<Vec<u8>> = frames.into_iter().map(String::into_bytes).collect();
        differential(kind, &frames);
    }
}
