//! The contract between the HTML the server writes (`ui/server/`) and the
//! listeners that read it in the browser (`ui/browser/`).
//!
//! The chart tabs' bodies and the Limits section are rendered on the
//! server and put in place with `inner_html`: no Leptos handler comes with
//! them. What they do in the browser is said by marks in the markup (a
//! `data-*` attribute on an element the listeners find with a selector),
//! and each mark is named here once: the listeners select with these
//! constants, and `ui/server`'s tests render every body and check that
//! each element the listeners need is marked as they expect
//! ([`check`], run by `ui/server/contract.rs`).

/// The class of a tab body's box: the listeners act inside it only.
pub const TAB_BODY: &str = "tab-body";

/// What an element of a server-rendered body does in the browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// A table header's button (`data-sort`: [`SortBy`]) sorts its table.
    Sort,
    /// A `<select>` (`data-filter`, equal to its `name`) moves to the view
    /// filtered by its value.
    Filter,
    /// The CSV link (`data-export`) downloads with the session's header
    /// inside the frame.
    Export,
    /// A limits form (`data-limits`) is posted to the limits server
    /// function; its outcome goes in its [`FORM_MESSAGE`] slot.
    LimitsForm,
    /// The audit log's "Show older" button (`data-audit-older`: the
    /// oldest entry shown) loads older entries after itself.
    AuditOlder,
}

impl Behaviour {
    /// Every behaviour.
    pub const ALL: [Behaviour; 5] = [
        Behaviour::Sort,
        Behaviour::Filter,
        Behaviour::Export,
        Behaviour::LimitsForm,
        Behaviour::AuditOlder,
    ];

    /// The attribute that marks it.
    pub const fn attr(self) -> &'static str {
        match self {
            Behaviour::Sort => "data-sort",
            Behaviour::Filter => "data-filter",
            Behaviour::Export => "data-export",
            Behaviour::LimitsForm => "data-limits",
            Behaviour::AuditOlder => "data-audit-older",
        }
    }

    /// The selector its listener finds it with (the element itself or the
    /// nearest ancestor of an event's target).
    pub const fn selector(self) -> &'static str {
        match self {
            Behaviour::Sort => ".tab-body button[data-sort]",
            Behaviour::Filter => ".tab-body select[data-filter]",
            Behaviour::Export => ".tab-body a[data-export]",
            Behaviour::LimitsForm => "form[data-limits]",
            Behaviour::AuditOlder => "button[data-audit-older]",
        }
    }
}

/// What a sort button sorts by: the `data-sort` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// The row's header text, ascending first.
    Label,
    /// The row's `data-value`, descending first.
    Value,
}

impl SortBy {
    /// Its `data-sort` value.
    pub const fn key(self) -> &'static str {
        match self {
            SortBy::Label => "label",
            SortBy::Value => "value",
        }
    }

    /// The value a `data-sort` attribute holds.
    pub fn parse(s: &str) -> Option<Self> {
        [SortBy::Label, SortBy::Value]
            .into_iter()
            .find(|b| b.key() == s)
    }
}

/// A table row's figure, which the value sort reads.
pub const ROW_VALUE: &str = "data-value";
/// The slot of a limits form's outcome.
pub const FORM_MESSAGE: &str = "data-form-message";

/// A chart's box: `data-chart` holds its id; the browser draws in it.
pub const CHART_BOX: &str = "data-chart";
/// The chart's options, in the `<script type="application/json">` that
/// follows its box, whose `data-chart-options` repeats the box's id.
pub const CHART_OPTIONS: &str = "data-chart-options";
/// Set on the box by the browser: `false` while drawing, `true` once drawn.
pub const CHART_DRAWN: &str = "data-drawn";

/// The keys of a chart's options block ([`ChartBlock`]).
pub mod keys {
    /// The ECharts options in the light theme.
    pub const LIGHT: &str = "light";
    /// What the dark theme changes over them.
    pub const DARK: &str = "dark";
    /// What a click filters by ([`super::Drill`]), or `null`.
    pub const DRILL: &str = "drill";
    /// The drill's query parameter.
    pub const PARAM: &str = "param";
    /// Whether the clicked series' id is the value.
    pub const SERIES: &str = "series";
    /// The key of each name (legend entries and slices name their item).
    pub const NAMES: &str = "names";
}

/// What a click on a chart filters by: the query parameter, whether the
/// clicked series' id is the value (stacked bars, one series per key), and
/// the key of each name (legend entries and slices name their item only).
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    pub param: &'static str,
    pub by_series: bool,
    pub names: Vec<(String, String)>,
}

/// A chart's options block, as the server writes it beside the box.
#[cfg(feature = "ssr")]
pub fn chart_block(options: &crate::model::ChartOptions, drill: Option<&Drill>) -> String {
    use serde_json::{json, Map, Value};
    let drill = drill.map(|d| {
        json!({
            keys::PARAM: d.param,
            keys::SERIES: d.by_series,
            keys::NAMES: d.names.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<_, _>>(),
        })
    });
    // The options are JSON text already.
    format!(
        r#"{{"{}":{},"{}":{},"{}":{}}}"#,
        keys::LIGHT,
        options.light,
        keys::DARK,
        options.dark,
        keys::DRILL,
        serde_json::to_string(&drill).unwrap_or_else(|_| "null".into())
    )
}

