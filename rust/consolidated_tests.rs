use super::*;
use crate::instrument::VenueSpecText;

fn inst() -> Instrument {
    Instrument::new("BTC/USDT", 3, 2, 8).unwrap()
}

fn venue(c: &mut Consolidated, name: &str, fee: &str) -> usize {
    let spec = VenueSpec::parse(
        c.instrument(),
        &VenueSpecText {
            venue: name,
            symbol: "BTCUSDT",
            tick_size: "0.01",
            lot_size: "0.0001",
            min_qty: "0.0001",
            min_notional: "5",
            taker_fee: fee,
            maker_fee: "0",
        },
    )
    .unwrap();
    c.add_venue(spec).unwrap()
}

fn lv(c: &Consolidated, price: &str, qty: &str) -> Level {
    Level {
        price: c.instrument().parse_price(price).unwrap(),
        qty: c.instrument().parse_qty(qty).unwrap(),
    }
}

fn setup() -> Consolidated {
    let mut c = Consolidated::new(inst());
    for (n, f) in [("a", "10bps"), ("b", "5bps"), ("c", "0.001")] {
        let v = venue(&mut c, n, f);
        c.set_base_balance(v, 10 * 100_000_000).unwrap();
        c.set_quote_balance(v, 1_000_000 * 10u128.pow(10)).unwrap();
    }
    c
}

#[test]
fn opportunity_found_only_between_live_books_and_refreshed_incrementally() {
    let mut c = setup();
    let s = |seq| Stamp {
        seq,
        venue_ts: 10 * seq as i64,
        recv_ts: 11 * seq as i64,
    };
    let (b0, a0) = (vec![lv(&c, "59990", "1")], vec![lv(&c, "60000", "1")]);
    c.apply_snapshot(0, &b0, &a0, s(1)).unwrap();
    c.apply_snapshot(1, &b0, &a0, s(2)).unwrap();
    let (b2, a2) = (vec![lv(&c, "60200", "0.5")], vec![lv(&c, "60210", "1")]);
    c.apply_snapshot(2, &b2, &a2, s(3)).unwrap();
    assert_eq!(c.refresh(), 6);
    let opps = c.opportunities();
    assert_eq!(opps.len(), 2, "{opps:?}");
    // best first: buy on b (5 bps) beats buy on a (10 bps)
    assert_eq!((opps[0].buy_venue, opps[0].sell_venue), (1, 2));
    assert_eq!(opps[0].qty, 50_000_000);
    assert_eq!(
        (opps[0].buy_seq, opps[0].sell_seq, opps[0].sell_recv_ts),
        (2, 3, 33)
    );
    assert_eq!(opps[0].instrument, 3);
    assert!(opps[0].net_profit > 0 && opps[0].net_profit < opps[0].gross_profit);
    // nothing changed: nothing re-evaluated
    assert_eq!(c.refresh(), 0);
    // a change below the top of a venue in a crossing pair re-evaluates: the fill walks the depth
    c.apply_delta(0, Side::Bid, lv(&c, "59000", "1").price, 100, None)
        .unwrap();
    assert_eq!(c.refresh(), 4);
    // a top change on venue 0 re-evaluates only its 4 pairs
    c.apply_delta(
        0,
        Side::Ask,
        lv(&c, "60000", "2").price,
        lv(&c, "0", "2").qty + 200_000_000,
        None,
    )
    .unwrap();
    assert_eq!(c.refresh(), 4);
    // venue 2 broken: out of detection at once
    c.set_state(2, BookState::Broken).unwrap();
    c.refresh();
    assert!(c.opportunities().is_empty());
    c.set_state(2, BookState::Live).unwrap();
    c.refresh();
    assert_eq!(c.opportunities().len(), 2);
    // stale removes it too
    assert_eq!(c.check_stale(1_000, 100), 0b111);
    c.refresh();
    assert!(c.opportunities().is_empty());
}

#[test]
fn change_below_top_without_crossing_pairs_skips_detection() {
    let mut c = setup();
    let (b, a) = (
        vec![lv(&c, "59990", "1"), lv(&c, "59980", "1")],
        vec![lv(&c, "60000", "1")],
    );
    for v in 0..3 {
        c.apply_snapshot(v, &b, &a, Stamp::default()).unwrap();
    }
    assert_eq!(c.refresh(), 6);
    c.apply_delta(1, Side::Bid, lv(&c, "59980", "1").price, 5, None)
        .unwrap();
    assert_eq!(c.refresh(), 0);
}

