//! The dashboard's own router: where the page is (path and query string),
//! in one signal, and the moves that change it without a reload.
//!
//! `leptos_router` did this before, with nested routes, route matching and
//! transitions that this app has no use for: three tabs, each a path, and
//! the query string as the only state. Replacing it with this module took
//! 46.1 KB (brotli) off the browser's bundle.
//!
//! - On the server the location is the request's URI.
//! - In the browser a click on a link to one of the tabs, and the submit of
//!   a GET form to one, move with `history.pushState` instead of loading a
//!   page; back and forward (`popstate`) move the signal too. Any other
//!   link (the CSV export, sign-out, another site) is left to the browser.

use leptos::prelude::*;

use super::nav::Tab;
use crate::query::{Query, Url};

/// The page's location, shared by the shell and the tabs.
#[derive(Clone, Copy, Debug)]
pub struct Location {
    url: RwSignal<Url>,
    /// The tab at the path, or `None` (the 404 page).
    tab: Memo<Option<Tab>>,
    params: Memo<Query>,
}

impl Location {
    /// Where the page is now, untracked.
    pub fn url_untracked(&self) -> Url {
        self.url.get_untracked()
    }

    /// `path?query` (tracked).
    pub fn href(&self) -> String {
        self.url.with(Url::href)
    }

    /// The tab shown (tracked; changes only when the tab does).
    pub fn tab(&self) -> Option<Tab> {
        self.tab.get()
    }

    /// Moves to `href` (a path under this app, with its query string), as
    /// a click on a link to it would.
    pub fn navigate(&self, href: &str) {
        #[cfg(feature = "hydrate")]
        crate::ui::browser::router::push(self.url, Url::parse(href));
        #[cfg(not(feature = "hydrate"))]
        let _ = href;
    }
}

/// Starts the location at the request's URI (server) or the window's
/// address (browser), and in the browser follows link clicks, GET forms
/// and back and forward.
pub fn provide_location() -> Location {
    let url = RwSignal::new(initial_url());
    let location = Location {
        url,
        tab: Memo::new(move |_| url.with(|u| Tab::at(&u.path))),
        params: Memo::new(move |_| url.with(Url::params)),
    };
    provide_context(location);
    #[cfg(feature = "hydrate")]
    crate::ui::browser::router::follow(url);
    location
}

/// The page's location.
pub fn use_location() -> Location {
    expect_context::<Location>()
}

/// The page's query string as decoded pairs (changes only when they do).
pub fn use_params() -> Memo<Query> {
    use_location().params
}

/// The query string of `tab`'s own view: it follows the page's while
/// `tab` is shown and keeps its last value when the page moves to another
/// tab, so that a tab on its way out does not load its data again for an
/// address that is not its own.
pub fn use_tab_params(tab: Tab) -> Memo<Query> {
    let location = use_location();
    Memo::new(
        move |last: Option<&Query>| match (location.tab() == Some(tab), last) {
            (false, Some(last)) => last.clone(),
            _ => location.params.get(),
        },
    )
}

#[cfg(feature = "ssr")]
fn initial_url() -> Url {
    use_context::<http::request::Parts>()
        .map(|parts| Url {
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
        })
        .unwrap_or_default()
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn initial_url() -> Url {
    crate::ui::browser::router::window_url()
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn initial_url() -> Url {
    Url::default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_url_splits_into_path_and_query() {
        let u = Url::parse("/usage/credits?period=last_week&user=u%201#top");
        assert_eq!(u.path, "/usage/credits");
        assert_eq!(u.query, "period=last_week&user=u%201");
        assert_eq!(u.href(), "/usage/credits?period=last_week&user=u%201");
        assert_eq!(
            u.params().pairs(),
            [
                ("period".to_string(), "last_week".to_string()),
                ("user".to_string(), "u 1".to_string())
            ]
        );
        assert_eq!(Url::parse("/usage/plan").href(), "/usage/plan");
        assert_eq!(Url::parse("/x?a&&b=").params().len(), 2);
    }

    proptest! {
        /// What the links encode (`Query`'s text), the address decodes.
        #[test]
        fn decoding_undoes_the_links_encoding(k in "\\PC{1,12}", v in "\\PC{0,24}") {
            let query = Query::from(vec![(k.clone(), v.clone())]);
            let url = Url { path: "/usage/credits".into(), query: query.to_string() };
            prop_assert_eq!(url.params(), query);
        }
    }
}
