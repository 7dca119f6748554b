//! Plain-Rust tests of the order path; the byte-for-byte comparisons with the Python clients
//! and journal are in tests/test_order_path.py.

use std::time::{Duration, Instant};

use super::client_id::client_order_id;
use super::encode::{push_json_str, BinanceEncoder, Encoder, OkxEncoder, OrderSpec};
use super::gate::{AssetSpec, Gate, Leg, Limits, MarketSpec, Refusal, Reservation};
use super::record::{detail_json, push_ticket_record, RecordLeg};

const E18: i128 = 1_000_000_000_000_000_000;

fn gate() -> Gate {
    let mut g = Gate::new();
    g.assets = vec![
        AssetSpec {
            name: "BTC".into(),
            decimals: 8,
        },
        AssetSpec {
            name: "USDT".into(),
            decimals: 6,
        },
    ];
    g.venues = vec!["binance_spot".into(), "okx".into()];
    for v in 0..2 {
        g.markets.push(MarketSpec {
            venue: v,
            symbol: if v == 0 {
                "BTCUSDT".into()
            } else {
                "BTC-USDT".into()
            },
            instrument: "BTC/USDT".into(),
            base: 0,
            quote: 1,
            price_decimals: 2,
            qty_decimals: 5,
            tick: 1,
            lot: 1,
            min_qty: 10,
            max_qty: 0,
            min_notional: 5 * 10u128.pow(7), // 5 USDT at 7 decimals
            taker_fee: 100_000,              // 0.1 %
        });
    }
    g.limits = Limits {
        max_order_notional: 100_000 * E18,
        max_ticket_notional: 200_000 * E18,
        max_position: vec![Some(2 * E18), None],
        max_net_position: vec![Some(E18), None],
        max_open_tickets: 4,
        max_book_age_ns: 2_000_000_000,
    };
    for v in 0..2 {
        g.set_available(v, 0, 10 * 100_000_000);
        g.set_available(v, 1, 1_000_000 * 1_000_000);
    }
    g
}

fn legs(qty: u64, buy: u64, sell: u64) -> [Leg; 2] {
    let l = |market, b, price| Leg {
        market,
        buy: b,
        qty,
        price,
        book_live: true,
        book_recv_ns: 1_000,
    };
    [l(0, true, buy), l(1, false, sell)]
}

#[test]
fn passing_ticket_reserves_fee_inclusive_quote_and_exact_base() {
    let g = gate();
    // 0.01 BTC at 50,000.00: 500 USDT + 0.1 % = 500.5 USDT; sell holds 0.01 BTC
    let r = g
        .check(&legs(1000, 5_000_000, 5_010_000), 2_000, Instant::now())
        .unwrap();
    assert_eq!(
        r,
        vec![
            Reservation {
                venue: 0,
                asset: 1,
                amount: 500_500_000
            },
            Reservation {
                venue: 1,
                asset: 0,
                amount: 1_000_000
            },
        ]
    );
}

#[test]
fn buy_reservation_rounds_up_to_the_quote_unit() {
    let g = gate();
    // 0.00011 BTC at 50,000.01: notional 5.5000011 USDT (7 dp) + fee 0.0055000011 -> 5.5055012 -> up to 5.505502
    let r = g
        .check(&legs(11, 5_000_001, 5_000_001), 2_000, Instant::now())
        .unwrap();
    assert_eq!(r[0].amount, 5_505_502);
}

#[test]
fn each_rule_refuses() {
    let g = gate();
    let now = Instant::now();
    assert_eq!(
        g.check(&legs(9, 5_000_000, 5_000_000), 2_000, now),
        Err(Refusal::Rules)
    ); // below min qty
    assert_eq!(
        g.check(&legs(10, 0, 5_000_000), 2_000, now),
        Err(Refusal::Rules)
    ); // no price
    let mut small = gate();
    small.markets[0].min_notional = 10u128.pow(12);
    assert_eq!(
        small.check(&legs(1000, 5_000_000, 5_000_000), 2_000, now),
        Err(Refusal::Rules)
    );
    let mut lots = gate();
    lots.markets[1].lot = 100;
    assert_eq!(
        lots.check(&legs(1050, 5_000_000, 5_000_000), 2_000, now),
        Err(Refusal::Rules)
    );
    let mut ticks = gate();
    ticks.markets[1].tick = 10;
    assert_eq!(
        ticks.check(&legs(1000, 5_000_000, 5_000_001), 2_000, now),
        Err(Refusal::Rules)
    );
}