#[test]
fn change_below_top_updates_a_crossing_pair() {
    let mut c = setup();
    let st = Stamp::default();
    let asks = vec![lv(&c, "100.00", "1"), lv(&c, "100.01", "1")];
    c.apply_snapshot(0, &[lv(&c, "99.00", "1")], &asks, st)
        .unwrap();
    c.apply_snapshot(
        1,
        &[lv(&c, "101.00", "1"), lv(&c, "100.90", "1")],
        &[lv(&c, "102", "1")],
        st,
    )
    .unwrap();
    c.refresh();
    assert_eq!(c.opportunities()[0].qty, 200_000_000);
    // the second bid level shrinks: the cached fill must shrink with it
    c.apply_delta(1, Side::Bid, lv(&c, "100.90", "1").price, 10_000_000, None)
        .unwrap();
    c.refresh();
    assert_eq!(c.opportunities()[0].qty, 110_000_000);
}

#[test]
fn consolidated_best_raw_and_net() {
    let mut c = setup();
    let st = Stamp::default();
    let b = |c: &Consolidated, p| vec![lv(c, p, "1")];
    c.apply_snapshot(0, &b(&c, "100.00"), &b(&c, "101.00"), st);
    c.apply_snapshot(1, &b(&c, "100.04"), &b(&c, "101.02"), st);
    c.apply_snapshot(2, &b(&c, "100.05"), &b(&c, "100.99"), st);
    assert_eq!(c.best_bid().unwrap().0, 2);
    assert_eq!(c.best_ask().unwrap().0, 2);
    // net of fee: b (5 bps) 100.04 * 0.9995 = 99.98998 > c (10 bps) 100.05 * 0.999 = 99.94995
    let (v, _, net) = c.best_bid_net().unwrap();
    assert_eq!((v, net), (1, 9998));
    let (v, _, net) = c.best_ask_net().unwrap();
    // a: 101 * 1.001 = 101.101; b: 101.02 * 1.0005 = 101.07051; c: 100.99 * 1.001 = 101.09099
    assert_eq!((v, net), (1, 10108));
    let d = c.merged_depth(Side::Bid, 2);
    assert_eq!(
        d.iter().map(|l| l.price).collect::<Vec<_>>(),
        vec![10005, 10004]
    );
    c.apply_snapshot(1, &b(&c, "100.05"), &b(&c, "101.02"), st);
    let d = c.merged_depth(Side::Bid, 1);
    assert_eq!(
        d,
        vec![Level {
            price: 10005,
            qty: 200_000_000
        }]
    );
    c.set_state(1, BookState::Broken);
    assert_eq!(c.merged_depth(Side::Bid, 1)[0].qty, 100_000_000);
}

#[test]
fn venue_limits_and_duplicates() {
    let mut c = setup();
    let spec = c.spec(0).unwrap().clone();
    assert_eq!(c.add_venue(spec.clone()).unwrap_err().field, "venue");
    for i in 3..MAX_VENUES {
        let mut s = spec.clone();
        s.venue = format!("v{i}");
        c.add_venue(s).unwrap();
    }
    let mut s = spec;
    s.venue = "one-too-many".into();
    assert!(c.add_venue(s).is_err());
}

#[test]
fn validate_columns_reports_first_bad_entry() {
    assert_eq!(validate_columns(&[0, 1], &[1, 2], &[1, 2]), Ok(()));
    assert_eq!(
        validate_columns(&[0, 2], &[1, 2], &[1, 2]),
        Err((1, "side must be 0 (bid) or 1 (ask)"))
    );
    assert!(validate_columns(&[0], &[1, 2], &[1, 2]).is_err());
}

// ---- incremental refresh == searching every pair again ----

use proptest::prelude::*;

/// One step of a random session on four venues around 100.00 (raw 10_000, ticks of 0.01).
#[derive(Debug, Clone)]
enum Op {
    Delta(usize, bool, u64, u64),
    Deltas(usize, Vec<(bool, u64, u64)>),
    Columns(usize, Vec<(bool, u64, u64)>),
    Snapshot(usize, u64, u64),
    State(usize, u8),
    Clear(usize),
    Truncate(usize, usize),
    Quote(usize, u128),
    Base(usize, u128),
    MaxNotional(u128),
    MinEdge(u64),
    Stale(i64),
    Refresh,
}

