//! Experiments between strategies: when a challenger may take the `champion`
//! alias from the strategy holding it (DESIGN section 6).
//!
//! Every enabled strategy decides on every signal and every signal's outcome is
//! known, so two strategies are compared on exactly the same signals, pair by
//! pair, with no traffic split. [`sequential`] holds the test fed with those
//! pairs, summed per block of time; [`sign_flip`] is the fixed-window test of
//! the weekly deploy gate and probation; [`ab`] tabulates the lineup;
//! [`study`] simulates the test against the win-rate rule it replaces, and
//! [`lineup_study`] runs whole lineups over real, clustered outcomes.

pub mod ab;
pub mod lineup_study;
pub mod sequential;
pub mod sign_flip;
pub mod study;
