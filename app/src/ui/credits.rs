//! The Credits tab: credits used in a period, by category.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::shell::LoadError;
use crate::domain::ledger::Category;
use crate::format::{date_range, thousands};
use crate::model::{Metric, Report};
use crate::rpc::get_report;

/// The page's query string as pairs, plus what the view adds.
pub fn query_pairs(extra: &[(&str, &str)]) -> Memo<Vec<(String, String)>> {
    let query = use_query_map();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Memo::new(move |_| {
        let mut pairs: Vec<(String, String)> = query.with(|q| {
            q.into_iter()
                .filter(|(k, _)| !extra.iter().any(|(e, _)| e.as_str() == k.as_ref()))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        });
        pairs.extend(extra.iter().cloned());
        pairs
    })
}

/// `/usage/credits`.
#[component]
pub fn CreditsTab() -> impl IntoView {
    let params = query_pairs(&[("group_by", "category")]);
    let report = Resource::new(move || params.get(), |p| get_report(Metric::Credits, p));
    view! {
        <Title text="Credits — Credits usage"/>
        <section class="tab credits" aria-labelledby="credits-title">
            <h1 id="credits-title">"Credits usage"</h1>
            <Suspense fallback=|| view! { <div class="card skeleton tall" aria-hidden="true"></div> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok((r, notes)) => view! { <CreditsHeadline r notes/> }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string() retry=move |_| report.refetch()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CreditsHeadline(r: Report, notes: Vec<String>) -> impl IntoView {
    let by = |c: Category| {
        r.rows
            .iter()
            .find(|row| row.keys.first().cloned().flatten().as_deref() == Some(c.key()))
            .map_or(0, |row| row.value)
    };
    let cats: Vec<(Category, i64)> = Category::ALL.into_iter().map(|c| (c, by(c))).collect();
    view! {
        {(!notes.is_empty()).then(|| view! { <p class="note" role="status">{notes.join(" · ")}</p> })}
        <div class="card headline">
            <p class="period">{date_range(r.period.from, r.period.to)}</p>
            <p class="big" data-testid="credits-total">{thousands(r.total)}</p>
            <p class="label">"credits used"</p>
            {(r.total == 0).then(|| view! { <p class="empty">"No credits used in this period"</p> })}
            <ul class="categories">
                {cats.into_iter().map(|(c, v)| view! {
                    <li data-category=c.key()><span>{c.label()}</span><strong>{thousands(v)}</strong></li>
                }).collect_view()}
            </ul>
        </div>
    }
}
