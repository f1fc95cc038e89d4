//! The store: every SQL statement of the app, for SQLite and PostgreSQL.
//!
//! One `AnyPool` speaks to either engine; statements use `$n` placeholders,
//! which both accept. Writing transactions open with `BEGIN IMMEDIATE` on
//! SQLite (so a read-then-write never hits SQLITE_BUSY) and run in READ
//! COMMITTED on PostgreSQL, where check-and-spend is one conditional UPDATE.
//! Transient failures (lock timeouts, deadlocks, a unique race between two
//! writers of the same id) are retried, never surfaced.
//!
//! One file per concern, and this one only names them: `db` the handle and
//! its connection; `writes` transactions, their retries and the charge
//! queue; `error` and `types` what the others return; `sql` the statement
//! helpers; `workspaces` workspaces, members and time-zone moves; `cycles` the
//! cycle rows; `ledger` grants and events; `deltas` what events change in the rollups and totals; `charges` check-and-spend; `alerts`; `limits` per-user and
//! per-campaign limits, their totals and alerts; `limit_settings` their
//! overview and changes; `limit_requests` requests for
//! more; `audit` the audit log;
//! `reports` reports, summary and overview (`naive` their recomputation
//! from raw events); `requests` support requests and the outbox;
//! `sessions` sessions and hand-offs; `check` consistency checks and
//! backups; `retention` the horizon past which raw events are dropped; `rollup` the rollups' vocabulary (their dimensions and codes); `density` which workspaces keep keyed rollups; `packs` the packed months of PostgreSQL's events; `size` the bytes on disk. The files import each other directly, never through this one.

mod alerts;
mod audit;
mod charges;
mod check;
mod cycles;
mod db;
mod deltas;
mod density;
mod error;
mod ledger;
mod limit_requests;
mod limit_settings;
mod limits;
mod naive;
mod packs;
mod prelude;
mod reports;
mod requests;
mod retention;
mod rollup;
mod sessions;
mod size;
mod sql;
mod types;
mod workspaces;
mod writes;

pub use alerts::{Alert, AlertKind};
pub use audit::AuditEntry;
pub use check::LedgerCheck;
pub use db::{Store, MAX_EXPORTS};
pub use density::KEYED_FROM;
pub use error::{Engine, StoreError, StoreResult, MAX_CYCLE_CREDITS};
pub use limit_requests::{Decision, LimitRequest, NewLimitRequest, RequestStatus, Verdict};
pub use limit_settings::{LimitsOverview, ScopeLimit};
pub use requests::SendLimit;
pub use retention::horizon_of;
pub use types::*;
pub use writes::STATISTICS_LOCK;
