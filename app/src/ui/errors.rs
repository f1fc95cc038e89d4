//! What a person reads when a server function fails: one plain sentence
//! that says what happened and what to do. The technical detail goes to
//! the browser's log (and the server's), never to the page.

use leptos::prelude::*;

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
    /// Classifies a server function's error.
    pub fn of(e: &ServerFnError) -> Self {
        if crate::session_client::session_ended() {
            return Self::SessionEnded;
        }
        match e {
            ServerFnError::Request(_) => Self::Unreachable,
            ServerFnError::ServerError(m) if is_session_message(m) => Self::SessionEnded,
            ServerFnError::ServerError(m) if m == "workspace not found" => Self::NotFound,
            _ => Self::Unavailable,
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

fn is_session_message(m: &str) -> bool {
    m.contains("not signed in") || m.contains("session expired")
}

/// The plain sentence for a failed load; the detail goes to the log.
pub fn plain_message(e: &ServerFnError) -> String {
    leptos::logging::warn!("server function failed: {e}");
    Trouble::of(e).message().to_string()
}

/// For a form: the server's own sentence when it is a validation message
/// meant for the person (a full sentence), else the plain sentence.
pub fn form_message(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m)
            if Trouble::of(e) == Trouble::Unavailable && is_sentence(m) =>
        {
            m.clone()
        }
        _ => plain_message(e),
    }
}

/// Validation messages are written as sentences: a capital and a full stop.
fn is_sentence(m: &str) -> bool {
    m.chars().next().is_some_and(char::is_uppercase) && m.ends_with('.')
}

/// A plain error with a retry, for a failed load.
#[component]
pub fn LoadError(error: ServerFnError, #[prop(into)] retry: Callback<()>) -> impl IntoView {
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
            ServerFnError::Deserialization("Invalid format: missing delimiter in x".into()),
            ServerFnError::Request("TypeError: Failed to fetch".into()),
            ServerFnError::ServerError("the database is unavailable".into()),
            ServerFnError::ServerError("not signed in".into()),
            ServerFnError::ServerError("workspace not found".into()),
        ];
        for e in cases {
            let m = plain_message(&e);
            assert!(
                !m.contains("Invalid format") && !m.contains("TypeError"),
                "{m}"
            );
            assert!(!m.contains("server function"), "{m}");
        }
        assert_eq!(
            Trouble::of(&ServerFnError::Request("TypeError".into())),
            Trouble::Unreachable
        );
        assert_eq!(
            Trouble::of(&ServerFnError::ServerError("not signed in".into())),
            Trouble::SessionEnded
        );
    }

    #[test]
    fn forms_keep_their_validation_sentences() {
        let e = ServerFnError::ServerError("Write a few words for your account manager.".into());
        assert_eq!(
            form_message(&e),
            "Write a few words for your account manager."
        );
        let e = ServerFnError::ServerError("the database is unavailable".into());
        assert_eq!(form_message(&e), Trouble::Unavailable.message());
    }
}
