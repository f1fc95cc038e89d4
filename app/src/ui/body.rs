//! A chart tab's body: HTML rendered by the server (`ui/server/`), for the
//! first view in the page and after each move as a server function's
//! answer, so the browser's bundle carries no code of the tabs' views,
//! their models or their deserializers. In the browser (`ui/browser/`),
//! the body's charts are drawn from the options beside each box, and its
//! few controls work through listeners on the document, which find them
//! by the marks of `ui/markup.rs`. Links and GET forms are the router's
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
/// embedded one, for its links: see [`Base`]), kept while the next one loads.
#[component]
pub fn TabBody<Fut>(tab: Tab, fetch: fn(String, Option<bool>) -> Fut) -> impl IntoView
where
    Fut: std::future::Future<Output = Body> + Send + 'static,
{
    let params = use_tab_params(tab);
    let embedded = use_context::<Base>().is_some_and(Base::is_embedded);
    let body: Resource<Body, BodyCodec> = Resource::new_with_options(
        move || params.get().to_string(),
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
        use super::browser::{body, charts};
        let location = super::location::use_location();
        let dark = charts::use_dark_theme();
        let charts = StoredValue::new_local(charts::Charts::default());
        body::listen();
        Effect::new(move |_| {
            let dark = dark.get();
            if let Some(el) = node.get() {
                charts.with_value(|c| c.draw_all(&el, dark, location));
            }
        });
    }
    view! { <div class=super::markup::TAB_BODY node_ref=node inner_html=html></div> }
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
}
