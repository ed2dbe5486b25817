//! siglearn: the self-learning layer for trading-signal systems.
//!
//! Data flows one way: sources (files, HTTP) → [`engine`] → effects → store,
//! reports and API. The engine and the [`monitor`] inside it are synchronous
//! and deterministic; I/O and the clock stay at the edges ([`format`],
//! [`store`], [`replay`]).

pub mod analytics;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod experiment;
pub mod format;
pub mod generate;
pub mod monitor;
pub mod replay;
pub mod restore;
pub mod schedule;
pub mod store;
pub mod strategy;
pub mod synth;
pub mod timestamp;
pub mod trade;
pub mod user_file;
pub mod versions;