fn arb_op() -> impl Strategy<Value = Op> {
    let v = 0usize..4;
    // prices within 40 ticks of 100.00: tops cross after fees often, and uncross
    let px = 9_960u64..10_040;
    let qty = prop_oneof![1 => Just(0u64), 4 => 1u64..5].prop_map(|q| q * 1_000_000);
    let delta = (any::<bool>(), px.clone(), qty.clone());
    prop_oneof![
        6 => (v.clone(), any::<bool>(), px.clone(), qty).prop_map(|(v, s, p, q)| Op::Delta(v, s, p, q)),
        4 => (v.clone(), proptest::collection::vec(delta.clone(), 0..6)).prop_map(|(v, d)| Op::Deltas(v, d)),
        4 => (v.clone(), proptest::collection::vec(delta, 0..6)).prop_map(|(v, d)| Op::Columns(v, d)),
        1 => (v.clone(), px.clone(), 1u64..8).prop_map(|(v, p, n)| Op::Snapshot(v, p, n)),
        1 => (v.clone(), 0u8..4).prop_map(|(v, s)| Op::State(v, s)),
        1 => v.clone().prop_map(Op::Clear),
        1 => (v.clone(), 1usize..4).prop_map(|(v, d)| Op::Truncate(v, d)),
        1 => (v.clone(), 0u128..3_000).prop_map(|(v, q)| Op::Quote(v, q * 10u128.pow(10))),
        1 => (v, 0u128..5).prop_map(|(v, b)| Op::Base(v, b * 10_000_000)),
        1 => prop_oneof![Just(u128::MAX), (1u128..2_000).prop_map(|n| n * 10u128.pow(10))].prop_map(Op::MaxNotional),
        1 => (0u64..30_000).prop_map(Op::MinEdge),
        1 => (0i64..3).prop_map(Op::Stale),
        5 => Just(Op::Refresh),
    ]
}

fn side_of(bid: bool) -> Side {
    if bid {
        Side::Bid
    } else {
        Side::Ask
    }
}

fn run(c: &mut Consolidated, op: &Op, seq: u64) {
    let stamp = Stamp {
        seq,
        venue_ts: seq as i64 * 7,
        recv_ts: seq as i64 * 11,
    };
    match op {
        Op::Delta(v, s, p, q) => {
            c.apply_delta(*v, side_of(*s), *p, *q, Some(stamp));
        }
        Op::Deltas(v, d) => {
            let d: Vec<Delta> = d
                .iter()
                .map(|&(s, price, qty)| Delta {
                    side: side_of(s),
                    price,
                    qty,
                })
                .collect();
            c.apply_deltas(*v, &d, Some(stamp));
        }
        Op::Columns(v, d) => {
            let sides: Vec<u8> = d.iter().map(|x| u8::from(!x.0)).collect();
            let prices: Vec<u64> = d.iter().map(|x| x.1).collect();
            let qtys: Vec<u64> = d.iter().map(|x| x.2).collect();
            c.apply_columns(*v, &sides, &prices, &qtys, Some(stamp));
        }
        Op::Snapshot(v, mid, n) => {
            let lv = |p: u64| Level {
                price: p,
                qty: 2_000_000,
            };
            let bids: Vec<Level> = (1..=*n).map(|i| lv(mid - i)).collect();
            let asks: Vec<Level> = (1..=*n).map(|i| lv(mid + i)).collect();
            c.apply_snapshot(*v, &bids, &asks, stamp);
        }
        Op::State(v, s) => {
            let st = [
                BookState::Live,
                BookState::Stale,
                BookState::Broken,
                BookState::Syncing,
            ][usize::from(*s)];
            c.set_state(*v, st);
        }
        Op::Clear(v) => {
            c.clear(*v);
        }
        Op::Truncate(v, d) => {
            c.truncate(*v, *d);
        }
        Op::Quote(v, q) => {
            c.set_quote_balance(*v, *q);
        }
        Op::Base(v, b) => {
            c.set_base_balance(*v, *b);
        }
        Op::MaxNotional(n) => c.set_max_notional(*n),
        Op::MinEdge(e) => c.set_min_edge(*e),
        Op::Stale(now) => {
            c.check_stale(*now * 1_000, 5_000);
        }
        Op::Refresh => {
            c.refresh();
        }
    }
}

