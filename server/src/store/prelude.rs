//! What the store's concern files share: the crates they speak to and
//! the handle, errors, rows and statement helpers (never another concern).

pub(super) use std::collections::{BTreeMap, HashMap, HashSet};

pub(super) use app::domain::alerts::AlertSettings;
pub(super) use app::domain::calendar::{BillingCycle, DateRange};
pub(super) use app::domain::ledger::{plan_change_grant, Action, CycleCredits};
pub(super) use app::domain::limits::{Limit, LimitMode, LimitSettings, Scope};
pub(super) use app::model::{
    ContactLinks, CreditsInfo, CycleInfo, Dimension, Intent, Metric, Overview, PeriodInfo, Report,
    Summary, SupportRequest, UsageQuery,
};
pub(super) use chrono::{DateTime, NaiveDate, Utc};
pub(super) use sqlx::any::AnyRow;
pub(super) use sqlx::{AnyConnection, Row};

pub(super) use super::db::Store;
pub(super) use super::error::*;
pub(super) use super::sql::*;
pub(super) use super::types::*;
