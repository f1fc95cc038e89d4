//! The integration tests, in one binary: one link instead of nine, and one
//! set of helpers (`common`: the test app over the real router, the
//! contract check, a webhook receiver, hand-off tokens, server processes).
//! Run one file's tests with `cargo test -p server --test suite api::`.

#[macro_use]
mod common;

mod alerts;
mod api;
mod faults;
mod fuzz;
mod hardening;
mod limits;
mod processes;
mod signin;
mod support;
