use super::*;
use crate::synth::Rng;
use std::path::Path;

/// Seeds committed under fuzz/seeds/<protocol>/ (real fixtures and documented shapes).
fn seeds(protocol: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(protocol);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        out.push(std::fs::read(e.unwrap().path()).unwrap());
    }
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Regression corpus: inputs the fuzzers found (fuzz/regressions/<protocol>/), if any.
fn regressions(protocol: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(protocol);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    rd.map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

/// A small structure-aware mutator: byte flips, truncation, digit and sign swaps, splices.
fn mutate(rng: &mut Rng, input: &[u8], donor: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        if v.is_empty() {
            break;
        }
        let i = rng.below(v.len() as u64) as usize;
        match rng.below(7) {
            0 => v[i] ^= 1 << rng.below(8),
            1 => v.truncate(i),
            2 => v[i] = b"0123456789"[rng.below(10) as usize],
            3 => v.insert(i, b"-9e.\"{}[],\0"[rng.below(11) as usize]),
            4 => {
                v.remove(i);
            }
            5 => {
                let j = rng.below(donor.len().max(1) as u64) as usize;
                let k = (j + rng.below(64) as usize).min(donor.len());
                v.splice(i..i, donor[j..k].iter().copied());
            }
            _ => v
                .splice(i..i, b"99999999999999999999999".iter().copied())
                .for_each(drop),
        }
    }
    v
}

#[test]
fn seeds_replay_cleanly_for_every_protocol() {
    for p in PROTOCOLS {
        for s in seeds(p) {
            let frames = split_frames(&s);
            let rep = replay_checked(p, &frames).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!(rep.errors, 0, "{p}: a seed frame was refused: {rep:?}");
            assert!(rep.applied >= 1, "{p}: the seed applied nothing: {rep:?}");
        }
    }
}

#[test]
fn mutated_seeds_keep_every_promise() {
    // A short deterministic run in every `cargo test`; the long runs are `cargo fuzz` (README).
    let iterations: u64 = std::env::var("ARBCORE_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for p in PROTOCOLS {
        let corpus = seeds(p);
        let mut rng = Rng::new(0xF022 ^ p.len() as u64);
        for n in 0..iterations {
            let a = &corpus[rng.below(corpus.len() as u64) as usize];
            let b = &corpus[rng.below(corpus.len() as u64) as usize];
            let m = mutate(&mut rng, a, b);
            if let Err(e) = replay_checked(p, &split_frames(&m)) {
                panic!(
                    "{p} mutation {n}: {e}\ninput: {:?}",
                    String::from_utf8_lossy(&m)
                );
            }
        }
    }
}

#[test]
fn fuzzer_findings_stay_fixed() {
    for p in PROTOCOLS {
        for r in regressions(p) {
            replay_checked(p, &split_frames(&r)).unwrap_or_else(|e| panic!("{p} regression: {e}"));
        }
    }
}
