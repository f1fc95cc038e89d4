//! Ingestion through the HTTP API: the real `credits serve` binary as a
//! child process on loopback, against the bench's database, loaded by
//! concurrent clients; its peak RSS read from `/proc`.

use std::time::{Duration, Instant};

use serde_json::json;

/// Throughput and latency of one kind of request.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Load {
    /// Successful requests per second.
    pub per_s: f64,
    /// Events per second (batches: 1,000 per request).
    pub events_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: usize,
    pub errors: usize,
    pub concurrency: usize,
}

/// What the HTTP phase measured.
pub struct HttpFigures {
    pub batches: Load,
    pub charges: Load,
    /// Charges on the largest workspace, spread over its users and
    /// campaigns, with no limit.
    pub charges_spread: Load,
    /// The same under limits (v1.2).
    pub charges_limited: Load,
    /// `charges` again while [`FLOOD_VIEWS`] clients load year-long Credits
    /// pages of the largest workspace without pause.
    pub charges_flooded: Load,
    /// Those pages, as they were served meanwhile.
    pub flood_views: Load,
    pub rss_mb: f64,
}

/// A signed-in page of the dashboard, to flood the server with.
pub struct Flood {
    /// The session's `Cookie` header.
    pub cookie: String,
    /// The page's path and query.
    pub path: String,
}

/// Concurrent page loads of the flood.
pub const FLOOD_VIEWS: usize = 256;

/// Events per batch request.
pub const BATCH_EVENTS: usize = 1_000;
/// Concurrent batch requests (SQLite writes one at a time: more only
/// queue, and latency grows with the queue).
pub const BATCH_CONCURRENCY: usize = 4;
/// Concurrent single charges.
pub const CHARGE_CONCURRENCY: usize = 32;

struct Server {
    child: tokio::process::Child,
    base: String,
    token: String,
}

impl Server {
    async fn start(database_url: &str) -> Result<Server, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let token = format!("bench-{:032x}", rand::random::<u128>());
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new(exe)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url, "--api-token", &token])
            .args(["--max-in-flight", "1024"])
            // CREDITS_BENCH_SERVER_LOG: the server's RUST_LOG, its log on
            // the bench's stderr (e.g. `credits::charges=debug` for the
            // charge groups' timings).
            .env(
                "RUST_LOG",
                std::env::var("CREDITS_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .kill_on_drop(true)
            .stdout(server_log())
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
        };
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the server did not become ready in 60 s".into())
    }

    /// Peak resident set of the server process, in MB.
    fn peak_rss_mb(&self) -> f64 {
        let Some(pid) = self.child.id() else {
            return 0.0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

/// Where the server's log goes: the bench's stderr when
/// `CREDITS_BENCH_SERVER_LOG` asks for it, nowhere otherwise.
fn server_log() -> std::process::Stdio {
    use std::os::fd::AsFd;
    if std::env::var_os("CREDITS_BENCH_SERVER_LOG").is_none() {
        return std::process::Stdio::null();
    }
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| std::process::Stdio::null(), std::process::Stdio::from)
}

async fn put(
    client: &reqwest::Client,
    s: &Server,
    path: &str,
    body: serde_json::Value,
) -> Result<(), String> {
    let r = client
        .put(format!("{}/api/v1/workspaces/{path}", s.base))
        .bearer_auth(&s.token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("PUT {path}: {}", r.status()));
    }
    Ok(())
}

/// Runs `workers` loops of `request` for `seconds`, timing each.
async fn drive<F, Fut>(workers: usize, seconds: f64, events_per_request: usize, request: F) -> Load
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut errors = 0;
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if request(w, n).await {
                    times.push(t.elapsed());
                } else {
                    errors += 1;
                }
                n += 1;
            }
            (times, errors)
        }));
    }
    let mut times = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((mut t, e)) = t.await {
            times.append(&mut t);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(0.001);
    times.sort();
    let ms = |p: f64| super::stats::percentile(&times, p).as_secs_f64() * 1000.0;
    Load {
        per_s: times.len() as f64 / elapsed,
        events_per_s: (times.len() * events_per_request) as f64 / elapsed,
        p50_ms: ms(0.50),
        p99_ms: ms(0.99),
        requests: times.len() + errors,
        errors,
        concurrency: workers,
    }
}

