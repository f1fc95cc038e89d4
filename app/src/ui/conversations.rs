//! The Conversations tab: a daily line, pies by campaign and by identity
//! (top 8 and "Other"), and credits spent per conversation. The server
//! renders its body (the browser's copy of the tab fetches it as HTML and
//! draws the charts: `ui/body.rs`).

use leptos::prelude::*;

use super::body::TabBody;
use super::nav::Tab;
use crate::error::DashboardError;

#[cfg(feature = "ssr")]
pub use html::body_html;

/// `/usage/conversations`.
#[component]
pub fn ConversationsTab() -> impl IntoView {
    view! {
        <section class="tab conversations" aria-labelledby="conversations-title">
            <h1 id="conversations-title">"Conversations"</h1>
            <TabBody tab=Tab::Conversations fetch=get_conversations_view/>
        </section>
    }
}

/// The tab's body, as HTML, for the page's query string; its links lead
/// under `/embed` when `embedded` (the page in the platform's frame).
#[server(prefix = "/rpc", endpoint = "conversations-view", client = crate::session_client::SessionClient)]
pub async fn get_conversations_view(
    query: String,
    embedded: Option<bool>,
) -> Result<String, DashboardError> {
    use crate::rpc::ssr;
    let (source, ws) = ssr::context()?;
    let params = ssr::pairs(&query)?;
    let view = source
        .0
        .conversations_view(&ws, &params)
        .await
        .map_err(ssr::fail)?;
    Ok(body_html(view, params, ssr::base(embedded)))
}

#[cfg(feature = "ssr")]
mod html {
    use leptos::prelude::*;

    use super::super::chart::{Drill, EChart};
    use super::super::filters::FilterBar;
    use super::super::nav::{tab_path, Base, Tab};
    use super::super::period::{change_text, href_with, PeriodPicker};
    use super::super::table::{SortableTable, TableRow};
    use crate::charts::{
        credits_per_conversation, daily_points, member_color, top_with_other, PIE_SLICES,
    };
    use crate::format::{date_range, thousands};
    use crate::model::{ConversationsView, Named, Report};

    /// The tab's body as HTML, for its view and query, under `base`.
    pub fn body_html(v: ConversationsView, params: Vec<(String, String)>, base: Base) -> String {
        super::super::body::render(base, move || view! { <ConversationsBody v params/> })
    }

