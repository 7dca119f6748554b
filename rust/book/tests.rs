use super::*;
use proptest::prelude::*;

fn lv(price: u64, qty: u64) -> Level {
    Level { price, qty }
}

#[test]
fn best_bid_and_ask_are_the_extremes() {
    let mut b = Book::new();
    b.apply_snapshot(
        &[lv(100, 1), lv(99, 2), lv(101, 3)],
        &[lv(103, 1), lv(102, 5)],
        Stamp::default(),
    );
    assert_eq!(b.best_bid(), Some(lv(101, 3)));
    assert_eq!(b.best_ask(), Some(lv(102, 5)));
    assert_eq!(b.state(), BookState::Live);
    assert_eq!(b.bids().top(3), vec![lv(101, 3), lv(100, 1), lv(99, 2)]);
    assert_eq!(b.asks().top(5), vec![lv(102, 5), lv(103, 1)]);
}

#[test]
fn delta_reports_old_and_new_top() {
    let mut b = Book::new();
    b.apply_snapshot(&[lv(100, 1)], &[lv(102, 1)], Stamp::default());
    let c = b.apply_delta(
        Side::Bid,
        101,
        4,
        Some(Stamp {
            seq: 7,
            venue_ts: 1,
            recv_ts: 2,
        }),
    );
    assert!(c.top_changed());
    assert_eq!(c.old.bid, Some(lv(100, 1)));
    assert_eq!(c.new.bid, Some(lv(101, 4)));
    assert_eq!(c.new.ask, Some(lv(102, 1)));
    assert_eq!(b.stamp().seq, 7);
    // A change below the top does not move the top.
    let c = b.apply_delta(Side::Ask, 110, 1, None);
    assert!(!c.top_changed());
    assert_eq!(b.stamp().seq, 7);
}

#[test]
fn zero_deletes_and_unknown_delete_is_fine() {
    let mut b = Book::new();
    b.apply_snapshot(&[lv(100, 1), lv(99, 1)], &[lv(102, 1)], Stamp::default());
    b.apply_delta(Side::Bid, 100, 0, None);
    assert_eq!(b.best_bid(), Some(lv(99, 1)));
    let c = b.apply_delta(Side::Bid, 50, 0, None);
    assert!(!c.top_changed());
    assert_eq!(b.bids().len(), 1);
    assert_eq!(b.state(), BookState::Live);
}

#[test]
fn crossed_message_marks_broken_but_intermediate_cross_does_not() {
    let mut b = Book::new();
    b.apply_snapshot(&[lv(100, 1)], &[lv(102, 1)], Stamp::default());
    // One message that moves the ask up and the bid up past the old ask: fine at the end.
    b.apply_deltas(
        &[
            Delta {
                side: Side::Bid,
                price: 103,
                qty: 1,
            },
            Delta {
                side: Side::Ask,
                price: 102,
                qty: 0,
            },
            Delta {
                side: Side::Ask,
                price: 104,
                qty: 1,
            },
        ],
        None,
    );
    assert_eq!(b.state(), BookState::Live);
    b.apply_delta(Side::Bid, 104, 1, None);
    assert_eq!(b.state(), BookState::Broken);
    // Further deltas do not make it LIVE again; only a snapshot does.
    b.apply_delta(Side::Bid, 104, 0, None);
    assert_eq!(b.state(), BookState::Broken);
    b.apply_snapshot(&[lv(100, 1)], &[lv(102, 1)], Stamp::default());
    assert_eq!(b.state(), BookState::Live);
}

#[test]
fn crossed_snapshot_is_broken() {
    let mut b = Book::new();
    b.apply_snapshot(&[lv(102, 1)], &[lv(102, 1)], Stamp::default());
    assert_eq!(b.state(), BookState::Broken);
}

#[test]
fn stale_and_back() {
    let mut b = Book::new();
    b.apply_snapshot(
        &[lv(100, 1)],
        &[lv(102, 1)],
        Stamp {
            seq: 1,
            venue_ts: 0,
            recv_ts: 1_000,
        },
    );
    assert!(!b.check_stale(1_500, 1_000));
    assert!(b.check_stale(2_001, 1_000));
    assert_eq!(b.state(), BookState::Stale);
    b.apply_delta(
        Side::Bid,
        99,
        1,
        Some(Stamp {
            seq: 2,
            venue_ts: 0,
            recv_ts: 3_000,
        }),
    );
    assert_eq!(b.state(), BookState::Live);
    b.clear();
    assert_eq!(b.state(), BookState::Syncing);
    assert!(b.best_bid().is_none());
}

