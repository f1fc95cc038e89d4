//! `credits bench`: seeds a synthetic workspace through the store and times
//! the dashboard's queries, printing p50 / p95 / max per query.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use app::domain::calendar::{Period, WeekStart};
use app::domain::ledger::Action;
use app::model::{AccountManager, Dimension, Filters, Metric, Plan, Price, UsageQuery};

use crate::store::{Member, NewEvent, Store, StoreError, WorkspaceInput};

/// What to seed and how often to ask.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub events: usize,
    pub iterations: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Seeds and measures; prints a table to stdout.
pub async fn run(store: &Store, plan: &BenchPlan, now: DateTime<Utc>) -> Result<(), StoreError> {
    let ws_id = format!("bench-{}", now.timestamp());
    let input = WorkspaceInput {
        name: "Bench".into(),
        tz: chrono_tz::Europe::Madrid,
        week_start: WeekStart::Monday,
        plan: Plan {
            name: "Scale".into(),
            monthly_credits: 1_000_000_000,
            identities_included: 50,
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
    };
    store
        .put_workspace(&ws_id, &input, now - chrono::Duration::days(366))
        .await?;
    let users: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
    let campaigns: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
    let identities: Vec<(String, String)> = (0..40)
        .map(|i| (format!("i{i}"), users[i % users.len()].clone()))
        .collect();
    for u in &users {
        store
            .put_member(
                &ws_id,
                u,
                &Member::User {
                    name: u.clone(),
                    email: format!("{u}@bench.test"),
                    role: "member".into(),
                },
            )
            .await?;
    }
    for c in &campaigns {
        store
            .put_member(
                &ws_id,
                c,
                &Member::Campaign {
                    name: c.clone(),
                    status: "active".into(),
                },
            )
            .await?;
    }
    for (i, u) in &identities {
        store
            .put_member(
                &ws_id,
                i,
                &Member::Identity {
                    name: i.clone(),
                    channel: "email".into(),
                    user_id: u.clone(),
                },
            )
            .await?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for n in 0..plan.events {
        let at = now - chrono::Duration::seconds(rng.gen_range(60..365 * 86_400));
        let (identity, user) = identities[rng.gen_range(0..identities.len())].clone();
        let campaign = campaigns[rng.gen_range(0..campaigns.len())].clone();
        let credits = rng
            .gen_bool(0.8)
            .then(|| (Action::ALL[rng.gen_range(0..5)], rng.gen_range(1..6)));
        batch.push(NewEvent {
            id: format!("b{n}"),
            occurred_at: at,
            credits,
            user_id: user,
            campaign_id: Some(campaign),
            identity_id: Some(identity),
            request: format!("b{n}"),
        });
        if batch.len() == 10_000 {
            store.record_events(&ws_id, &batch, now).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.record_events(&ws_id, &batch, now).await?;
    }
    let seeded = started.elapsed();
    println!(
        "seeded {} events in {:.1} s ({:.0} events/s) into workspace {ws_id}",
        plan.events,
        seeded.as_secs_f64(),
        plan.events as f64 / seeded.as_secs_f64().max(0.001)
    );
    let ws = store.workspace(&ws_id).await?.ok_or(StoreError::NotFound)?;
    let periods = [
        ("today", Period::Today),
        ("this_week", Period::ThisWeek),
        ("last_week", Period::LastWeek),
        ("this_month", Period::ThisMonth),
        ("last_month", Period::LastMonth),
        ("last_28_days", Period::Last28Days),
    ];
    let groupings: [(&str, &[Dimension]); 5] = [
        ("day", &[Dimension::Day]),
        ("action", &[Dimension::Action]),
        ("user", &[Dimension::User]),
        ("campaign", &[Dimension::Campaign]),
        ("day,action", &[Dimension::Day, Dimension::Action]),
    ];
    println!(
        "{:<14} {:<11} {:<13} {:>9} {:>9} {:>9}",
        "period", "group_by", "metric", "p50 ms", "p95 ms", "max ms"
    );
    let mut worst = Duration::ZERO;
    for (pname, period) in periods {
        for (gname, dims) in groupings {
            for metric in [Metric::Credits, Metric::Conversations] {
                if metric == Metric::Conversations && dims.contains(&Dimension::Action) {
                    continue;
                }
                let query = UsageQuery {
                    period,
                    group_by: dims.to_vec(),
                    filters: Filters::default(),
                };
                let mut times = Vec::with_capacity(plan.iterations);
                for _ in 0..plan.iterations {
                    let t = Instant::now();
                    store.report(&ws, metric, &query, now).await?;
                    times.push(t.elapsed());
                }
                times.sort();
                let p95 = percentile(&times, 0.95);
                worst = worst.max(p95);
                println!(
                    "{pname:<14} {gname:<11} {:<13} {:>9.2} {:>9.2} {:>9.2}",
                    format!("{metric:?}").to_lowercase(),
                    percentile(&times, 0.5).as_secs_f64() * 1000.0,
                    p95.as_secs_f64() * 1000.0,
                    times.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
                );
            }
        }
    }
    println!(
        "worst p95: {:.2} ms over {} iterations per query",
        worst.as_secs_f64() * 1000.0,
        plan.iterations
    );
    // Whole tab views, as the server functions compute them.
    println!(
        "{:<14} {:<14} {:>9} {:>9} {:>9}",
        "view", "period", "p50 ms", "p95 ms", "max ms"
    );
    for (pname, _) in periods {
        let params = vec![("period".to_string(), pname.to_string())];
        for tab in ["credits", "conversations"] {
            let mut times = Vec::with_capacity(plan.iterations);
            for _ in 0..plan.iterations {
                let t = Instant::now();
                if tab == "credits" {
                    crate::views::credits_view(store, &ws, &params, now).await?;
                } else {
                    crate::views::conversations_view(store, &ws, &params, now).await?;
                }
                times.push(t.elapsed());
            }
            times.sort();
            println!(
                "{tab:<14} {pname:<14} {:>9.2} {:>9.2} {:>9.2}",
                percentile(&times, 0.5).as_secs_f64() * 1000.0,
                percentile(&times, 0.95).as_secs_f64() * 1000.0,
                times.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
            );
        }
    }
    Ok(())
}
