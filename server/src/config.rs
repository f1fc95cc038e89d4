//! Command line and environment.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Credits — View Usage: the usage and subscription dashboard.
#[derive(Debug, Parser)]
#[command(name = "credits", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard and the platform API.
    Serve(Box<ServeArgs>),
    /// Run the database migrations and exit.
    Migrate(DbArgs),
    /// Write the demo workspace (when the database holds none) and exit.
    SeedDemo(DbArgs),
    /// Seed a synthetic workspace and time the dashboard's queries.
    Bench(BenchArgs),
    /// Copy a SQLite database to a file, safely while the server runs.
    Backup(BackupArgs),
    /// Check the ledger: pre-aggregates and cycle balances against the raw
    /// events, the database's integrity, and (with --expect) what a client
    /// was told was stored. Prints a JSON report; fails on any difference.
    Verify(VerifyArgs),
}

/// `credits backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The file to write (must not exist).
    #[arg(long)]
    pub to: String,
}

/// `credits verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// A JSON file of what was sent: `{"workspace": id, "batches": [{"ids":
    /// [...], "acked": bool}], "charges": [{"id", "acked": bool}]}`.
    #[arg(long)]
    pub expect: Option<String>,
}

/// `credits bench`: the benchmark of record (see the README).
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The database to seed and measure (`sqlite:…` or `postgres:…`); a
    /// run with the same seed and scale reuses what an earlier one seeded.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://target/bench/bench.db?mode=rwc"
    )]
    pub database_url: String,
    /// A fraction of the full data set (10 M credit events, 2 M
    /// conversations, 200 workspaces, the largest with 2 M and 400 k).
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,
    /// Where to write the figures as JSON.
    #[arg(long)]
    pub json: Option<String>,
    /// The random seed of the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The workspaces' IANA time zone (one with DST by default).
    #[arg(long, default_value = "Europe/Madrid", value_parser = parse_zone)]
    pub timezone: chrono_tz::Tz,
    /// Runs of each report and view.
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Runs of each naive report (seconds each at the full scale).
    #[arg(long, default_value_t = 2)]
    pub naive_iterations: usize,
    /// Seconds of each HTTP load (batches, then charges); 0 skips it.
    #[arg(long, default_value_t = 15.0)]
    pub http_seconds: f64,
    /// At the end, keep this many months of raw events and drop the rest
    /// (as `--retain-events-months`), timed, with every report compared
    /// before and after.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1200))]
    pub retain_months: Option<u32>,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0001..=10.0).contains(&f) => Ok(f),
        _ => Err("a number from 0.0001 to 10".into()),
    }
}

fn parse_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("{s:?} is not an IANA time zone"))
}

/// The database.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// `sqlite://path?mode=rwc` (file and folder created) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/credits.db?mode=rwc"
    )]
    pub database_url: String,
    /// Seconds to keep trying a database that cannot be reached at start
    /// (each failure is logged with its cause) before exiting with status
    /// 1 and a plain message; 0 tries once.
    #[arg(long, env = "DATABASE_WAIT", default_value_t = 30)]
    pub database_wait: u64,
}

