//! arbcore: the hot path of a cross-exchange execution engine.
//!
//! Plain Rust (no Python needed to build, test or benchmark): exact decimals ([`fixed`]), one
//! venue's L2 book ([`book`]), instruments and venue rules ([`instrument`]), the multi-venue view
//! ([`consolidated`]) and cross-venue opportunity search ([`detect`]). The PyO3 bindings live in
//! [`python`] behind the `python` feature and only translate; they hold no logic of their own.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod book;
pub mod consolidated;
pub mod detect;
pub mod fixed;
mod incremental;
pub mod instrument;
pub mod opportunity;
pub mod orders;
pub mod synth;
pub mod venues;

#[cfg(feature = "python")]
pub mod python;
