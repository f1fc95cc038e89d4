//! Renders every server-rendered body, standalone and embedded, with data
//! in every table and chart and with none, and checks each against the
//! contract the browser's listeners rely on (`ui/markup.rs`). Fast: no
//! server, no browser; the Chromium suite checks the same bodies moving.

use chrono::NaiveDate;

use super::conversations::{self, ConversationsView};
use super::credits::{self, CreditsView};
use crate::charts::options::{conversations_charts, credits_charts};
use crate::domain::calendar::Period;
use crate::domain::forecast::forecast;
use crate::model::{
    Dimension, Directory, Filters, GroupRow, Metric, Named, PeriodInfo, Report, UsageQuery,
};
use crate::query::Query;
use crate::ui::markup::{check, Behaviour, CHART_BOX};
use crate::ui::nav::Base;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
}

fn period() -> PeriodInfo {
    PeriodInfo {
        name: "last_week".into(),
        from: day(2),
        to: day(9),
        timezone: "Europe/Paris".into(),
    }
}

fn named(id: &str, name: &str, status: Option<&str>) -> Named {
    Named {
        id: id.into(),
        name: name.into(),
        status: status.map(str::to_string),
    }
}

fn directory() -> Directory {
    Directory {
        users: vec![
            named("u_1", "Mikaela", None),
            named("u_2", "</script>", None),
        ],
        campaigns: vec![named("c_1", "Q4 outreach", Some("paused"))],
        identities: vec![named("i_1", "mikaela@acme.test", None)],
    }
}

/// A report grouped by `dims` with `rows` of (keys, value); none when `empty`.
fn report(metric: Metric, dims: &[Dimension], rows: &[(&[&str], i64)], empty: bool) -> Report {
    let rows: Vec<GroupRow> = if empty {
        Vec::new()
    } else {
        rows.iter()
            .map(|(keys, value)| GroupRow {
                keys: keys.iter().map(|k| Some(k.to_string())).collect(),
                label: keys.last().map(|k| k.to_string()),
                value: *value,
            })
            .collect()
    };
    Report {
        metric,
        period: period(),
        group_by: dims.to_vec(),
        total: rows.iter().map(|r| r.value).sum(),
        rows,
    }
}

fn query() -> UsageQuery {
    UsageQuery {
        period: Period::LastWeek,
        group_by: Vec::new(),
        filters: Filters {
            user_id: Some("u_1".into()),
            ..Filters::default()
        },
    }
}

fn credits_view(empty: bool) -> CreditsView {
    let c = Metric::Credits;
    let by_action = report(
        c,
        &[Dimension::Action],
        &[(&["enrich_email"], 40), (&["ai_variable"], 2)],
        empty,
    );
    let by_day_action = report(
        c,
        &[Dimension::Day, Dimension::Action],
        &[
            (&["2026-11-02", "enrich_email"], 40),
            (&["2026-11-03", "ai_variable"], 2),
        ],
        empty,
    );
    let by_day_user = report(
        c,
        &[Dimension::Day, Dimension::User],
        &[(&["2026-11-02", "u_1"], 40), (&["2026-11-03", "u_2"], 2)],
        empty,
    );
    let (actions_chart, users_chart) = credits_charts(&by_day_action, &by_day_user, &directory());
    CreditsView {
        query: query(),
        notes: vec!["Ignored campaign \"c_9\": not in this workspace".into()],
        period: period(),
        total: by_action.total,
        previous_total: 30,
        by_category: report(
            c,
            &[Dimension::Category],
            &[(&["enrichment"], 40), (&["ai"], 2)],
            empty,
        ),
        by_user: report(
            c,
            &[Dimension::User],
            &[(&["u_1"], 40), (&["u_2"], 2)],
            empty,
        ),
        by_action,
        actions_chart,
        users_chart,
        directory: directory(),
        forecast: forecast(day(9), 500, 70, day(30)),
        user_limits: vec![("u_1".into(), 100, 60, false)],
    }
}

fn conversations_view(empty: bool) -> ConversationsView {
    let (v, c) = (Metric::Conversations, Metric::Credits);
    let by_day = report(
        v,
        &[Dimension::Day],
        &[(&["2026-11-02"], 3), (&["2026-11-04"], 1)],
        empty,
    );
    let by_campaign = report(v, &[Dimension::Campaign], &[(&["c_1"], 4)], empty);
    let by_identity = report(v, &[Dimension::Identity], &[(&["i_1"], 4)], empty);
    let [daily_chart, campaigns_chart, identities_chart] =
        conversations_charts(&by_day, &by_campaign, &by_identity, &directory());
    ConversationsView {
        query: query(),
        notes: Vec::new(),
        period: period(),
        total: by_day.total,
        previous_total: 2,
        credits_by_campaign: report(c, &[Dimension::Campaign], &[(&["c_1"], 12)], empty),
        credits_by_identity: report(c, &[Dimension::Identity], &[(&["i_1"], 12)], empty),
        by_day,
        by_campaign,
        by_identity,
        directory: directory(),
        daily_chart,
        campaigns_chart,
        identities_chart,
    }
}

/// Every body, under both bases, full and empty.
fn bodies() -> Vec<(String, String)> {
    let params = Query::parse("period=last_week&user=u_1");
    let mut out = Vec::new();
    for base in [Base::Standalone, Base::Embedded] {
        for empty in [false, true] {
            let name = |tab: &str| format!("{tab} ({base:?}, empty: {empty})");
            out.push((
                name("credits"),
                credits::body_html(credits_view(empty), params.clone(), base),
            ));
            out.push((
                name("conversations"),
                conversations::body_html(conversations_view(empty), params.clone(), base),
            ));
        }
    }
    out
}

#[test]
fn every_body_keeps_the_contract_with_the_listeners() {
    for (name, html) in bodies() {
        assert_eq!(check(&html), Vec::<String>::new(), "{name}");
    }
}

/// The check is not vacuous: the full bodies carry every behaviour of a
/// tab body and every chart, and their links stay under their base.
#[test]
fn the_bodies_carry_what_the_listeners_act_on() {
    let params = Query::parse("period=last_week");
    let credits = credits::body_html(credits_view(false), params.clone(), Base::Embedded);
    let talks = conversations::body_html(conversations_view(false), params, Base::Standalone);
    for b in [Behaviour::Sort, Behaviour::Filter] {
        for html in [&credits, &talks] {
            assert!(html.contains(b.attr()), "{b:?} missing");
        }
    }
    assert!(credits.contains(Behaviour::Export.attr()));
    assert_eq!(credits.matches(&format!("{CHART_BOX}=")).count(), 2);
    assert_eq!(talks.matches(&format!("{CHART_BOX}=")).count(), 3);
    assert!(
        credits.contains(r#"href="/embed/usage/credits.csv?period=last_week""#),
        "{credits}"
    );
    assert!(!talks.contains("/embed/"), "{talks}");
}
