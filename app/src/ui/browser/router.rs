//! The router's browser half (`ui/location.rs` is the router): a click on
//! a link to one of the tabs, and the submit of a GET form to one, move
//! with `history.pushState` instead of loading a page; back and forward
//! (`popstate`) move the location too.

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::query::Url;
use crate::ui::nav::Tab;

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
            let _ =
                history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&next.href()));
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
