//! A tab body's browser half: the listeners on the document that make the
//! server's HTML work (`ui/body.rs` puts it in place; `ui/markup.rs` names
//! the marks they look for): a sort button reorders its table, a filter
//! select moves to the filtered view, and the CSV link downloads with the
//! session's header inside the frame.

use std::cell::Cell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use leptos::prelude::document;

use super::router::on_this_origin;
use crate::ui::location::use_location;
use crate::ui::markup::Behaviour;

thread_local! {
    static LISTENING: Cell<bool> = const { Cell::new(false) };
}

/// The element an event is for, or its nearest ancestor matching `selector`.
fn target(ev: &web_sys::Event, selector: &str) -> Option<web_sys::Element> {
    let el = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
    el.closest(selector).ok()?
}

/// Adds the bodies' listeners to the document, once for the page.
pub fn listen() {
    if LISTENING.with(|l| l.replace(true)) {
        return;
    }
    let location = use_location();
    let click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(|ev: web_sys::MouseEvent| {
        if let Some(button) = target(&ev, Behaviour::Sort.selector()) {
            super::table::sort_by_header(&button);
        } else if let Some(link) = target(&ev, Behaviour::Export.selector()) {
            export_with_session(&ev, link);
        }
    });
    let change = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
        let Some(select) = target(&ev, Behaviour::Filter.selector())
            .and_then(|s| s.dyn_into::<web_sys::HtmlSelectElement>().ok())
        else {
            return;
        };
        let value = select.value();
        let url = location.url_untracked();
        location.navigate(&url.params().href_with(
            &url.path,
            &[(
                &select.name(),
                (!value.is_empty()).then_some(value.as_str()),
            )],
        ));
    });
    let doc = document();
    let _ = doc.add_event_listener_with_callback("click", click.as_ref().unchecked_ref());
    let _ = doc.add_event_listener_with_callback("change", change.as_ref().unchecked_ref());
    click.forget();
    change.forget();
}

/// Inside the platform's frame the session travels in a header, not a
/// cookie (third-party cookies may be blocked): download the export with
/// `fetch` and the header, then save it. Standalone, the plain link works.
fn export_with_session(ev: &web_sys::MouseEvent, link: web_sys::Element) {
    let Some(token) = crate::session_client::token() else {
        return;
    };
    let Ok(link) = link.dyn_into::<web_sys::HtmlAnchorElement>() else {
        return;
    };
    let href = link.href();
    // The session goes to this origin's exports only: a link elsewhere
    // (whatever put it in the page) is left to the browser, without it.
    let ours = on_this_origin(&href).is_some_and(|target| target.pathname().ends_with(".csv"));
    if !ours {
        return;
    }
    ev.prevent_default();
    leptos::task::spawn_local(async move {
        if let Err(e) = download(&href, &token).await {
            // Not `{e:?}`: the bundle is built without Debug output (`-Zfmt-debug=none`).
            web_sys::console::warn_2(&"export failed:".into(), &e);
        }
    });
}

async fn download(href: &str, token: &str) -> Result<(), JsValue> {
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let headers = web_sys::Headers::new()?;
    headers.append(crate::session_client::SESSION_HEADER, token)?;
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers);
    let res: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(href, &init))
        .await?
        .dyn_into()?;
    if !res.ok() {
        return Err(format!("HTTP {}", res.status()).into());
    }
    let blob: web_sys::Blob = JsFuture::from(res.blob()?).await?.dyn_into()?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let a: web_sys::HtmlAnchorElement = document().create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download("credit-usage.csv");
    a.click();
    web_sys::Url::revoke_object_url(&url)?;
    Ok(())
}
