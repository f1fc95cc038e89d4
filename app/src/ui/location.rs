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

/// Where the page is: its path (`/usage/credits`) and its query string
/// (`period=last_week&user=u_1`, without the `?`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Url {
    pub path: String,
    pub query: String,
}

impl Url {
    /// Splits `path?query` (a `#fragment` is dropped).
    pub fn parse(href: &str) -> Self {
        let href = href.split('#').next().unwrap_or_default();
        let (path, query) = href.split_once('?').unwrap_or((href, ""));
        Url {
            path: path.to_string(),
            query: query.to_string(),
        }
    }

    /// `path?query`, or the path alone.
    pub fn href(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The query string's pairs, decoded, in their order.
    pub fn params(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect()
    }
}

/// Encodes one query-string component (RFC 3986's unreserved characters
/// and `:` stay as they are): the repository's one URL encoder, for the
/// browser's links and the server's redirects alike.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b':' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The pairs as a query string (`a=1&b=2`).
pub fn query_string(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` a byte; a `%` not followed by two hex digits stays as it
/// is, and bytes that are not UTF-8 become U+FFFD (as browsers do).
pub fn decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The page's location, shared by the shell and the tabs.
#[derive(Clone, Copy, Debug)]
pub struct Location {
    url: RwSignal<Url>,
    /// The tab at the path, or `None` (the 404 page).
    tab: Memo<Option<Tab>>,
    params: Memo<Vec<(String, String)>>,
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
        browser::push(self.url, Url::parse(href));
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
    browser::follow(url);
    location
}

/// The page's location.
pub fn use_location() -> Location {
    expect_context::<Location>()
}

/// The page's query string as decoded pairs (changes only when they do).
pub fn use_params() -> Memo<Vec<(String, String)>> {
    use_location().params
}

/// The query string of `tab`'s own view: it follows the page's while
/// `tab` is shown and keeps its last value when the page moves to another
/// tab, so that a tab on its way out does not load its data again for an
/// address that is not its own.
pub fn use_tab_params(tab: Tab) -> Memo<Vec<(String, String)>> {
    let location = use_location();
    Memo::new(move |last: Option<&Vec<(String, String)>>| {
        match (location.tab() == Some(tab), last) {
            (false, Some(last)) => last.clone(),
            _ => location.params.get(),
        }
    })
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
    browser::window_url()
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn initial_url() -> Url {
    Url::default()
}

#[cfg(feature = "hydrate")]
pub use browser::on_this_origin;

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::ev;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    use super::{Tab, Url};

    /// A `Url` of the browser's `pathname` and `search` (`?a=1`).
    fn url_of(pathname: String, search: &str) -> Url {
        Url {
            path: pathname,
            query: search.trim_start_matches('?').to_string(),
        }
    }

    /// The window's address.
    pub fn window_url() -> Url {
        let l = window().location();
        url_of(
            l.pathname().unwrap_or_default(),
            &l.search().unwrap_or_default(),
        )
    }

    /// Pushes `next` on the history (unless the page is already there),
    /// moves the location and scrolls to the top, as a page load would.
    pub fn push(url: RwSignal<Url>, next: Url) {
        if url.with_untracked(|u| *u != next) {
            if let Ok(history) = window().history() {
                let _ = history.push_state_with_url(
                    &wasm_bindgen::JsValue::NULL,
                    "",
                    Some(&next.href()),
                );
            }
            url.set(next);
        }
        window().scroll_to_with_x_and_y(0.0, 0.0);
    }

    /// `href` as a URL, when it leads to this page's own origin.
    pub fn on_this_origin(href: &str) -> Option<web_sys::Url> {
        let target = web_sys::Url::new(href).ok()?;
        let here = window().location().origin().ok()?;
        (target.origin() == here).then_some(target)
    }

    /// Where `href` leads, when it is one of this app's pages on this
    /// origin and a move in place can show it; `None` leaves it to the
    /// browser.
    fn in_app(href: &str) -> Option<Url> {
        let target = on_this_origin(href)?;
        (target.hash().is_empty() && Tab::at(&target.pathname()).is_some())
            .then(|| url_of(target.pathname(), &target.search()))
    }

    /// A plain left click on a link to one of the tabs.
    fn on_click(url: RwSignal<Url>, ev: ev::MouseEvent) {
        if ev.default_prevented()
            || ev.button() != 0
            || ev.meta_key()
            || ev.alt_key()
            || ev.ctrl_key()
            || ev.shift_key()
        {
            return;
        }
        let Some(a) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("a[href]").ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        else {
            return;
        };
        let external = a
            .get_attribute("rel")
            .is_some_and(|r| r.split_ascii_whitespace().any(|p| p == "external"));
        if !a.target().is_empty() || a.has_attribute("download") || external {
            return;
        }
        if let Some(next) = in_app(&a.href()) {
            ev.prevent_default();
            push(url, next);
        }
    }

    /// The submit of a GET form to one of the tabs: its fields become the
    /// query string (without unnamed fields, which would leave `&=`).
    fn on_submit(url: RwSignal<Url>, ev: ev::SubmitEvent) {
        if ev.default_prevented() {
            return;
        }
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        // Only a form that asks for GET by name: the server functions'
        // forms post, and stop the browser's own submit themselves.
        if !form
            .get_attribute("method")
            .is_some_and(|m| m.eq_ignore_ascii_case("get"))
        {
            return;
        }
        // The attribute, not `form.action`: a field named `action` (the
        // action filter's hidden input) shadows that property, and the
        // form then fell through to a whole-page load.
        let Some(action) = form
            .get_attribute("action")
            .zip(window().location().href().ok())
            .and_then(|(action, here)| web_sys::Url::new_with_base(&action, &here).ok())
            .and_then(|target| in_app(&target.href()))
        else {
            return;
        };
        let Some(query) = web_sys::FormData::new_with_form(&form)
            .ok()
            .and_then(|data| web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok())
        else {
            return;
        };
        query.delete("");
        ev.prevent_default();
        push(
            url,
            Url {
                path: action.path,
                query: query.to_string().into(),
            },
        );
    }

    /// Follows clicks, GET forms, and back and forward, for the page's life.
    pub fn follow(url: RwSignal<Url>) {
        // The page's one router lives as long as the page: the listeners
        // are never removed (dropping a handle leaves its listener).
        _ = window_event_listener(ev::click, move |e| on_click(url, e));
        _ = window_event_listener(ev::submit, move |e| on_submit(url, e));
        _ = window_event_listener(ev::popstate, move |_| url.set(window_url()));
    }
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
            u.params(),
            vec![
                ("period".to_string(), "last_week".to_string()),
                ("user".to_string(), "u 1".to_string())
            ]
        );
        assert_eq!(Url::parse("/usage/plan").href(), "/usage/plan");
        assert_eq!(Url::parse("/x?a&&b=").params().len(), 2);
    }

    #[test]
    fn decoding_forgives_what_a_hostile_address_holds() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%C3%A9"), "é");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }

    proptest! {
        /// What the links encode (`period::query_string`), this decodes.
        #[test]
        fn decoding_undoes_the_links_encoding(k in "\\PC{0,12}", v in "\\PC{0,24}") {
            let pair = vec![(k.clone(), v.clone())];
            let url = Url { path: "/usage/credits".into(), query: query_string(&pair) };
            prop_assert_eq!(url.params(), pair);
        }
    }
}
