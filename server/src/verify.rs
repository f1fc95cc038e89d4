//! `credits verify`: the ledger's consistency, and what a client was told
//! was stored (the crash test's expectations).

use serde::{Deserialize, Serialize};

use crate::store::{LedgerCheck, Store};

/// What a client sent: batches and charges, and which were acknowledged.
#[derive(Debug, Deserialize)]
pub struct Sent {
    pub workspace: String,
    #[serde(default)]
    pub batches: Vec<SentBatch>,
    #[serde(default)]
    pub charges: Vec<SentCharge>,
}

#[derive(Debug, Deserialize)]
pub struct SentBatch {
    pub ids: Vec<String>,
    pub acked: bool,
}

#[derive(Debug, Deserialize)]
pub struct SentCharge {
    pub id: String,
    pub acked: bool,
}

/// The report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub consistent: bool,
    pub ledger: LedgerCheck,
    pub batches_acknowledged: usize,
    pub events_acknowledged: usize,
    pub events_found: usize,
    /// Acknowledged events missing.
    pub lost: usize,
    /// Batches partly stored (some of their events, not all).
    pub partial_batches: usize,
    pub charges_acknowledged: usize,
    pub charges_lost: usize,
}

/// Checks the ledger and, with `expect`, the client's record.
pub async fn run(store: &Store, expect: Option<&str>) -> Result<Report, String> {
    let ledger = store.check_ledger().await.map_err(|e| e.to_string())?;
    let mut report = Report {
        consistent: false,
        ledger,
        batches_acknowledged: 0,
        events_acknowledged: 0,
        events_found: 0,
        lost: 0,
        partial_batches: 0,
        charges_acknowledged: 0,
        charges_lost: 0,
    };
    if let Some(path) = expect {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let sent: Sent = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        for b in &sent.batches {
            let found = store
                .stored_event_ids(&sent.workspace, &b.ids)
                .await
                .map_err(|e| e.to_string())?;
            report.events_found += found.len();
            if !found.is_empty() && found.len() != b.ids.len() {
                report.partial_batches += 1;
            }
            if b.acked {
                report.batches_acknowledged += 1;
                report.events_acknowledged += b.ids.len();
                report.lost += b.ids.len() - found.len();
            }
        }
        let acked: Vec<String> = sent
            .charges
            .iter()
            .filter(|c| c.acked)
            .map(|c| c.id.clone())
            .collect();
        let found = store
            .stored_charge_ids(&sent.workspace, &acked)
            .await
            .map_err(|e| e.to_string())?;
        report.charges_acknowledged = acked.len();
        report.charges_lost = acked.len() - found.len();
    }
    // Stored exactly once is the primary key's promise; counted once is the
    // aggregates' and balances' agreement with the raw events.
    report.consistent = report.ledger.consistent()
        && report.lost == 0
        && report.partial_batches == 0
        && report.charges_lost == 0;
    Ok(report)
}
