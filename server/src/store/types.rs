//! The store's types: workspaces and what they own, events, sessions,
//! deliveries and names, as the store reads and writes them.

use std::collections::{BTreeMap, HashMap};

use app::domain::alerts::AlertSettings;
use app::domain::calendar::{BillingCycle, Calendar, WeekStart};
use app::domain::ledger::Action;
use app::domain::limits::{Limit, LimitSettings, Scope};
use app::model::{AccountManager, Plan, Price};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A workspace as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub tz: Tz,
    pub week_start: WeekStart,
    pub plan: Plan,
    pub account_manager: Option<AccountManager>,
    pub alerts: AlertSettings,
    pub limits: LimitSettings,
    /// Whether its keyed rollups (by user, campaign, identity and pairs)
    /// are kept: once it has taken `KEYED_FROM` events (`store::density`).
    pub keyed_rollups: bool,
}

impl Workspace {
    /// The workspace's calendar.
    pub fn calendar(&self) -> Calendar {
        Calendar::new(self.tz, self.week_start)
    }
}

/// A workspace's fields as the platform sends them.
#[derive(Debug, Clone)]
pub struct WorkspaceInput {
    pub name: String,
    pub tz: Tz,
    pub week_start: WeekStart,
    pub plan: Plan,
    pub account_manager: Option<AccountManager>,
    /// Fields left out keep the stored settings (the default for a new workspace).
    pub alerts: Option<AlertsPatch>,
    /// Fields left out keep the stored settings.
    pub limits: Option<LimitsPatch>,
}

/// A change of alert settings: a field left out keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertsPatch {
    pub thresholds: Option<Vec<u8>>,
    pub runout_forecast: Option<bool>,
}

impl AlertsPatch {
    /// The settings after this change.
    pub fn apply(&self, to: &AlertSettings) -> AlertSettings {
        AlertSettings {
            thresholds: self
                .thresholds
                .clone()
                .unwrap_or_else(|| to.thresholds.clone()),
            runout_forecast: self.runout_forecast.unwrap_or(to.runout_forecast),
        }
    }
}

/// A change of limit settings: a field left out keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsPatch {
    /// `Some(None)` removes the default.
    pub user_default: Option<Option<Limit>>,
    pub overage: Option<i64>,
}

impl LimitsPatch {
    /// The settings after this change.
    pub fn apply(&self, to: &LimitSettings) -> LimitSettings {
        LimitSettings {
            user_default: self.user_default.unwrap_or(to.user_default),
            overage: self.overage.unwrap_or(to.overage),
        }
    }
}

/// Who made a change: the platform (through the API) or a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Platform,
    User(String),
}

impl Actor {
    /// The stored form: `platform` or `user:<id>`.
    pub fn stored(&self) -> String {
        match self {
            Self::Platform => "platform".into(),
            Self::User(id) => format!("user:{id}"),
        }
    }

    /// From the stored form.
    pub fn from_stored(s: &str) -> Self {
        match s.strip_prefix("user:") {
            Some(id) => Self::User(id.to_string()),
            None => Self::Platform,
        }
    }

    /// As the API writes it: `{"kind": "platform"}` or `{"kind": "user", "user_id": …}`.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Self::Platform => serde_json::json!({"kind": "platform"}),
            Self::User(id) => serde_json::json!({"kind": "user", "user_id": id}),
        }
    }
}

/// The limit that refused a charge, as the `402 limit_reached` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit {
    pub scope: Scope,
    pub id: String,
    pub limit: Limit,
    pub effective: i64,
    pub used: i64,
    pub left: i64,
}

/// A soft limit a charge passed: `warnings` of its `201`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitWarning {
    pub scope: Scope,
    pub id: String,
    pub credits: i64,
    pub effective: i64,
    pub used: i64,
}

/// A user's role in a workspace: admins set limits and alerts and decide
/// requests for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    /// Every role's key, as the API and the database spell them.
    pub const KEYS: [&'static str; 2] = ["admin", "member"];

    pub fn key(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A user, identity or campaign, as the platform sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    User {
        name: String,
        email: String,
        role: Role,
    },
    Identity {
        name: String,
        channel: String,
        user_id: String,
    },
    Campaign {
        name: String,
        status: String,
    },
}

/// A credit grant to the current cycle.
#[derive(Debug, Clone)]
pub struct GrantInput {
    pub id: String,
    pub kind: String,
    pub credits: i64,
    pub note: Option<String>,
    pub price: Option<Price>,
    /// The request as canonical JSON, to recognise a replay.
    pub request: String,
}

/// How the API renders what a write made: the store keeps the rendered
/// body beside the write, in the same transaction, to answer a replay
/// with the first body.
pub type RenderCharge = for<'a> fn(&Charged<'a>) -> serde_json::Value;

