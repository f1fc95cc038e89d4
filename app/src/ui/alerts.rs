//! Alerts in the app: the banner under the header on every tab, and the
//! Plan tab's list of this cycle's alerts with the thresholds (which
//! admins change there).

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::errors::form_message;
use super::form::Submitted;
use super::header::OverviewResource;
use super::nav::{tab_path, Tab};
use crate::format::{days, long_date, thousands};
use crate::model::{AlertItem, AlertsInfo, Overview};
use crate::rpc::SaveAlertSettings;

/// The banner's level: the highest reached threshold, or 1 for a run-out
/// forecast alone; 0 when there is nothing to say.
pub fn banner_level(a: &AlertsInfo) -> u8 {
    match (a.reached, a.runs_out_on) {
        (Some(p), _) => p,
        (None, Some(_)) => 1,
        (None, None) => 0,
    }
}

/// The banner's sentence (PRODUCT.md, "Alerts").
pub fn banner_text(o: &Overview) -> Option<String> {
    let a = &o.alerts;
    let c = o.summary.credits;
    let renews = format!("renews in {}", days(o.summary.cycle.days_until_renewal));
    let runout = a.runs_out_on.map(|d| {
        format!(
            "at this pace they run out on {}, before renewal on {}",
            long_date(d),
            long_date(o.summary.cycle.renews_on)
        )
    });
    let text = match a.reached {
        Some(100) => {
            let over = if c.overage > 0 {
                format!(" · {} over plan", thousands(c.overage))
            } else {
                String::new()
            };
            format!("You have used all of this cycle's credits{over} · {renews}")
        }
        Some(p) => {
            let mut t = format!(
                "You have used {p}% of this cycle's credits · {} left · {renews}",
                thousands(c.left)
            );
            if let Some(r) = runout {
                t.push_str(&format!(" · {r}"));
            }
            t
        }
        None => {
            let r = runout?;
            format!("Credits are running low: {r}")
        }
    };
    Some(text)
}

/// The banner under the header, on every tab; dismissible for the session,
/// back when a higher threshold fires.
#[component]
pub fn AlertBanner() -> impl IntoView {
    let overview = expect_context::<OverviewResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                overview.await.ok().and_then(|o| {
                    let level = banner_level(&o.alerts);
                    let text = banner_text(&o)?;
                    (level > o.alerts.dismissed).then(|| view! { <Banner text level/> })
                })
            })}
        </Suspense>
    }
}

#[component]
fn Banner(text: String, level: u8) -> impl IntoView {
    let hidden = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    if stored_dismissal() >= level {
        hidden.set(true);
    }
    let buy_more = format!("{}?ask=buy_more", tab_path(Tab::Plan));
    let class = if level >= 100 {
        "alert-banner severe"
    } else {
        "alert-banner"
    };
    view! {
        <div class=class role="status" data-testid="alert-banner" data-level=level hidden=move || hidden.get()>
            <p>{text}</p>
            <div class="buttons">
                <a class="button" href=buy_more data-testid="banner-buy-more">"Buy More"</a>
                <button type="button" class="secondary" aria-label="Dismiss this alert for this session"
                    on:click=move |_| { hidden.set(true); remember_dismissal(level); }>"Dismiss"</button>
            </div>
        </div>
    }
}

/// Remembers for the session (a session cookie the server reads, and the
/// tab's session storage where a frame's cookies are blocked).
#[allow(unused_variables)]
fn remember_dismissal(level: u8) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
            let _ = doc.set_cookie(&format!(
                "credits_banner_dismissed={level}; path=/; SameSite=Lax"
            ));
        }
        if let Some(s) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
            let _ = s.set_item("credits_banner_dismissed", &level.to_string());
        }
    }
}

