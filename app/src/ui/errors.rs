//! What a person reads when a server function fails: one plain sentence
//! that says what happened and what to do. The technical detail goes to
//! the browser's log (and the server's), never to the page.

use leptos::prelude::*;

use crate::error::DashboardError;

/// Why a call failed, as far as a person needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// The session expired or was never opened.
    SessionEnded,
    /// The request never reached the server, or its answer never arrived.
    Unreachable,
    /// The workspace is gone.
    NotFound,
    /// The server could not answer (database down, unreadable answer, ...).
    Unavailable,
}

impl Trouble {
    /// What a failed call means for the person.
    pub fn of(e: &DashboardError) -> Self {
        // The session client saw a 401 (the server's own, or its sign-in
        // layer's, whose answer is not a server function's).
        if crate::session_client::session_ended() {
            return Self::SessionEnded;
        }
        match e {
            DashboardError::SessionEnded => Self::SessionEnded,
            DashboardError::NotFound => Self::NotFound,
            DashboardError::Unreachable(_) => Self::Unreachable,
            DashboardError::Refused { .. } | DashboardError::Unavailable => Self::Unavailable,
        }
    }

    /// The sentence a person reads.
    pub fn message(self) -> &'static str {
        match self {
            Self::SessionEnded => {
                "Your session has ended. Open View Usage again from the platform to continue."
            }
            Self::Unreachable => {
                "We could not reach the server. Check your connection, then retry."
            }
            Self::NotFound => {
                "This workspace no longer exists. Open View Usage again from the platform."
            }
            Self::Unavailable => {
                "We could not load these figures just now. Please retry in a moment."
            }
        }
    }
}

/// The plain sentence for a failed load; the detail goes to the log.
pub fn plain_message(e: &DashboardError) -> String {
    leptos::logging::warn!("server function failed: {e}");
    Trouble::of(e).message().to_string()
}

/// For a form: the server's own sentence when it refused the request (a
/// validation message meant for the person), else the plain sentence.
pub fn form_message(e: &DashboardError) -> String {
    match e {
        DashboardError::Refused { message, .. } if !crate::session_client::session_ended() => {
            message.clone()
        }
        _ => plain_message(e),
    }
}

/// A plain error with a retry, for a failed load.
#[component]
pub fn LoadError(error: DashboardError, #[prop(into)] retry: Callback<()>) -> impl IntoView {
    let message = plain_message(&error);
    view! {
        <div class="card error" role="alert" data-testid="load-error">
            <p>{message}</p>
            <button type="button" on:click=move |_| retry.run(())>"Retry"</button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internals_never_reach_the_page() {
        let cases = [
            DashboardError::Unreachable("TypeError: Failed to fetch".into()),
            DashboardError::Unavailable,
            DashboardError::SessionEnded,
            DashboardError::NotFound,
        ];
        for e in cases {
            let m = plain_message(&e);
            assert!(!m.contains("TypeError"), "{m}");
            assert!(!m.contains("server function"), "{m}");
        }
        assert_eq!(
            Trouble::of(&DashboardError::Unreachable("TypeError".into())),
            Trouble::Unreachable
        );
        assert_eq!(
            Trouble::of(&DashboardError::SessionEnded),
            Trouble::SessionEnded
        );
        assert_eq!(Trouble::of(&DashboardError::NotFound), Trouble::NotFound);
    }

    #[test]
    fn forms_keep_their_validation_sentences() {
        let e = DashboardError::refused(422, "Write a few words for your account manager.");
        assert_eq!(
            form_message(&e),
            "Write a few words for your account manager."
        );
        assert_eq!(
            form_message(&DashboardError::Unavailable),
            Trouble::Unavailable.message()
        );
    }
}
