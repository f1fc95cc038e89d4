//! Charts built from report rows: pure functions, unit-tested here. The
//! ECharts options are built on the server ([`options`], with charming,
//! which never reaches the browser) and travel as JSON text in the tab's
//! view; `ui/server/chart.rs` writes them beside each box and `ui/browser/charts.rs` draws them after hydration.

use std::collections::BTreeMap;

use crate::domain::ledger::Action;
use crate::model::{GroupRow, Report};

/// Colours of the actions, fixed so an action looks the same everywhere.
pub fn action_color(key: &str) -> &'static str {
    match Action::parse(key) {
        Some(Action::ScrapeCompany) => "#4c6ef5",
        Some(Action::ScrapeContact) => "#74c0fc",
        Some(Action::EnrichEmail) => "#12b886",
        Some(Action::EnrichPhone) => "#82c91e",
        Some(Action::AiCompletion) => "#f59f00",
        None => "#868e96",
    }
}

const PALETTE: [&str; 12] = [
    "#4c6ef5", "#f76707", "#12b886", "#e64980", "#7950f2", "#fab005", "#15aabf", "#82c91e",
    "#fa5252", "#228be6", "#be4bdb", "#40c057",
];

/// The colour of a user, campaign or identity: by its place in the
/// workspace's directory (sorted by name), so the same object has the same
/// colour in every chart and table, and neighbours never share one.
pub fn member_color(directory: &[crate::model::Named], id: Option<&str>) -> String {
    match id.and_then(|id| directory.iter().position(|n| n.id == id)) {
        Some(i) => PALETTE[i % PALETTE.len()].to_string(),
        None => id.map_or(OTHER_COLOR, id_color).to_string(),
    }
}

/// A stable colour for an id outside the directory.
pub fn id_color(id: &str) -> &'static str {
    // FNV-1a: stable across builds and platforms.
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    PALETTE[(h as usize) % PALETTE.len()]
}

/// Grey for "Other" and "None".
pub const OTHER_COLOR: &str = "#adb5bd";

/// Text colours for the light and dark themes.
pub fn text_color(dark: bool) -> &'static str {
    if dark {
        "#c9d1e0"
    } else {
        "#343a48"
    }
}

/// One series of a chart: its key (for filtering), label, colour, values.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    pub key: Option<String>,
    pub label: String,
    pub color: String,
    pub values: Vec<i64>,
}

/// Per-day values of each key of the second dimension of a `day,X` report,
/// over every day of the period; series ordered by total descending.
pub fn daily_series(
    report: &Report,
    label: &dyn Fn(Option<&str>) -> String,
    color: &dyn Fn(Option<&str>) -> String,
) -> (Vec<String>, Vec<SeriesData>) {
    let days: Vec<String> = report
        .period
        .range()
        .dates()
        .map(|d| d.to_string())
        .collect();
    let index: BTreeMap<&str, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut by_key: BTreeMap<Option<String>, Vec<i64>> = BTreeMap::new();
    for row in &report.rows {
        let (Some(Some(day)), Some(key)) = (row.keys.first(), row.keys.get(1)) else {
            continue;
        };
        if let Some(&i) = index.get(day.as_str()) {
            by_key
                .entry(key.clone())
                .or_insert_with(|| vec![0; days.len()])[i] += row.value;
        }
    }
    let mut series: Vec<SeriesData> = by_key
        .into_iter()
        .map(|(key, values)| SeriesData {
            label: label(key.as_deref()),
            color: color(key.as_deref()),
            key,
            values,
        })
        .collect();
    series.sort_by(|a, b| {
        let total = |s: &SeriesData| s.values.iter().sum::<i64>();
        total(b).cmp(&total(a)).then_with(|| a.label.cmp(&b.label))
    });
    (days, series)
}

/// A pie slice: key (None for "Other"), label, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub key: Option<String>,
    pub label: String,
    pub value: i64,
    pub other: bool,
}

/// The `n` largest rows and one "Other" slice for the rest (when any).
pub fn top_with_other(rows: &[GroupRow], n: usize) -> Vec<Slice> {
    let mut sorted: Vec<&GroupRow> = rows.iter().filter(|r| r.value > 0).collect();
    // As the API orders rows: value descending, then key.
    sorted.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.keys.cmp(&b.keys)));
    let mut out: Vec<Slice> = sorted
        .iter()
        .take(n)
        .map(|r| Slice {
            key: r.keys.first().cloned().flatten(),
            label: r.label.clone().unwrap_or_else(|| "None".into()),
            value: r.value,
            other: false,
        })
        .collect();
    let rest: i64 = sorted.iter().skip(n).map(|r| r.value).sum();
    if sorted.len() > n {
        out.push(Slice {
            key: None,
            label: "Other".into(),
            value: rest,
            other: true,
        });
    }
    out
}

