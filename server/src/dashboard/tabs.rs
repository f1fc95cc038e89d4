//! The chart tabs' views: several store reports composed into one answer
//! per view change (a constant number of queries, none per row), as the
//! view models their HTML is rendered from (`app::ui::server`).

use chrono::{DateTime, Utc};

use app::charts::options::{conversations_charts, credits_charts};
use app::domain::calendar::{BillingCycle, Period};
use app::domain::forecast::forecast;
use app::model::{Dimension, Directory, Filters, Metric, Named, Report, UsageQuery};
use app::query::{parse_usage_query, Query, PAGE_FILTERS};
use app::ui::server::conversations::ConversationsView;
use app::ui::server::credits::CreditsView;

use crate::store::{Names, Store, StoreResult, Workspace};

const PERIOD_PARAMS: [&str; 4] = ["period", "date", "from", "to"];

/// Reads the page's query string. Bad parameters are dropped (a bad period
/// drops the whole period) and named in the notes, never an error page.
pub fn page_query(metric: Metric, params: &Query, known: &Names) -> (UsageQuery, Vec<String>) {
    let mut notes = Vec::new();
    let mut kept = params.only(|k| k != "group_by");
    for _ in 0..3 {
        match parse_usage_query(metric, kept.pairs(), PAGE_FILTERS) {
            Ok(_) => break,
            Err(errors) => {
                for e in &errors {
                    notes.push(format!("Ignored {}: {}", e.param, e.message));
                    let drop_period = PERIOD_PARAMS.contains(&e.param.as_str());
                    kept =
                        kept.only(|k| k != e.param && !(drop_period && PERIOD_PARAMS.contains(&k)));
                }
            }
        }
    }
    let mut query = parse_usage_query(metric, kept.pairs(), PAGE_FILTERS).unwrap_or(UsageQuery {
        period: Period::ThisMonth,
        group_by: Vec::new(),
        filters: Filters::default(),
    });
    let f = &mut query.filters;
    let mut unknown = |v: &mut Option<String>, what: &str, exists: &dyn Fn(&str) -> bool| {
        if v.as_deref().is_some_and(|id| !exists(id)) {
            notes.push(format!(
                "Ignored {what} {:?}: not in this workspace",
                v.as_deref().unwrap_or_default()
            ));
            *v = None;
        }
    };
    unknown(&mut f.user_id, "user", &|id| known.users.contains_key(id));
    unknown(&mut f.campaign_id, "campaign", &|id| {
        known.campaigns.contains_key(id)
    });
    unknown(&mut f.identity_id, "identity", &|id| {
        known.identities.contains_key(id)
    });
    (query, notes)
}

fn directory(names: &Names) -> Directory {
    let mut users: Vec<Named> = names
        .users
        .iter()
        .map(|(id, name)| Named {
            id: id.clone(),
            name: name.clone(),
            status: None,
        })
        .collect();
    let mut campaigns: Vec<Named> = names
        .campaigns
        .iter()
        .map(|(id, (name, status))| Named {
            id: id.clone(),
            name: name.clone(),
            status: Some(status.clone()),
        })
        .collect();
    let mut identities: Vec<Named> = names
        .identities
        .iter()
        .map(|(id, name)| Named {
            id: id.clone(),
            name: name.clone(),
            status: None,
        })
        .collect();
    for list in [&mut users, &mut campaigns, &mut identities] {
        list.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
    }
    Directory {
        users,
        campaigns,
        identities,
    }
}

/// The query's report grouped by `dims`, labelled with `names`.
async fn grouped_report(
    store: &Store,
    ws: &Workspace,
    metric: Metric,
    query: &UsageQuery,
    dims: &[Dimension],
    now: DateTime<Utc>,
    names: &Names,
) -> StoreResult<Report> {
    let grouped = UsageQuery {
        group_by: dims.to_vec(),
        ..query.clone()
    };
    store.report_named(ws, metric, &grouped, now, names).await
}

/// The previous period of the same length, as a custom period.
fn previous(store_query: &UsageQuery, ws: &Workspace, now: DateTime<Utc>) -> UsageQuery {
    let cal = ws.calendar();
    let range = store_query
        .period
        .range(cal.today(now), cal.week_start)
        .previous();
    let last = range.last_day();
    UsageQuery {
        period: Period::Custom {
            from: range.from,
            to: last,
        },
        group_by: Vec::new(),
        filters: store_query.filters.clone(),
    }
}

