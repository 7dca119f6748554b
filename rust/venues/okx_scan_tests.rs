//! The scanner against the serde path: what it recognises it must read exactly as serde does
//! (same outcome, errors included, same book), and whatever it declines goes to serde.

use super::*;
use crate::book::Level;
use crate::venues::okx::OkxDecoder;
use crate::venues::testutil::{self, byte_mutations, one_book};
use crate::venues::{BookRef, Market, SymbolMap};
use proptest::prelude::*;

const SNAPSHOT: &str = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"],["8477","7","0","2"]],"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}"#;
const UPDATE: &str = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"],["8478.1","2.5","0","1"]],"bids":[["8476.97","300","0","3"]],"ts":"1597026383086","checksum":0,"prevSeqId":123456,"seqId":123457}]}"#;
const BOOKS5: &str = r#"{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"]],"instId":"BTC-USDT","ts":"1597026383085","seqId":7}]}"#;

fn scan(frame: &str) -> Option<(BookHead<'_>, Scratch)> {
    let mut s = Scratch::default();
    s.deltas.push(Delta {
        side: Side::Bid,
        price: 1,
        qty: 1,
    }); // cleared first
    let h = scan_book(
        frame.as_bytes(),
        |i| (i == "BTC-USDT").then_some((2, 8)),
        crate::venues::okx::snapshot_rule,
        &mut s,
    )?;
    Some((h, s))
}

#[test]
fn reads_snapshots_and_updates_in_the_compact_layout() {
    let (h, s) = scan(SNAPSHOT).unwrap();
    assert_eq!(
        (h.channel, h.inst, h.action, h.ts, h.checksum, h.prev, h.seq),
        (
            "books",
            "BTC-USDT",
            Some("snapshot"),
            "1597026383085",
            -855196043,
            Some(-1),
            Some(123456)
        )
    );
    assert_eq!(
        s.asks,
        vec![
            Level {
                price: 847_698,
                qty: 41_500_000_000
            },
            Level {
                price: 847_700,
                qty: 700_000_000
            }
        ]
    );
    assert_eq!(s.bids.len(), 2);
    assert!(s.deltas.is_empty());

    let (h, s) = scan(UPDATE).unwrap();
    assert_eq!(
        (h.prev, h.seq, h.action),
        (Some(123456), Some(123457), Some("update"))
    );
    assert_eq!(
        s.deltas,
        vec![
            Delta {
                side: Side::Ask,
                price: 847_698,
                qty: 0
            },
            Delta {
                side: Side::Ask,
                price: 847_810,
                qty: 250_000_000
            },
            Delta {
                side: Side::Bid,
                price: 847_697,
                qty: 30_000_000_000
            },
        ]
    );
    assert!(s.bids.is_empty() && s.asks.is_empty());
}

#[test]
fn declines_everything_outside_the_compact_book_layout() {
    for bad in [
        BOOKS5.to_string(),                                      // an unknown key (data's instId)
        UPDATE.replace("\"action\":\"update\"", "\"action\":\"partial\""), // the decoder refuses it
        UPDATE.replace("books", "trades"),                       // not a book channel
        UPDATE.replace("BTC-USDT", "ETH-USDT"),                  // unknown symbol
        UPDATE.replace("\"8478.1\"", "\"8478.111\""),            // finer than the scale
        UPDATE.replace("\"8478.1\"", "\"1e3\""),                 // exponent
        UPDATE.replace(",\"checksum\":0", ",\"checksum\":0,\"checksum\":0"), // repeated key
        UPDATE.replace("\"seqId\":123457", "\"seqId\":1.5"),     // not an integer
        UPDATE.replace("{\"asks\"", "{ \"asks\""),               // whitespace
        UPDATE.replace("}]}", "},{\"asks\":[]}]}"),              // two elements
        UPDATE.replace(",\"ts\":\"1597026383086\"", ""),         // no ts
        format!("{UPDATE} "),                                    // trailing bytes
        r#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#.into(),
    ] {
        assert!(scan(&bad).is_none(), "{bad}");
    }
    // the layout without action (a snapshot-only channel) and arg's keys swapped are read
    let five = BOOKS5.replace(",\"instId\":\"BTC-USDT\",\"ts\"", ",\"ts\"");
    assert!(scan(&five).is_some());
    assert!(scan(&UPDATE.replace(
        r#""channel":"books","instId":"BTC-USDT""#,
        r#""instId":"BTC-USDT","channel":"books""#
    ))
    .is_some());
}

