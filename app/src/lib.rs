//! Credits — View Usage: the shared UI (components, routes, server
//! functions) and the domain both the server and the browser use.

#![recursion_limit = "512"]

pub mod charts;
pub mod domain;
pub mod embed;
pub mod error;
pub mod format;
pub mod model;
pub mod query;
pub mod rows;
pub mod rpc;
pub mod security;
pub mod session_client;
pub mod ui;

pub use ui::shell::{shell, App, ShellOptions};
