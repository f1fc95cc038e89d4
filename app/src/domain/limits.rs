//! Limits (API.md, "Limits (v1.2)"): who may spend how much in a cycle.
//! Pure: the store reads each scope's figures under the cycle row's lock
//! and asks [`decide_charge`] whether a charge holds, and
//! [`reached`] / [`rearms`] when a limit alert fires or may fire again.

use serde::{Deserialize, Serialize};

/// Largest limit, overage or requested amount.
pub const MAX_LIMIT_CREDITS: i64 = 1_000_000_000;

/// Whether a limit refuses charges past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMode {
    /// A charge that would take the scope past its limit is refused.
    Hard,
    /// Charges pass, with a warning and an alert.
    Soft,
}

impl LimitMode {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Soft => "soft",
        }
    }

    /// From the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hard" => Some(Self::Hard),
            "soft" => Some(Self::Soft),
            _ => None,
        }
    }
}

/// A limit: credits per cycle, and its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub credits: i64,
    pub mode: LimitMode,
}

/// The workspace's limit settings (its `limits` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LimitSettings {
    /// The limit of every user who has none of their own.
    pub user_default: Option<Limit>,
    /// Credits charges may take past the cycle's granted credits.
    pub overage: i64,
}

/// What a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    User,
    Campaign,
}

impl Scope {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Campaign => "campaign",
        }
    }

    /// From the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "campaign" => Some(Self::Campaign),
            _ => None,
        }
    }
}

/// Where a user's limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    /// Their own limit.
    User,
    /// The workspace's `user_default`.
    Default,
}

impl LimitSource {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Default => "default",
        }
    }
}

/// A change of limits made in the dashboard: a member asking for more, or
/// an admin changing limits and deciding requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitChange {
    /// The viewer asks for more credits for themselves.
    Request { credits: i64, reason: String },
    /// Sets a user's or campaign's limit.
    Set {
        scope: Scope,
        id: String,
        limit: Limit,
    },
    /// Removes a user's or campaign's limit.
    Remove { scope: Scope, id: String },
    /// Approves (with credits, default the requested amount) or denies a request.
    Decide {
        request_id: String,
        approve: bool,
        credits: Option<i64>,
        note: String,
    },
    /// The workspace's default limit and overage.
    Settings {
        user_default: Option<Limit>,
        overage: i64,
    },
}

impl LimitChange {
    /// Whether only admins may make it.
    pub fn admin_only(&self) -> bool {
        !matches!(self, Self::Request { .. })
    }
}

/// A dashboard form's fields as a [`LimitChange`], or the sentence that
/// says what to fix.
pub fn read_change(
    op: &str,
    scope: Option<&str>,
    id: Option<&str>,
    credits: Option<&str>,
    mode: Option<&str>,
    note: Option<&str>,
    overage: Option<&str>,
) -> Result<LimitChange, String> {
    let number = |v: Option<&str>, min: i64, what: &str| -> Result<Option<i64>, String> {
        match v.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s
                .replace(',', "")
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=MAX_LIMIT_CREDITS).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    format!("Type {what} as a whole number from {min} to 1,000,000,000.")
                }),
        }
    };
    // A form may name its target as one `scope:id` choice.
    let (scope, id) = match (scope, id) {
        (Some(s), None) => match s.split_once(':') {
            Some((scope, id)) => (Some(scope), Some(id)),
            None => (Some(s), None),
        },
        other => other,
    };
    let note = note.unwrap_or_default().trim().to_string();
    if note.chars().count() > 1_000 {
        return Err("Keep the note under 1,000 characters.".into());
    }
    let id = || {
        id.map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 64)
            .map(str::to_string)
            .ok_or_else(|| "Choose who the limit is for.".to_string())
    };
    let scope = || {
        scope
            .and_then(Scope::parse)
            .ok_or_else(|| "Choose a user or a campaign.".to_string())
    };
    let mode = || {
        mode.and_then(LimitMode::parse)
            .ok_or_else(|| "Choose whether the limit stops charges or only warns.".to_string())
    };
    match op {
        "request" => Ok(LimitChange::Request {
            credits: number(credits, 1, "the credits")?.ok_or("Type how many credits you need.")?,
            reason: note,
        }),
        "set" => Ok(LimitChange::Set {
            scope: scope()?,
            id: id()?,
            limit: Limit {
                credits: number(credits, 0, "the limit")?.ok_or("Type the limit in credits.")?,
                mode: mode()?,
            },
        }),
        "remove" => Ok(LimitChange::Remove {
            scope: scope()?,
            id: id()?,
        }),
        "approve" | "deny" => Ok(LimitChange::Decide {
            request_id: id()?,
            approve: op == "approve",
            credits: if op == "approve" {
                number(credits, 1, "the credits")?
            } else {
                None
            },
            note,
        }),
        "settings" => Ok(LimitChange::Settings {
            user_default: match number(credits, 0, "the default limit")? {
                Some(credits) => Some(Limit {
                    credits,
                    mode: mode()?,
                }),
                None => None,
            },
            overage: number(overage, 0, "the overage")?.unwrap_or(0),
        }),
        _ => Err("This form is out of date: reload the page.".into()),
    }
}

