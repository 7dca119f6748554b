//! Fuzz the binance_usdm decoder with frame sequences (frames split at NUL bytes); every promise of
//! `arbcore::venues::harness::replay_checked` must hold for any input.
#![no_main]

use arbcore::venues::harness::{replay_checked, split_frames};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = replay_checked("binance_usdm", &split_frames(data)) {
        panic!("{e}");
    }
});
