use super::*;
use crate::book::{Level, Side};
use proptest::prelude::*;

fn spec(tick: u64, lot: u64, min_qty: u64, min_notional: u128, taker_fee: i64) -> VenueSpec {
    VenueSpec {
        venue: "v".into(),
        symbol: "S".into(),
        tick,
        lot,
        min_qty,
        min_notional,
        taker_fee,
        maker_fee: 0,
    }
}

fn ladder(side: Side, levels: &[(u64, u64)]) -> Ladder {
    let mut l = Ladder::new(side);
    let lv: Vec<Level> = levels
        .iter()
        .map(|&(price, qty)| Level { price, qty })
        .collect();
    l.load(&lv);
    l
}

/// Independent reference: levels given best-first as plain pairs, every lattice quantity tried.
fn brute_force(
    asks: &[(u64, u64)],
    bids: &[(u64, u64)],
    buy: &VenueSpec,
    sell: &VenueSpec,
    lim: &PairLimits,
) -> Option<(u64, i128)> {
    fn cost(levels: &[(u64, u64)], mut q: u64) -> Option<u128> {
        let mut c = 0u128;
        for &(p, l) in levels {
            let t = q.min(l);
            c += p as u128 * t as u128;
            q -= t;
        }
        if q == 0 {
            Some(c)
        } else {
            None
        }
    }
    let lot = lot_lattice(buy.lot, sell.lot)?;
    let depth = asks
        .iter()
        .map(|l| l.1)
        .sum::<u64>()
        .min(bids.iter().map(|l| l.1).sum::<u64>());
    let f = FEE_SCALE as i128;
    let mut best: Option<(u64, i128)> = None;
    let mut q = lot;
    while q <= depth {
        let c = cost(asks, q)?;
        let p = cost(bids, q)?;
        let net =
            p as i128 * (f - sell.taker_fee as i128) - c as i128 * (f + buy.taker_fee as i128);
        let ok = q >= buy.min_qty
            && q >= sell.min_qty
            && c >= buy.min_notional
            && p >= sell.min_notional
            && (q as u128) <= lim.base_balance
            && c <= lim.max_notional
            && (c as i128) * (f + buy.taker_fee as i128)
                <= i128::try_from(lim.quote_balance)
                    .unwrap_or(i128::MAX)
                    .saturating_mul(f)
            && net > 0
            && net >= lim.min_edge as i128 * c as i128;
        if ok && best.map_or(true, |(_, b)| net > b) {
            best = Some((q, net));
        }
        q += lot;
    }
    best
}

#[test]
fn simple_cross_with_fees() {
    // A asks 100 x 5, 101 x 5; B bids 103 x 3, 102 x 10. Fees 10 bps each.
    let asks = ladder(Side::Ask, &[(100, 5), (101, 5)]);
    let bids = ladder(Side::Bid, &[(103, 3), (102, 10)]);
    let a = spec(1, 1, 0, 0, 100_000);
    let b = spec(1, 1, 0, 0, 100_000);
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &b,
        limits: PairLimits::UNLIMITED,
    };
    let f = best_fill(&inp).unwrap();
    // every unit up to 10 pays (worst pair 101 vs 102 still beats 0.2% fees)
    assert_eq!(f.qty, 10);
    assert_eq!(f.cost, 5 * 100 + 5 * 101);
    assert_eq!(f.proceeds, 3 * 103 + 7 * 102);
    assert_eq!((f.buy_limit, f.sell_limit), (101, 102));
    assert_eq!(f.gross_profit(), 1023 - 1005);
    let expect_net = 1023i128 * (100_000_000 - 100_000) - 1005i128 * (100_000_000 + 100_000);
    assert_eq!(f.net_e, expect_net);
    assert_eq!(f.net_profit(), expect_net.div_euclid(100_000_000));
}

#[test]
fn no_cross_no_opportunity() {
    let asks = ladder(Side::Ask, &[(100, 5)]);
    let bids = ladder(Side::Bid, &[(100, 5)]);
    let a = spec(1, 1, 0, 0, 0);
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &a,
        limits: PairLimits::UNLIMITED,
    };
    assert!(best_fill(&inp).is_none());
    // A 1-tick cross eaten by fees.
    let bids = ladder(Side::Bid, &[(101, 5)]);
    let fee = spec(1, 1, 0, 0, 1_000_000); // 1%
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &fee,
        sell: &fee,
        limits: PairLimits::UNLIMITED,
    };
    assert!(best_fill(&inp).is_none());
}

