//! The benchmark's data: `10,000,000 × scale` credit events and
//! `2,000,000 × scale` conversations over 13 months across
//! `200 × scale` workspaces (at least 5), the largest holding a fifth of
//! each, written through the store in day order, as the platform sends them.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use app::domain::calendar::WeekStart;
use app::domain::ledger::Action;
use app::model::{AccountManager, Plan, Price};

use crate::store::{Member, NewEvent, Role, Store, StoreError, WorkspaceInput};

/// Days the events span (13 months).
pub const SPAN_DAYS: i64 = 395;

/// How much of what, from the scale factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub workspaces: usize,
    pub largest_events: u64,
    pub largest_conversations: u64,
    pub other_events: u64,
    pub other_conversations: u64,
}

impl Shape {
    pub fn of(scale: f64) -> Shape {
        let scaled = |n: f64| (n * scale).round().max(1.0) as u64;
        // At least 5 workspaces: the others share four fifths, and none may
        // outgrow the largest.
        let workspaces = ((200.0 * scale).round() as usize).max(5);
        let others = (workspaces - 1) as u64;
        Shape {
            workspaces,
            largest_events: scaled(2_000_000.0),
            largest_conversations: scaled(400_000.0),
            other_events: scaled(8_000_000.0) / others,
            other_conversations: scaled(1_600_000.0) / others,
        }
    }

    pub fn events(&self) -> u64 {
        self.largest_events + self.other_events * (self.workspaces as u64 - 1)
    }

    pub fn conversations(&self) -> u64 {
        self.largest_conversations + self.other_conversations * (self.workspaces as u64 - 1)
    }
}

/// Who a workspace has: the largest has 50 users, 80 identities and 60
/// campaigns; each identity belongs to a user and works in three campaigns.
pub struct Members {
    pub users: Vec<String>,
    /// (identity, its user, its campaigns)
    pub identities: Vec<(String, String, Vec<String>)>,
    pub campaigns: Vec<String>,
}

impl Members {
    fn new(largest: bool, rng: &mut ChaCha8Rng) -> Members {
        let (u, i, c) = if largest { (50, 80, 60) } else { (10, 16, 12) };
        let users: Vec<String> = (0..u).map(|n| format!("u{n:02}")).collect();
        let campaigns: Vec<String> = (0..c).map(|n| format!("c{n:02}")).collect();
        let identities = (0..i)
            .map(|n| {
                let works_in = (0..3)
                    .map(|_| campaigns[rng.gen_range(0..campaigns.len())].clone())
                    .collect();
                (format!("i{n:02}"), users[n % users.len()].clone(), works_in)
            })
            .collect();
        Members {
            users,
            identities,
            campaigns,
        }
    }
}

/// What was seeded.
pub struct Seeded {
    pub largest: String,
    pub reused: bool,
    pub seconds: f64,
}

/// The id of the `n`th workspace of a seed (0 is the largest).
pub fn workspace_id(seed: u64, n: usize) -> String {
    format!("bench-{seed}-{n:03}")
}