/// Two decoders, one with the scanner and one serde-only, fed the same frames: the same
/// outcome (errors included), the same book and state after every frame.
fn differential(frames: &[Vec<u8>]) {
    let make = |fast: bool| -> (OkxDecoder, Market, BookRef) {
        let (m, book) = one_book("BTC/USDT", 2, 8, "0.01", "0.00000001");
        let mut symbols = SymbolMap::new();
        symbols.insert("BTC-USDT", book);
        (OkxDecoder::new(symbols).with_fast_path(fast), m, book)
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
            assert_eq!(
                (a.checksum_ok, a.checksum_failed),
                (b.checksum_ok, b.checksum_failed)
            )
        },
    );
}

#[test]
fn same_outcome_as_serde_on_good_bad_and_mutated_frames() {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for g in [SNAPSHOT, UPDATE, BOOKS5] {
        frames.push(SNAPSHOT.as_bytes().to_vec()); // resync before each group
        frames.push(g.as_bytes().to_vec());
        for (from, to) in [
            ("\"8476.97\"", "\"-1\""),
            ("\"8476.97\"", "\"\""),
            ("\"8476.97\"", "\"99999999999999999999999\""),
            ("\"1597026383086\"", "\"x\""), // ts: the decoder's error
            ("\"checksum\":0", "\"checksum\":9999999999"), // out of i32
            ("\"checksum\":0", "\"checksum\":5"), // wrong: resync
            ("\"prevSeqId\":123456", "\"prevSeqId\":-7"),
            ("\"prevSeqId\":123456", "\"prevSeqId\":1"), // gap
            ("\"action\":\"update\"", "\"action\":\"partial\""),
        ] {
            frames.push(SNAPSHOT.as_bytes().to_vec());
            frames.push(g.replace(from, to).into_bytes());
        }
        for n in 0..g.len() {
            frames.push(g.as_bytes()[..n].to_vec());
        }
        frames.extend(byte_mutations(g, b"\"9-.e]}, \\\xff"));
    }
    differential(&frames);
}

fn decimal() -> impl Strategy<Value = String> {
    (0u64..100_000, 0u32..4).prop_map(|(v, d)| {
        let s = v.to_string();
        if d == 0 || s.len() <= d as usize {
            s
        } else {
            format!(
                "{}.{}",
                &s[..s.len() - d as usize],
                &s[s.len() - d as usize..]
            )
        }
    })
}

fn side_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec((decimal(), decimal()), 0..6).prop_map(|ls| {
        let l: Vec<String> = ls
            .iter()
            .map(|(p, q)| format!(r#"["{p}","{q}","0","1"]"#))
            .collect();
        format!("[{}]", l.join(","))
    })
}

proptest! {
    #[test]
    fn random_sequences_agree(
        steps in proptest::collection::vec((side_strategy(), side_strategy(), 0i64..4, any::<bool>()), 1..12)
    ) {
        let mut frames = vec![SNAPSHOT.as_bytes().to_vec()];
        let mut seq = 123456i64;
        for (asks, bids, jump, snap) in steps {
            let (action, prev) = if snap { ("snapshot", -1) } else { ("update", seq) };
            let next = seq + jump;
            frames.push(format!(
                r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":{asks},"bids":{bids},"ts":"1","checksum":0,"prevSeqId":{prev},"seqId":{next}}}]}}"#
            ).into_bytes());
            seq = next;
        }
        differential(&frames);
    }
}
