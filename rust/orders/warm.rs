//! The taker's dry run on a real opportunity (`OrderPath.take` with `dry`).
//!
//! Why: the dry runs keep the order path's code in the caches between opportunities, but on a
//! quiet book there is no opportunity, so they ran the detector's "nothing crosses" exit and a
//! made-up ticket: the depth walk over a crossing pair, the pick of a record and the checks on
//! its legs stayed cold until the frame that opens a spread. On the taker's rig, dry runs every
//! 0.1 ms for 10 ms on a book with no spread, then a jump: the real take ran 7.3-11.0 µs p50
//! without this and 3.5-3.8 µs with it (three runs each); `benches/test_order_path_take.py`
//! `test_order_path_take_after_a_jump` keeps the with-it case. So a dry run on a book the
//! taker has nothing to take from walks a copy of it in which one venue's bid has moved over
//! another's ask: the same code as the real take, on data that is never the live book's.

use crate::book::{Delta, Side};
use crate::consolidated::Consolidated;

/// How far above `buy`'s best ask the copy's `sell` bid goes, in 1/10,000 (2%: past any taker
/// fees and minimum edge a configuration would set, so the walk finds a record to take).
const LIFT_BPS: u64 = 200;

/// A copy of `book` in which venue `sell` bids above venue `buy`'s best ask (for that ask's
/// quantity, at a price on `sell`'s tick; its asks under that bid removed), or None when `buy`
/// has no ask or a venue index is not in the book. The copy's detector state is the book's, so
/// its refresh walks the pair.
pub fn crossed_copy(book: &Consolidated, buy: usize, sell: usize) -> Option<Consolidated> {
    let ask = book.book(buy)?.best_ask()?;
    let tick = book.spec(sell)?.tick.max(1);
    let lifted = ask
        .price
        .checked_add((ask.price / 10_000).saturating_mul(LIFT_BPS).max(tick))?;
    let price = lifted.div_ceil(tick).checked_mul(tick)?;
    // one message, as a jump's frame: the new bid, and `sell`'s asks at or under it gone (a
    // venue's own book never crosses; one that did would not be LIVE)
    let mut deltas = vec![Delta {
        side: Side::Bid,
        price,
        qty: ask.qty,
    }];
    let under = book
        .book(sell)?
        .asks()
        .iter()
        .take_while(|l| l.price <= price);
    deltas.extend(under.map(|l| Delta {
        side: Side::Ask,
        price: l.price,
        qty: 0,
    }));
    let mut copy = book.clone();
    copy.apply_deltas(sell, &deltas, None)?;
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Level, Stamp};
    use crate::instrument::{Instrument, VenueSpec, VenueSpecText};

    /// Two venues at 2 price decimals (tick 0.05) with funds on both.
    fn two_venue_book() -> Consolidated {
        let mut c = Consolidated::new(Instrument::new("BTC/USDT", 1, 2, 8).expect("instrument"));
        for name in ["a", "b"] {
            let text = VenueSpecText {
                venue: name,
                symbol: "BTCUSDT",
                tick_size: "0.05",
                lot_size: "0.0001",
                taker_fee: "10bps",
                ..Default::default()
            };
            let spec = VenueSpec::parse(c.instrument(), &text.with_defaults()).expect("spec");
            let v = c.add_venue(spec).expect("venue");
            c.set_base_balance(v, 10 * 100_000_000).expect("base");
            c.set_quote_balance(v, 10u128.pow(20)).expect("quote");
        }
        c
    }

    #[test]
    fn the_copy_crosses_and_the_book_is_unchanged() {
        let mut book = two_venue_book();
        let stamp = Stamp {
            seq: 1,
            venue_ts: 1,
            recv_ts: 1,
        };
        let lv = |p, q| Level { price: p, qty: q };
        let q = 100_000_000;
        book.apply_snapshot(0, &[lv(99_000, q)], &[lv(100_000, 7 * q)], stamp);
        let asks = [lv(101_000, q), lv(102_000, q), lv(110_000, q)];
        book.apply_snapshot(1, &[lv(98_000, q)], &asks, stamp);
        book.refresh();
        assert!(book.opportunities().is_empty());
        let mut copy = crossed_copy(&book, 0, 1).expect("a copy");
        copy.refresh();
        let opps = copy.opportunities();
        assert!(!opps.is_empty(), "the copy has a crossing to walk");
        assert_eq!((opps[0].buy_venue, opps[0].sell_venue), (0, 1));
        let bid = copy.book(1).and_then(|b| b.best_bid()).expect("a bid");
        assert!(bid.price >= 102_000 && bid.price % copy.spec(1).expect("spec").tick == 0);
        assert_eq!(bid.qty, 7 * q);
        let ask = copy.book(1).and_then(|b| b.best_ask()).expect("an ask");
        assert!(ask.price > bid.price, "the venue's own book does not cross");
        book.refresh();
        assert!(
            book.opportunities().is_empty(),
            "the live book is untouched"
        );
        assert_eq!(book.book(1).and_then(|b| b.best_bid()), Some(lv(98_000, q)));
    }

    #[test]
    fn no_ask_or_no_venue_gives_none() {
        let book = two_venue_book();
        assert!(crossed_copy(&book, 0, 1).is_none());
        assert!(crossed_copy(&book, 0, 9).is_none());
    }
}