#[test]
fn limits_round_toward_safety() {
    let asks = ladder(Side::Ask, &[(1005, 10)]);
    let bids = ladder(Side::Bid, &[(1095, 10)]);
    let a = spec(10, 1, 0, 0, 0);
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &a,
        limits: PairLimits::UNLIMITED,
    };
    let f = best_fill(&inp).unwrap();
    assert_eq!((f.buy_limit, f.sell_limit), (1000, 1100));
}

#[test]
fn balances_and_caps_bind() {
    let asks = ladder(Side::Ask, &[(100, 50)]);
    let bids = ladder(Side::Bid, &[(110, 50)]);
    let a = spec(1, 1, 0, 0, 0);
    let mut lim = PairLimits::UNLIMITED;
    lim.quote_balance = 1_050; // 10 units at 100 + change
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &a,
        limits: lim,
    };
    assert_eq!(best_fill(&inp).unwrap().qty, 10);
    lim.base_balance = 7;
    let inp = PairInput { limits: lim, ..inp };
    assert_eq!(best_fill(&inp).unwrap().qty, 7);
    lim.max_notional = 300;
    let inp = PairInput { limits: lim, ..inp };
    assert_eq!(best_fill(&inp).unwrap().qty, 3);
    lim.quote_balance = 0;
    let inp = PairInput { limits: lim, ..inp };
    assert!(best_fill(&inp).is_none());
}

#[test]
fn lots_min_qty_and_min_notional() {
    let asks = ladder(Side::Ask, &[(100, 7)]);
    let bids = ladder(Side::Bid, &[(110, 7)]);
    let a = spec(1, 2, 0, 0, 0);
    let b = spec(1, 3, 0, 0, 0);
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &b,
        limits: PairLimits::UNLIMITED,
    };
    assert_eq!(best_fill(&inp).unwrap().qty, 6); // lcm(2,3)
    let b = spec(1, 1, 8, 0, 0); // min qty above depth
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &b,
        limits: PairLimits::UNLIMITED,
    };
    assert!(best_fill(&inp).is_none());
    let a = spec(1, 1, 0, 800, 0); // min notional 800 > 7 * 100
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &a,
        limits: PairLimits::UNLIMITED,
    };
    assert!(best_fill(&inp).is_none());
}

#[test]
fn min_edge_filters() {
    let asks = ladder(Side::Ask, &[(10_000, 5), (10_010, 5)]);
    let bids = ladder(Side::Bid, &[(10_020, 10)]);
    let a = spec(1, 1, 0, 0, 0);
    let mut lim = PairLimits::UNLIMITED;
    lim.min_edge = 15 * 10_000; // 15 bps
    let inp = PairInput {
        asks: &asks,
        bids: &bids,
        buy: &a,
        sell: &a,
        limits: lim,
    };
    // 20 bps on the first 5 units; adding units at 10_010 drags the average below 15 bps
    let f = best_fill(&inp).unwrap();
    assert_eq!(f.qty, 9); // 140 on 90_040 = 15.5 bps; a 10th unit gives 14.99
    assert!(f.edge_bps() >= 15.0);
    lim.min_edge = 25 * 10_000;
    let inp = PairInput { limits: lim, ..inp };
    assert!(best_fill(&inp).is_none());
}

