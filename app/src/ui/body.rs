//! A chart tab's body: HTML rendered by the server, for the first view in
//! the page and after each move as a server function's answer, so the
//! browser's bundle carries no code of the tabs' views, their models or
//! their deserializers. In the browser, the body's charts are drawn from
//! the options beside each box, and its few controls work through
//! listeners on the document: a sort button reorders its table, a filter
//! select moves to the filtered view, and the CSV link downloads with the
//! session header inside the frame. Links and GET forms are the router's
//! (`ui/location.rs`).
//!
//! The page's hydration data carries no copy of the first view's body: it
//! is in the document already (see [`BodyCodec`]), and hydrating an
//! `inner_html` leaves the server's nodes in place.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};

use super::errors::LoadError;
use super::location::use_tab_params;
use super::nav::{Base, Tab};
use super::period::query_string;
use crate::error::DashboardError;

/// A body's HTML, or why it could not be loaded.
type Body = Result<String, DashboardError>;

/// The resource's codec: JSON, with the HTML of an answer left out of the
/// page's hydration data (an empty string: the browser keeps the nodes the
/// server rendered, which are that HTML).
pub struct BodyCodec;

impl Encoder<Body> for BodyCodec {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &Body) -> Result<Self::Encoded, Self::Error> {
        serde_json::to_string(&val.as_ref().map(|_| ""))
    }
}

impl Decoder<Body> for BodyCodec {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &Self::Encoded) -> Result<Body, Self::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A tab's body for the page's query: loaded by `fetch` (the tab's server
/// function, which takes the query string and whether the page is the
/// embedded one, for its links), kept while the next one loads.
#[component]
pub fn TabBody<Fut>(tab: Tab, fetch: fn(String, Option<bool>) -> Fut) -> impl IntoView
where
    Fut: std::future::Future<Output = Body> + Send + 'static,
{
    let params = use_tab_params(tab);
    let embedded = use_context::<Base>().is_some_and(|b| b.0 == Base::EMBEDDED.0);
    let body: Resource<Body, BodyCodec> = Resource::new_with_options(
        move || query_string(&params.get()),
        move |query| fetch(query, Some(embedded)),
        false,
    );
    view! {
        <Transition fallback=|| view! { <div class="card skeleton tall" aria-hidden="true"></div> }>
            {move || Suspend::new(async move {
                match body.await {
                    Ok(html) => view! { <BodyNodes html/> }.into_any(),
                    Err(e) => view! { <LoadError error=e retry=move |_| body.refetch()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The body's nodes; in the browser, its charts drawn in the page's theme.
#[component]
fn BodyNodes(html: String) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let location = super::location::use_location();
        let dark = super::chart::use_dark_theme();
        let charts = StoredValue::new_local(super::chart::Charts::default());
        browser::listen();
        Effect::new(move |_| {
            let dark = dark.get();
            if let Some(el) = node.get() {
                charts.with_value(|c| c.draw_all(&el, dark, location));
            }
        });
    }
    view! { <div class="tab-body" node_ref=node inner_html=html></div> }
}

/// Renders a body to HTML under `base` (the links' prefix), in an owner of
/// its own: it reads no signal and waits for nothing.
#[cfg(feature = "ssr")]
pub fn render<V: IntoView + 'static>(base: Base, body: impl FnOnce() -> V) -> String {
    let owner = Owner::new();
    owner.with(|| {
        provide_context(base);
        body().into_view().to_html()
    })
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;

    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use super::super::location::use_location;
    use super::super::period::href_with;
    use leptos::prelude::document;

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
            if let Some(button) = target(&ev, ".tab-body button.sort") {
                super::super::table::sort_by_header(&button);
            } else if let Some(link) = target(&ev, ".tab-body a[data-export]") {
                export_with_session(&ev, link);
            }
        });
        let change = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let Some(select) = target(&ev, ".tab-body select[data-filter]")
                .and_then(|s| s.dyn_into::<web_sys::HtmlSelectElement>().ok())
            else {
                return;
            };
            let value = select.value();
            let url = location.url_untracked();
            location.navigate(&href_with(
                &url.path,
                &url.params(),
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
        let ours = super::super::location::on_this_origin(&href)
            .is_some_and(|target| target.pathname().ends_with(".csv"));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hydration_data_leaves_the_html_out() {
        let ok: Body = Ok("<div>lots of HTML</div>".into());
        let encoded = BodyCodec::encode(&ok).unwrap_or_default();
        assert_eq!(encoded, r#"{"Ok":""}"#);
        assert_eq!(BodyCodec::decode(&encoded).ok(), Some(Ok(String::new())));
        let err: Body = Err(DashboardError::SessionEnded);
        let encoded = BodyCodec::encode(&err).unwrap_or_default();
        assert_eq!(BodyCodec::decode(&encoded).ok(), Some(err));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_body_renders_under_its_base() {
        let html = render(Base::EMBEDDED, || {
            view! { <a href=super::super::nav::tab_path(Tab::Credits)>"Credits"</a> }
        });
        assert!(html.contains(r#"href="/embed/usage/credits""#), "{html}");
    }
}
