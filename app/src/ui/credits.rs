//! The Credits tab: who and what consumed credits in a period, in charts
//! and tables, with drill-down by click, CSV export and the forecast.

use leptos::prelude::*;

use super::chart::{use_dark_theme, ChartClick, EChart};
use super::data::tab_data;
use super::errors::LoadError;
use super::filters::FilterBar;
use super::location::{use_location, use_tab_params};
use super::nav::{tab_path, Tab};
use super::period::{change_text, href_with, query_string, PeriodPicker};
use super::table::{SortableTable, TableRow};
use crate::charts::{action_color, member_color};
use crate::domain::forecast::Outlook;
use crate::domain::ledger::{Action, Category};
use crate::format::{date_range, long_date, thousands};
use crate::model::{CreditsView, GroupRow};
use crate::rpc::get_credits_view;

/// `/usage/credits`.
#[component]
pub fn CreditsTab() -> impl IntoView {
    let params = use_tab_params(Tab::Credits);
    let view_data = tab_data(move || query_string(&params.get()), get_credits_view);
    view! {
        <section class="tab credits" aria-labelledby="credits-title">
            <h1 id="credits-title">"Credits usage"</h1>
            <Transition fallback=|| view! { <div class="card skeleton tall" aria-hidden="true"></div> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(v) => view! { <CreditsBody v params=params.get_untracked()/> }.into_any(),
                        Err(e) => view! { <LoadError error=e retry=move |_| view_data.refetch()/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
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
                share: if total > 0 {
                    r.value as f64 / total as f64
                } else {
                    0.0
                },
                href: Some(href(&key)),
                color: Some(color(&key)),
                cost: None,
            })
        })
        .collect()
}

#[component]
fn CreditsBody(v: CreditsView, params: Vec<(String, String)>) -> impl IntoView {
    let path = tab_path(Tab::Credits);
    let location = use_location();
    let dir = v.directory.clone();
    let dark = use_dark_theme();
    let p_action = params.clone();
    let on_action = Callback::new(move |c: ChartClick| {
        let key = c.series_id.or_else(|| {
            c.name.and_then(|n| {
                Action::ALL
                    .into_iter()
                    .find(|a| a.label() == n)
                    .map(|a| a.key().to_string())
            })
        });
        if let Some(key) = key {
            location.navigate(&href_with(path, &p_action, &[("action", Some(&key))]));
        }
    });
    let p_user = params.clone();
    let dir_click = dir.clone();
    let on_user = Callback::new(move |c: ChartClick| {
        let key = c.series_id.or_else(|| {
            c.name.and_then(|n| {
                dir_click
                    .users
                    .iter()
                    .find(|u| u.name == n)
                    .map(|u| u.id.clone())
            })
        });
        if let Some(key) = key {
            location.navigate(&href_with(path, &p_user, &[("user", Some(&key))]));
        }
    });

    let total = v.total;
    let p = params.clone();
    let action_rows = rows_of(
        &v.by_action.rows,
        total,
        &|k| href_with(path, &p, &[("action", Some(k))]),
        &|k| action_color(k).to_string(),
    );
    let action_rows: Vec<TableRow> = action_rows
        .into_iter()
        .map(|mut r| {
            r.extra = Action::parse(&r.key).map(|a| a.category().label().to_string());
            r
        })
        .collect();
    let user_rows = rows_of(
        &v.by_user.rows,
        total,
        &|k| href_with(path, &p, &[("user", Some(k))]),
        &|k| member_color(&dir.users, Some(k)),
    );
    let by_cat = |c: Category| {
        v.by_category
            .rows
            .iter()
            .find(|r| r.keys.first().cloned().flatten().as_deref() == Some(c.key()))
            .map_or(0, |r| r.value)
    };
    let categories: Vec<(Category, i64)> =
        Category::ALL.into_iter().map(|c| (c, by_cat(c))).collect();
    let csv_href = href_with(&format!("{path}.csv"), &params, &[]);
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
            <p class="export"><a href=csv_href download="credit-usage.csv" data-testid="export" on:click=export_with_session>"Export CSV"</a></p>
        </div>
        <Forecast v=v.clone()/>
        <div class="card">
            <h2>"Credits usage by action type"</h2>
            <EChart id="chart-actions" options=v.actions_chart.clone() dark=dark describe=action_describe on_select=on_action/>
            <SortableTable id="table-actions" caption="Credits by action" key_header="Action" extra_header=Some("Category") value_header="Credits" rows=action_rows/>
        </div>
        <div class="card">
            <h2>"Credits usage by user"</h2>
            <EChart id="chart-users" options=v.users_chart.clone() dark=dark describe=user_describe on_select=on_user/>
            <SortableTable id="table-users" caption="Credits by user" key_header="User" extra_header=None value_header="Credits" rows=user_rows/>
        </div>
    }
}

/// Inside the platform's frame the session travels in a header, not a
/// cookie (third-party cookies may be blocked): download the export with
/// `fetch` and the header, then save it. Standalone, the plain link works.
#[allow(unused_variables)]
fn export_with_session(ev: leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(token) = crate::session_client::token() else {
            return;
        };
        let Some(link) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        else {
            return;
        };
        ev.prevent_default();
        let href = link.href();
        leptos::task::spawn_local(async move {
            if let Err(e) = download(&href, &token).await {
                // Not `{e:?}`: the bundle is built without Debug output (`-Zfmt-debug=none`).
                web_sys::console::warn_2(&"export failed:".into(), &e);
            }
        });
    }
}

#[cfg(feature = "hydrate")]
async fn download(href: &str, token: &str) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
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