#[test]
fn snapshot_duplicates_last_wins_and_zero_dropped() {
    let mut b = Book::new();
    b.apply_snapshot(
        &[lv(100, 1), lv(100, 5), lv(98, 0)],
        &[lv(105, 2), lv(105, 0)],
        Stamp::default(),
    );
    assert_eq!(b.bids().top(10), vec![lv(100, 5)]);
    assert!(b.asks().is_empty());
}

#[test]
fn depth_queries() {
    let mut b = Book::new();
    b.apply_snapshot(
        &[lv(100, 1), lv(99, 2), lv(98, 3)],
        &[lv(101, 4), lv(102, 5)],
        Stamp::default(),
    );
    assert_eq!(b.bids().qty_through(99), 3);
    assert_eq!(b.bids().qty_through(1), 6);
    assert_eq!(b.bids().qty_through(101), 0);
    assert_eq!(b.asks().qty_through(101), 4);
    assert_eq!(b.asks().qty_through(1000), 9);
    assert_eq!(b.asks().qty_top(1), 4);
    assert_eq!(b.bids().nth(2), Some(lv(98, 3)));
    assert_eq!(b.bids().qty_at(99), 2);
    assert_eq!(b.bids().qty_at(97), 0);
}

fn arb_ops() -> impl Strategy<Value = Vec<(bool, u64, u64)>> {
    // Prices in a narrow band so deltas hit existing levels, deletes and inserts alike.
    proptest::collection::vec(
        (any::<bool>(), 1u64..200, prop_oneof![Just(0u64), 1u64..50]),
        0..400,
    )
}

proptest! {
    #[test]
    fn vec_ladder_equals_btree_model(ops in arb_ops(), snap in proptest::collection::vec((1u64..200, 0u64..50), 0..100)) {
        let mut book = Book::new();
        let mut mb = BTreeLadder::new(Side::Bid);
        let mut ma = BTreeLadder::new(Side::Ask);
        let levels: Vec<Level> = snap.iter().map(|&(p, q)| lv(p, q)).collect();
        book.apply_snapshot(&levels, &levels, Stamp::default());
        for l in &levels { mb.set(l.price, l.qty); ma.set(l.price, l.qty); }
        for (is_bid, p, q) in ops {
            let side = if is_bid { Side::Bid } else { Side::Ask };
            let c = book.apply_delta(side, p, q, None);
            if is_bid { mb.set(p, q) } else { ma.set(p, q) }
            // best equals the extreme level, and the change report matches
            prop_assert_eq!(book.best_bid(), mb.best());
            prop_assert_eq!(book.best_ask(), ma.best());
            prop_assert_eq!(c.new.bid, mb.best());
            prop_assert_eq!(c.new.ask, ma.best());
        }
        prop_assert_eq!(book.bids().top(usize::MAX), mb.levels());
        prop_assert_eq!(book.asks().top(usize::MAX), ma.levels());
        prop_assert_eq!(book.bids().len(), mb.len());
    }

    #[test]
    fn batch_equals_single_deltas(ops in arb_ops(), chunk in 1usize..20) {
        let mut single = Book::new();
        let mut batch = Book::new();
        single.apply_snapshot(&[lv(100, 1)], &[lv(150, 1)], Stamp::default());
        batch.apply_snapshot(&[lv(100, 1)], &[lv(150, 1)], Stamp::default());
        let deltas: Vec<Delta> = ops.iter().map(|&(b, p, q)| Delta {
            side: if b { Side::Bid } else { Side::Ask }, price: p, qty: q }).collect();
        for d in &deltas { single.set_level(d.side, d.price, d.qty); }
        for c in deltas.chunks(chunk) { batch.apply_deltas(c, None); }
        prop_assert_eq!(single.bids().top(usize::MAX), batch.bids().top(usize::MAX));
        prop_assert_eq!(single.asks().top(usize::MAX), batch.asks().top(usize::MAX));
    }

    #[test]
    fn crossed_iff_broken_after_message(ops in arb_ops()) {
        let mut b = Book::new();
        b.apply_snapshot(&[lv(100, 1)], &[lv(101, 1)], Stamp::default());
        for (is_bid, p, q) in ops {
            let was_broken = b.state() == BookState::Broken;
            b.apply_delta(if is_bid { Side::Bid } else { Side::Ask }, p, q, None);
            if b.is_crossed() || was_broken {
                prop_assert_eq!(b.state(), BookState::Broken);
            } else {
                prop_assert_eq!(b.state(), BookState::Live);
            }
        }
    }
}
