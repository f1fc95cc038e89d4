//! The period picker of the Credits and Conversations tabs' bodies, and
//! their change against the previous period. The query string is the only
//! state: every view can be reloaded, shared and navigated with back and
//! forward.

use leptos::prelude::*;

use crate::format::date_range;
use crate::model::PeriodInfo;
use crate::query::Query;

/// The presets, in the order of the picker.
pub const PRESETS: [(&str, &str); 7] = [
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("this_week", "This Week"),
    ("last_week", "Last Week"),
    ("this_month", "This Month"),
    ("last_month", "Last Month"),
    ("last_28_days", "Last 28 days"),
];

/// The parameters that say the period.
pub const PERIOD_KEYS: [&str; 4] = ["period", "date", "from", "to"];

/// The parameters other than the period's, as hidden inputs of a GET form.
fn hidden_filters(params: &Query) -> AnyView {
    params
        .pairs()
        .iter()
        .filter(|(k, _)| !PERIOD_KEYS.contains(&k.as_str()))
        .map(|(k, v)| view! { <input type="hidden" name=k.clone() value=v.clone()/> })
        .collect_view()
        .into_any()
}

/// Presets, a day, a custom range, and the dates covered.
#[component]
pub fn PeriodPicker(path: &'static str, params: Query, period: PeriodInfo) -> impl IntoView {
    let clear: Vec<(&str, Option<&str>)> = vec![("date", None), ("from", None), ("to", None)];
    let presets = PRESETS
        .iter()
        .map(|(key, label)| {
            let mut changes = clear.clone();
            changes.push(("period", Some(key)));
            let href = params.href_with(path, &changes);
            let active = period.name == *key;
            // A plain link: the router (ui/location.rs) moves in place.
            view! { <a href=href class=if active { "preset active" } else { "preset" } aria-current=active.then_some("true") data-period=*key>{*label}</a> }
        })
        .collect_view();
    let last = period.to.pred_opt().unwrap_or(period.to);
    let day_value = if period.name == "day" {
        period.from.to_string()
    } else {
        String::new()
    };
    let (from_value, to_value) = (period.from.to_string(), last.to_string());
    let (hidden_day, hidden_custom) = (hidden_filters(&params), hidden_filters(&params));
    let (is_day, is_custom) = (period.name == "day", period.name == "custom");
    let covered = date_range(period.from, period.to);
    let (from_attr, to_attr, tz) = (
        period.from.to_string(),
        period.to.to_string(),
        period.timezone.clone(),
    );
    view! {
        <div class="period-picker card">
            <nav class="presets" aria-label="Period">{presets}</nav>
            <div class="period-forms">
                <form method="get" action=path class="inline-form" data-form="day">
                    {hidden_day}
                    <input type="hidden" name="period" value="day"/>
                    <label>"Daily " <input type="date" name="date" value=day_value required/></label>
                    <button type="submit" class="secondary" class:active=is_day>"Show day"</button>
                </form>
                <form method="get" action=path class="inline-form" data-form="custom">
                    {hidden_custom}
                    <input type="hidden" name="period" value="custom"/>
                    <label>"From " <input type="date" name="from" value=from_value required/></label>
                    <label>"to " <input type="date" name="to" value=to_value required/></label>
                    <button type="submit" class="secondary" class:active=is_custom>"Apply range"</button>
                </form>
            </div>
            <p class="covered" data-testid="covered" data-from=from_attr data-to=to_attr>
                {covered} <span class="muted">" · " {tz}</span>
            </p>
        </div>
    }
}

/// "+12% vs the previous 7 days".
pub fn change_text(current: i64, previous: i64, days: i64) -> String {
    let span = if days == 1 {
        "the previous day".to_string()
    } else {
        format!("the previous {days} days")
    };
    if previous == 0 {
        return if current == 0 {
            format!("No change vs {span}")
        } else {
            format!("New vs {span} (0)")
        };
    }
    let pct = (current - previous) as f64 / previous as f64 * 100.0;
    let pct = crate::format::fixed(pct, 0);
    let sign = if pct.starts_with('-') { "" } else { "+" };
    format!("{sign}{pct}% vs {span}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_against_the_previous_period() {
        assert_eq!(change_text(120, 100, 7), "+20% vs the previous 7 days");
        assert_eq!(change_text(50, 100, 1), "-50% vs the previous day");
        assert_eq!(change_text(0, 0, 7), "No change vs the previous 7 days");
    }
}
