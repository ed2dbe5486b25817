//! siglearn: the self-learning layer for trading-signal systems.
//!
//! Data flows one way: sources (files, HTTP) → [`engine`] → effects → store,
//! reports and API. The engine and the [`monitor`] inside it are synchronous
//! and deterministic; I/O and the clock stay at the edges ([`input`],
//! [`store`], [`replay`], [`cli`]).

pub mod generate;
pub mod timestamp;
pub mod trade;
