//! The Credits tab's body: who and what consumed credits in a period, in
//! charts and tables, with drill-down by click, CSV export and the
//! forecast; its view model beside it.

use leptos::prelude::*;

use super::chart::EChart;
use super::filters::FilterBar;
use super::period::{change_text, PeriodPicker};
use super::table::{SortableTable, TableRow};
use crate::charts::{action_color, member_color};
use crate::domain::forecast::Forecast;
use crate::domain::forecast::Outlook;
use crate::domain::ledger::{Action, Category};
use crate::format::{date_range, long_date, thousands};
use crate::model::{ChartOptions, Directory, GroupRow, PeriodInfo, Report, UsageQuery};
use crate::query::Query;
use crate::ui::markup::Drill;
use crate::ui::nav::{tab_path, Base, Tab};

/// The tab's body as HTML, for its view and query, under `base`.
pub fn body_html(v: CreditsView, params: Query, base: Base) -> String {
    super::render(base, move || view! { <CreditsBody v params/> })
}

fn rows_of(
    rows: &[GroupRow],
    total: i64,
    href: &dyn Fn(&str) -> String,
    color: &dyn Fn(&str) -> String,
) -> Vec<TableRow> {
    rows.iter()
        .filter_map(|r| {
            let key = r.keys.first().cloned().flatten()?;
            Some(TableRow {
                key: key.clone(),
                label: r.label.clone().unwrap_or_else(|| key.clone()),
                extra: None,
                value: r.value,
                share: TableRow::share_of(r.value, total),
                href: Some(href(&key)),
                color: Some(color(&key)),
                cost: None,
                limit: None,
            })
        })
        .collect()
}

