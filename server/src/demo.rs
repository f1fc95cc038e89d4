//! The demo workspace: "Acme Outbound", about four months of activity,
//! deterministic for a given seed and "now", written through the same
//! store functions the API uses.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use app::domain::calendar::{BillingCycle, Calendar, WeekStart};
use app::domain::ledger::Action;
use app::domain::limits::{Limit, LimitMode, Scope};
use app::model::{AccountManager, Plan, Price};

use crate::canonical::canonical;
use crate::store::{
    Actor, AlertsPatch, GrantInput, Member, NewEvent, Role, Store, StoreResult, WorkspaceInput,
};

/// The demo workspace's id.
pub const DEMO_WORKSPACE: &str = "acme";
/// The default seed.
pub const DEMO_SEED: u64 = 20_261_125;

const USERS: [(&str, &str, Role); 6] = [
    ("u_mikaela", "Mikaela Ortiz", Role::Admin),
    ("u_samara", "Samara Haddad", Role::Member),
    ("u_jonas", "Jonas Weber", Role::Member),
    ("u_priya", "Priya Raman", Role::Member),
    ("u_leo", "Leo Martín", Role::Member),
    ("u_ines", "Inés Castro", Role::Admin),
];

const IDENTITIES: [(&str, &str, &str, &str); 8] = [
    (
        "i_mikaela_li",
        "Mikaela (LinkedIn)",
        "linkedin",
        "u_mikaela",
    ),
    ("i_mikaela_mail", "Mikaela (email)", "email", "u_mikaela"),
    ("i_samara_li", "Samara (LinkedIn)", "linkedin", "u_samara"),
    ("i_samara_mail", "Samara (email)", "email", "u_samara"),
    ("i_jonas_li", "Jonas (LinkedIn)", "linkedin", "u_jonas"),
    ("i_priya_mail", "Priya (email)", "email", "u_priya"),
    ("i_leo_li", "Leo (LinkedIn)", "linkedin", "u_leo"),
    ("i_ines_mail", "Inés (email)", "email", "u_ines"),
];

const CAMPAIGNS: [(&str, &str, &str); 10] = [
    ("c_q4", "Q4 CTOs Spain", "active"),
    ("c_fintech", "Fintech founders DACH", "active"),
    ("c_retail", "Retail ops leaders", "active"),
    ("c_saas_uk", "SaaS RevOps UK", "active"),
    ("c_events", "Event follow-ups", "active"),
    ("c_health", "Healthtech CIOs", "paused"),
    ("c_partners", "Agency partners", "active"),
    ("c_webinar", "Webinar attendees", "paused"),
    ("c_q3", "Q3 CFOs Iberia", "archived"),
    ("c_pilot", "Pilot: AI openers", "archived"),
];

