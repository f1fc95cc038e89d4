//! The rollups' vocabulary, in one place: which sums `daily_rollup` keeps,
//! the short codes that name them in its rows, and which columns of an
//! event feed each. Every row and each of its index entries carries these
//! codes, so they are a byte or two: the words they replaced
//! (`'conversations'`, `'campaign_identity'`) cost up to 30 bytes four
//! times a row.

use app::domain::ledger::Action;
use app::model::{Dimension, Metric};

/// One of the sums kept per day and action: the day's totals, one per
/// user, campaign or identity, or one per pair of the drill-downs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RollupDim {
    Total,
    User,
    Campaign,
    Identity,
    CampaignIdentity,
    UserCampaign,
}

impl RollupDim {
    pub const ALL: [RollupDim; 6] = [
        Self::Total,
        Self::User,
        Self::Campaign,
        Self::Identity,
        Self::CampaignIdentity,
        Self::UserCampaign,
    ];

    /// Whether it is kept per user, campaign or identity: kept for the
    /// workspaces that pass `density::KEYED_FROM` events (the day's
    /// totals are kept for every workspace).
    pub fn keyed(self) -> bool {
        self != Self::Total
    }

    /// Its code in `daily_rollup.dim`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Total => "",
            Self::User => "u",
            Self::Campaign => "c",
            Self::Identity => "i",
            Self::CampaignIdentity => "ci",
            Self::UserCampaign => "uc",
        }
    }

    /// The rollup that answers a question grouping or filtering by these
    /// of user, campaign and identity, if one does (two that are not a
    /// drill-down's pair, or all three, read the events).
    pub fn answering(user: bool, campaign: bool, identity: bool) -> Option<Self> {
        match (user, campaign, identity) {
            (false, false, false) => Some(Self::Total),
            (true, false, false) => Some(Self::User),
            (false, true, false) => Some(Self::Campaign),
            (false, false, true) => Some(Self::Identity),
            (false, true, true) => Some(Self::CampaignIdentity),
            (true, true, false) => Some(Self::UserCampaign),
            _ => None,
        }
    }

    /// The column of `daily_rollup` that holds dimension `d` in this
    /// rollup (`day` and `action` are columns of every rollup; `action`
    /// holds codes, [`action_code`]: group by [`ACTION_KEY`] to read keys).
    pub fn column(self, d: Dimension) -> &'static str {
        match (d, self) {
            (Dimension::Day, _) => "day",
            (Dimension::Action | Dimension::Category, _) => "action",
            (Dimension::Identity, Self::CampaignIdentity) => "key2",
            (Dimension::Campaign, Self::UserCampaign) => "key2",
            _ => "key",
        }
    }

    /// An event's `(key, key2)` in this rollup (`''` for none).
    pub fn keys(
        self,
        user: &str,
        campaign: Option<&str>,
        identity: Option<&str>,
    ) -> (String, String) {
        let (campaign, identity) = (campaign.unwrap_or(""), identity.unwrap_or(""));
        let (key, key2) = match self {
            Self::Total => ("", ""),
            Self::User => (user, ""),
            Self::Campaign => (campaign, ""),
            Self::Identity => (identity, ""),
            Self::CampaignIdentity => (campaign, identity),
            Self::UserCampaign => (user, campaign),
        };
        (key.to_string(), key2.to_string())
    }

    /// The same keys as SQL over `usage_events`, for the recomputation
    /// from the events.
    pub fn event_keys(self) -> [&'static str; 2] {
        const USER: &str = "user_id";
        const CAMPAIGN: &str = "COALESCE(campaign_id, '')";
        const IDENTITY: &str = "COALESCE(identity_id, '')";
        match self {
            Self::Total => ["''", "''"],
            Self::User => [USER, "''"],
            Self::Campaign => [CAMPAIGN, "''"],
            Self::Identity => [IDENTITY, "''"],
            Self::CampaignIdentity => [CAMPAIGN, IDENTITY],
            Self::UserCampaign => [USER, CAMPAIGN],
        }
    }
}

/// The rows of rollup `dim` of `metric`, recomputed from the events and
/// the sums of those dropped past the retention horizon, as
/// `daily_rollup`'s columns in its order (workspace, metric, dim, day,
/// action, key, key2, value); `filter` (`AND …` over `workspace_id`, or
/// nothing) picks the workspaces, in both halves. Shared by `credits
/// verify` and the backfill of a workspace's keyed rollups.
pub fn recompute_sql(dim: RollupDim, metric: Metric, filter: &str) -> String {
    let [key, key2] = dim.event_keys();
    let group: String = [key, key2]
        .iter()
        .filter(|k| **k != "''")
        .map(|k| format!(", {k}"))
        .collect();
    let (code, kind) = (metric_code(metric), event_kind(metric));
    let value = match metric {
        Metric::Credits => "credits",
        Metric::Conversations => "1",
    };
    // Keys are '' where the events' are NULL; conversations carry no
    // action ('' in the rollups).
    format!(
        "SELECT workspace_id, '{code}' AS metric, '{}' AS dim, day, {} AS action, {key} AS key, {key2} AS key2, \
         CAST(SUM(v) AS BIGINT) AS value FROM (\
         SELECT workspace_id, day, COALESCE(action, '') AS action, user_id, campaign_id, identity_id, {value} AS v \
         FROM stored_events WHERE kind = '{kind}' {filter} UNION ALL \
         SELECT workspace_id, day, action, user_id, campaign_id, identity_id, value \
         FROM event_archive WHERE kind = '{kind}' {filter}) AS e \
         GROUP BY workspace_id, day, action{group}",
        dim.code(),
        action_code_sql("action")
    )
}

