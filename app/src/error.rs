//! What can go wrong behind a dashboard call: one type that crosses the
//! server-function boundary whole (as JSON), so the page tells an ended
//! session from a missing workspace from a passing fault by its variant,
//! never by its text.

use serde::{Deserialize, Serialize};

/// Why a dashboard call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum DashboardError {
    /// The session expired or was never opened.
    #[error("not signed in or session expired")]
    SessionEnded,
    /// The workspace is gone.
    #[error("workspace not found")]
    NotFound,
    /// The request was refused (an HTTP 4xx), with the sentence meant for
    /// the person: a validation message, a permission, a rate limit.
    #[error("{message}")]
    Refused { status: u16, message: String },
    /// The server could not answer (its database, say), or its answer was
    /// unreadable; the cause is in a log, never in the page.
    #[error("the server could not answer")]
    Unavailable,
    /// The request or its answer never arrived; the detail is for the
    /// browser's log.
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
}

impl DashboardError {
    /// A refusal with its status and sentence.
    pub fn refused(status: u16, message: impl Into<String>) -> Self {
        Self::Refused {
            status,
            message: message.into(),
        }
    }

    /// A request the server could not read: 413 past the body's size
    /// limit, else 400.
    fn unreadable_request(detail: &str) -> Self {
        if detail.contains("length limit exceeded") {
            Self::refused(413, "This request is too large.")
        } else {
            Self::refused(400, format!("Unreadable request: {detail}"))
        }
    }

    /// The HTTP status the server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            Self::SessionEnded => 401,
            Self::NotFound => 404,
            Self::Refused { status, .. } => *status,
            Self::Unavailable => 503,
            Self::Unreachable(_) => 502,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for DashboardError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(m) | E::MissingArg(m) => Self::unreadable_request(&m),
            // On the server: the request's body could not be read (too
            // big, say) before the function ran.
            E::Deserialization(m) if cfg!(feature = "ssr") => Self::unreadable_request(&m),
            // In the browser: an answer that is not ours (a proxy's error
            // page, say).
            E::Deserialization(m) => {
                leptos::logging::warn!("unreadable answer from the server: {m}");
                Self::Unavailable
            }
            E::Request(m) | E::Response(m) => Self::Unreachable(m),
            other => {
                leptos::logging::warn!("server function failed: {other}");
                Self::Unavailable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

    #[test]
    fn it_crosses_the_boundary_whole() {
        for e in [
            DashboardError::SessionEnded,
            DashboardError::NotFound,
            DashboardError::refused(422, "Type a whole percentage from 1 to 100."),
            DashboardError::Unavailable,
            DashboardError::Unreachable("TypeError: Failed to fetch".into()),
        ] {
            assert_eq!(DashboardError::de(e.ser()), e);
        }
        // Bytes that are not ours: in the browser, an answer the server could
        // not give (a proxy's 500 page); on the server, a request it could
        // not read.
        let odd = DashboardError::de("Invalid format: missing delimiter".into());
        if cfg!(feature = "ssr") {
            assert_eq!(odd.status(), 400, "{odd:?}");
        } else {
            assert_eq!(odd, DashboardError::Unavailable);
        }
        let huge = DashboardError::from_server_fn_error(ServerFnErrorErr::Args(
            "length limit exceeded".into(),
        ));
        assert_eq!(huge.status(), 413);
        assert_eq!(
            DashboardError::from_server_fn_error(ServerFnErrorErr::Request("reset".into())),
            DashboardError::Unreachable("reset".into())
        );
        assert_eq!(DashboardError::refused(429, "Wait.").status(), 429);
    }
}