fn arb_side(base: u64, up: bool) -> impl Strategy<Value = Vec<(u64, u64)>> {
    proptest::collection::btree_map(0u64..40, 1u64..30, 1..8).prop_map(move |m| {
        m.into_iter()
            .map(|(off, q)| {
                (
                    if up {
                        base + off
                    } else {
                        base.saturating_sub(off).max(1)
                    },
                    q,
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect::<Vec<_>>()
    })
}

fn arb_spec() -> impl Strategy<Value = VenueSpec> {
    (
        1u64..4,
        1u64..5,
        0u64..6,
        prop_oneof![Just(0u128), 0u128..3000],
        0i64..300_000,
    )
        .prop_map(|(tick, lot, min_qty, min_notional, fee)| {
            spec(tick, lot, min_qty, min_notional, fee)
        })
}

fn arb_limits() -> impl Strategy<Value = PairLimits> {
    (
        prop_oneof![Just(u128::MAX), 0u128..20_000],
        prop_oneof![Just(u128::MAX), 0u128..60],
        prop_oneof![Just(u128::MAX), 0u128..20_000],
        prop_oneof![Just(0u64), 0u64..3_000_000],
    )
        .prop_map(
            |(quote_balance, base_balance, max_notional, min_edge)| PairLimits {
                quote_balance,
                base_balance,
                max_notional,
                min_edge,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
    #[test]
    fn fast_search_equals_brute_force(
        asks in arb_side(95, true),
        bids in arb_side(110, false),
        buy in arb_spec(),
        sell in arb_spec(),
        limits in arb_limits(),
    ) {
        let la = ladder(Side::Ask, &asks);
        let lb = ladder(Side::Bid, &bids);
        // reference walks the same levels best-first
        let asks_bf: Vec<(u64, u64)> = la.iter().map(|l| (l.price, l.qty)).collect();
        let bids_bf: Vec<(u64, u64)> = lb.iter().map(|l| (l.price, l.qty)).collect();
        let inp = PairInput { asks: &la, bids: &lb, buy: &buy, sell: &sell, limits };
        let fast = best_fill(&inp).map(|f| (f.qty, f.net_e));
        let slow = brute_force(&asks_bf, &bids_bf, &buy, &sell, &limits);
        prop_assert_eq!(fast, slow);
    }
}

// ---- the narrow walk (plain arithmetic) against the general walk (checked 128-bit) ----

/// Prices and quantities from small to near the 64-bit limit, so that walks start narrow and
/// hand over to the general loop anywhere, or never enter the narrow loop.
fn arb_wide_side(up: bool) -> impl Strategy<Value = Vec<(u64, u64)>> {
    let price = prop_oneof![
        6 => 9_000u64..11_000,
        1 => (1u64 << 39)..(1u64 << 41),
        1 => (1u64 << 62)..u64::MAX,
    ];
    let qty =
        prop_oneof![6 => 1u64..5_000, 1 => (1u64 << 49)..(1u64 << 51), 1 => (1u64 << 62)..u64::MAX];
    proptest::collection::btree_map(price, qty, 1..12).prop_map(move |m| {
        let mut v: Vec<(u64, u64)> = m.into_iter().collect();
        if !up {
            v.reverse();
        }
        v
    })
}

fn arb_wide_limits() -> impl Strategy<Value = PairLimits> {
    let big = prop_oneof![
        Just(u128::MAX),
        0u128..50_000_000,
        (1u128 << 90)..(1u128 << 126)
    ];
    (
        big.clone(),
        big.clone(),
        big,
        prop_oneof![Just(0u64), 1u64..3_000_000, Just(u64::MAX)],
    )
        .prop_map(
            |(quote_balance, base_balance, max_notional, min_edge)| PairLimits {
                quote_balance,
                base_balance,
                max_notional,
                min_edge,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn narrow_walk_equals_general_walk(
        asks in arb_wide_side(true),
        bids in arb_wide_side(false),
        fa in prop_oneof![0i64..300_000, Just(FEE_SCALE - 1), Just(-FEE_SCALE), Just(i64::MAX / 2)],
        fb in prop_oneof![0i64..300_000, Just(FEE_SCALE - 1), Just(-FEE_SCALE)],
        limits in arb_wide_limits(),
    ) {
        let la = ladder(Side::Ask, &asks);
        let lb = ladder(Side::Bid, &bids);
        let (buy, sell) = (spec(1, 1, 0, 0, fa), spec(1, 1, 0, 0, fb));
        let inp = PairInput { asks: &la, bids: &lb, buy: &buy, sell: &sell, limits };
        let fast = continuous_optimum(&Search::new(&inp));
        let reference = continuous_optimum_general(&Search::new(&inp));
        prop_assert_eq!(fast, reference);
    }
}
