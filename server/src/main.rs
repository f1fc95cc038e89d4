//! `credits`: serve, migrate, seed-demo.

use std::sync::Arc;

use clap::Parser;
use credits_server::config::{Cli, Command, DbArgs, ServeArgs};
use credits_server::store::Store;
use credits_server::{demo, outbox, AppState, Clock};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // The bench runs slow naive queries on purpose: sqlx need not say so.
    let default = match cli.command {
        Command::Bench(_) => "warn,sqlx=error",
        _ => "info,sqlx=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
        )
        .init();
    if let Err(e) = run(cli).await {
        tracing::error!("{e}");
        eprintln!("credits: {e}");
        std::process::exit(1);
    }
}

fn clock() -> Result<Clock, String> {
    match std::env::var("CREDITS_NOW") {
        Ok(v) if !v.is_empty() => chrono::DateTime::parse_from_rfc3339(&v)
            .map(|t| Clock::Fixed(t.with_timezone(&chrono::Utc)))
            .map_err(|e| format!("CREDITS_NOW must be RFC 3339: {e}")),
        _ => Ok(Clock::System),
    }
}

/// Connects to the database, trying again each second for
/// `--database-wait` seconds while it cannot be reached, then migrates it.
async fn open(db: &DbArgs) -> Result<Store, String> {
    let shown = credits_server::config::redacted(&db.database_url);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(db.database_wait);
    let store = loop {
        match Store::connect(&db.database_url).await {
            Ok(store) => break store,
            // SQLite: another process is creating or migrating the file
            // (its journal mode switch holds it a moment): again shortly.
            Err(e) if e.is_transient() && std::time::Instant::now() < until => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) if e.is_unavailable() && std::time::Instant::now() < until => {
                tracing::warn!(
                    "cannot reach the database at {shown}: {e}; trying again in 1 s (for {} s at most, --database-wait)",
                    db.database_wait
                );
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) if e.is_unavailable() => {
                return Err(format!(
                    "cannot reach the database at {shown} (tried for {} s, --database-wait): {e}",
                    db.database_wait
                ))
            }
            Err(e) => return Err(format!("cannot open the database at {shown}: {e}")),
        }
    };
    store
        .migrate()
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    Ok(store)
}

async fn run(cli: Cli) -> Result<(), String> {
    let clock = clock()?;
    match cli.command {
        Command::Migrate(db) => {
            open(&db).await?;
            println!("migrations applied");
        }
        Command::SeedDemo(db) => {
            let store = open(&db).await?;
            let wrote = demo::seed(&store, demo::DEMO_SEED, clock.now())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                if wrote {
                    "demo workspace written"
                } else {
                    "demo workspace already present"
                }
            );
        }
        Command::Serve(args) => serve(*args, clock).await?,
        Command::Backup(args) => {
            let store = open(&args.db).await?;
            store.backup_to(&args.to).await.map_err(|e| e.to_string())?;
            println!("backed up to {}", args.to);
        }
        Command::Verify(args) => {
            let store = open(&args.db).await?;
            let report = credits_server::verify::run(&store, args.expect.as_deref()).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            if !report.consistent {
                return Err("the ledger is not consistent (see the report above)".into());
            }
        }
        Command::Bench(args) => {
            let store = open(&DbArgs {
                database_url: args.database_url.clone(),
                database_wait: 0,
            })
            .await?;
            let plan = credits_server::bench::BenchPlan {
                database_url: args.database_url.clone(),
                scale: args.scale,
                seed: args.seed,
                timezone: args.timezone,
                iterations: args.iterations.max(1),
                naive_iterations: args.naive_iterations.max(1),
                http_seconds: args.http_seconds.max(0.0),
                json: args.json.clone(),
                retain_months: args.retain_months,
            };
            credits_server::bench::run(&store, &plan, clock.now()).await?;
        }
    }
    Ok(())
}

/// The build's `hash.txt` beside the binary (`js: …`, `wasm: …`,
/// `echarts: …`), when every hashed file it names is in the site.
fn asset_hashes(site_root: &str) -> Option<std::collections::HashMap<String, String>> {
    let exe = std::env::current_exe().ok()?;
    let text = std::fs::read_to_string(exe.parent()?.join("hash.txt")).ok()?;
    let hashes: std::collections::HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let pkg = std::path::Path::new(site_root).join("pkg");
    let present = |name: String| pkg.join(name).exists();
    let all = present(format!("credits.{}.js", hashes.get("js")?))
        && present(format!("credits.{}.wasm", hashes.get("wasm")?))
        && present(format!("echarts.{}.js", hashes.get("echarts")?));
    all.then_some(hashes)
}

/// Secrets shorter than 32 bytes are refused at start.
fn strong_secret(name: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        Some(v) if v.len() < MIN_SECRET_BYTES => Err(format!(
            "{name} must be at least {MIN_SECRET_BYTES} bytes; make one with: openssl rand -base64 32"
        )),
        _ => Ok(()),
    }
}

const MIN_SECRET_BYTES: usize = 32;

