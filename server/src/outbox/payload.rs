//! The bodies the outbox POSTs (API.md, "Delivery"), written once, in the
//! transaction that records what they announce: the same bytes go out on
//! every attempt. Plain values in, JSON text out: the store fills them.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use app::model::{AccountManager, Intent};

/// `support_request.created`.
#[derive(Debug, Serialize)]
pub struct SupportRequestCreated<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub workspace_name: &'a str,
    pub user_id: Option<&'a str>,
    pub intent: Intent,
    pub message: &'a str,
    /// RFC 3339, UTC, whole seconds.
    pub created_at: &'a str,
    pub account_manager: Option<&'a AccountManager>,
}

/// The cycle an alert belongs to; `end` is exclusive.
#[derive(Debug, Serialize)]
pub struct Cycle {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// `credits.threshold_reached`, `credits.recovered` or
/// `credits.runout_forecast`: the alert as the API lists it, without
/// `delivery`, with the workspace's id and name.
#[derive(Debug, Serialize)]
pub struct AlertRecorded<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub workspace_name: &'a str,
    /// `threshold`, `recovered` or `runout_forecast`.
    pub kind: &'a str,
    pub percent: Option<u8>,
    pub cycle: Cycle,
    pub used: i64,
    pub granted: i64,
    pub runs_out_on: Option<NaiveDate>,
    /// Written as RFC 3339, UTC, whole seconds.
    #[serde(serialize_with = "whole_seconds")]
    pub created_at: DateTime<Utc>,
    /// `workspace`, or `user` / `campaign` for `limit_reached` (v1.2).
    pub scope: &'a str,
    pub scope_id: Option<&'a str>,
}

fn whole_seconds<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// A payload as sent: its event `type` beside its fields.
#[derive(Serialize)]
struct Typed<'a, T> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

fn text<T: Serialize>(kind: &str, body: &T) -> String {
    serde_json::to_string(&Typed { kind, body }).unwrap_or_default()
}

impl SupportRequestCreated<'_> {
    /// The JSON text to send.
    pub fn to_json(&self) -> String {
        text("support_request.created", self)
    }
}

impl AlertRecorded<'_> {
    /// The JSON text to send, under its event `type`.
    pub fn to_json(&self, event_type: &str) -> String {
        text(event_type, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_reads_as_the_contract_says() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00.250Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("instant");
        let a = AlertRecorded {
            id: "al_1",
            workspace_id: "acme",
            workspace_name: "Acme",
            kind: "threshold",
            percent: Some(80),
            cycle: Cycle {
                start: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                end: NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
            },
            used: 8_000,
            granted: 10_000,
            runs_out_on: None,
            created_at: at,
            scope: "workspace",
            scope_id: None,
        };
        let v: serde_json::Value =
            serde_json::from_str(&a.to_json("credits.threshold_reached")).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"type": "credits.threshold_reached", "id": "al_1",
                "workspace_id": "acme", "workspace_name": "Acme", "kind": "threshold",
                "percent": 80, "cycle": {"start": "2026-11-01", "end": "2026-12-01"},
                "used": 8000, "granted": 10000, "runs_out_on": null,
                "created_at": "2026-11-24T10:00:00Z", "scope": "workspace", "scope_id": null})
        );
    }

    #[test]
    fn a_request_carries_its_type_and_manager() {
        let am = AccountManager {
            name: "Laura".into(),
            email: "laura@example.com".into(),
        };
        let r = SupportRequestCreated {
            id: "req_1",
            workspace_id: "acme",
            workspace_name: "Acme",
            user_id: Some("u_1"),
            intent: Intent::BuyMore,
            message: "More, please",
            created_at: "2026-11-24T10:00:00Z",
            account_manager: Some(&am),
        };
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(v["type"], "support_request.created");
        assert_eq!(v["intent"], "buy_more");
        assert_eq!(v["account_manager"]["email"], "laura@example.com");
        assert_eq!(v["workspace_name"], "Acme");
    }
}