/// The limit that applies to a user: their own, else the workspace's
/// default, else none.
pub fn user_limit(own: Option<Limit>, default: Option<Limit>) -> Option<(Limit, LimitSource)> {
    own.map(|l| (l, LimitSource::User))
        .or(default.map(|l| (l, LimitSource::Default)))
}

/// One scope's figures in a cycle, with the limit that applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeFigures {
    pub limit: Limit,
    /// Credits approved requests added in this cycle (0 for campaigns).
    pub approved_extra: i64,
    pub used: i64,
}

impl ScopeFigures {
    /// The limit plus what approved requests added.
    pub fn effective(&self) -> i64 {
        self.limit.credits.saturating_add(self.approved_extra)
    }

    /// Credits left before the limit, never negative.
    pub fn left(&self) -> i64 {
        (self.effective() - self.used).max(0)
    }

    /// Whether `credits` more keep this scope within its limit.
    pub fn holds(&self, credits: i64) -> bool {
        self.used.saturating_add(credits) <= self.effective()
    }
}

/// The workspace's own balance: the outermost limit of charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceFigures {
    pub granted: i64,
    pub overage: i64,
    pub used: i64,
}

impl WorkspaceFigures {
    /// What charges may still take: `max(0, granted + overage - used)`.
    pub fn left(&self) -> i64 {
        (self.granted.saturating_add(self.overage) - self.used).max(0)
    }
}

/// Which limit refused a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The workspace's balance (`insufficient_credits`).
    Workspace,
    /// A hard user or campaign limit (`limit_reached`).
    Scope(Scope),
}

/// What a charge does to the limits that apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeDecision {
    /// Refused by the first limit, in the order workspace, campaign, user.
    Refused(Refusal),
    /// Accepted; the soft scopes past their limit after it, campaign first.
    Accepted { warnings: Vec<Scope> },
}

/// Decides a charge of `credits` against the workspace, its campaign's
/// figures and its user's (each `None` when no limit applies).
pub fn decide_charge(
    credits: i64,
    workspace: WorkspaceFigures,
    campaign: Option<ScopeFigures>,
    user: Option<ScopeFigures>,
) -> ChargeDecision {
    if workspace.used.saturating_add(credits) > workspace.granted.saturating_add(workspace.overage)
    {
        return ChargeDecision::Refused(Refusal::Workspace);
    }
    let scopes = [(Scope::Campaign, campaign), (Scope::User, user)];
    for (scope, figures) in scopes {
        if let Some(f) = figures {
            if f.limit.mode == LimitMode::Hard && !f.holds(credits) {
                return ChargeDecision::Refused(Refusal::Scope(scope));
            }
        }
    }
    let warnings = scopes
        .into_iter()
        .filter_map(|(scope, f)| {
            let f = f?;
            (f.limit.mode == LimitMode::Soft && f.used.saturating_add(credits) > f.effective())
                .then_some(scope)
        })
        .collect();
    ChargeDecision::Accepted { warnings }
}

/// Whether a scope's used has reached its effective limit (its
/// `limit_reached` alert fires, once per cycle).
pub fn reached(figures: &ScopeFigures) -> bool {
    figures.used >= figures.effective()
}