async fn serve(args: ServeArgs, clock: Clock) -> Result<(), String> {
    strong_secret("--api-token (CREDITS_API_TOKEN)", Some(&args.api_token))?;
    for origin in args.embed_origins.iter().filter(|o| !o.trim().is_empty()) {
        if !credits_server::config::is_origin(origin.trim()) {
            return Err(format!(
                "--embed-origins (CREDITS_EMBED_ORIGINS): {origin:?} is not an origin; write scheme://host[:port], such as https://app.example.com"
            ));
        }
    }
    strong_secret(
        "--embed-secret (CREDITS_EMBED_SECRET)",
        args.embed_secret.as_deref(),
    )?;
    strong_secret(
        "--webhook-secret (CREDITS_WEBHOOK_SECRET)",
        args.webhook_secret.as_deref(),
    )?;
    let metrics_token = args.metrics_token.clone().filter(|t| !t.is_empty());
    strong_secret(
        "--metrics-token (CREDITS_METRICS_TOKEN)",
        metrics_token.as_deref(),
    )?;
    if metrics_token.is_some() {
        credits_server::telemetry::install()?;
    }
    // The old name of the webhook setting, read when the new one is unset.
    let webhook_url = args
        .webhook_url
        .clone()
        .or_else(|| std::env::var("CREDITS_REQUEST_WEBHOOK_URL").ok())
        .filter(|u| !u.trim().is_empty());
    if let Some(url) = &webhook_url {
        let signed = args
            .webhook_secret
            .as_deref()
            .is_some_and(|s| !s.is_empty());
        if let Some(why) =
            credits_server::config::webhook_refusal(url.trim(), signed, args.allow_insecure_webhook)
        {
            return Err(format!("--webhook-url (CREDITS_WEBHOOK_URL): {why}"));
        }
    }
    let store = open(&args.db).await?;
    // Time-zone moves (and any a stop interrupted) run in the background.
    let _mover = store.rebucket_in_background();
    // Retention: months of events made ahead, and those past the horizon dropped.
    store
        .set_retention(args.retain_events_months)
        .await
        .map_err(|e| e.to_string())?;
    let _retention = store.retain_in_background(move || clock.now());
    // The demo's sign-in must not sit beside real workspaces the platform signs into.
    if args.demo
        && args.embed_secret.is_some()
        && !store.only_demo().await.map_err(|e| e.to_string())?
    {
        return Err(
            "--demo together with --embed-secret needs a database that holds only the demo workspace"
                .into(),
        );
    }
    if args.demo && store.is_empty().await.map_err(|e| e.to_string())? {
        tracing::info!("seeding the demo workspace");
        demo::seed(&store, demo::DEMO_SEED, clock.now())
            .await
            .map_err(|e| e.to_string())?;
    }
    // Content-hashed bundle names, when the build wrote them beside the
    // binary (scripts/build) and the files are there.
    let hashes = asset_hashes(&args.site_root);
    let leptos = leptos::config::LeptosOptions::builder()
        .output_name("credits")
        .site_root(args.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(args.bind)
        .hash_files(hashes.is_some())
        .build();
    let echarts_src = match hashes.as_ref().and_then(|h| h.get("echarts")) {
        Some(h) => format!("/pkg/echarts.{h}.js"),
        None => "/pkg/echarts.min.js".to_string(),
    };
    let wasm = std::path::Path::new(&args.site_root)
        .join("pkg")
        .join("credits_bg.wasm");
    let hydrate = wasm.exists();
    if !hydrate {
        tracing::warn!(path = %wasm.display(), "no WASM bundle: pages render server-side only");
    }
    let state = AppState {
        store: store.clone(),
        clock,
        api_token: Arc::from(args.api_token.as_str()),
        leptos,
        hydrate,
        demo: args.demo,
        embed_secret: args
            .embed_secret
            .clone()
            .filter(|s| !s.is_empty())
            .map(|s| Arc::from(s.as_str())),
        https: args.https,
        trusted_proxies: args.trusted_proxies.clone().into(),
        webhook: webhook_url.is_some(),
        echarts_src: Arc::from(echarts_src.as_str()),
        contact: app::model::ContactLinks {
            platform_origins: args
                .embed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            chat_url: args.chat_url.clone().filter(|u| !u.trim().is_empty()),
        },
    };
    let (stop_outbox, outbox_stopped) = tokio::sync::watch::channel(false);
    let secret = args.webhook_secret.clone().filter(|s| !s.is_empty());
    let outbox = webhook_url.map(|url| {
        tracing::info!(
            signed = secret.is_some(),
            "delivering requests and alerts to the webhook"
        );
        let mut config = outbox::OutboxConfig::new(url);
        config.secret = secret;
        tokio::spawn(outbox::run(store.clone(), config, outbox_stopped))
    });
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot bind {}: {e}", args.bind))?;
    tracing::info!("listening on http://{}", args.bind);
    println!("Credits — View Usage: http://{}/usage/plan", args.bind);
    // The pages on threads of their own at a lower priority, as many as
    // the machine's cores: the platform API first.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    credits_server::priority::enable(cores)
        .map_err(|e| format!("cannot start the pages' threads: {e}"))?;
    let limits = credits_server::serve::Limits {
        in_flight: args.max_in_flight.max(1),
        connections: args.max_connections.max(1),
        ..Default::default()
    };
    let mut app = credits_server::app_with_limits(state, limits);
    if let Some(token) = metrics_token {
        app = app.merge(
            axum::Router::new()
                .route(
                    "/metrics",
                    axum::routing::get(credits_server::telemetry::scrape),
                )
                .with_state((store.clone(), std::sync::Arc::<str>::from(token.as_str()))),
        );
    }
    credits_server::serve::serve(listener, app, limits, shutdown()).await;
    let _ = stop_outbox.send(true);
    if let Some(task) = outbox {
        let _ = task.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