#[test]
fn books_must_be_live_and_fresh() {
    let g = gate();
    let now = Instant::now();
    let mut l = legs(1000, 5_000_000, 5_000_000);
    l[1].book_live = false;
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Book));
    let l = legs(1000, 5_000_000, 5_000_000);
    assert_eq!(g.check(&l, 1_000 + 2_000_000_001, now), Err(Refusal::Book));
    assert!(g.check(&l, 1_000 + 2_000_000_000, now).is_ok());
    let mut l = legs(1000, 5_000_000, 5_000_000);
    l[0].book_recv_ns = 0; // never received
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Book));
}

#[test]
fn risk_limits_refuse() {
    let now = Instant::now();
    let l = legs(1000, 5_000_000, 5_000_000);
    let mut g = gate();
    g.halted = true;
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Risk));
    let mut g = gate();
    g.open_tickets = 4;
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Risk));
    let mut g = gate();
    g.limits.max_order_notional = 499 * E18;
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Risk));
    let mut g = gate();
    g.limits.max_ticket_notional = 999 * E18;
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Risk));
    g.limits.max_ticket_notional = 1000 * E18; // exactly at the limit passes
    assert!(g.check(&l, 2_000, now).is_ok());
    let mut g = gate();
    g.set_breaker_open_until(1, now + Duration::from_secs(30));
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Risk));
    assert!(g.check(&l, 2_000, now + Duration::from_secs(31)).is_ok());
}

#[test]
fn positions_per_venue_and_net() {
    let now = Instant::now();
    let l = legs(1000, 5_000_000, 5_000_000); // +0.01 BTC on venue 0, -0.01 on venue 1
    let mut g = gate();
    g.set_position(0, 0, 2 * E18 - E18 / 200); // 1.995 BTC: +0.01 -> 2.005 > 2
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Risk));
    // a venue beyond its cap (a hedge took it there): a leg that reduces it passes
    g.set_position(1, 0, -3 * E18);
    g.set_position(0, 0, 0);
    let rebalance = legs(1000, 5_000_000, 5_000_000);
    let buy_back = [Leg {
        market: 1,
        ..rebalance[0]
    }];
    assert!(g.check(&buy_back, 2_000, now).is_ok());
    // net beyond its cap but the ticket does not add to it (buy and sell cancel): allowed
    let mut g = gate();
    g.set_position(1, 0, 3 * E18 / 2);
    g.limits.max_position = vec![None, None];
    assert!(g.check(&l, 2_000, now).is_ok());
    // a one-sided change that grows a net beyond its cap refuses
    let one = [l[0]];
    g.set_position(1, 0, E18);
    assert_eq!(g.check(&one, 2_000, now), Err(Refusal::Risk));
    // and one that shrinks it passes
    let sell = [l[1]];
    assert!(g.check(&sell, 2_000, now).is_ok());
}

#[test]
fn funds_must_cover_the_reservation() {
    let now = Instant::now();
    let l = legs(1000, 5_000_000, 5_000_000);
    let mut g = gate();
    g.set_available(0, 1, 500_499_999);
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Funds));
    g.set_available(0, 1, 500_500_000);
    assert!(g.check(&l, 2_000, now).is_ok());
    g.set_available(1, 0, 999_999);
    assert_eq!(g.check(&l, 2_000, now), Err(Refusal::Funds));
}

#[test]
fn a_lot_finer_than_the_asset_is_left_to_python() {
    let now = Instant::now();
    let mut g = gate();
    g.assets[0].decimals = 4; // BTC at 4 decimals, quantities at 5
    assert_eq!(
        g.check(&legs(1001, 5_000_000, 5_000_000), 2_000, now),
        Err(Refusal::Unsupported)
    );
}

