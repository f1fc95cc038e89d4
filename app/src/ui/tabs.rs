//! The chart tabs as the page holds them: a heading and the body the
//! server renders for the page's query (`ui/body.rs` loads it through the
//! tab's server function; `ui/server/` renders it).

use leptos::prelude::*;

use super::body::TabBody;
use super::nav::Tab;
use crate::rpc::{get_conversations_view, get_credits_view};

/// `/usage/credits`: who and what consumed credits in a period.
#[component]
pub fn CreditsTab() -> impl IntoView {
    view! {
        <section class="tab credits" aria-labelledby="credits-title">
            <h1 id="credits-title">"Credits usage"</h1>
            <TabBody tab=Tab::Credits fetch=get_credits_view/>
        </section>
    }
}

/// `/usage/conversations`: conversations per day, campaign and identity.
#[component]
pub fn ConversationsTab() -> impl IntoView {
    view! {
        <section class="tab conversations" aria-labelledby="conversations-title">
            <h1 id="conversations-title">"Conversations"</h1>
            <TabBody tab=Tab::Conversations fetch=get_conversations_view/>
        </section>
    }
}
