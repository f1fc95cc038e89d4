//! The domain: calendar and ledger arithmetic, pure Rust with no I/O.

pub mod alerts;
pub mod calendar;
pub mod forecast;
pub mod ledger;
pub mod limits;
