//! The Conversations tab: conversations in a period.

use leptos::prelude::*;
use leptos_meta::Title;

use super::credits::query_pairs;
use super::shell::LoadError;
use crate::format::{date_range, thousands};
use crate::model::{Metric, Report};
use crate::rpc::get_report;

/// `/usage/conversations`.
#[component]
pub fn ConversationsTab() -> impl IntoView {
    let params = query_pairs(&[("group_by", "day")]);
    let report = Resource::new(
        move || params.get(),
        |p| get_report(Metric::Conversations, p),
    );
    view! {
        <Title text="Conversations — Credits"/>
        <section class="tab conversations" aria-labelledby="conversations-title">
            <h1 id="conversations-title">"Conversations"</h1>
            <Suspense fallback=|| view! { <div class="card skeleton tall" aria-hidden="true"></div> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok((r, notes)) => view! { <ConversationsHeadline r notes/> }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string() retry=move |_| report.refetch()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ConversationsHeadline(r: Report, notes: Vec<String>) -> impl IntoView {
    let busiest = r
        .rows
        .iter()
        .max_by_key(|row| row.value)
        .filter(|row| row.value > 0)
        .cloned();
    view! {
        {(!notes.is_empty()).then(|| view! { <p class="note" role="status">{notes.join(" · ")}</p> })}
        <div class="card headline">
            <p class="period">{date_range(r.period.from, r.period.to)}</p>
            <p class="big" data-testid="conversations-total">{thousands(r.total)}</p>
            <p class="label">"conversations"</p>
            {match busiest {
                Some(row) => view! {
                    <p class="aside">"Busiest day: " {row.keys.first().cloned().flatten().unwrap_or_default()} " (" {thousands(row.value)} ")"</p>
                }.into_any(),
                None => view! { <p class="empty">"No conversations in this period"</p> }.into_any(),
            }}
        </div>
    }
}
