//! The CSV export of credit usage, shared by the API's `credit-usage.csv`
//! and the dashboard's download: RFC 4180 cells that never run as
//! spreadsheet formulas, and the rows of a validated query.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio_stream::wrappers::ReceiverStream;

use app::domain::ledger::Action;
use app::model::{Dimension, Metric, UsageQuery};
use app::rows::label_of;

use crate::store::{Names, Store, StoreResult, Workspace};

/// One CSV cell: a value that a spreadsheet would run as a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return: the OWASP
/// rule), or that would once a spreadsheet splits it at its own list
/// separator (`,`, `;` or a tab, by locale: `x;=WEBSERVICE(…)`), gets a
/// leading `'`; then it is quoted when it holds a comma, semicolon, tab,
/// quote or line break (RFC 4180; a quoted cell is never split, whatever
/// the separator). Every figure the exports carry is a non-negative number
/// or a date, which no rule touches.
pub fn field(s: &str) -> String {
    let formula = |part: &str| part.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let risky = formula(s)
        || s.split([',', ';', '\t'])
            .skip(1)
            .any(|p| formula(p.trim_start()));
    let s = if risky {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    if s.contains([',', ';', '\t', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// One CSV record, CRLF-terminated.
pub fn record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields
        .iter()
        .map(|f| field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Events per page of the per-event CSV (one statement each).
pub(crate) const PAGE: i64 = 2_000;

pub use crate::store::MAX_EXPORTS;

/// How long an export waits for a reader that stopped reading before it
/// gives up (the rows it holds meanwhile are one page at most).
pub const STALLED_READER: std::time::Duration = std::time::Duration::from_secs(30);

/// The CSV of a validated query at `now`: streamed rows of events without
/// `group_by`, the report's groups with it.
pub async fn credit_usage(
    store: &Store,
    ws: Workspace,
    query: UsageQuery,
    now: DateTime<Utc>,
) -> StoreResult<Response> {
    let permit = store.export_permit()?;
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"credit-usage.csv\"",
        ),
    ];
    if !query.group_by.is_empty() {
        let report = store.report(&ws, Metric::Credits, &query, now).await?;
        let mut out = String::new();
        let mut head: Vec<String> = query
            .group_by
            .iter()
            .map(|d| d.field().to_string())
            .collect();
        let labelled = query.group_by.len() == 1 && query.group_by[0] != Dimension::Day;
        if labelled {
            head.push("label".into());
        }
        head.push("credits".into());
        out.push_str(&record(&head));
        for row in &report.rows {
            let mut f: Vec<String> = row
                .keys
                .iter()
                .map(|k| k.clone().unwrap_or_default())
                .collect();
            if labelled {
                f.push(row.label.clone().unwrap_or_default());
            }
            f.push(row.value.to_string());
            out.push_str(&record(&f));
        }
        return Ok((headers, out).into_response());
    }
    let range = query.period.range(ws.calendar().today(now), ws.week_start);
    // Each event is a row: none is left before the retention horizon.
    let (start, _) = ws.calendar().instants(range);
    store.retained_since(
        start,
        now,
        "from",
        "a per-event export (no group_by) starting",
    )?;
    let names: Names = store.names(&ws.id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = store.clone();
    tokio::spawn(async move {
        // Held while the export streams.
        let _permit = permit;
        // A reader that stops reading is given up on after a while.
        let send = |bytes: Result<Bytes, std::io::Error>| {
            let tx = tx.clone();
            async move {
                matches!(
                    tokio::time::timeout(STALLED_READER, tx.send(bytes)).await,
                    Ok(Ok(()))
                )
            }
        };
        let head = record(&[
            "occurred_at",
            "date",
            "event_id",
            "action",
            "action_label",
            "category",
            "credits",
            "user_id",
            "user",
            "campaign_id",
            "campaign",
            "identity_id",
            "identity",
        ]);
        if !send(Ok(Bytes::from(head))).await {
            return;
        }
        let cal = ws.calendar();
        let mut after: Option<(i64, String)> = None;
        loop {
            let page = match store
                .credit_events_page(&ws, range, &query, after.clone(), PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(cause = %e, "csv export failed");
                    send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            };
            let mut chunk = String::new();
            for e in &page {
                let local = e.occurred_at.with_timezone(&ws.tz);
                let action = Action::parse(&e.action);
                chunk.push_str(&record(&[
                    local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    cal.local_day(e.occurred_at).format("%Y-%m-%d").to_string(),
                    e.id.clone(),
                    e.action.clone(),
                    action.map(|a| a.label().to_string()).unwrap_or_default(),
                    action
                        .map(|a| a.category().key().to_string())
                        .unwrap_or_default(),
                    e.credits.to_string(),
                    e.user_id.clone(),
                    label_of(Dimension::User, Some(&e.user_id), &names),
                    e.campaign_id.clone().unwrap_or_default(),
                    e.campaign_id
                        .as_deref()
                        .map(|c| label_of(Dimension::Campaign, Some(c), &names))
                        .unwrap_or_default(),
                    e.identity_id.clone().unwrap_or_default(),
                    e.identity_id
                        .as_deref()
                        .map(|i| label_of(Dimension::Identity, Some(i), &names))
                        .unwrap_or_default(),
                ]));
            }
            if !chunk.is_empty() && !send(Ok(Bytes::from(chunk))).await {
                return;
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => {
                    after = Some((last.occurred_at.timestamp_millis(), last.id.clone()))
                }
                _ => return,
            }
        }
    });
    Ok((headers, Body::from_stream(ReceiverStream::new(rx))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(record(&["a", "b\nc"]), "a,\"b\nc\"\r\n");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(
            field("=HYPERLINK(\"http://evil\",\"x\")"),
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""
        );
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-2+3"), "'-2+3");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "\"'\tx\"");
        assert_eq!(field("\rx"), "\"'\rx\"");
        assert_eq!(field("Q4 = CTOs"), "Q4 = CTOs");
        assert_eq!(field("2026-11-03"), "2026-11-03");
        assert_eq!(field("120"), "120");
    }

    /// A name that a spreadsheet splits at its own list separator (`;` in
    /// much of Europe, a tab in pasted text) is neither split nor run.
    #[test]
    fn formulas_behind_any_separator_are_defused() {
        for (given, want) in [
            (
                "x;=WEBSERVICE(\"http://evil\")",
                "\"'x;=WEBSERVICE(\"\"http://evil\"\")\"",
            ),
            ("x;  +1", "\"'x;  +1\""),
            ("x\t@SUM(A1)", "\"'x\t@SUM(A1)\""),
            ("x,-2", "\"'x,-2\""),
            ("Q4; CTOs", "\"Q4; CTOs\""),
        ] {
            assert_eq!(field(given), want, "{given}");
        }
    }
}