/// The Credits tab.
pub async fn credits_view(
    store: &Store,
    ws: &Workspace,
    params: &Query,
    now: DateTime<Utc>,
) -> StoreResult<CreditsView> {
    // The directory once (it checks the filters and labels every report),
    // then the view's reports at once: one statement each.
    let names = store.names(&ws.id).await?;
    let (query, notes) = page_query(Metric::Credits, params, &names);
    let report = |metric, dims| grouped_report(store, ws, metric, &query, dims, now, &names);
    // The forecast is about the whole workspace's current cycle.
    let cal = ws.calendar();
    let today = cal.today(now);
    let previous_query = previous(&query, ws, now);
    let cycle = BillingCycle::containing(today);
    let (
        by_action,
        by_category,
        by_user,
        by_day_action,
        by_day_user,
        previous,
        pace,
        credits,
        limits,
    ) = tokio::try_join!(
        report(Metric::Credits, &[Dimension::Action]),
        report(Metric::Credits, &[Dimension::Category]),
        report(Metric::Credits, &[Dimension::User]),
        report(Metric::Credits, &[Dimension::Day, Dimension::Action]),
        report(Metric::Credits, &[Dimension::Day, Dimension::User]),
        store.report_named(ws, Metric::Credits, &previous_query, now, &names),
        store.pace_used(&ws.id, today),
        store.cycle_credits(ws, cycle),
        store.limits_overview(ws, now),
    )?;
    let (previous_total, used_in_window, left) = (previous.total, pace, credits.left());
    let user_limits = limits
        .users
        .iter()
        .map(|u| (u.id.clone(), u.effective, u.left, u.used >= u.effective))
        .collect();
    let directory = directory(&names);
    let (actions_chart, users_chart) = credits_charts(&by_day_action, &by_day_user, &directory);
    Ok(CreditsView {
        notes,
        period: by_action.period.clone(),
        total: by_action.total,
        previous_total,
        by_action,
        by_category,
        by_user,
        actions_chart,
        users_chart,
        directory,
        forecast: forecast(today, left, used_in_window, cycle.end),
        user_limits,
        query,
    })
}

/// The Conversations tab.
pub async fn conversations_view(
    store: &Store,
    ws: &Workspace,
    params: &Query,
    now: DateTime<Utc>,
) -> StoreResult<ConversationsView> {
    let names = store.names(&ws.id).await?;
    let (query, notes) = page_query(Metric::Conversations, params, &names);
    let report = |metric, dims| grouped_report(store, ws, metric, &query, dims, now, &names);
    let previous_query = previous(&query, ws, now);
    let (by_day, by_campaign, by_identity, credits_by_campaign, credits_by_identity, previous) = tokio::try_join!(
        report(Metric::Conversations, &[Dimension::Day]),
        report(Metric::Conversations, &[Dimension::Campaign]),
        report(Metric::Conversations, &[Dimension::Identity]),
        report(Metric::Credits, &[Dimension::Campaign]),
        report(Metric::Credits, &[Dimension::Identity]),
        store.report_named(ws, Metric::Conversations, &previous_query, now, &names),
    )?;
    let previous_total = previous.total;
    let directory = directory(&names);
    let [daily_chart, campaigns_chart, identities_chart] =
        conversations_charts(&by_day, &by_campaign, &by_identity, &directory);
    Ok(ConversationsView {
        notes,
        period: by_day.period.clone(),
        total: by_day.total,
        previous_total,
        by_day,
        by_campaign,
        by_identity,
        credits_by_campaign,
        credits_by_identity,
        directory,
        daily_chart,
        campaigns_chart,
        identities_chart,
        query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_fall_back_with_notes() {
        let mut known = Names::default();
        known.users.insert("u_mikaela".into(), "Mikaela".into());
        let (q, notes) = page_query(
            Metric::Credits,
            &Query::of(&[("period", "fortnight"), ("user", "u_mikaela")]),
            &known,
        );
        assert_eq!(q.period, Period::ThisMonth);
        assert_eq!(q.filters.user_id.as_deref(), Some("u_mikaela"));
        assert_eq!(notes.len(), 1);
        let (q, notes) = page_query(
            Metric::Credits,
            &Query::of(&[
                ("period", "last_week"),
                ("user", "u_ghost"),
                ("action", "nap"),
            ]),
            &known,
        );
        assert_eq!(q.period, Period::LastWeek);
        assert_eq!((q.filters.user_id, q.filters.action), (None, None));
        assert_eq!(notes.len(), 2);
    }
}