fn four_venues() -> Consolidated {
    let mut c = Consolidated::new(inst());
    for (n, f) in [("a", "10bps"), ("b", "5bps"), ("c", "0.001"), ("d", "2bps")] {
        let v = venue(&mut c, n, f);
        c.set_base_balance(v, 10 * 100_000_000).unwrap();
        c.set_quote_balance(v, 1_000_000 * 10u128.pow(10)).unwrap();
        let mid = 10_000 + 8 * v as u64;
        let bids: Vec<Level> = (1..=20)
            .map(|i| Level {
                price: mid - i,
                qty: 3_000_000,
            })
            .collect();
        let asks: Vec<Level> = (1..=20)
            .map(|i| Level {
                price: mid + i,
                qty: 3_000_000,
            })
            .collect();
        c.apply_snapshot(v, &bids, &asks, Stamp::default()).unwrap();
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// After every refresh the incremental result (pairs settled by cached tops or by the
    /// search horizon, records re-stamped) equals searching every pair again.
    #[test]
    fn incremental_refresh_equals_full_search(ops in proptest::collection::vec(arb_op(), 1..80)) {
        let mut c = four_venues();
        c.refresh();
        for (i, op) in ops.iter().enumerate() {
            run(&mut c, op, i as u64 + 2);
            if matches!(op, Op::Refresh) || i % 3 == 0 {
                c.refresh();
                let mut full = c.clone();
                full.detect_all();
                prop_assert_eq!(c.opportunities(), full.opportunities(), "after step {}: {:?}", i, op);
            }
        }
    }
}

#[test]
fn depth_change_beyond_what_the_search_read_is_not_searched_again() {
    let mut c = setup();
    let st = Stamp::default();
    // a crossing pair: the search reads venue 0's asks up to 101.00 and venue 1's bids down
    // to 99.00 (the first levels where buying stops paying after both fees)
    let asks: Vec<Level> = ["100.00", "100.01", "101.00", "101.50"]
        .iter()
        .map(|p| lv(&c, p, "1"))
        .collect();
    c.apply_snapshot(0, &[lv(&c, "99.00", "1")], &asks, st)
        .unwrap();
    c.apply_snapshot(
        1,
        &[
            lv(&c, "101.00", "1"),
            lv(&c, "100.90", "1"),
            lv(&c, "99.00", "1"),
        ],
        &[lv(&c, "102", "1")],
        st,
    )
    .unwrap();
    c.refresh();
    let walked = c.stats().pairs_walked;
    let before = c.opportunities();
    assert_eq!(before.len(), 1);
    // deep on both relevant sides, and anywhere on the irrelevant sides: settled without a search
    let far = Stamp {
        seq: 9,
        venue_ts: 90,
        recv_ts: 91,
    };
    c.apply_delta(0, Side::Ask, lv(&c, "101.50", "1").price, 7, Some(far))
        .unwrap();
    c.apply_delta(1, Side::Bid, lv(&c, "98.99", "1").price, 5, None)
        .unwrap();
    c.apply_delta(0, Side::Bid, lv(&c, "99.50", "1").price, 5, None)
        .unwrap();
    c.refresh();
    assert_eq!(c.stats().pairs_walked, walked, "no search");
    assert_eq!(c.stats().pairs_kept, 1);
    let after = c.opportunities();
    assert_eq!(after[0].qty, before[0].qty);
    assert_eq!(
        (after[0].buy_seq, after[0].buy_recv_ts),
        (9, 91),
        "re-stamped"
    );
    // within what it read: searched again
    c.apply_delta(0, Side::Ask, lv(&c, "100.01", "1").price, 0, None)
        .unwrap();
    c.refresh();
    assert_eq!(c.stats().pairs_walked, walked + 1);
}

#[test]
fn a_venue_added_later_keeps_the_pairs_found_before_it() {
    let mut c = Consolidated::new(inst());
    for (n, f) in [("a", "10bps"), ("b", "5bps")] {
        let v = venue(&mut c, n, f);
        c.set_base_balance(v, 10 * 100_000_000).unwrap();
        c.set_quote_balance(v, 1_000_000 * 10u128.pow(10)).unwrap();
    }
    let s = |seq| Stamp {
        seq,
        venue_ts: seq as i64,
        recv_ts: seq as i64,
    };
    let (b0, a0) = (vec![lv(&c, "59990", "1")], vec![lv(&c, "60000", "1")]);
    c.apply_snapshot(0, &b0, &a0, s(1)).unwrap();
    let (b1, a1) = (vec![lv(&c, "60200", "0.5")], vec![lv(&c, "60210", "1")]);
    c.apply_snapshot(1, &b1, &a1, s(2)).unwrap();
    c.refresh();
    let before = c.opportunities();
    assert_eq!(before.len(), 1, "{before:?}");
    // a third venue: the pair tables are laid out again with room for it
    let v = venue(&mut c, "c", "0.001");
    c.set_quote_balance(v, 1_000_000 * 10u128.pow(10)).unwrap();
    c.set_base_balance(v, 10 * 100_000_000).unwrap();
    let after = c.opportunities();
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].buy_venue, after[0].sell_venue, after[0].qty),
        (before[0].buy_venue, before[0].sell_venue, before[0].qty)
    );
    // its pairs are searched like the others': it bids over both asks
    let (b2, a2) = (vec![lv(&c, "60400", "0.5")], vec![lv(&c, "60410", "1")]);
    c.apply_snapshot(2, &b2, &a2, s(3)).unwrap();
    c.refresh();
    let pairs: Vec<(u16, u16)> = c
        .opportunities()
        .iter()
        .map(|o| (o.buy_venue, o.sell_venue))
        .collect();
    assert_eq!(pairs.len(), 3, "{pairs:?}");
    assert!(pairs.contains(&(0, 2)) && pairs.contains(&(1, 2)) && pairs.contains(&(0, 1)));
}