#[test]
fn client_ids_are_uuid5_shaped_and_deterministic() {
    let a = client_order_id(false, "T1-1", "buy", 0);
    assert_eq!(a.len(), 32);
    assert_eq!(&a[12..13], "5"); // version nibble
    assert!(matches!(&a[16..17], "8" | "9" | "a" | "b")); // variant
    assert_eq!(a, client_order_id(false, "T1-1", "buy", 0));
    assert_ne!(a, client_order_id(false, "T1-1", "buy", 1));
    let d = client_order_id(true, "T1-1", "buy", 0);
    assert_eq!(d.replace('-', ""), a);
    assert_eq!(d.len(), 36);
}

#[test]
fn frames_are_json_with_the_fields_in_order() {
    let o = OrderSpec {
        symbol: "BTCUSDT",
        buy: true,
        price: 5_000_010,
        price_decimals: 2,
        qty: 1_500,
        qty_decimals: 5,
        client_order_id: "abc",
    };
    let mut b = Encoder::Binance(BinanceEncoder::new(false, "KEY", b"SECRET", None, "sx").unwrap());
    let mut out = Vec::new();
    assert_eq!(b.place(&o, 1_700_000_000_000, &mut out), "sx1");
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(r#"{"id":"sx1","method":"order.place","params":{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"IOC","price":"50000.1","quantity":"0.015","newClientOrderId":"abc","newOrderRespType":"FULL","timestamp":1700000000000,"apiKey":"KEY","signature":""#));
    assert!(!text.contains("SECRET"));
    assert!(!format!("{b:?}").contains("KEY"));
    let mut k = Encoder::Okx(OkxEncoder::new("cash", "ox"));
    let mut out = Vec::new();
    assert_eq!(k.place(&OrderSpec { buy: false, ..o }, 0, &mut out), "ox1");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"id":"ox1","op":"order","args":[{"instId":"BTCUSDT","tdMode":"cash","side":"sell","ordType":"ioc","sz":"0.015","px":"50000.1","clOrdId":"abc"}]}"#
    );
}

#[test]
fn json_strings_escape_like_orjson() {
    let mut out = Vec::new();
    push_json_str(&mut out, "a\"b\\c\n\u{1}\u{1f}é");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\"a\\\"b\\\\c\\n\\u0001\\u001fé\""
    );
}

proptest::proptest! {
    // serde_json escapes exactly as orjson does (the short escapes, `\u00xx` lowercase, UTF-8
    // as is): any string, escapes anywhere in it, comes out the same.
    #[test]
    fn json_strings_escape_like_serde_json(s in "(\\PC|[\\x00-\\x1f\"\\\\])*") {
        let mut out = Vec::new();
        push_json_str(&mut out, &s);
        proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
    }
}

#[test]
fn the_record_names_both_legs_and_their_reservations() {
    let g = gate();
    let (btc, usdt) = (&g.assets[0], &g.assets[1]);
    let legs = [
        RecordLeg {
            leg_id: "buy",
            venue: "binance_spot",
            market: &g.markets[0],
            base: btc,
            quote: usdt,
            buy: true,
            qty: 1000,
            price: 5_000_000,
            reserve_asset: usdt,
            reserve_amount: 500_500_000,
        },
        RecordLeg {
            leg_id: "sell",
            venue: "okx",
            market: &g.markets[1],
            base: btc,
            quote: usdt,
            buy: false,
            qty: 1000,
            price: 5_010_000,
            reserve_asset: btc,
            reserve_amount: 1_000_000,
        },
    ];
    let mut out = Vec::new();
    let detail = detail_json(1000, 5_000_000, 5_010_000, "spread");
    push_ticket_record(
        &mut out,
        "T1",
        "BTC/USDT",
        "binance_spot",
        "okx",
        &detail,
        &legs,
    );
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0], "T1");
    assert_eq!(
        v[4],
        r#"{"expected_buy_price":"5000000","expected_sell_price":"5010000","qty":"1000","reason":"spread"}"#
    );
    assert_eq!(v[5][0][5][0][3], "500500000");
    assert_eq!(v[6][1][10], "sell");
    assert_eq!(v[6][1][14], "5010000");
}