/// Credits per conversation, or `None` where there are no conversations.
pub fn credits_per_conversation(credits: i64, conversations: i64) -> Option<f64> {
    (conversations > 0).then(|| credits as f64 / conversations as f64)
}

/// The ECharts options of each chart, built on the server.
#[cfg(feature = "ssr")]
pub mod options {
    use charming::component::{Axis, Grid, Legend, LegendType};
    use charming::element::{
        AxisLabel, AxisType, ItemStyle, Label, LineStyle, SplitLine, TextStyle, Tooltip, Trigger,
    };
    use charming::series::{Bar, Line, Pie};
    use charming::Chart;
    use serde_json::json;

    use super::*;
    use crate::model::{ChartOptions, Dimension, Directory};
    use crate::rows::label_of;

    /// Short day labels for the x axis: "24 Nov".
    fn day_labels(days: &[String]) -> Vec<String> {
        days.iter()
            .map(|d| {
                d.parse::<chrono::NaiveDate>()
                    .map(crate::format::day_month)
                    .unwrap_or_else(|_| d.clone())
            })
            .collect()
    }

    /// Grid lines: light on light, dim on dark.
    fn grid_color(dark: bool) -> &'static str {
        if dark {
            "#2e3646"
        } else {
            "#e6e9f0"
        }
    }

    fn axis() -> Axis {
        Axis::new()
            .axis_label(AxisLabel::new().color(text_color(false)))
            .split_line(SplitLine::new().line_style(LineStyle::new().color(grid_color(false))))
    }

    fn legend() -> Legend {
        // One scrolling line: a wrapped legend runs into the axis labels
        // on a narrow screen.
        Legend::new()
            .type_(LegendType::Scroll)
            .top("bottom")
            .text_style(TextStyle::new().color(text_color(false)))
    }

    fn base() -> Chart {
        Chart::new()
            .background_color("transparent")
            .tooltip(Tooltip::new().trigger(Trigger::Axis))
            .legend(legend())
            .grid(
                Grid::new()
                    .left("3%")
                    .right("3%")
                    .top("8%")
                    .bottom("18%")
                    .contain_label(true),
            )
    }

    /// A chart with axes: its light options and what the dark theme changes.
    fn with_axes(chart: &Chart) -> ChartOptions {
        let axis = json!({
            "axisLabel": { "color": text_color(true) },
            "splitLine": { "lineStyle": { "color": grid_color(true) } },
        });
        ChartOptions {
            light: serde_json::to_string(chart).unwrap_or_default(),
            dark: json!({
                "legend": { "textStyle": { "color": text_color(true) } },
                "xAxis": axis,
                "yAxis": axis,
            })
            .to_string(),
        }
    }

    /// Stacked bars per day, one series per key (action or user).
    pub fn stacked_bars(days: &[String], series: &[SeriesData]) -> Chart {
        let mut chart = base()
            .x_axis(axis().type_(AxisType::Category).data(day_labels(days)))
            .y_axis(axis().type_(AxisType::Value));
        for s in series {
            let mut bar = Bar::new()
                .name(s.label.clone())
                .stack("credits")
                .item_style(ItemStyle::new().color(s.color.clone()))
                .data(s.values.clone());
            if let Some(key) = &s.key {
                bar = bar.id(key.clone());
            }
            chart = chart.series(bar);
        }
        chart
    }

    /// One point per day.
    pub fn daily_line(days: &[String], values: &[i64], label: &str) -> Chart {
        base()
            .x_axis(axis().type_(AxisType::Category).data(day_labels(days)))
            .y_axis(axis().type_(AxisType::Value).min_interval(1))
            .series(
                Line::new()
                    .id("daily")
                    .name(label)
                    .item_style(ItemStyle::new().color("#4c6ef5"))
                    .data(values.to_vec()),
            )
    }

    /// A pie of slices, each coloured by its key ("Other" in grey).
    pub fn pie(slices: &[Slice], name: &str, color: &dyn Fn(Option<&str>) -> String) -> Chart {
        let data: Vec<(i64, String)> = slices.iter().map(|s| (s.value, s.label.clone())).collect();
        let colors: Vec<charming::element::Color> = slices
            .iter()
            .map(|s| match (&s.key, s.other) {
                (Some(k), false) => charming::element::Color::from(color(Some(k)).as_str()),
                _ => charming::element::Color::from(OTHER_COLOR),
            })
            .collect();
        Chart::new()
            .background_color("transparent")
            .color(colors)
            .tooltip(Tooltip::new().trigger(Trigger::Item))
            .legend(legend())
            .series(
                Pie::new()
                    .id("slices")
                    .name(name)
                    .radius(vec!["32%", "58%"])
                    .center(vec!["50%", "40%"])
                    .label(Label::new().color(text_color(false)))
                    .data(data),
            )
    }

    /// A pie: its light options and what the dark theme changes.
    fn with_slices(chart: &Chart) -> ChartOptions {
        ChartOptions {
            light: serde_json::to_string(chart).unwrap_or_default(),
            dark: json!({
                "legend": { "textStyle": { "color": text_color(true) } },
                "series": [{ "id": "slices", "label": { "color": text_color(true) } }],
            })
            .to_string(),
        }
    }

    /// The Credits tab's charts: credits per day by action and by user.
    pub fn credits_charts(
        by_day_action: &Report,
        by_day_user: &Report,
        dir: &Directory,
    ) -> (ChartOptions, ChartOptions) {
        let (days, actions) = daily_series(
            by_day_action,
            &|k| label_of(Dimension::Action, k, dir),
            &|k| action_color(k.unwrap_or("")).to_string(),
        );
        let (user_days, users) =
            daily_series(by_day_user, &|k| label_of(Dimension::User, k, dir), &|k| {
                member_color(&dir.users, k)
            });
        (
            with_axes(&stacked_bars(&days, &actions)),
            with_axes(&stacked_bars(&user_days, &users)),
        )
    }

    /// The Conversations tab's charts: the daily line, and the pies by
    /// campaign and by identity (the top 8 and "Other").
    pub fn conversations_charts(
        by_day: &Report,
        by_campaign: &Report,
        by_identity: &Report,
        dir: &Directory,
    ) -> [ChartOptions; 3] {
        let (days, values) = daily_points(by_day);
        let campaigns = top_with_other(&by_campaign.rows, PIE_SLICES);
        let identities = top_with_other(&by_identity.rows, PIE_SLICES);
        [
            with_axes(&daily_line(&days, &values, "Conversations")),
            with_slices(&pie(&campaigns, "Conversations by campaign", &|k| {
                member_color(&dir.campaigns, k)
            })),
            with_slices(&pie(&identities, "Conversations by identity", &|k| {
                member_color(&dir.identities, k)
            })),
        ]
    }
}