#[cfg(feature = "hydrate")]
fn stored_dismissal() -> u8 {
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .and_then(|s| s.get_item("credits_banner_dismissed").ok().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What an alert says, in a line.
pub fn alert_line(a: &AlertItem) -> String {
    match (a.kind.as_str(), a.percent, a.runs_out_on) {
        ("threshold", Some(p), _) => format!(
            "{p}% of the cycle's credits used ({} of {})",
            thousands(a.used),
            thousands(a.granted)
        ),
        ("recovered", Some(p), _) => format!(
            "Back under {p}% after more credits were granted ({} of {})",
            thousands(a.used),
            thousands(a.granted)
        ),
        ("runout_forecast", _, Some(d)) => {
            format!("At this pace the credits run out on {}", long_date(d))
        }
        ("limit_reached", _, _) => format!(
            "A limit was reached: {} used of {}",
            thousands(a.used),
            thousands(a.granted)
        ),
        (kind, _, _) => kind.to_string(),
    }
}

fn delivery_text(status: &str) -> &'static str {
    match status {
        "delivered" => "Delivered to the platform",
        "failed" => "Delivery failed, retrying",
        "pending" => "Being delivered",
        _ => "Shown here only",
    }
}

/// The Plan tab's alerts: this cycle's list and the settings.
#[component]
pub fn AlertsCard(o: Overview) -> impl IntoView {
    let a = o.alerts.clone();
    let list = if a.cycle_alerts.is_empty() {
        view! { <p class="muted" data-testid="no-alerts">"No alerts this cycle."</p> }.into_any()
    } else {
        view! {
            <ul class="alert-list" data-testid="alert-list">
                {a.cycle_alerts.iter().map(|item| {
                    let when = item.created_local.clone();
                    view! {
                        <li data-alert-id=item.id.clone() data-kind=item.kind.clone() data-percent=item.percent.map(|p| p.to_string()).unwrap_or_default()>
                            <span class="what">{alert_line(item)}</span>
                            <span class="muted"><time datetime=item.created_at.clone()>{when}</time> " · " {delivery_text(&item.delivery)}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }.into_any()
    };
    let current = if a.thresholds.is_empty() {
        "No thresholds".to_string()
    } else {
        a.thresholds
            .iter()
            .map(|t| format!("{t}%"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let runout = if a.runout_forecast { "on" } else { "off" };
    view! {
        <div class="card alerts" data-testid="alerts">
            <h2>"Alerts"</h2>
            <p>"We alert you, and the platform, when this cycle reaches "
                <strong data-testid="thresholds">{current}</strong>
                " of its credits, and when the pace of the last 7 days runs out before renewal (run-out forecast: " {runout} ")."</p>
            {list}
            {if a.can_edit {
                view! { <AlertSettingsForm a=a.clone()/> }.into_any()
            } else {
                view! { <p class="muted" data-testid="alerts-read-only">"Only admins of the workspace can change the thresholds."</p> }.into_any()
            }}
        </div>
    }
}

#[component]
fn AlertSettingsForm(a: AlertsInfo) -> impl IntoView {
    let save = use_context::<ServerAction<SaveAlertSettings>>().unwrap_or_default();
    let presets = [50u8, 80, 90, 100];
    let custom = a
        .thresholds
        .iter()
        .find(|t| !presets.contains(t))
        .map(|t| t.to_string())
        .unwrap_or_default();
    let on_submit = move |ev| {
        let form = Submitted::take(&ev);
        save.dispatch(SaveAlertSettings {
            t50: form.get("t50"),
            t80: form.get("t80"),
            t90: form.get("t90"),
            t100: form.get("t100"),
            custom: form.get("custom"),
            runout: form.get("runout"),
        });
    };
    view! {
        <form action=SaveAlertSettings::url() method="post" class="alert-settings" data-testid="alert-settings" on:submit=on_submit>
            <fieldset>
                <legend>"Thresholds (share of the cycle's credits used)"</legend>
                {presets.into_iter().map(|p| {
                    let name = format!("t{p}");
                    view! {
                        <label class="check"><input type="checkbox" name=name value="on" checked=a.thresholds.contains(&p)/>{format!("{p}%")}</label>
                    }
                }).collect_view()}
                <label class="check">"Other "
                    <input type="number" name="custom" min="1" max="100" step="1" inputmode="numeric" value=custom aria-label="Another threshold, in percent"/>
                    "%"
                </label>
            </fieldset>
            <label class="check"><input type="checkbox" name="runout" value="on" checked=a.runout_forecast/>"Run-out forecast"</label>
            <div class="buttons">
                <button type="submit" disabled=move || save.pending().get()>"Save alerts"</button>
            </div>
            {move || match save.value().get() {
                Some(Ok(())) => Some(view! { <p class="sent" role="status" data-testid="alerts-saved">"✓ Saved. The next usage is measured against these thresholds."</p> }.into_any()),
                Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{form_message(&e)}</p> }.into_any()),
                None => None,
            }}
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_levels() {
        let mut a = AlertsInfo::default();
        assert_eq!(banner_level(&a), 0);
        a.runs_out_on = chrono::NaiveDate::from_ymd_opt(2026, 11, 23);
        assert_eq!(banner_level(&a), 1);
        a.reached = Some(80);
        assert_eq!(banner_level(&a), 80);
    }

    #[test]
    fn alert_lines() {
        let item = AlertItem {
            id: "al_1".into(),
            kind: "threshold".into(),
            percent: Some(80),
            used: 8_003,
            granted: 10_000,
            runs_out_on: None,
            created_at: "2026-11-20T14:03:11Z".into(),
            created_local: "20 Nov 2026, 15:03 CET".into(),
            delivery: "delivered".into(),
        };
        assert_eq!(
            alert_line(&item),
            "80% of the cycle's credits used (8,003 of 10,000)"
        );
    }
}