// ---- the built-in taker's decision -------------------------------------------------------------

use super::taker::{taker_reason, Pick, TakerRule};
use crate::opportunity::Opportunity;

fn opp(net_profit: i64, edge_bps: f64, qty: u64) -> Opportunity {
    Opportunity {
        buy_venue: 0,
        sell_venue: 1,
        qty,
        net_profit,
        edge_bps,
        ..Opportunity::default()
    }
}

#[test]
fn taker_takes_the_first_record_worth_it() {
    let rule = TakerRule {
        min_edge_bps: 2.0,
        cap: None,
        lots: vec![10, 100],
    };
    assert_eq!(rule.pick(&[]), Pick::Nothing);
    let opps = [
        opp(0, 9.0, 5),
        opp(5, 1.99, 5),
        opp(5, 2.0, 700),
        opp(9, 9.0, 5),
    ];
    assert_eq!(
        rule.pick(&opps),
        Pick::Take {
            index: 2,
            qty: 700,
            calls: 3
        }
    );
    assert_eq!(rule.pick(&opps[..2]), Pick::Nothing);
}

#[test]
fn taker_caps_on_the_larger_lot_and_skips_a_zero() {
    let mut rule = TakerRule {
        min_edge_bps: 0.0,
        cap: Some(1_050),
        lots: vec![10, 100],
    };
    // over the cap: 1050 floored to the larger lot (100)
    let take = |qty| rule.pick(&[opp(1, 1.0, qty)]);
    assert_eq!(
        take(5_000),
        Pick::Take {
            index: 0,
            qty: 1_000,
            calls: 1
        }
    );
    // at or under the cap: as found
    assert_eq!(
        take(1_050),
        Pick::Take {
            index: 0,
            qty: 1_050,
            calls: 1
        }
    );
    rule.cap = Some(99); // floors to 0: this record is skipped, the next is looked at
    let opps = [opp(1, 1.0, 5_000), opp(1, 1.0, 50)];
    assert_eq!(
        rule.pick(&opps),
        Pick::Take {
            index: 1,
            qty: 50,
            calls: 2
        }
    );
    rule.lots = vec![0, 0]; // Python's cap % 0 fails the strategy: not decided here
    assert_eq!(rule.pick(&opps), Pick::Python);
    rule.lots = vec![10];
    assert_eq!(rule.pick(&opps), Pick::Python);
}

#[test]
fn taker_leaves_an_edge_that_is_not_finite_to_python() {
    let rule = TakerRule::default();
    assert_eq!(rule.pick(&[opp(1, f64::INFINITY, 1)]), Pick::Python);
    assert_eq!(rule.pick(&[opp(1, f64::NAN, 1)]), Pick::Python);
}

#[test]
fn taker_reason_rounds_like_python() {
    // f"{x:.2f}": the exact binary value, half to even
    for (x, text) in [
        (0.125, "0.12"),
        (0.375, "0.38"),
        (2.675, "2.67"),
        (12.345, "12.35"),
        (-0.125, "-0.12"),
    ] {
        assert_eq!(taker_reason(x), format!("taker: {text} bps net of fees"));
    }
}

#[test]
fn intent_log_framing_is_zlibs_crc_and_the_length() {
    use super::record::{crc32, frame_record, SecretSet};
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926); // the CRC-32 check value
    assert_eq!(crc32(b""), 0);
    let framed = frame_record(b"[\"T1\"]").unwrap_or_default();
    assert_eq!(&framed[..4], &6u32.to_le_bytes());
    assert_eq!(&framed[4..8], &crc32(b"[\"T1\"]").to_le_bytes());
    assert_eq!(&framed[8..], b"[\"T1\"]");
    let secrets = SecretSet::new(&[b"s3cr3t".to_vec(), Vec::new(), b"k3y".to_vec()]);
    assert!(secrets.found_in(b"xx s3cr3t yy"));
    assert!(secrets.found_in(b"k3y"));
    assert!(!secrets.found_in(b"xx s3cr3 yy")); // the empty one matches nothing
    assert!(!SecretSet::default().found_in(b"anything"));
}
