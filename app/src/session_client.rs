//! The server-function client. In the browser it sends the embedded page's
//! session token in `X-Credits-Session` (third-party cookies may be blocked
//! inside the platform's iframe), and calls the handler the page registered
//! (the embed protocol tells the platform) when the server answers that the
//! session has expired. It imports nothing of the page: the embed protocol
//! and the server functions build on it, not the other way round.

/// The header embedded pages send their session in.
pub const SESSION_HEADER: &str = "x-credits-session";

#[cfg(not(feature = "hydrate"))]
/// On the server, server functions run in place; the default client type.
pub type SessionClient = leptos::server_fn::client::browser::BrowserClient;

#[cfg(feature = "hydrate")]
pub use browser::{on_session_ended, session_ended, set_token, token, SessionClient};

/// Whether the server last answered that the session has ended (always
/// false on the server, where the session is checked before rendering).
#[cfg(not(feature = "hydrate"))]
pub fn session_ended() -> bool {
    false
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::future::Future;

    use futures::{Sink, Stream};
    use leptos::server_fn::client::{browser::BrowserClient, Client};
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::request::browser::BrowserRequest;
    use leptos::server_fn::response::browser::BrowserResponse;
    use leptos::server_fn::response::ClientRes;

    thread_local! {
        static TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
        static ENDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        static ON_ENDED: std::cell::Cell<Option<fn()>> = const { std::cell::Cell::new(None) };
    }

    /// What to do when the server answers that the session has ended.
    pub fn on_session_ended(handler: fn()) {
        ON_ENDED.with(|h| h.set(Some(handler)));
    }

    /// Whether the server's last answer said the session has ended.
    pub fn session_ended() -> bool {
        ENDED.with(|e| e.get())
    }

    /// The session token server functions carry from now on.
    pub fn set_token(token: Option<String>) {
        TOKEN.with(|t| *t.borrow_mut() = token);
        ENDED.with(|e| e.set(false));
    }

    /// The embedded page's session token, if it carries one.
    pub fn token() -> Option<String> {
        TOKEN.with(|t| t.borrow().clone())
    }

    /// Adds the session header; reports a `401` to the platform.
    pub struct SessionClient;

    impl<E, IS, OS> Client<E, IS, OS> for SessionClient
    where
        E: FromServerFnError,
        IS: FromServerFnError,
        OS: FromServerFnError,
    {
        type Request = BrowserRequest;
        type Response = BrowserResponse;

        fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
            if let Some(t) = token() {
                req.headers().append(super::SESSION_HEADER, &t);
            }
            let sent = <BrowserClient as Client<E, IS, OS>>::send(req);
            async move {
                let res = sent.await;
                if let Ok(r) = &res {
                    let status = <BrowserResponse as ClientRes<E>>::status(r);
                    ENDED.with(|e| e.set(status == 401));
                    if status == 401 {
                        if let Some(handler) = ON_ENDED.with(|h| h.get()) {
                            handler();
                        }
                    }
                }
                res
            }
        }

        fn open_websocket(
            path: &str,
        ) -> impl Future<
            Output = Result<
                (
                    impl Stream<Item = Result<leptos::server_fn::Bytes, leptos::server_fn::Bytes>>
                        + Send
                        + 'static,
                    impl Sink<leptos::server_fn::Bytes> + Send + 'static,
                ),
                E,
            >,
        > + Send {
            <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
        }

        fn spawn(future: impl Future<Output = ()> + Send + 'static) {
            <BrowserClient as Client<E, IS, OS>>::spawn(future)
        }
    }
}