/// `url` with its password, if any, replaced by `***`, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            let hidden = if authority[..authority.len() - host.len() - 1].contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Whether `s` is an origin as browsers send it: `http(s)://host[:port]`,
/// no path, no wildcard, nothing a header could be split with.
pub fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
        _ => (rest, None),
    };
    (scheme == "http" || scheme == "https")
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Why the webhook at `url` is refused at start, if it is: deliveries go
/// over HTTPS, or plain HTTP to this machine (loopback) only, and signed
/// (`--webhook-secret`), unless `--allow-insecure-webhook` says otherwise.
pub fn webhook_refusal(url: &str, signed: bool, allow_insecure: bool) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some(format!("{url:?} is not an http(s) URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() || !matches!(scheme, "http" | "https") {
        return Some(format!("{url:?} is not an http(s) URL"));
    }
    if allow_insecure {
        return None;
    }
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if scheme == "http" && !loopback {
        return Some(
            "deliveries would cross the network unencrypted over http://; use https://, or pass --allow-insecure-webhook".into(),
        );
    }
    if !signed {
        return Some(
            "deliveries would be unsigned: set --webhook-secret (CREDITS_WEBHOOK_SECRET), or pass --allow-insecure-webhook".into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_hide_a_database_password() {
        assert_eq!(
            redacted("postgres://app:s3cr:et@db.example:5432/credits?sslmode=require"),
            "postgres://app:***@db.example:5432/credits?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://app@db/credits"),
            "postgres://app@db/credits"
        );
        assert_eq!(redacted("postgres://db/credits"), "postgres://db/credits");
        assert_eq!(
            redacted("sqlite://data/credits.db?mode=rwc"),
            "sqlite://data/credits.db?mode=rwc"
        );
    }

    #[test]
    fn webhooks_are_encrypted_and_signed_unless_allowed() {
        for ok in [
            "https://hooks.example.com/credits",
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://[::1]:8080/",
        ] {
            assert_eq!(webhook_refusal(ok, true, false), None, "{ok}");
        }
        assert!(webhook_refusal("http://hooks.example.com/x", true, false)
            .is_some_and(|r| r.contains("unencrypted")));
        assert!(webhook_refusal("http://127.0.0.1.example.com/x", true, false).is_some());
        assert!(webhook_refusal("https://hooks.example.com/x", false, false)
            .is_some_and(|r| r.contains("unsigned")));
        assert_eq!(
            webhook_refusal("http://hooks.example.com/x", false, true),
            None
        );
        for bad in ["hooks.example.com", "ftp://x/y", "https://", "https:///x"] {
            assert!(webhook_refusal(bad, true, true).is_some(), "{bad}");
        }
    }

    #[test]
    fn origins_are_checked() {
        for ok in [
            "https://app.example.com",
            "http://localhost:3108",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
        ] {
            assert!(is_origin(ok), "{ok}");
        }
        for bad in [
            "*",
            "https://*.example.com",
            "https://a.com/",
            "https://a.com/x",
            "app.example.com",
            "javascript://x",
            "https://a.com;b",
            "https://a.com:",
            "https://a.com:99999x",
            "https://",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}

/// `credits serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "CREDITS_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,
    /// Bearer token the platform sends to /api/v1.
    #[arg(long, env = "CREDITS_API_TOKEN", hide_env_values = true)]
    pub api_token: String,
    /// Seed the demo workspace when the database is empty.
    #[arg(long, env = "CREDITS_DEMO")]
    pub demo: bool,
    /// Key of the platform's signed hand-off tokens (JWT HS256).
    #[arg(long, env = "CREDITS_EMBED_SECRET", hide_env_values = true)]
    pub embed_secret: Option<String>,
    /// Served over HTTPS (Secure cookies and HSTS).
    #[arg(long, env = "CREDITS_HTTPS")]
    pub https: bool,
    /// Addresses of the reverse proxies whose X-Forwarded-Proto is
    /// believed, comma-separated (e.g. 127.0.0.1,10.0.0.2); from anyone
    /// else it is ignored.
    #[arg(long, env = "CREDITS_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Origins of the platform allowed to embed the dashboard, comma-separated.
    #[arg(long, env = "CREDITS_EMBED_ORIGINS", value_delimiter = ',')]
    pub embed_origins: Vec<String>,
    /// The platform chat, offered after a request when running standalone.
    #[arg(long, env = "CREDITS_CHAT_URL")]
    pub chat_url: Option<String>,
    /// The platform's webhook: each request to the account manager and each
    /// alert is POSTed here (JSON), retried until a 2xx.
    /// `--request-webhook-url` / `CREDITS_REQUEST_WEBHOOK_URL` still work.
    #[arg(long, env = "CREDITS_WEBHOOK_URL", alias = "request-webhook-url")]
    pub webhook_url: Option<String>,
    /// Deliver to a webhook over plain http:// beyond this machine, or
    /// unsigned (no `--webhook-secret`): refused at start without it.
    #[arg(long, env = "CREDITS_ALLOW_INSECURE_WEBHOOK")]
    pub allow_insecure_webhook: bool,
    /// Key of the `X-Credits-Signature` HMAC-SHA256 header on every webhook delivery.
    #[arg(long, env = "CREDITS_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Requests in flight at once, for the API and for the pages each;
    /// beyond it the server answers `503` with `Retry-After` at once.
    #[arg(long, env = "CREDITS_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
    /// Open connections at once; past it a new one gets `503` and is
    /// closed (keep it under the process's file-descriptor limit).
    #[arg(long, env = "CREDITS_MAX_CONNECTIONS", default_value_t = 1_024)]
    pub max_connections: usize,
    /// Opens `GET /metrics` (Prometheus' text format) on this port for a
    /// bearer of this token (at least 32 bytes); without it there is no
    /// `/metrics`.
    #[arg(long, env = "CREDITS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Keep raw usage events for this many whole months before the
    /// current one (UTC), then drop them; reports, summaries, alerts and
    /// limits stay exact from their sums (docs/operations.md,
    /// "Retention"). Unset: every event is kept.
    #[arg(long, env = "CREDITS_RETAIN_EVENTS_MONTHS",
          value_parser = clap::value_parser!(u32).range(1..=1200))]
    pub retain_events_months: Option<u32>,
    /// Where the built site (pkg/credits.js, .wasm) lives.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}