/// Writes the demo workspace unless it exists. Returns whether it wrote.
pub async fn seed(store: &Store, seed: u64, now: DateTime<Utc>) -> StoreResult<bool> {
    if store.workspace(DEMO_WORKSPACE).await?.is_some() {
        return Ok(false);
    }
    let tz = chrono_tz::Europe::Madrid;
    let cal = Calendar::new(tz, WeekStart::Monday);
    let today = cal.today(now);
    let this_cycle = BillingCycle::containing(today);
    let first_day = this_cycle
        .start
        .checked_sub_months(Months::new(3))
        .unwrap_or(this_cycle.start);
    let workspace = WorkspaceInput {
        name: "Acme Outbound".into(),
        tz,
        week_start: WeekStart::Monday,
        plan: Plan {
            name: "Growth".into(),
            monthly_credits: 10_000,
            identities_included: 5,
            price: Price {
                amount_cents: 29_900,
                currency: "EUR".into(),
            },
        },
        account_manager: Some(AccountManager {
            name: "Laura Vidal".into(),
            email: "laura.vidal@example.com".into(),
        }),
        // Half-way and 80 % are reached this cycle: a new user sees the
        // banner and the alert list.
        alerts: Some(AlertsPatch {
            thresholds: Some(vec![50, 80, 100]),
            runout_forecast: Some(true),
        }),
        limits: None,
    };
    // The workspace exists from the start of the history.
    store
        .put_workspace(DEMO_WORKSPACE, &workspace, cal.day_start(first_day))
        .await?;
    store.mark_demo(DEMO_WORKSPACE).await?;
    for (id, name, role) in USERS {
        let email = format!("{}@acme.test", id.trim_start_matches("u_"));
        store
            .put_member(
                DEMO_WORKSPACE,
                id,
                &Member::User {
                    name: name.into(),
                    email,
                    role,
                },
            )
            .await?;
    }
    for (id, name, channel, user) in IDENTITIES {
        let member = Member::Identity {
            name: name.into(),
            channel: channel.into(),
            user_id: user.into(),
        };
        store.put_member(DEMO_WORKSPACE, id, &member).await?;
    }
    for (id, name, status) in CAMPAIGNS {
        store
            .put_member(
                DEMO_WORKSPACE,
                id,
                &Member::Campaign {
                    name: name.into(),
                    status: status.into(),
                },
            )
            .await?;
    }

    // A rollover grant in a past cycle and an add-on in this one (granted
    // before the usage is written, so that the alerts read as they would
    // have happened).
    let past = this_cycle
        .start
        .checked_sub_months(Months::new(2))
        .unwrap_or(this_cycle.start);
    grant(
        store,
        "g-demo-rollover",
        "rollover",
        750,
        "Carried over after the migration",
        None,
        cal.day_start(past) + Duration::hours(10),
    )
    .await?;
    let addon_at =
        (cal.day_start(this_cycle.start) + Duration::days(9) + Duration::hours(11)).min(now);
    let price = Some(Price {
        amount_cents: 4_900,
        currency: "EUR".into(),
    });
    grant(
        store,
        &format!("g-demo-addon-{}", this_cycle.start.format("%Y%m")),
        "add_on",
        500,
        "Bought via chat",
        price,
        addon_at,
    )
    .await?;

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut n = 0u64;
    let mut day = first_day;
    while day <= today {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let spike = !weekend && rng.gen_bool(0.06);
        let base: u32 = if weekend {
            rng.gen_range(0..25)
        } else {
            rng.gen_range(170..260)
        };
        let credit_events = if spike { base * 3 } else { base };
        let conversations: u32 = if weekend {
            rng.gen_range(0..6)
        } else {
            rng.gen_range(18..55)
        };
        for _ in 0..credit_events {
            let at = instant_on(&cal, day, &mut rng);
            if at > now {
                continue;
            }
            n += 1;
            batch.push(credit_event(n, at, &mut rng));
        }
        for _ in 0..conversations {
            let at = instant_on(&cal, day, &mut rng);
            if at > now {
                continue;
            }
            n += 1;
            batch.push(conversation_event(n, at, &mut rng));
        }
        // A day at a time, at the day's last event, so that alerts carry
        // the time the usage that caused them happened.
        if let Some(at) = batch.iter().map(|e| e.occurred_at).max() {
            store.record_events(DEMO_WORKSPACE, &batch, at).await?;
            batch.clear();
        }
        day = day.succ_opt().unwrap_or(day);
        if day == NaiveDate::MAX {
            break;
        }
    }
    demo_limits(store, now).await?;
    Ok(true)
}

/// Limits (v1.2), set by an admin after the history: Samara, a member,
/// has used about 90 % of her hard limit; the Q4 campaign has a soft cap.
async fn demo_limits(store: &Store, now: DateTime<Utc>) -> StoreResult<()> {
    let Some(ws) = store.workspace(DEMO_WORKSPACE).await? else {
        return Ok(());
    };
    let start = ws.calendar().cycle_at(now).start;
    let round_up = |n: i64, to: i64| (n + to - 1) / to * to;
    let admin = Actor::User("u_mikaela".into());
    for (scope, id, share, mode) in [
        (Scope::User, "u_samara", 90, LimitMode::Hard),
        (Scope::Campaign, "c_q4", 80, LimitMode::Soft),
    ] {
        let used = store.scope_used(DEMO_WORKSPACE, start, scope, id).await?;
        let limit = Limit {
            credits: round_up((used * 100 / share).max(100), 100),
            mode,
        };
        store
            .set_limit(DEMO_WORKSPACE, scope, id, Some(limit), &admin, now)
            .await?;
    }
    Ok(())
}

