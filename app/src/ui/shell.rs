//! The HTML shell and the tabs. The same tabs answer at `/usage/…`
//! (standalone) and `/embed/usage/…` (inside the platform's iframe, the
//! only routes that may be framed); `ui/location.rs` moves between them.

use leptos::prelude::*;

use super::header::Header;
use super::location::{provide_location, use_location};
use super::nav::{carried_params, tab_path, Base, Tab, ThemeVersion};
use super::plan::PlanTab;
use super::tabs::{ConversationsTab, CreditsTab};
use crate::rpc::get_overview;

/// What the shell needs besides Leptos's options.
#[derive(Clone, Debug)]
pub struct ShellOptions {
    pub leptos: LeptosOptions,
    /// Whether the WASM bundle exists; without it the page is server-rendered only.
    pub hydrate: bool,
    /// The chart library's address (content-hashed when the build made one).
    pub echarts_src: String,
    /// The stylesheet's address (content-hashed).
    pub stylesheet_href: String,
}

/// The whole document (rendered on the server only).
pub fn shell(options: ShellOptions) -> impl IntoView {
    // ECharts is not in the document: the first chart that is drawn loads
    // it (its address is in the `credits-echarts` meta tag). A deferred
    // script here would hold back the module that hydrates (deferred
    // scripts run in order) and share a slow line with the WASM; loaded
    // after hydration, it leaves the page interactive first.
    let hydration = options
        .hydrate
        .then(|| view! { <HydrationScripts options=options.leptos.clone()/> });
    let page = page_head();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=page.theme>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <title>{page.title}</title>
                <link rel="icon" href="data:,"/>
                <link rel="stylesheet" href=options.stylesheet_href.clone()/>
                <meta name="credits-embed-origins" content=page.origins/>
                <meta name="credits-echarts" content=options.echarts_src.clone()/>
                {page.token.map(|t| view! { <meta name="credits-session" content=t/> })}
                {page.bootstrap.map(|(path, nonce)| view! {
                    // Entered as /embed?token=…: show the dashboard's own address.
                    <script nonce=nonce>{format!("history.replaceState(null, '', {});", crate::security::script_json(&path))}</script>
                })}
                {hydration}
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// What the document head carries for this request's session.
#[derive(Default)]
struct PageHead {
    /// The tab's title; the browser's copy of the app keeps it up to date.
    title: &'static str,
    theme: Option<String>,
    origins: String,
    token: Option<String>,
    bootstrap: Option<(String, String)>,
}

#[cfg(feature = "ssr")]
fn page_head() -> PageHead {
    use crate::rpc::ssr::PageSession;
    let session = use_context::<PageSession>().unwrap_or_default();
    let origins = use_context::<crate::model::ContactLinks>()
        .map(|c| c.platform_origins)
        .unwrap_or_default();
    let nonce = leptos::nonce::use_nonce().map(|n| n.to_string());
    let path = request_path();
    let embed_route = crate::security::is_embed_route(&path);
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        let policy = crate::security::page_policy(nonce.as_deref(), &origins, embed_route);
        if let Ok(v) = http::HeaderValue::from_str(&policy) {
            res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    PageHead {
        title: super::nav::page_title(super::nav::Tab::at(&path)),
        theme: session.theme,
        origins: origins.join(" "),
        token: session.token,
        bootstrap: session.bootstrap_path.zip(nonce),
    }
}

/// The path of the request being rendered.
#[cfg(feature = "ssr")]
fn request_path() -> String {
    use_context::<http::request::Parts>()
        .map(|p| p.uri.path().to_string())
        .unwrap_or_default()
}

#[cfg(not(feature = "ssr"))]
fn page_head() -> PageHead {
    PageHead::default()
}

/// A tab link: current when its tab is shown; it keeps the view's period
/// and filters.
#[component]
fn TabLink(tab: Tab, label: &'static str) -> impl IntoView {
    let path = tab_path(tab);
    let params = super::location::use_params();
    let location = use_location();
    let href = move || carried_params(tab, &params.get()).href(path);
    let current = move || (location.tab() == Some(tab)).then_some("page");
    view! { <a href=href aria-current=current data-tab=label>{label}</a> }
}

/// The app: header, tabs and the routed tab.
#[component]
pub fn App() -> impl IntoView {
    let location = provide_location();
    // Standalone or inside the iframe, for the page's life.
    let base = Base::at(&location.url_untracked().path);
    provide_context(base);
    // Standalone, the person signs out here (the session ends on every
    // process); inside the frame the platform ends sessions itself.
    let standalone = !base.is_embedded();
    let theme = RwSignal::new(0u32);
    provide_context(ThemeVersion(theme));
    #[cfg(feature = "hydrate")]
    crate::embed::start(theme);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| document().set_title(super::nav::page_title(location.tab())));
    let overview = super::data::tab_data(|| (), |_| get_overview());
    provide_context(overview);
    view! {
        <ReportNavigation/>
        <div class="app">
            <Header/>
            <super::alerts::AlertBanner/>
            <super::limits::LimitMeter/>
            <nav class="tabs" aria-label="Usage sections">
                <TabLink tab=Tab::Plan label="Plan"/>
                <TabLink tab=Tab::Credits label="Credits"/>
                <TabLink tab=Tab::Conversations label="Conversations"/>
                {standalone.then(|| view! {
                    <form method="post" action="/auth/logout" class="sign-out">
                        <button type="submit" class="link">"Sign out"</button>
                    </form>
                })}
            </nav>
            // The server answers `/`, `/usage` and `/embed/usage` with a
            // redirect; every tab's first view is complete HTML with real
            // figures (rendered once its data is in), readable without
            // JavaScript. A tab is made anew only when the tab changes: a
            // new period or filter is new data for the same tab.
            <main id="main">
                {move || match location.tab() {
                    Some(Tab::Plan) => view! { <PlanTab/> }.into_any(),
                    Some(Tab::Credits) => view! { <CreditsTab/> }.into_any(),
                    Some(Tab::Conversations) => view! { <ConversationsTab/> }.into_any(),
                    None => view! { <NotFound/> }.into_any(),
                }}
            </main>
        </div>
    }
}

/// Inside the iframe, tells the platform where the dashboard is (deep links).
#[component]
fn ReportNavigation() -> impl IntoView {
    let location = use_location();
    Effect::new(move |_| {
        let path = location.href();
        #[cfg(feature = "hydrate")]
        crate::embed::navigated(path.strip_prefix(Base::Embedded.prefix()).unwrap_or(&path));
        #[cfg(not(feature = "hydrate"))]
        let _ = path;
    });
}

/// The 404 page, with a real 404 status on the server.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <section class="card not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. The usage dashboard has three tabs:"</p>
            <p>
                <a href=tab_path(Tab::Plan)>"Plan"</a>" · "
                <a href=tab_path(Tab::Credits)>"Credits"</a>" · "
                <a href=tab_path(Tab::Conversations)>"Conversations"</a>
            </p>
        </section>
    }
}