/// Seeds every workspace, or reuses them where a previous run with the
/// same seed and scale left them complete.
pub async fn seed(
    store: &Store,
    shape: Shape,
    seed: u64,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Seeded, StoreError> {
    let largest = workspace_id(seed, 0);
    let last = workspace_id(seed, shape.workspaces - 1);
    if store.workspace(&largest).await?.is_some() {
        let want = shape.largest_events + shape.largest_conversations;
        let last_want = shape.other_events + shape.other_conversations;
        // The HTTP phase charges the largest workspace: it holds more.
        if store.count_events(&largest).await? as u64 >= want
            && store.count_events(&last).await? as u64 == last_want
        {
            return Ok(Seeded {
                largest,
                reused: true,
                seconds: 0.0,
            });
        }
        return Err(StoreError::BadUrl(format!(
            "the database holds another run's {largest}: use a fresh database, or another --seed"
        )));
    }
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for n in 0..shape.workspaces {
        let ws = workspace_id(seed, n);
        let (events, conversations) = if n == 0 {
            (shape.largest_events, shape.largest_conversations)
        } else {
            (shape.other_events, shape.other_conversations)
        };
        let members = Members::new(n == 0, &mut rng);
        put_workspace(store, &ws, &members, tz, now).await?;
        seed_events(store, &ws, &members, events, conversations, &mut rng, now).await?;
        if n % 20 == 0 || n + 1 == shape.workspaces {
            eprintln!(
                "seeded {}/{} workspaces ({:.0} s)",
                n + 1,
                shape.workspaces,
                started.elapsed().as_secs_f64()
            );
        }
    }
    store.refresh_statistics().await?;
    Ok(Seeded {
        largest,
        reused: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn put_workspace(
    store: &Store,
    ws: &str,
    members: &Members,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let input = WorkspaceInput {
        name: format!("Bench {ws}"),
        tz,
        week_start: WeekStart::Monday,
        plan: Plan {
            name: "Scale".into(),
            monthly_credits: 1_000_000_000,
            identities_included: 80,
            price: Price {
                amount_cents: 99_900,
                currency: "EUR".into(),
            },
        },
        account_manager: Some(AccountManager {
            name: "Bench".into(),
            email: "bench@example.com".into(),
        }),
        alerts: None,
        limits: None,
    };
    store
        .put_workspace(ws, &input, now - Duration::days(SPAN_DAYS + 1))
        .await?;
    for (i, u) in members.users.iter().enumerate() {
        let role = if i == 0 { Role::Admin } else { Role::Member };
        let user = Member::User {
            name: format!("User {u}"),
            email: format!("{u}@bench.test"),
            role,
        };
        store.put_member(ws, u, &user).await?;
    }
    for c in &members.campaigns {
        let campaign = Member::Campaign {
            name: format!("Campaign {c}"),
            status: "active".into(),
        };
        store.put_member(ws, c, &campaign).await?;
    }
    for (i, u, _) in &members.identities {
        let identity = Member::Identity {
            name: format!("Identity {i}"),
            channel: "email".into(),
            user_id: u.clone(),
        };
        store.put_member(ws, i, &identity).await?;
    }
    Ok(())
}

/// Events per batch written while seeding.
const SEED_BATCH: usize = 5_000;

/// One workspace's events, day by day from 13 months ago to now.
async fn seed_events(
    store: &Store,
    ws: &str,
    members: &Members,
    events: u64,
    conversations: u64,
    rng: &mut ChaCha8Rng,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let start = now - Duration::days(SPAN_DAYS);
    let mut batch: Vec<NewEvent> = Vec::with_capacity(SEED_BATCH + 4_096);
    let mut next_id = 0u64;
    let per_day = |total: u64, day: i64| {
        let days = SPAN_DAYS as u64;
        total / days + u64::from((day as u64) < total % days)
    };
    for day in 0..SPAN_DAYS {
        let day_start = start + Duration::days(day);
        let day_seconds = (now - day_start).num_seconds().clamp(1, 86_400);
        for n in 0..per_day(events, day) + per_day(conversations, day) {
            let is_credit = n < per_day(events, day);
            let at = day_start + Duration::seconds(rng.gen_range(0..day_seconds));
            let (identity, user, works_in) =
                &members.identities[rng.gen_range(0..members.identities.len())];
            let campaign = works_in[rng.gen_range(0..works_in.len())].clone();
            let event = if is_credit {
                // Most work names its campaign and identity; some does not.
                let roll = rng.gen_range(0..100);
                let action = Action::ALL[rng.gen_range(0..Action::ALL.len())];
                NewEvent {
                    id: format!("e{next_id:09}"),
                    occurred_at: at,
                    credits: Some((action, rng.gen_range(1..=5))),
                    user_id: if roll < 5 {
                        members.users[rng.gen_range(0..members.users.len())].clone()
                    } else {
                        user.clone()
                    },
                    campaign_id: (roll >= 10).then_some(campaign),
                    identity_id: (roll >= 5).then(|| identity.clone()),
                    request: String::new(),
                }
            } else {
                NewEvent {
                    id: format!("e{next_id:09}"),
                    occurred_at: at,
                    credits: None,
                    user_id: user.clone(),
                    campaign_id: Some(campaign),
                    identity_id: Some(identity.clone()),
                    request: String::new(),
                }
            };
            next_id += 1;
            batch.push(event);
        }
        if batch.len() >= SEED_BATCH || day + 1 == SPAN_DAYS {
            for e in &mut batch {
                e.request = request_of(e);
            }
            store.record_events(ws, &batch, now).await?;
            batch.clear();
        }
    }
    Ok(())
}

/// The canonical body the API would have been given for `e`: what its
/// digest is taken of, as for an event posted over HTTP.
fn request_of(e: &NewEvent) -> String {
    let at = e
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = match e.credits {
        Some((action, credits)) => serde_json::json!({
            "id": e.id, "type": "credits", "occurred_at": at, "action": action.key(),
            "credits": credits, "user_id": e.user_id, "campaign_id": e.campaign_id,
            "identity_id": e.identity_id,
        }),
        None => serde_json::json!({
            "id": e.id, "type": "conversation", "occurred_at": at,
            "campaign_id": e.campaign_id, "identity_id": e.identity_id,
        }),
    };
    crate::canonical::canonical(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_names_every_figure() {
        let full = Shape::of(1.0);
        assert_eq!(full.workspaces, 200);
        assert_eq!(full.largest_events, 2_000_000);
        assert_eq!(full.largest_conversations, 400_000);
        assert!(full.events() <= 10_000_000 && full.events() > 9_999_000);
        assert!(full.conversations() <= 2_000_000 && full.conversations() > 1_999_000);
        let tiny = Shape::of(0.01);
        assert_eq!(tiny.workspaces, 5);
        assert_eq!(tiny.largest_events, 20_000);
        assert_eq!(tiny.other_events, 20_000);
        assert!(tiny.other_events <= tiny.largest_events);
    }
}
