//! The dashboard's screens.
//!
//! - Components both sides run (rendered on the server, hydrated in the
//!   browser): the shell, header, navigation, the Plan tab, alerts, the
//!   limits' slots, the chart tabs' frames (`tabs.rs`, `body.rs`) and the
//!   app's own router (`location.rs`).
//! - [`server`]: HTML only the server renders (the chart tabs' bodies,
//!   the limits), compiled with `ssr` only.
//! - [`browser`]: the listeners and drawing that run in the browser only,
//!   compiled with `hydrate` only.
//! - [`markup`]: the contract between the two: the marks the server's
//!   HTML carries and the listeners look for.

pub mod alerts;
pub mod body;
#[cfg(feature = "hydrate")]
pub mod browser;
pub mod data;
pub mod errors;
pub mod form;
pub mod header;
pub mod limits;
pub mod location;
pub mod markup;
pub mod nav;
pub mod plan;
#[cfg(feature = "ssr")]
pub mod server;
pub mod shell;
pub mod tabs;
