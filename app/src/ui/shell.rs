//! The HTML shell, the router and the tabs.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{Redirect, Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

use super::conversations::ConversationsTab;
use super::credits::CreditsTab;
use super::header::Header;
use super::plan::PlanTab;
use crate::rpc::get_overview;

/// What the shell needs besides Leptos's options.
#[derive(Clone, Debug)]
pub struct ShellOptions {
    pub leptos: LeptosOptions,
    /// Whether the WASM bundle exists; without it the page is server-rendered only.
    pub hydrate: bool,
}

/// The whole document.
pub fn shell(options: ShellOptions) -> impl IntoView {
    // ECharts first: a deferred classic script runs before the module that hydrates.
    let hydration = options.hydrate.then(|| {
        view! {
            <script src="/pkg/echarts.min.js" defer></script>
            <HydrationScripts options=options.leptos.clone()/>
        }
    });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="data:,"/>
                <link rel="stylesheet" href="/assets/credits.css"/>
                {hydration}
                <leptos_meta::MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: header, tabs and the routed tab.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let overview = Resource::new(|| (), |_| get_overview());
    provide_context(overview);
    view! {
        <Title text="Credits — View Usage"/>
        <Router>
            <div class="app">
                <Header/>
                <nav class="tabs" aria-label="Usage sections">
                    <A href="/usage/plan">"Plan"</A>
                    <A href="/usage/credits">"Credits"</A>
                    <A href="/usage/conversations">"Conversations"</A>
                </nav>
                <main id="main">
                    <Routes fallback=NotFound>
                        // The server answers `/` and `/usage` with a 302 itself; these
                        // serve client-side navigation only.
                        <Route path=path!("/") view=|| view! { <Redirect path="/usage/plan"/> }/>
                        <Route path=path!("/usage") view=|| view! { <Redirect path="/usage/plan"/> }/>
                        // Async: the first view is complete HTML with real figures,
                        // readable without JavaScript.
                        <Route path=path!("/usage/plan") view=PlanTab ssr=SsrMode::Async/>
                        <Route path=path!("/usage/credits") view=CreditsTab ssr=SsrMode::Async/>
                        <Route path=path!("/usage/conversations") view=ConversationsTab ssr=SsrMode::Async/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
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
        <Title text="Page not found — Credits"/>
        <section class="card not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. The usage dashboard has three tabs:"</p>
            <p><a href="/usage/plan">"Plan"</a>" · "<a href="/usage/credits">"Credits"</a>" · "<a href="/usage/conversations">"Conversations"</a></p>
        </section>
    }
}

/// A plain error with a retry, for a failed call.
#[component]
pub fn LoadError(message: String, #[prop(into)] retry: Callback<()>) -> impl IntoView {
    view! {
        <div class="card error" role="alert">
            <p>"Could not load these figures: " {message}</p>
            <button type="button" on:click=move |_| retry.run(())>"Retry"</button>
        </div>
    }
}
