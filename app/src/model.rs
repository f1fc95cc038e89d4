//! The figures the API and the dashboard share, as they travel in JSON.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::{DateRange, Period};
use crate::domain::ledger::CycleCredits;

/// A price in minor units of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Price {
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub amount_cents: i64,
    /// ISO 4217 code.
    #[cfg_attr(feature = "ssr", schema(example = "EUR"))]
    pub currency: String,
}

/// A workspace's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Plan {
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub monthly_credits: i64,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub identities_included: i64,
    pub price: Price,
}

/// The person who handles plan changes and top-ups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountManager {
    pub name: String,
    pub email: String,
}

/// The current billing cycle as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CycleInfo {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub renews_on: NaiveDate,
    pub days_until_renewal: i64,
}

/// Credits of the current cycle, as in API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreditsInfo {
    pub plan: i64,
    pub add_on: i64,
    pub rollover: i64,
    pub granted: i64,
    pub used: i64,
    /// `max(0, granted - used)`
    pub left: i64,
    /// `max(0, used - granted)`
    pub overage: i64,
}

impl From<CycleCredits> for CreditsInfo {
    fn from(c: CycleCredits) -> Self {
        Self {
            plan: c.plan,
            add_on: c.add_on,
            rollover: c.rollover,
            granted: c.granted(),
            used: c.used,
            left: c.left(),
            overage: c.overage(),
        }
    }
}

/// `GET /summary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Summary {
    pub workspace_id: String,
    pub timezone: String,
    pub today: NaiveDate,
    pub cycle: CycleInfo,
    pub plan: Plan,
    pub credits: CreditsInfo,
}

/// What the dashboard's header and Plan tab show: the summary and the rest
/// of the workspace's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub summary: Summary,
    pub workspace_name: String,
    pub week_start: String,
    pub account_manager: Option<AccountManager>,
    pub identities_registered: i64,
    /// RFC 3339 instant the figures were read at.
    pub as_of: String,
    /// The same instant in the workspace's zone, written by the server (the
    /// browser carries no time-zone database): "25 Nov 2026, 11:00 CET".
    #[serde(default)]
    pub as_of_local: String,
    /// The newest request to the account manager, if any.
    pub last_request: Option<SupportRequest>,
    /// Where requests can also be followed up.
    pub contact: ContactLinks,
    /// The viewer's locale (from the hand-off, else the browser's
    /// Accept-Language), for formatting prices.
    #[serde(default)]
    pub locale: Option<String>,
    /// This cycle's alerts and the workspace's settings.
    pub alerts: AlertsInfo,
    /// Limits as the viewer may see them (v1.2), rendered by the server:
    /// the browser's bundle carries no code of their views or models.
    #[serde(default)]
    pub limits: LimitsHtml,
}

/// The limits' HTML: the viewer's meter (empty when no limit applies to
/// them) and the Plan tab's Limits section with, for admins, the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsHtml {
    pub meter: String,
    pub section: String,
}

/// The limits part of the overview: the viewer's own meter, and the Plan
/// tab's Limits section (every row for admins, their own for members).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsInfo {
    /// The viewer's own limit this cycle; `None` when none applies.
    pub mine: Option<LimitRow>,
    /// The viewer's newest request for more, if any.
    pub my_request: Option<LimitRequestItem>,
    /// Whether the viewer is an admin (sets limits, decides requests).
    pub can_edit: bool,
    /// `credits` and `mode` of the workspace's default, if any.
    pub user_default: Option<(i64, String)>,
    pub overage: i64,
    /// Users and campaigns with a limit, closest to it first.
    pub rows: Vec<LimitRow>,
    /// Pending requests (admins: all of them).
    pub pending: Vec<LimitRequestItem>,
    /// Users and campaigns an admin may set a limit on: (scope, id, name).
    pub targets: Vec<(String, String, String)>,
    /// The audit log's newest entries (admins only).
    pub audit: Vec<AuditItem>,
    /// The id of the last entry shown, when there are older ones.
    pub audit_more: Option<String>,
}

/// A user or campaign with its limit and what it used this cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRow {
    /// `user` or `campaign`.
    pub scope: String,
    pub id: String,
    pub name: String,
    pub credits: i64,
    /// `hard` or `soft`.
    pub mode: String,
    /// `user` (their own) or `default`.
    pub source: String,
    pub approved_extra: i64,
    pub effective: i64,
    pub used: i64,
    pub left: i64,
}

impl LimitRow {
    /// Used, in thousandths of the effective limit (capped at 1,000), for
    /// the bar and the order by closeness.
    pub fn closeness(&self) -> i64 {
        if self.effective <= 0 {
            1_000
        } else {
            (self.used.saturating_mul(1_000) / self.effective).clamp(0, 1_000)
        }
    }

    /// At or past the limit.
    pub fn reached(&self) -> bool {
        self.used >= self.effective
    }
}

/// A request for more, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRequestItem {
    pub id: String,
    pub user_id: String,
    pub user_name: String,
    pub credits: i64,
    pub reason: String,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    /// In the workspace's zone.
    pub created_local: String,
    /// Who decided, the credits approved (none for a denial), the note, when.
    pub decision: Option<(String, Option<i64>, String, String)>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditItem>,
    /// The id of the last entry, when there are older ones.
    pub more: Option<String>,
}

/// An audit entry, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditItem {
    pub id: String,
    /// In the workspace's zone.
    pub at_local: String,
    /// The platform, or the user's name.
    pub actor: String,
    /// A sentence: what changed, from what to what.
    pub what: String,
}