async fn grant(
    store: &Store,
    id: &str,
    kind: &str,
    credits: i64,
    note: &str,
    price: Option<Price>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let request = canonical(
        &json!({"id": id, "kind": kind, "credits": credits, "note": note, "price": price}),
    );
    let input = GrantInput {
        id: id.into(),
        kind: kind.into(),
        credits,
        note: Some(note.into()),
        price,
        request,
    };
    store
        .create_grant(DEMO_WORKSPACE, &input, at, crate::api::grant_body)
        .await?;
    Ok(())
}

/// A working-hours instant of a local day (weighted to the morning).
fn instant_on(cal: &Calendar, day: NaiveDate, rng: &mut ChaCha8Rng) -> DateTime<Utc> {
    let minutes = 8 * 60 + rng.gen_range(0..(11 * 60));
    cal.day_start(day) + Duration::minutes(minutes) + Duration::seconds(rng.gen_range(0..60))
}

fn credit_event(n: u64, at: DateTime<Utc>, rng: &mut ChaCha8Rng) -> NewEvent {
    // Mikaela and Samara carry most of the work.
    let user = match rng.gen_range(0..100) {
        0..=33 => 0,
        34..=59 => 1,
        60..=72 => 2,
        73..=84 => 3,
        85..=93 => 4,
        _ => 5,
    };
    let (action, credits) = match rng.gen_range(0..100) {
        0..=21 => (Action::ScrapeCompany, 1),
        22..=43 => (Action::ScrapeContact, 1),
        44..=68 => (Action::EnrichEmail, rng.gen_range(2..=3)),
        69..=76 => (Action::EnrichPhone, 5),
        _ => (Action::AiCompletion, rng.gen_range(1..=2)),
    };
    let user_id = USERS[user].0;
    let identities: Vec<&str> = IDENTITIES
        .iter()
        .filter(|i| i.3 == user_id)
        .map(|i| i.0)
        .collect();
    let identity = if rng.gen_bool(0.8) && !identities.is_empty() {
        Some(identities[rng.gen_range(0..identities.len())])
    } else {
        None
    };
    let campaign = if rng.gen_bool(0.85) {
        Some(CAMPAIGNS[weighted_campaign(rng)].0)
    } else {
        None
    };
    let id = format!("demo-e{n:07}");
    let occurred_at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let request = canonical(&json!({
        "id": id, "type": "credits", "occurred_at": occurred_at, "action": action.key(), "credits": credits,
        "user_id": user_id, "campaign_id": campaign, "identity_id": identity,
    }));
    NewEvent {
        id,
        occurred_at: at,
        credits: Some((action, credits)),
        user_id: user_id.into(),
        campaign_id: campaign.map(Into::into),
        identity_id: identity.map(Into::into),
        request,
    }
}

fn conversation_event(n: u64, at: DateTime<Utc>, rng: &mut ChaCha8Rng) -> NewEvent {
    let identity = IDENTITIES[rng.gen_range(0..IDENTITIES.len())];
    let campaign = CAMPAIGNS[weighted_campaign(rng)].0;
    let id = format!("demo-e{n:07}");
    let occurred_at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let request = canonical(&json!({
        "id": id, "type": "conversation", "occurred_at": occurred_at, "campaign_id": campaign, "identity_id": identity.0,
    }));
    NewEvent {
        id,
        occurred_at: at,
        credits: None,
        user_id: identity.3.into(),
        campaign_id: Some(campaign.into()),
        identity_id: Some(identity.0.into()),
        request,
    }
}

/// Active campaigns get most of the traffic.
fn weighted_campaign(rng: &mut ChaCha8Rng) -> usize {
    match rng.gen_range(0..100) {
        0..=27 => 0,
        28..=45 => 1,
        46..=58 => 2,
        59..=69 => 3,
        70..=77 => 4,
        78..=83 => 5,
        84..=90 => 6,
        91..=94 => 7,
        95..=97 => 8,
        _ => 9,
    }
}