/// The days and values of a `day` report, in its (date) order.
pub fn daily_points(by_day: &Report) -> (Vec<String>, Vec<i64>) {
    by_day
        .rows
        .iter()
        .map(|r| {
            let day = r.keys.first().cloned().flatten().unwrap_or_default();
            (day, r.value)
        })
        .unzip()
}

/// Slices a pie shows before "Other".
pub const PIE_SLICES: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::Period;
    use crate::model::{Dimension, Metric, PeriodInfo};
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn row(keys: &[Option<&str>], label: Option<&str>, value: i64) -> GroupRow {
        GroupRow {
            keys: keys.iter().map(|k| k.map(str::to_string)).collect(),
            label: label.map(str::to_string),
            value,
        }
    }

    fn report(rows: Vec<GroupRow>) -> Report {
        let _ = Period::LastWeek;
        Report {
            metric: Metric::Credits,
            period: PeriodInfo {
                name: "custom".into(),
                from: d("2026-11-16"),
                to: d("2026-11-19"),
                timezone: "UTC".into(),
            },
            group_by: vec![Dimension::Day, Dimension::Action],
            total: rows.iter().map(|r| r.value).sum(),
            rows,
        }
    }

    #[test]
    fn daily_series_fill_every_day() {
        let r = report(vec![
            row(&[Some("2026-11-16"), Some("ai_completion")], None, 5),
            row(&[Some("2026-11-18"), Some("ai_completion")], None, 2),
            row(&[Some("2026-11-17"), Some("enrich_email")], None, 9),
        ]);
        let label = |k: Option<&str>| {
            k.and_then(Action::parse)
                .map_or("None".to_string(), |a| a.label().to_string())
        };
        let color = |k: Option<&str>| action_color(k.unwrap_or("")).to_string();
        let (days, series) = daily_series(&r, &label, &color);
        assert_eq!(days, vec!["2026-11-16", "2026-11-17", "2026-11-18"]);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].label, "Enrich contact email");
        assert_eq!(series[0].values, vec![0, 9, 0]);
        assert_eq!(series[1].values, vec![5, 0, 2]);
        // Every series sums to what the rows hold.
        let sum: i64 = series.iter().flat_map(|s| s.values.iter()).sum();
        assert_eq!(sum, r.total);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_builds_each_chart_with_its_dark_overlay() {
        use crate::model::{Directory, Named};
        let by_day_action = report(vec![
            row(&[Some("2026-11-16"), Some("ai_completion")], None, 5),
            row(&[Some("2026-11-18"), Some("ai_completion")], None, 2),
            row(&[Some("2026-11-17"), Some("enrich_email")], None, 9),
        ]);
        let by_day_user = report(vec![
            row(&[Some("2026-11-16"), Some("u_b")], None, 4),
            row(&[Some("2026-11-17"), Some("u_a")], None, 1),
        ]);
        let named = |id: &str, name: &str| Named {
            id: id.into(),
            name: name.into(),
            status: None,
        };
        let dir = Directory {
            users: vec![named("u_a", "Ana"), named("u_b", "Bo")],
            ..Directory::default()
        };
        let (actions, users) = options::credits_charts(&by_day_action, &by_day_user, &dir);
        let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
        let chart = json(&actions.light);
        assert_eq!(chart["series"][0]["id"], "enrich_email");
        assert_eq!(chart["series"][0]["stack"], "credits");
        assert_eq!(chart["series"][1]["data"], serde_json::json!([5, 0, 2]));
        assert_eq!(
            chart["xAxis"]["data"],
            serde_json::json!(["16 Nov", "17 Nov", "18 Nov"])
        );
        let users = json(&users.light);
        assert_eq!(users["series"][0]["name"], "Bo");
        assert_eq!(users["series"][0]["itemStyle"]["color"], "#f76707");
        let dark = json(&actions.dark);
        assert_eq!(dark["xAxis"]["axisLabel"]["color"], text_color(true));
        assert_eq!(dark["legend"]["textStyle"]["color"], text_color(true));

        let campaigns = report(vec![row(&[Some("c1")], Some("Spring"), 3)]);
        let [line, pie, _] =
            options::conversations_charts(&by_day_user, &campaigns, &campaigns, &dir);
        assert_eq!(json(&line.light)["series"][0]["id"], "daily");
        let pie_dark = json(&pie.dark);
        assert!(pie_dark.get("xAxis").is_none(), "a pie has no axes");
        assert_eq!(pie_dark["series"][0]["id"], "slices");
        assert_eq!(json(&pie.light)["series"][0]["data"][0]["name"], "Spring");
    }

    #[test]
    fn other_gathers_the_tail() {
        let rows: Vec<GroupRow> = (0..11)
            .map(|i| {
                row(
                    &[Some(&format!("c{i:02}"))],
                    Some(&format!("C{i:02}")),
                    100 - i,
                )
            })
            .collect();
        let slices = top_with_other(&rows, 8);
        assert_eq!(slices.len(), 9);
        assert_eq!(slices[0].key.as_deref(), Some("c00"));
        assert!(slices[8].other);
        assert_eq!(slices[8].value, 92 + 91 + 90);
        assert_eq!(
            slices.iter().map(|s| s.value).sum::<i64>(),
            rows.iter().map(|r| r.value).sum::<i64>()
        );
        // No "Other" when everything fits; zero rows are left out.
        let few = vec![
            row(&[Some("a")], Some("A"), 3),
            row(&[None], Some("None"), 0),
        ];
        assert_eq!(top_with_other(&few, 8).len(), 1);
    }

    #[test]
    fn cost_per_conversation() {
        assert_eq!(credits_per_conversation(30, 4), Some(7.5));
        assert_eq!(credits_per_conversation(30, 0), None);
        assert_eq!(credits_per_conversation(0, 3), Some(0.0));
    }

    #[test]
    fn colours_are_stable() {
        assert_eq!(id_color("u_mikaela"), id_color("u_mikaela"));
        assert_eq!(action_color("ai_completion"), "#f59f00");
    }
}