/// One alert of the cycle, as the Plan tab lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertItem {
    pub id: String,
    /// `threshold`, `recovered` or `runout_forecast`.
    pub kind: String,
    pub percent: Option<u8>,
    pub used: i64,
    pub granted: i64,
    pub runs_out_on: Option<NaiveDate>,
    /// RFC 3339.
    pub created_at: String,
    /// The same instant in the workspace's zone, written by the server.
    pub created_local: String,
    /// `pending`, `delivered`, `failed` or `none`.
    pub delivery: String,
}

/// What the banner and the Plan tab's alert section need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsInfo {
    /// Thresholds (ascending) and the run-out forecast switch.
    pub thresholds: Vec<u8>,
    pub runout_forecast: bool,
    /// The highest threshold this cycle has reached (and not recovered).
    pub reached: Option<u8>,
    /// The day the credits run out at the pace of the last 7 full days, when before renewal.
    pub runs_out_on: Option<NaiveDate>,
    /// This cycle's alerts, newest first.
    pub cycle_alerts: Vec<AlertItem>,
    /// Whether the viewer (an admin of the workspace) may change the settings.
    pub can_edit: bool,
    /// The level of banner the viewer dismissed this session (0: none).
    pub dismissed: u8,
}

/// What a request to the account manager asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    ChangePlan,
    BuyMore,
}

impl Intent {
    /// The API spelling.
    pub fn key(self) -> &'static str {
        match self {
            Self::ChangePlan => "change_plan",
            Self::BuyMore => "buy_more",
        }
    }

    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "change_plan" => Some(Self::ChangePlan),
            "buy_more" => Some(Self::BuyMore),
            _ => None,
        }
    }

    /// The button's words.
    pub fn label(self) -> &'static str {
        match self {
            Self::ChangePlan => "Change Plan",
            Self::BuyMore => "Buy More",
        }
    }
}

/// Longest message to the account manager, in characters.
pub const MAX_REQUEST_MESSAGE: usize = 2_000;

/// A request to the account manager, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportRequest {
    pub id: String,
    pub workspace_id: String,
    pub user_id: Option<String>,
    pub intent: Intent,
    pub message: String,
    /// RFC 3339.
    pub created_at: String,
    /// The same instant in the workspace's zone, written by the server for
    /// the page (empty where nothing was shown yet).
    #[serde(default)]
    pub created_local: String,
}

/// Where a request can be followed up besides the stored record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactLinks {
    /// Origins of the platform that may embed the dashboard; `credits:open-chat`
    /// is posted to the parent only at these.
    pub platform_origins: Vec<String>,
    /// The platform chat, offered when the dashboard runs standalone.
    pub chat_url: Option<String>,
}

/// A grouping dimension of the usage reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Day,
    Action,
    Category,
    User,
    Campaign,
    Identity,
}

impl Dimension {
    /// The `group_by` spelling.
    pub fn key(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Action => "action",
            Self::Category => "category",
            Self::User => "user",
            Self::Campaign => "campaign",
            Self::Identity => "identity",
        }
    }

    /// The field name a row carries for this dimension.
    pub fn field(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Action => "action",
            Self::Category => "category",
            Self::User => "user_id",
            Self::Campaign => "campaign_id",
            Self::Identity => "identity_id",
        }
    }

    /// Parses a `group_by` key.
    pub fn parse(key: &str) -> Option<Self> {
        [
            Self::Day,
            Self::Action,
            Self::Category,
            Self::User,
            Self::Campaign,
            Self::Identity,
        ]
        .into_iter()
        .find(|d| d.key() == key)
    }
}

/// Which events a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Credits,
    Conversations,
}

impl Metric {
    /// The field name of the value in rows.
    pub fn field(self) -> &'static str {
        match self {
            Self::Credits => "credits",
            Self::Conversations => "conversations",
        }
    }

    /// The dimensions a report of this metric may group by.
    pub fn allows(self, d: Dimension) -> bool {
        match self {
            Self::Credits => true,
            Self::Conversations => matches!(
                d,
                Dimension::Day | Dimension::Campaign | Dimension::Identity | Dimension::User
            ),
        }
    }
}

/// Filters of a usage report; each narrows to one id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
}

/// A validated usage query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    pub period: Period,
    pub group_by: Vec<Dimension>,
    pub filters: Filters,
}

/// The period a report covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PeriodInfo {
    pub name: String,
    pub from: NaiveDate,
    /// Exclusive.
    pub to: NaiveDate,
    pub timezone: String,
}

impl PeriodInfo {
    /// The local date range.
    pub fn range(&self) -> DateRange {
        DateRange {
            from: self.from,
            to: self.to,
        }
    }
}

/// One group of a report: a key per grouped dimension (`None` for events
/// that name no campaign or identity), a label for a single non-day
/// dimension, and the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    pub keys: Vec<Option<String>>,
    pub label: Option<String>,
    pub value: i64,
}

/// A usage report: credits or conversations over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub metric: Metric,
    pub period: PeriodInfo,
    pub group_by: Vec<Dimension>,
    pub total: i64,
    pub rows: Vec<GroupRow>,
}

/// A user, campaign or identity for filters and tables, by its current name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
    /// Campaigns: `active`, `paused` or `archived`.
    pub status: Option<String>,
}

/// Users, campaigns and identities of a workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub users: Vec<Named>,
    pub campaigns: Vec<Named>,
    pub identities: Vec<Named>,
}

/// A chart's ECharts options as JSON text, built on the server (the
/// browser only parses and draws them), and the options the dark theme
/// merges over them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartOptions {
    pub light: String,
    pub dark: String,
}
