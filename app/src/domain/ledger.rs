//! Ledger arithmetic: balances of a billing cycle, plan changes, actions.

use serde::{Deserialize, Serialize};

/// What a billing cycle holds: its grants by kind and what was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CycleCredits {
    pub plan: i64,
    pub add_on: i64,
    pub rollover: i64,
    pub used: i64,
}

impl CycleCredits {
    /// Plan + add-on + rollover.
    pub fn granted(&self) -> i64 {
        self.plan
            .saturating_add(self.add_on)
            .saturating_add(self.rollover)
    }

    /// `max(0, granted - used)`.
    pub fn left(&self) -> i64 {
        (self.granted() - self.used).max(0)
    }

    /// `max(0, used - granted)`.
    pub fn overage(&self) -> i64 {
        (self.used - self.granted()).max(0)
    }

    /// Whether a charge of `credits` fits in what is left.
    pub fn can_spend(&self, credits: i64) -> bool {
        credits <= self.granted() - self.used
    }

    /// Share left, 0.0 ..= 1.0 (0 when nothing was granted).
    pub fn left_ratio(&self) -> f64 {
        let granted = self.granted();
        if granted <= 0 {
            0.0
        } else {
            self.left() as f64 / granted as f64
        }
    }
}

/// Credits the current cycle gains when a plan's monthly credits change
/// from `old` to `new`: a raise applies now (the difference), a cut only
/// from the next cycle.
pub fn plan_change_grant(old: i64, new: i64) -> i64 {
    (new - old).max(0)
}

/// Category of a credit action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Scraping,
    Enrichment,
    AiVariable,
}

impl Category {
    /// All categories in display order.
    pub const ALL: [Category; 3] = [
        Category::Scraping,
        Category::Enrichment,
        Category::AiVariable,
    ];

    /// The API key.
    pub fn key(self) -> &'static str {
        match self {
            Self::Scraping => "scraping",
            Self::Enrichment => "enrichment",
            Self::AiVariable => "ai_variable",
        }
    }

    /// The UI label (plural, as in the filters).
    pub fn label(self) -> &'static str {
        match self {
            Self::Scraping => "Scrapings",
            Self::Enrichment => "Enrichments",
            Self::AiVariable => "AI variables",
        }
    }

    /// Parses an API key.
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == key)
    }
}

/// An action that consumes credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScrapeCompany,
    ScrapeContact,
    EnrichEmail,
    EnrichPhone,
    AiCompletion,
}

impl Action {
    /// All actions in display order.
    pub const ALL: [Action; 5] = [
        Action::ScrapeCompany,
        Action::ScrapeContact,
        Action::EnrichEmail,
        Action::EnrichPhone,
        Action::AiCompletion,
    ];

    /// The API key.
    pub fn key(self) -> &'static str {
        match self {
            Self::ScrapeCompany => "scrape_company",
            Self::ScrapeContact => "scrape_contact",
            Self::EnrichEmail => "enrich_email",
            Self::EnrichPhone => "enrich_phone",
            Self::AiCompletion => "ai_completion",
        }
    }

    /// The label of API.md.
    pub fn label(self) -> &'static str {
        match self {
            Self::ScrapeCompany => "Scrape company",
            Self::ScrapeContact => "Scrape contact",
            Self::EnrichEmail => "Enrich contact email",
            Self::EnrichPhone => "Enrich contact phone",
            Self::AiCompletion => "AI completion",
        }
    }

    /// The category it belongs to.
    pub fn category(self) -> Category {
        match self {
            Self::ScrapeCompany | Self::ScrapeContact => Category::Scraping,
            Self::EnrichEmail | Self::EnrichPhone => Category::Enrichment,
            Self::AiCompletion => Category::AiVariable,
        }
    }

    /// Parses an API key.
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.key() == key)
    }

    /// The valid keys, for error messages.
    pub fn valid_keys() -> String {
        Self::ALL.map(|a| a.key()).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn balance_of_the_api_example() {
        let c = CycleCredits {
            plan: 10_000,
            add_on: 500,
            rollover: 0,
            used: 2_345,
        };
        assert_eq!((c.granted(), c.left(), c.overage()), (10_500, 8_155, 0));
        let over = CycleCredits { used: 11_000, ..c };
        assert_eq!((over.left(), over.overage()), (0, 500));
    }

    #[test]
    fn raises_grant_now_cuts_wait() {
        assert_eq!(plan_change_grant(10_000, 15_000), 5_000);
        assert_eq!(plan_change_grant(15_000, 10_000), 0);
    }

    #[test]
    fn actions_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.key()), Some(a));
        }
        assert_eq!(Action::parse("scrape"), None);
        assert_eq!(Action::EnrichPhone.category(), Category::Enrichment);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        /// left and overage never both positive, and reconstruct used.
        #[test]
        fn left_and_overage(plan in 0i64..1_000_000, add in 0i64..100_000, roll in 0i64..100_000, used in 0i64..2_000_000) {
            let c = CycleCredits { plan, add_on: add, rollover: roll, used };
            prop_assert!(c.left() == 0 || c.overage() == 0);
            prop_assert_eq!(c.granted() - c.left() + c.overage(), used);
            prop_assert_eq!(c.can_spend(1), c.left() >= 1);
        }
    }
}
