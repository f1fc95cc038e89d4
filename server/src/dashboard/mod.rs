//! The dashboard's server side, in one place: its routes and pages
//! (`routes.rs`), the backend the server functions call (`backend.rs`),
//! the chart tabs' views composed from the store's reports (`tabs.rs`) and
//! the limits as the viewer may see and change them (`limits.rs`).
//!
//! A click in the page travels: the app's router (`app::ui::location`) →
//! a server function (`app::rpc`) → [`backend`] → [`tabs`] or [`limits`]
//! → the store's reports (`store::reports`, one SQL statement each) → a
//! view model → its HTML (`app::ui::server`) → the page.

mod backend;
pub mod limits;
mod routes;
pub mod tabs;

use app::error::DashboardError;

use crate::store::StoreError;

pub use backend::store_backend;
pub use routes::router;

/// What the person reads of a store error: a missing workspace is a `404`,
/// a change that lost a race a `409`, a refused value a `422` with its
/// sentence; anything else is logged and answered as unavailable.
impl From<StoreError> for DashboardError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DashboardError::NotFound,
            // Only the limits' changes can lose a race from the dashboard.
            StoreError::Conflict(_) => DashboardError::refused(
                409,
                "This was changed meanwhile (a request already pending, or decided). Reload to see it.",
            ),
            StoreError::Invalid { message, .. } => DashboardError::refused(422, message),
            StoreError::UnknownReferences(_) => {
                DashboardError::refused(422, "That user or campaign is not in this workspace.")
            }
            other => {
                tracing::error!(cause = %other, "dashboard call failed");
                DashboardError::Unavailable
            }
        }
    }
}
