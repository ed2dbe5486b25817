//! The built-in signal generator.

pub mod indicators;