#[component]
fn CreditsBody(v: CreditsView, params: Query) -> impl IntoView {
    let path = tab_path(Tab::Credits);
    let dir = v.directory.clone();
    let action_drill = Drill {
        param: "action",
        by_series: true,
        names: Action::ALL
            .into_iter()
            .map(|a| (a.label().to_string(), a.key().to_string()))
            .collect(),
    };
    let user_drill = Drill {
        param: "user",
        by_series: true,
        names: dir
            .users
            .iter()
            .map(|u| (u.name.clone(), u.id.clone()))
            .collect(),
    };
    let total = v.total;
    let p = params.clone();
    let action_rows = rows_of(
        &v.by_action.rows,
        total,
        &|k| p.href_with(path, &[("action", Some(k))]),
        &|k| action_color(k).to_string(),
    );
    let action_rows: Vec<TableRow> = action_rows
        .into_iter()
        .map(|mut r| {
            r.extra = Action::parse(&r.key).map(|a| a.category().label().to_string());
            r
        })
        .collect();
    let user_rows: Vec<TableRow> = rows_of(
        &v.by_user.rows,
        total,
        &|k| p.href_with(path, &[("user", Some(k))]),
        &|k| member_color(&dir.users, Some(k)),
    )
    .into_iter()
    .map(|mut r| {
        r.limit = v
            .user_limits
            .iter()
            .find(|(id, ..)| *id == r.key)
            .map(|(_, effective, left, reached)| (*effective, *left, *reached));
        r
    })
    .collect();
    let with_limits = !v.user_limits.is_empty();
    let by_cat = |c: Category| {
        v.by_category
            .rows
            .iter()
            .find(|r| r.keys.first().cloned().flatten().as_deref() == Some(c.key()))
            .map_or(0, |r| r.value)
    };
    let categories: Vec<(Category, i64)> =
        Category::ALL.into_iter().map(|c| (c, by_cat(c))).collect();
    let csv_href = params.href(&format!("{path}.csv"));
    let days_in_period = v.period.range().days();
    let action_describe = format!(
        "Stacked bars of credits per day by action, {}: {}",
        date_range(v.period.from, v.period.to),
        v.by_action
            .rows
            .iter()
            .map(|r| format!("{} {}", r.label.clone().unwrap_or_default(), r.value))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let user_describe = format!(
        "Stacked bars of credits per day by user: {}",
        v.by_user
            .rows
            .iter()
            .map(|r| format!("{} {}", r.label.clone().unwrap_or_default(), r.value))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let empty = total == 0;

    view! {
        {(!v.notes.is_empty()).then(|| view! { <p class="note" role="status" data-testid="notes">{v.notes.join(" · ")}</p> })}
        <PeriodPicker path=path params=params.clone() period=v.period.clone()/>
        <FilterBar path=path params=params.clone() filters=v.query.filters.clone() directory=v.directory.clone() with_action=true/>
        <div class="card headline">
            <p class="big" data-testid="credits-total" data-total=total>{thousands(total)}</p>
            <p class="label">"credits used · " <span data-testid="change">{change_text(total, v.previous_total, days_in_period)}</span></p>
            {empty.then(|| view! { <p class="empty" data-testid="empty">"No credits used in this period"</p> })}
            <ul class="categories">
                {categories.into_iter().map(|(c, n)| view! {
                    <li data-category=c.key()><span>{c.label()}</span><strong>{thousands(n)}</strong></li>
                }).collect_view()}
            </ul>
            <p class="export"><a href=csv_href download="credit-usage.csv" data-testid="export" data-export>"Export CSV"</a></p>
        </div>
        <Forecast v=v.clone()/>
        <div class="card">
            <h2>"Credits usage by action type"</h2>
            <EChart id="chart-actions" options=v.actions_chart.clone() describe=action_describe drill=Some(action_drill)/>
            <SortableTable id="table-actions" caption="Credits by action" key_header="Action" extra_header=Some("Category") value_header="Credits" rows=action_rows/>
        </div>
        <div class="card">
            <h2>"Credits usage by user"</h2>
            <EChart id="chart-users" options=v.users_chart.clone() describe=user_describe drill=Some(user_drill)/>
            <SortableTable id="table-users" caption="Credits by user" key_header="User" extra_header=None value_header="Credits" rows=user_rows limits=with_limits/>
        </div>
    }
}

#[component]
fn Forecast(v: CreditsView) -> impl IntoView {
    let f = v.forecast;
    let window = date_range(f.pace_window.from, f.pace_window.to);
    let pace = format!(
        "{} credits a day over {window}",
        thousands(f.pace_per_day.round() as i64)
    );
    let (class, text) = match f.outlook {
        Outlook::RunsOutOn { date } => (
            "forecast warn",
            format!(
                "At this pace you run out on {}; credits renew on {}.",
                long_date(date),
                long_date(f.renews_on)
            ),
        ),
        Outlook::EnoughUntilRenewal => (
            "forecast ok",
            format!(
                "Enough credits until renewal on {} at this pace.",
                long_date(f.renews_on)
            ),
        ),
        Outlook::AlreadyOut => (
            "forecast warn",
            format!(
                "No credits left this cycle; they renew on {}.",
                long_date(f.renews_on)
            ),
        ),
    };
    view! {
        <div class=format!("card {class}") data-testid="forecast">
            <h2>"Forecast"</h2>
            <p>{text}</p>
            <p class="muted">"Pace: " {pace} " (the whole workspace, the last 7 full days)."</p>
        </div>
    }
}

/// The Credits tab, in one round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditsView {
    /// The query in effect (bad parameters dropped).
    pub query: UsageQuery,
    /// What was ignored, for a visible note.
    pub notes: Vec<String>,
    pub period: PeriodInfo,
    pub total: i64,
    /// Total of the period of the same length just before.
    pub previous_total: i64,
    pub by_action: Report,
    pub by_category: Report,
    pub by_user: Report,
    /// Credits per day by action, stacked.
    pub actions_chart: ChartOptions,
    /// Credits per day by user, stacked.
    pub users_chart: ChartOptions,
    pub directory: Directory,
    pub forecast: Forecast,
    /// The users a limit applies to, with their effective limit and what
    /// is left of it this cycle: (user id, effective, left, reached).
    pub user_limits: Vec<(String, i64, i64, bool)>,
}