/// [`RenderCharge`] for grants.
pub type RenderGrant = for<'a> fn(&Granted<'a>) -> serde_json::Value;

/// A charge as made: the event, at its time, and the credits left after it.
#[derive(Debug, Clone, Copy)]
pub struct Charged<'a> {
    pub event: &'a NewEvent,
    pub action: Action,
    pub credits: i64,
    pub occurred_at: DateTime<Utc>,
    pub credits_left: i64,
    /// Soft limits past their effective limit after the charge.
    pub warnings: &'a [LimitWarning],
}

/// A grant as made: for the cycle it belongs to, at its time.
#[derive(Debug, Clone, Copy)]
pub struct Granted<'a> {
    pub grant: &'a GrantInput,
    pub cycle: BillingCycle,
    pub created_at: DateTime<Utc>,
}

/// A validated usage event.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    /// `Some` for credit events, `None` for conversations.
    pub credits: Option<(Action, i64)>,
    pub user_id: String,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
    /// The event as canonical JSON, to recognise a duplicate.
    pub request: String,
}

/// Outcome of a batch of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    pub inserted: usize,
    pub duplicates: usize,
}

/// Outcome of a charge.
#[derive(Debug, Clone, PartialEq)]
pub enum ChargeOutcome {
    /// Spent; the response body.
    Created(serde_json::Value),
    /// The same request again; the first response's body.
    Replayed(serde_json::Value),
    /// Not enough credits left; nothing recorded.
    Insufficient { credits_left: i64 },
    /// Refused by a hard user or campaign limit; nothing recorded.
    LimitReached { credits_left: i64, hit: LimitHit },
}

/// One event row of the CSV export.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub action: String,
    pub credits: i64,
    pub user_id: String,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
}

/// A signed-in user of one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub workspace_id: String,
    pub user_id: String,
    /// Opened inside the platform's iframe.
    pub embedded: bool,
    pub theme: Option<String>,
    pub locale: Option<String>,
}

/// Where a request's webhook delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub created_ms: i64,
    pub attempts: i64,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Where a webhook delivery stands, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// No webhook is configured (alerts only).
    None,
    Pending,
    /// An attempt failed; it is still retried (alerts only).
    Failed,
    Delivered,
}

impl DeliveryStatus {
    pub fn key(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
        }
    }
}

impl Delivery {
    /// Where an alert's delivery stands: `none` without a webhook,
    /// `delivered`, `failed` after a failed attempt (still retried), else
    /// `pending`.
    pub fn status(&self, webhook: bool) -> DeliveryStatus {
        if self.delivered_at.is_some() {
            DeliveryStatus::Delivered
        } else if !webhook {
            DeliveryStatus::None
        } else if self.attempts > 0 {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        }
    }

    /// Where a support request's delivery stands: the contract's two
    /// states for them, `pending` (retried) or `delivered`.
    pub fn request_status(&self) -> DeliveryStatus {
        if self.delivered_at.is_some() {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Pending
        }
    }
}

/// A delivery leased to this process.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub request_id: String,
    pub payload: String,
    pub attempts: i64,
}

/// A workspace's directory: its users, identities and campaigns by id,
/// with their names (for labels) and what references them (to check a
/// write's references). The one shape of it in the server; the pages get
/// it as [`app::model::Directory`].
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// user id → name
    pub users: HashMap<String, String>,
    /// identity id → name
    pub identities: HashMap<String, String>,
    /// identity id → its user's id
    pub owners: HashMap<String, String>,
    /// campaign id → name and status
    pub campaigns: HashMap<String, (String, String)>,
    /// Takes every id as known: for a check that the store repeats.
    pub trusting: bool,
}

impl Names {
    /// A directory that takes every id as known; the store checks the
    /// references itself ([`super::StoreError::UnknownReferences`]).
    pub fn trusting() -> Self {
        Self {
            trusting: true,
            ..Self::default()
        }
    }

    pub fn has_user(&self, id: &str) -> bool {
        self.trusting || self.users.contains_key(id)
    }

    pub fn has_campaign(&self, id: &str) -> bool {
        self.trusting || self.campaigns.contains_key(id)
    }

    pub fn has_identity(&self, id: &str) -> bool {
        self.trusting || self.identities.contains_key(id)
    }
}

/// A report's groups: the keys of each grouped dimension, and the value.
pub type Groups = BTreeMap<Vec<Option<String>>, i64>;