/// An action's code in `daily_rollup.action` (`''` for conversations,
/// which have none).
pub fn action_code(action: Action) -> &'static str {
    match action {
        Action::ScrapeCompany => "sc",
        Action::ScrapeContact => "sp",
        Action::EnrichEmail => "ee",
        Action::EnrichPhone => "ep",
        Action::AiCompletion => "ai",
    }
}

/// The code of the action keyed `key` as stored in a rollup; a key no
/// action has stays itself (and matches no row).
pub fn action_code_of(key: &str) -> String {
    Action::parse(key).map_or_else(|| key.to_string(), |a| action_code(a).to_string())
}

/// SQL that reads `daily_rollup.action` back as the action's key.
pub fn action_key_sql() -> String {
    case_sql(
        "action",
        Action::ALL.iter().map(|a| (action_code(*a), a.key())),
    )
}

/// SQL that turns an action's key (in `column`) into its code.
pub fn action_code_sql(column: &str) -> String {
    case_sql(
        column,
        Action::ALL.iter().map(|a| (a.key(), action_code(*a))),
    )
}

fn case_sql<'a>(column: &str, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = format!("CASE {column}");
    for (from, to) in pairs {
        out.push_str(&format!(" WHEN '{from}' THEN '{to}'"));
    }
    out.push_str(" ELSE '' END");
    out
}

/// A metric's code in `daily_rollup.metric`.
pub fn metric_code(metric: Metric) -> &'static str {
    match metric {
        Metric::Credits => "c",
        Metric::Conversations => "v",
    }
}

/// The `kind` of the events a metric counts.
pub fn event_kind(metric: Metric) -> &'static str {
    match metric {
        Metric::Credits => "credits",
        Metric::Conversations => "conversation",
    }
}

/// What a metric sums over its events.
pub fn event_value(metric: Metric) -> &'static str {
    match metric {
        Metric::Credits => "SUM(credits)",
        Metric::Conversations => "COUNT(*)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_short() {
        let codes: std::collections::BTreeSet<&str> =
            RollupDim::ALL.iter().map(|d| d.code()).collect();
        assert_eq!(codes.len(), RollupDim::ALL.len());
        assert!(codes.iter().all(|c| c.len() <= 2));
        assert_ne!(
            metric_code(Metric::Credits),
            metric_code(Metric::Conversations)
        );
        let actions: std::collections::BTreeSet<&str> =
            Action::ALL.iter().map(|a| action_code(*a)).collect();
        assert_eq!(actions.len(), Action::ALL.len());
        assert!(!actions.contains(""));
        for a in Action::ALL {
            assert_eq!(action_code_of(a.key()), action_code(a));
            assert!(action_key_sql().contains(&format!(
                "WHEN '{}' THEN '{}'",
                action_code(a),
                a.key()
            )));
        }
        assert_eq!(action_code_of("nope"), "nope");
    }

    #[test]
    fn each_rollup_keys_what_it_answers() {
        for dim in RollupDim::ALL {
            let (key, key2) = dim.keys("u1", Some("c1"), Some("i1"));
            let answers = |d| match dim.column(d) {
                "key" => key.clone(),
                "key2" => key2.clone(),
                other => other.to_string(),
            };
            match dim {
                RollupDim::User => assert_eq!(answers(Dimension::User), "u1"),
                RollupDim::Campaign => assert_eq!(answers(Dimension::Campaign), "c1"),
                RollupDim::Identity => assert_eq!(answers(Dimension::Identity), "i1"),
                RollupDim::CampaignIdentity => {
                    assert_eq!(answers(Dimension::Campaign), "c1");
                    assert_eq!(answers(Dimension::Identity), "i1");
                }
                RollupDim::UserCampaign => {
                    assert_eq!(answers(Dimension::User), "u1");
                    assert_eq!(answers(Dimension::Campaign), "c1");
                }
                RollupDim::Total => assert_eq!((key.as_str(), key2.as_str()), ("", "")),
            }
            let user = matches!(dim, RollupDim::User | RollupDim::UserCampaign);
            let campaign = matches!(
                dim,
                RollupDim::Campaign | RollupDim::CampaignIdentity | RollupDim::UserCampaign
            );
            let identity = matches!(dim, RollupDim::Identity | RollupDim::CampaignIdentity);
            assert_eq!(RollupDim::answering(user, campaign, identity), Some(dim));
        }
        assert_eq!(RollupDim::answering(true, false, true), None);
        assert_eq!(RollupDim::answering(true, true, true), None);
    }
}
