//! The Conversations tab's body: a daily line, pies by campaign and by
//! identity (top 8 and "Other"), and credits spent per conversation; its
//! view model beside it.

use leptos::prelude::*;

use super::chart::EChart;
use super::filters::FilterBar;
use super::period::{change_text, PeriodPicker};
use super::table::{SortableTable, TableRow};
use crate::charts::{
    credits_per_conversation, daily_points, member_color, top_with_other, PIE_SLICES,
};
use crate::format::{date_range, thousands};
use crate::model::{ChartOptions, Directory, Named, PeriodInfo, Report, UsageQuery};
use crate::query::Query;
use crate::ui::markup::Drill;
use crate::ui::nav::{tab_path, Base, Tab};

/// The tab's body as HTML, for its view and query, under `base`.
pub fn body_html(v: ConversationsView, params: Query, base: Base) -> String {
    super::render(base, move || view! { <ConversationsBody v params/> })
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
                share: TableRow::share_of(r.value, total),
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
fn ConversationsBody(v: ConversationsView, params: Query) -> impl IntoView {
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
        &|k| p.href_with(path, &[("campaign", Some(k))]),
    );
    let identity_rows = cost_rows(
        &v.by_identity,
        &v.credits_by_identity,
        &v.directory.identities,
        &|k| p.href_with(path, &[("identity", Some(k))]),
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
            let href = params.href_with(path, &[(k, None)]);
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

/// The Conversations tab, in one round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationsView {
    pub query: UsageQuery,
    pub notes: Vec<String>,
    pub period: PeriodInfo,
    pub total: i64,
    pub previous_total: i64,
    pub by_day: Report,
    pub by_campaign: Report,
    pub by_identity: Report,
    /// Credits of events that name each campaign / identity, same period and filters.
    pub credits_by_campaign: Report,
    pub credits_by_identity: Report,
    pub directory: Directory,
    /// The daily line and the pies by campaign and by identity.
    pub daily_chart: ChartOptions,
    pub campaigns_chart: ChartOptions,
    pub identities_chart: ChartOptions,
}