/// Checks a rendered body against this contract: every chart box has its
/// options block, readable, with a drill the listeners understand; every
/// sort button is in a table's header with a known [`SortBy`] and every
/// row has a figure; every filter select is named as it is marked; every
/// export link leads to a CSV; every limits form has its outcome slot and
/// an `op`; no element carries an inline handler. Returns each breach.
#[cfg(all(test, feature = "ssr"))]
pub fn check(html: &str) -> Vec<String> {
    use scraper::{Html, Selector};
    let doc = Html::parse_fragment(&format!(r#"<div class="{TAB_BODY}">{html}</div>"#));
    let sel = |s: &str| Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e:?}"));
    let mut breaches = Vec::new();
    for b in doc.select(&sel(&format!("[{CHART_BOX}]"))) {
        let id = b.value().attr(CHART_BOX).unwrap_or_default();
        let block = b
            .next_siblings()
            .find_map(scraper::ElementRef::wrap)
            .filter(|s| s.value().attr(CHART_OPTIONS) == Some(id));
        let Some(block) = block else {
            breaches.push(format!("chart {id}: no options block after its box"));
            continue;
        };
        let text: String = block.text().collect();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v[keys::LIGHT].is_object() && v[keys::DARK].is_object() => {
                let d = &v[keys::DRILL];
                if !(d.is_null()
                    || d[keys::PARAM].is_string()
                        && d[keys::SERIES].is_boolean()
                        && d[keys::NAMES].is_object())
                {
                    breaches.push(format!(
                        "chart {id}: drill {d} is not one the browser reads"
                    ));
                }
            }
            _ => breaches.push(format!(
                "chart {id}: options are not light and dark objects"
            )),
        }
    }
    for b in doc.select(&sel(Behaviour::Sort.selector())) {
        let by = b.value().attr(Behaviour::Sort.attr()).unwrap_or_default();
        if SortBy::parse(by).is_none() {
            breaches.push(format!("sort button by {by:?}: not a SortBy"));
        }
        let in_head = b
            .ancestors()
            .filter_map(scraper::ElementRef::wrap)
            .any(|a| a.value().name() == "thead");
        if !in_head {
            breaches.push("a sort button outside a table's header".into());
        }
    }
    let (tables, sort) = (sel("table"), sel(&format!("[{}]", Behaviour::Sort.attr())));
    for table in doc
        .select(&tables)
        .filter(|t| t.select(&sort).next().is_some())
    {
        for row in table.select(&sel("tbody tr")) {
            if row.value().attr(ROW_VALUE).is_none() {
                breaches.push(format!("a row of a sortable table without {ROW_VALUE}"));
            }
        }
    }
    for s in doc.select(&sel(Behaviour::Filter.selector())) {
        let (name, mark) = (
            s.value().attr("name"),
            s.value().attr(Behaviour::Filter.attr()),
        );
        if name.is_none() || name != mark {
            breaches.push(format!("filter select named {name:?} marked {mark:?}"));
        }
    }
    for a in doc.select(&sel(Behaviour::Export.selector())) {
        let href = a.value().attr("href").unwrap_or_default();
        if !href.split('?').next().unwrap_or_default().ends_with(".csv") {
            breaches.push(format!("export link to {href:?}, not a CSV"));
        }
    }
    for f in doc.select(&sel(Behaviour::LimitsForm.selector())) {
        if f.select(&sel(&format!("[{FORM_MESSAGE}]")))
            .next()
            .is_none()
        {
            breaches.push("a limits form without its outcome slot".into());
        }
        if f.select(&sel(r#"[name="op"]"#)).next().is_none() {
            breaches.push("a limits form without an op".into());
        }
    }
    for el in doc.select(&sel("*")) {
        if let Some((name, _)) = el.value().attrs().find(|(n, _)| n.starts_with("on")) {
            breaches.push(format!(
                "<{}> has an inline handler {name}",
                el.value().name()
            ));
        }
    }
    breaches
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn each_selector_finds_its_mark() {
        for b in Behaviour::ALL {
            assert!(b.selector().ends_with(&format!("[{}]", b.attr())), "{b:?}");
        }
        for b in [Behaviour::Sort, Behaviour::Filter, Behaviour::Export] {
            assert!(b.selector().starts_with(&format!(".{TAB_BODY} ")), "{b:?}");
        }
        assert_eq!(SortBy::parse(SortBy::Value.key()), Some(SortBy::Value));
        assert_eq!(SortBy::parse("size"), None);
    }

    #[test]
    fn the_check_finds_each_breach() {
        let good = r#"<table><thead><tr><th><button data-sort="value">V</button></th></tr></thead>
            <tbody><tr data-value="3"><th>a</th></tr></tbody></table>
            <select name="user" data-filter="user"></select>
            <a href="/usage/credits.csv?period=today" data-export>CSV</a>"#;
        assert_eq!(check(good), Vec::<String>::new());
        let bad = r#"<table><thead><tr><th><button data-sort="size">V</button></th></tr></thead>
            <tbody><tr><th>a</th></tr></tbody></table>
            <select name="user" data-filter="campaign"></select>
            <a href="/usage/credits" data-export onclick="x()">CSV</a>
            <div data-chart="c"></div>
            <form data-limits></form>"#;
        let found = check(bad);
        for breach in [
            "not a SortBy",
            "without data-value",
            "marked Some(\"campaign\")",
            "not a CSV",
            "inline handler onclick",
            "chart c: no options block",
            "without its outcome slot",
            "without an op",
        ] {
            assert!(
                found.iter().any(|f| f.contains(breach)),
                "{breach}: {found:?}"
            );
        }
    }
}