/// Starts the server, adds a workspace of its own (a fresh cycle row that
/// every charge locks), sends batches, then charges.
pub async fn run(
    database_url: &str,
    seconds: f64,
    tz: &str,
    largest: &str,
    flood: &Flood,
) -> Result<HttpFigures, String> {
    let server = Server::start(database_url).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())?;
    let run = format!("{:x}", rand::random::<u32>());
    let ws = format!("bench-ingest-{run}");
    put(
        &client,
        &server,
        &ws,
        json!({"name": "Bench ingest", "timezone": tz,
               "plan": {"name": "Scale", "monthly_credits": 1_000_000_000_000i64, "identities_included": 10,
                        "price": {"amount_cents": 0, "currency": "EUR"}}}),
    )
    .await?;
    put(
        &client,
        &server,
        &format!("{ws}/users/u1"),
        json!({"name": "Bench", "email": "bench@example.com", "role": "admin"}),
    )
    .await?;
    put(
        &client,
        &server,
        &format!("{ws}/campaigns/c1"),
        json!({"name": "Campaign", "status": "active"}),
    )
    .await?;
    put(
        &client,
        &server,
        &format!("{ws}/identities/i1"),
        json!({"name": "Identity", "channel": "email", "user_id": "u1"}),
    )
    .await?;
    let base = format!("{}/api/v1/workspaces/{ws}", server.base);
    let token = server.token.clone();

    let batches = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        drive(BATCH_CONCURRENCY, seconds, BATCH_EVENTS, move |w, n| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let at = (chrono::Utc::now() - chrono::Duration::minutes(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let events: Vec<serde_json::Value> = (0..BATCH_EVENTS)
                    .map(|i| {
                        json!({"id": format!("b{w}-{n}-{i}"), "type": "credits", "occurred_at": at,
                               "action": "enrich_email", "credits": 1 + i % 3, "user_id": "u1",
                               "campaign_id": "c1", "identity_id": "i1"})
                    })
                    .collect();
                client
                    .post(format!("{base}/usage-events"))
                    .bearer_auth(&token)
                    .json(&json!({ "events": events }))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    };
    let charges = single_charges(&client, &base, &token, seconds, "ch").await;
    let (charges_spread, charges_limited) =
        limited_charges(&client, &server, largest, seconds).await?;
    let (charges_flooded, flood_views) = tokio::join!(
        single_charges(&client, &base, &token, seconds, "fl"),
        flood_pages(&server.base, flood, seconds)
    );
    let rss_mb = server.peak_rss_mb();
    let mut child = server.child;
    let _ = child.kill().await;
    Ok(HttpFigures {
        batches,
        charges,
        charges_spread,
        charges_limited,
        charges_flooded,
        flood_views,
        rss_mb,
    })
}

/// One-credit charges by one user, [`CHARGE_CONCURRENCY`] at once.
async fn single_charges(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    seconds: f64,
    tag: &str,
) -> Load {
    let (client, base, token) = (client.clone(), base.to_string(), token.to_string());
    let tag = tag.to_string();
    drive(CHARGE_CONCURRENCY, seconds, 1, move |w, n| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let id = format!("{tag}{w}-{n}");
        async move {
            client
                .post(format!("{base}/charges"))
                .bearer_auth(&token)
                .json(&json!({"id": id, "action": "ai_completion", "credits": 1,
                              "user_id": "u1", "campaign_id": "c1", "identity_id": "i1"}))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 201)
        }
    })
    .await
}

/// [`FLOOD_VIEWS`] clients loading `flood`'s page without pause, each on
/// a connection of its own, for `seconds`.
async fn flood_pages(server: &str, flood: &Flood, seconds: f64) -> Load {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(FLOOD_VIEWS)
        .build()
        .unwrap_or_default();
    let url = format!("{server}{}", flood.path);
    let cookie = flood.cookie.clone();
    drive(FLOOD_VIEWS, seconds, 1, move |_, _| {
        let (client, url, cookie) = (client.clone(), url.clone(), cookie.clone());
        async move {
            match client.get(&url).header("cookie", cookie).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

/// Users and campaigns of the largest workspace (`bench::seed`).
const LARGEST_USERS: usize = 50;
const LARGEST_CAMPAIGNS: usize = 60;

/// Charges on the largest workspace, spread over its users and campaigns:
/// first with no limit, then under limits (v1.2), a hard default for every
/// user and a hard limit on every campaign, each far above what the run
/// spends, so that every charge is checked against its workspace, its user
/// and its campaign and none is refused. The difference between the two is
/// the price of the checks.
async fn limited_charges(
    client: &reqwest::Client,
    server: &Server,
    ws: &str,
    seconds: f64,
) -> Result<(Load, Load), String> {
    let base = format!("{}/api/v1/workspaces/{ws}", server.base);
    let mut body: serde_json::Value = client
        .get(&base)
        .bearer_auth(&server.token)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if let Some(m) = body.as_object_mut() {
        m.remove("id");
    }
    // A database seeded by an earlier run may hold its limits: none first.
    body["limits"] = json!({"user_default": null});
    put(client, server, ws, body.clone()).await?;
    for c in 0..LARGEST_CAMPAIGNS {
        let _ = client
            .delete(format!("{base}/limits/campaigns/c{c:02}"))
            .bearer_auth(&server.token)
            .send()
            .await;
    }
    let spread = spread_charges(client, server, &base, seconds, "free").await;
    body["limits"] = json!({"user_default": {"credits": 1_000_000_000, "mode": "hard"}});
    put(client, server, ws, body).await?;
    for c in 0..LARGEST_CAMPAIGNS {
        put(
            client,
            server,
            &format!("{ws}/limits/campaigns/c{c:02}"),
            json!({"credits": 1_000_000_000, "mode": "hard"}),
        )
        .await?;
    }
    let limited = spread_charges(client, server, &base, seconds, "lim").await;
    Ok((spread, limited))
}

/// One-credit charges by every user in turn, each naming a campaign.
async fn spread_charges(
    client: &reqwest::Client,
    server: &Server,
    base: &str,
    seconds: f64,
    tag: &str,
) -> Load {
    let (client, token, base) = (client.clone(), server.token.clone(), base.to_string());
    let run = format!("{tag}-{:x}", rand::random::<u32>());
    drive(CHARGE_CONCURRENCY, seconds, 1, move |w, n| {
        let (client, base, token, run) = (client.clone(), base.clone(), token.clone(), run.clone());
        async move {
            let user = format!("u{:02}", (w + n) % LARGEST_USERS);
            let campaign = format!("c{:02}", (w * 7 + n) % LARGEST_CAMPAIGNS);
            client
                .post(format!("{base}/charges"))
                .bearer_auth(&token)
                .json(
                    &json!({"id": format!("{run}-{w}-{n}"), "action": "ai_completion", "credits": 1,
                              "user_id": user, "campaign_id": campaign}),
                )
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 201)
        }
    })
    .await
}