/// Whether a change of a scope's own effective limit re-arms its alert:
/// the limit was removed, or its effective limit is now above its used.
pub fn rearms(after: Option<&ScopeFigures>) -> bool {
    after.is_none_or(|f| f.effective() > f.used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope(credits: i64, mode: LimitMode, extra: i64, used: i64) -> ScopeFigures {
        ScopeFigures {
            limit: Limit { credits, mode },
            approved_extra: extra,
            used,
        }
    }

    const ROOMY: WorkspaceFigures = WorkspaceFigures {
        granted: 1_000_000,
        overage: 0,
        used: 0,
    };

    #[test]
    fn the_workspace_refuses_first_then_the_campaign_then_the_user() {
        let tight = WorkspaceFigures {
            granted: 10,
            overage: 0,
            used: 10,
        };
        let full = scope(5, LimitMode::Hard, 0, 5);
        assert_eq!(
            decide_charge(1, tight, Some(full), Some(full)),
            ChargeDecision::Refused(Refusal::Workspace)
        );
        assert_eq!(
            decide_charge(1, ROOMY, Some(full), Some(full)),
            ChargeDecision::Refused(Refusal::Scope(Scope::Campaign))
        );
        assert_eq!(
            decide_charge(1, ROOMY, None, Some(full)),
            ChargeDecision::Refused(Refusal::Scope(Scope::User))
        );
    }

    #[test]
    fn overage_lets_charges_past_granted() {
        let ws = WorkspaceFigures {
            granted: 10,
            overage: 5,
            used: 12,
        };
        assert_eq!(ws.left(), 3);
        assert!(matches!(
            decide_charge(3, ws, None, None),
            ChargeDecision::Accepted { .. }
        ));
        assert_eq!(
            decide_charge(4, ws, None, None),
            ChargeDecision::Refused(Refusal::Workspace)
        );
    }

    #[test]
    fn soft_limits_warn_once_past_and_never_refuse() {
        let soft = scope(10, LimitMode::Soft, 0, 9);
        assert_eq!(
            decide_charge(1, ROOMY, Some(soft), None),
            ChargeDecision::Accepted { warnings: vec![] }
        );
        assert_eq!(
            decide_charge(2, ROOMY, Some(soft), Some(soft)),
            ChargeDecision::Accepted {
                warnings: vec![Scope::Campaign, Scope::User]
            }
        );
    }

    #[test]
    fn approvals_add_to_the_effective_limit() {
        let s = scope(2000, LimitMode::Hard, 500, 2310);
        assert_eq!(s.effective(), 2500);
        assert_eq!(s.left(), 190);
        assert!(s.holds(190));
        assert!(!s.holds(191));
    }

    #[test]
    fn a_users_own_limit_wins_over_the_default() {
        let own = Limit {
            credits: 5,
            mode: LimitMode::Soft,
        };
        let default = Limit {
            credits: 50,
            mode: LimitMode::Hard,
        };
        assert_eq!(
            user_limit(Some(own), Some(default)),
            Some((own, LimitSource::User))
        );
        assert_eq!(
            user_limit(None, Some(default)),
            Some((default, LimitSource::Default))
        );
        assert_eq!(user_limit(None, None), None);
    }

    #[test]
    fn rearming_needs_room_or_no_limit() {
        assert!(rearms(None));
        assert!(rearms(Some(&scope(10, LimitMode::Hard, 0, 9))));
        assert!(!rearms(Some(&scope(10, LimitMode::Hard, 0, 10))));
        assert!(reached(&scope(10, LimitMode::Soft, 0, 10)));
        assert!(!reached(&scope(10, LimitMode::Soft, 0, 9)));
    }

    #[test]
    fn forms_read_as_changes() {
        assert_eq!(
            read_change(
                "request",
                None,
                None,
                Some("1,500"),
                None,
                Some(" Q4 "),
                None
            ),
            Ok(LimitChange::Request {
                credits: 1500,
                reason: "Q4".into()
            })
        );
        assert_eq!(
            read_change("settings", None, None, Some(""), None, None, Some("50")),
            Ok(LimitChange::Settings {
                user_default: None,
                overage: 50
            })
        );
        assert!(read_change(
            "set",
            Some("user"),
            Some("u_1"),
            Some("-1"),
            Some("hard"),
            None,
            None
        )
        .is_err());
        assert!(read_change(
            "set",
            Some("team"),
            Some("u_1"),
            Some("5"),
            Some("hard"),
            None,
            None
        )
        .is_err());
        assert_eq!(
            read_change(
                "set",
                Some("campaign:c_q4"),
                None,
                Some("30"),
                Some("soft"),
                None,
                None
            ),
            Ok(LimitChange::Set {
                scope: Scope::Campaign,
                id: "c_q4".into(),
                limit: Limit {
                    credits: 30,
                    mode: LimitMode::Soft
                }
            })
        );
        assert!(read_change("request", None, None, None, None, None, None).is_err());
        assert!(read_change("drop", None, None, None, None, None, None).is_err());
        assert!(read_change(
            "deny",
            None,
            Some("lr_1"),
            None,
            None,
            Some(&"x".repeat(1001)),
            None
        )
        .is_err());
        assert!(LimitChange::Set {
            scope: Scope::User,
            id: "u".into(),
            limit: Limit {
                credits: 1,
                mode: LimitMode::Hard
            }
        }
        .admin_only());
        assert!(!LimitChange::Request {
            credits: 1,
            reason: String::new()
        }
        .admin_only());
    }

    fn mode() -> impl Strategy<Value = LimitMode> {
        prop_oneof![Just(LimitMode::Hard), Just(LimitMode::Soft)]
    }

    fn figures() -> impl Strategy<Value = Option<ScopeFigures>> {
        proptest::option::of(
            (0i64..100, mode(), 0i64..50, 0i64..200).prop_map(|(c, m, e, u)| scope(c, m, e, u)),
        )
    }

    proptest! {
        /// Charges one after another never take a hard scope past its
        /// effective limit, nor the workspace past granted + overage, and
        /// a refusal names a scope that would really have been passed.
        #[test]
        fn no_hard_limit_is_ever_passed(
            granted in 0i64..300, overage in 0i64..50,
            campaign in figures(), user in figures(),
            charges in proptest::collection::vec(1i64..20, 1..60),
        ) {
            let mut ws = WorkspaceFigures { granted, overage, used: 0 };
            let (mut c, mut u) = (campaign, user);
            for credits in charges {
                match decide_charge(credits, ws, c, u) {
                    ChargeDecision::Accepted { warnings } => {
                        ws.used += credits;
                        for f in [&mut c, &mut u].into_iter().flatten() { f.used += credits; }
                        for s in warnings {
                            let f = if s == Scope::Campaign { c } else { u };
                            let f = f.expect("a warning names a scope that applies");
                            prop_assert_eq!(f.limit.mode, LimitMode::Soft);
                            prop_assert!(f.used > f.effective());
                        }
                    }
                    ChargeDecision::Refused(Refusal::Workspace) => {
                        prop_assert!(ws.used + credits > granted + overage);
                    }
                    ChargeDecision::Refused(Refusal::Scope(s)) => {
                        let f = if s == Scope::Campaign { c } else { u };
                        let f = f.expect("a refusal names a scope that applies");
                        prop_assert_eq!(f.limit.mode, LimitMode::Hard);
                        prop_assert!(!f.holds(credits));
                    }
                }
                prop_assert!(ws.used <= granted + overage);
            }
            // What a hard scope used past its limit came before the run.
            for (start, now) in [(campaign, c), (user, u)] {
                if let (Some(start), Some(now)) = (start, now) {
                    if now.limit.mode == LimitMode::Hard {
                        prop_assert!(now.used <= now.effective().max(start.used));
                    }
                }
            }
        }

        /// The tightest hard limit wins: a charge passes only if it holds
        /// under every hard limit that applies.
        #[test]
        fn the_tightest_limit_wins(credits in 1i64..50, campaign in figures(), user in figures()) {
            let accepted = matches!(decide_charge(credits, ROOMY, campaign, user), ChargeDecision::Accepted { .. });
            let holds_all = [campaign, user].into_iter().flatten()
                .filter(|f| f.limit.mode == LimitMode::Hard)
                .all(|f| f.holds(credits));
            prop_assert_eq!(accepted, holds_all);
        }
    }
}