    /// The daily line's figures as a table, in date order (the chart is a
    /// picture; the table is the truth). Folded, as a period can have 366 days.
    #[component]
    fn DailyTable(days: Vec<String>, values: Vec<i64>) -> impl IntoView {
        let rows = days
            .into_iter()
            .zip(values)
            .map(|(day, n)| {
                let label = day
                    .parse::<chrono::NaiveDate>()
                    .map(crate::format::long_date)
                    .unwrap_or_else(|_| day.clone());
                let key = day.clone();
                view! {
                    <tr data-key=key data-value=n>
                        <th scope="row"><time datetime=day>{label}</time></th>
                        <td class="num">{thousands(n)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <details class="day-table">
                <summary>"Conversations per day, as a table"</summary>
                <div class="table-wrap">
                    <table id="table-daily" class="data">
                        <caption class="visually-hidden">"Conversations per day"</caption>
                        <thead><tr><th scope="col">"Day"</th><th scope="col">"Conversations"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </details>
        }
    }

    /// Table rows of a conversations report with the credits per conversation.
    fn cost_rows(
        conversations: &Report,
        credits: &Report,
        names: &[Named],
        href: &dyn Fn(&str) -> String,
    ) -> Vec<TableRow> {
        let total = conversations.total;
        conversations
            .rows
            .iter()
            .filter_map(|r| {
                let key = r.keys.first().cloned().flatten()?;
                let spent = credits
                    .rows
                    .iter()
                    .find(|c| c.keys.first().cloned().flatten().as_deref() == Some(&key))
                    .map_or(0, |c| c.value);
                let named = names.iter().find(|n| n.id == key);
                Some(TableRow {
                    label: named.map_or_else(
                        || r.label.clone().unwrap_or_else(|| key.clone()),
                        |n| n.name.clone(),
                    ),
                    extra: named.and_then(|n| n.status.clone()),
                    value: r.value,
                    share: if total > 0 {
                        r.value as f64 / total as f64
                    } else {
                        0.0
                    },
                    href: Some(href(&key)),
                    color: Some(member_color(names, Some(&key))),
                    limit: None,
                    cost: Some(credits_per_conversation(spent, r.value)),
                    key,
                })
            })
            .collect()
    }

    #[component]
    fn ConversationsBody(v: ConversationsView, params: Vec<(String, String)>) -> impl IntoView {
        let path = tab_path(Tab::Conversations);
        let (days, values) = daily_points(&v.by_day);
        let campaign_slices = top_with_other(&v.by_campaign.rows, PIE_SLICES);
        let identity_slices = top_with_other(&v.by_identity.rows, PIE_SLICES);

        let slice_drill = |slices: &[crate::charts::Slice], param: &'static str| Drill {
            param,
            by_series: false,
            names: slices
                .iter()
                .filter(|s| !s.other)
                .filter_map(|s| Some((s.label.clone(), s.key.clone()?)))
                .collect(),
        };
        let campaign_drill = slice_drill(&campaign_slices, "campaign");
        let identity_drill = slice_drill(&identity_slices, "identity");

        let p = params.clone();
        let campaign_rows = cost_rows(
            &v.by_campaign,
            &v.credits_by_campaign,
            &v.directory.campaigns,
            &|k| href_with(path, &p, &[("campaign", Some(k))]),
        );
        let identity_rows = cost_rows(
            &v.by_identity,
            &v.credits_by_identity,
            &v.directory.identities,
            &|k| href_with(path, &p, &[("identity", Some(k))]),
        );
        let describe = |title: &str, slices: &[crate::charts::Slice]| {
            format!(
                "{title}: {}",
                slices
                    .iter()
                    .map(|s| format!("{} {}", s.label, s.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let line_describe = format!(
            "Conversations per day, {}: total {}",
            date_range(v.period.from, v.period.to),
            v.total
        );
        let f = v.query.filters.clone();
        let active_filters: Vec<(&'static str, String)> = [
            (
                "campaign",
                f.campaign_id.clone().map(|id| {
                    v.directory
                        .campaigns
                        .iter()
                        .find(|c| c.id == id)
                        .map_or(id, |c| c.name.clone())
                }),
            ),
            (
                "identity",
                f.identity_id.clone().map(|id| {
                    v.directory
                        .identities
                        .iter()
                        .find(|c| c.id == id)
                        .map_or(id, |c| c.name.clone())
                }),
            ),
            (
                "user",
                f.user_id.clone().map(|id| {
                    v.directory
                        .users
                        .iter()
                        .find(|c| c.id == id)
                        .map_or(id, |c| c.name.clone())
                }),
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let chips = active_filters
            .into_iter()
            .map(|(k, name)| {
                let href = href_with(path, &params, &[(k, None)]);
                view! { <a href=href class="chip" data-filter=k>{format!("{k}: {name}")}<span class="visually-hidden">" (remove filter)"</span><span aria-hidden="true">" ✕"</span></a> }
            })
            .collect_view();
        view! {
            {(!v.notes.is_empty()).then(|| view! { <p class="note" role="status" data-testid="notes">{v.notes.join(" · ")}</p> })}
            <PeriodPicker path=path params=params.clone() period=v.period.clone()/>
            <FilterBar path=path params=params.clone() filters=v.query.filters.clone() directory=v.directory.clone() with_action=false/>
            <div class="chips" role="group" aria-label="Active filters">{chips}</div>
            <div class="card headline">
                <p class="big" data-testid="conversations-total" data-total=v.total>{thousands(v.total)}</p>
                <p class="label">"conversations · " <span data-testid="change">{change_text(v.total, v.previous_total, v.period.range().days())}</span></p>
                {(v.total == 0).then(|| view! { <p class="empty">"No conversations in this period"</p> })}
            </div>
            <div class="card">
                <h2>"Daily conversations"</h2>
                <EChart id="chart-daily" options=v.daily_chart.clone() describe=line_describe drill=None/>
                <DailyTable days=days.clone() values=values.clone()/>
            </div>
            <div class="pies">
                <div class="card">
                    <h2>"Conversations usage by campaigns"</h2>
                    <EChart id="chart-campaigns" options=v.campaigns_chart.clone() describe=describe("Conversations by campaign", &campaign_slices) drill=Some(campaign_drill)/>
                    <SortableTable id="table-campaigns" caption="Conversations by campaign" key_header="Campaign" extra_header=Some("Status")
                        value_header="Conversations" rows=campaign_rows cost_header="Credits / conversation"/>
                </div>
                <div class="card">
                    <h2>"Conversations usage by identities"</h2>
                    <EChart id="chart-identities" options=v.identities_chart.clone() describe=describe("Conversations by identity", &identity_slices) drill=Some(identity_drill)/>
                    <SortableTable id="table-identities" caption="Conversations by identity" key_header="Identity" extra_header=None
                        value_header="Conversations" rows=identity_rows cost_header="Credits / conversation"/>
                </div>
            </div>
        }
    }
}
