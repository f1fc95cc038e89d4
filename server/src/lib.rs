#![recursion_limit = "512"]
//! The `credits` server: configuration, the axum app (pages, server
//! functions, the platform API), the store and the demo data.

pub mod api;
pub mod auth;
pub mod bench;
pub mod canonical;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod export;
pub mod handoff;
pub mod http;
pub mod outbox;
pub mod priority;
pub mod security;
pub mod serve;
pub mod signin;
pub mod state;
pub mod store;
pub mod stylesheet;
pub mod telemetry;
pub mod verify;

pub use http::{app, app_with_limits};
pub use state::{AppState, Clock};
