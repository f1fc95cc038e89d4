//! Database faults survived, on real servers and real databases: a
//! PostgreSQL cluster of the test's own, started after the server (which
//! waits for it), then killed and started again while batches and charges
//! stream; a database that never comes (the server exits with a plain
//! message); SQLite on a small tmpfs that fills up. In each, nothing
//! acknowledged is lost or doubled (`credits verify` against what the
//! client was told), refusals are quick `503`s with `Retry-After`, and the
//! server recovers by itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::process::{free_port, Proc};

const TOKEN: &str = "faults-api-token-0123456789abcdef";
const METRICS: &str = "faults-metrics-token-0123456789abcdef";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL cluster of the test's own, in a temporary folder, on its
/// own port; stopped and removed when dropped. PostgreSQL refuses to run
/// as root, so as root its commands run as the `postgres` user.
struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// A new cluster, not started; `None` (and the test skipped, saying
    /// why) where PostgreSQL's server programs are not installed.
    fn init(name: &str) -> Option<Cluster> {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .filter(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            eprintln!("pg_config --bindir has no initdb: {name} skipped");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("credits-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster folder");
        let cluster = Cluster {
            dir,
            bin,
            port: free_port(),
        };
        if is_root() {
            assert!(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .status()
                .is_ok_and(|s| s.success()));
        }
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        Some(cluster)
    }

    /// One of the server's programs, as `postgres` when root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        }
    }

    /// Runs one of the server's programs; it must succeed.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .current_dir(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.join("data").display().to_string();
        let log = self.dir.join("log").display().to_string();
        let mut all = vec!["-D", data.as_str(), "-l", log.as_str()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    fn start(&self) {
        self.start_with("");
    }

    /// Starts it with more server settings (`-c name=value …`).
    fn start_with(&self, settings: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 {settings}",
            self.port,
            self.dir.display()
        );
        self.pg_ctl(&["-w", "-o", &options, "start"]);
    }

    /// Stops it as a crash would: no shutdown checkpoint, every client
    /// cut off at once, recovery from the WAL at the next start.
    fn kill(&self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `credits serve` on `url`, not waited for.
fn spawn_server(url: &str, port: u16, log: &Path) -> Proc {
    let file = std::fs::File::create(log).expect("log file");
    Proc(
        Command::new(env!("CARGO_BIN_EXE_credits"))
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                url,
                "--api-token",
                TOKEN,
                "--database-wait",
                "60",
                "--metrics-token",
                METRICS,
            ])
            .env("RUST_LOG", "warn")
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("starts"),
    )
}

async fn ready(client: &reqwest::Client, base: &str, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The workspace `acme` with one user and a plan of `credits` a month.
async fn workspace(client: &reqwest::Client, base: &str, credits: i64) {
    let api = format!("{base}/api/v1/workspaces/acme");
    let ws = json!({"name": "Acme", "timezone": "Europe/Madrid",
        "plan": {"name": "G", "monthly_credits": credits, "identities_included": 1,
                 "price": {"amount_cents": 0, "currency": "EUR"}}});
    for (path, body) in [
        (String::new(), ws),
        (
            "/users/u1".to_string(),
            json!({"name": "U", "email": "u@x.test", "role": "admin"}),
        ),
    ] {
        let status = client
            .put(format!("{api}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("put")
            .status();
        assert!(status.is_success(), "PUT {path}: {status}");
    }
}

/// What the client was told, in `credits verify --expect`'s shape, and
/// what it saw on the way.
#[derive(Default)]
struct Sent {
    batches: Vec<Value>,
    charges: Vec<Value>,
    /// Refusals (`503`) and how long each took.
    refusals: Vec<(Duration, String)>,
    /// Answers other than 2xx and 503 (none expected).
    odd: Vec<String>,
    /// When each acknowledgement came.
    acks: Vec<Instant>,
}

/// Sends `body` to `url` until it is acknowledged or `stop` is set,
/// retrying the same request (same ids) after a refusal or a cut
/// connection, as the platform does; whether it was acknowledged.
async fn until_acked(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    stop: &AtomicBool,
    sent: &Mutex<Sent>,
) -> bool {
    loop {
        let at = Instant::now();
        let answer = client.post(url).bearer_auth(TOKEN).json(body).send().await;
        let took = at.elapsed();
        match answer {
            Ok(r) if r.status().is_success() => {
                sent.lock().expect("lock").acks.push(Instant::now());
                return true;
            }
            Ok(r) if r.status() == 503 => {
                let retry_after = r.headers().contains_key("retry-after");
                let mut s = sent.lock().expect("lock");
                s.refusals
                    .push((took, url.rsplit('/').next().unwrap_or_default().to_string()));
                if !retry_after {
                    s.odd.push("503 without Retry-After".into());
                }
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                sent.lock()
                    .expect("lock")
                    .odd
                    .push(format!("{status}: {text}"));
            }
            // A connection cut by the server mid-request: retried.
            Err(_) => {}
        }
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Streams batches of `size` credit events (`batch_tasks` at once) and
/// charges of 1 credit (`charge_tasks` at once) until `stop`.
fn stream(
    client: &reqwest::Client,
    base: &str,
    batch_tasks: usize,
    charge_tasks: usize,
    size: usize,
    stop: &Arc<AtomicBool>,
    sent: &Arc<Mutex<Sent>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let api = format!("{base}/api/v1/workspaces/acme");
    let mut tasks = Vec::new();
    for t in 0..batch_tasks {
        let (client, url, stop, sent) = (
            client.clone(),
            format!("{api}/usage-events"),
            stop.clone(),
            sent.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = (0..size).map(|i| format!("b{t}-{n}-{i}")).collect();
                let at = chrono::Utc::now().to_rfc3339();
                let events: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        json!({"id": id, "type": "credits", "occurred_at": at,
                                     "action": "enrich_email", "credits": 1, "user_id": "u1"})
                    })
                    .collect();
                let acked =
                    until_acked(&client, &url, &json!({"events": events}), &stop, &sent).await;
                sent.lock()
                    .expect("lock")
                    .batches
                    .push(json!({"ids": ids, "acked": acked}));
                n += 1;
            }
        }));
    }
    for t in 0..charge_tasks {
        let (client, url, stop, sent) = (
            client.clone(),
            format!("{api}/charges"),
            stop.clone(),
            sent.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("c{t}-{n}");
                let body =
                    json!({"id": id, "action": "ai_completion", "credits": 1, "user_id": "u1"});
                let acked = until_acked(&client, &url, &body, &stop, &sent).await;
                sent.lock()
                    .expect("lock")
                    .charges
                    .push(json!({"id": id, "acked": acked}));
                n += 1;
            }
        }));
    }
    tasks
}

/// `GET /metrics` as Prometheus scrapes it: refused without the token,
/// the text format with it; each sample as (name with labels, value).
async fn scrape(client: &reqwest::Client, base: &str) -> Vec<(String, f64)> {
    let url = format!("{base}/metrics");
    let anonymous = client.get(&url).send().await.expect("metrics");
    assert_eq!(anonymous.status(), 401, "/metrics without the token");
    let r = client
        .get(&url)
        .bearer_auth(METRICS)
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/plain; version=0.0.4"));
    r.text()
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

/// The sum of the samples whose name and labels contain every one of `parts`.
fn sample(samples: &[(String, f64)], parts: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| parts.iter().all(|p| k.contains(p)))
        .map(|(_, v)| v)
        .sum()
}

/// `credits verify` with what the client was told: nothing acknowledged
/// lost, no batch partly stored, the ledger equal to its recomputation
/// (and SQLite's integrity check); its report.
fn verify(url: &str, sent: &Sent, dir: &Path) -> Value {
    let expect = dir.join("sent.json");
    std::fs::write(
        &expect,
        json!({"workspace": "acme", "batches": sent.batches, "charges": sent.charges}).to_string(),
    )
    .expect("write expectations");
    let out = Command::new(env!("CARGO_BIN_EXE_credits"))
        .args([
            "verify",
            "--database-wait",
            "0",
            "--database-url",
            url,
            "--expect",
        ])
        .arg(&expect)
        .env("RUST_LOG", "warn")
        .output()
        .expect("verify runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        out.status.success() && report["consistent"] == true,
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["charges_lost"], 0, "{report}");
    assert_eq!(report["partial_batches"], 0, "{report}");
    report
}

/// The server started before its PostgreSQL (it waits, saying why), then
/// PostgreSQL killed and started again while batches and charges stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_killed_and_restarted_under_load_loses_and_doubles_nothing() {
    let Some(cluster) = Cluster::init("pg-restart") else {
        return;
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = cluster.dir.join("server.log");
    let _server = spawn_server(&cluster.url(), port, &log);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("client");

    // The database is not there yet: the server keeps trying and says why.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let waiting = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        waiting.contains("cannot reach the database at postgres://postgres@127.0.0.1")
            && waiting.contains("trying again"),
        "the server should say it waits for its database: {waiting}"
    );
    cluster.start();
    assert!(
        ready(&client, &base, Duration::from_secs(20)).await,
        "not ready after its database came: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    workspace(&client, &base, 1_000_000_000).await;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Sent::default()));
    let tasks = stream(&client, &base, 2, 4, 50, &stop, &sent);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = sent.lock().expect("lock").acks.len();
    assert!(
        before > 10,
        "only {before} acknowledgements before the fault"
    );

    // Killed: not ready, and requests refused quickly.
    cluster.kill();
    let down = Instant::now();
    let mut not_ready = false;
    while down.elapsed() < Duration::from_secs(4) {
        let r = client.get(format!("{base}/readyz")).send().await;
        not_ready |= r.is_ok_and(|r| r.status() == 503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        not_ready,
        "/readyz never said not ready while the database was down"
    );
    let at = Instant::now();
    let probe = client
        .get(format!("{base}/api/v1/workspaces/acme/summary"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer");
    assert_eq!(probe.status(), 503, "a read while the database is down");
    assert!(probe.headers().contains_key("retry-after"));
    assert!(
        at.elapsed() < Duration::from_secs(5),
        "a refusal took {:?}",
        at.elapsed()
    );

    // Back: the server recovers by itself within 10 s.
    cluster.start();
    let up = Instant::now();
    let acks_at_restart = sent.lock().expect("lock").acks.len();
    let recovered = loop {
        let first = {
            let s = sent.lock().expect("lock");
            s.acks
                .iter()
                .skip(acks_at_restart)
                .find(|a| **a > up)
                .map(|first| first.duration_since(up))
        };
        if first.is_some() {
            break first;
        }
        if up.elapsed() > Duration::from_secs(15) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let recovered = recovered.expect("no acknowledgement within 15 s of the database's return");
    assert!(
        recovered < Duration::from_secs(10),
        "recovered after {recovered:?}"
    );
    assert!(ready(&client, &base, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }

    let sent = std::mem::take(&mut *sent.lock().expect("lock"));
    assert!(
        sent.odd.is_empty(),
        "answers other than 2xx and 503: {:?}",
        sent.odd
    );
    let slowest = sent.refusals.iter().map(|r| r.0).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(5),
        "the slowest of {} refusals took {slowest:?}: {:?}",
        sent.refusals.len(),
        sent.refusals
    );
    // What an operator saw: the refusals, the database's faults, the
    // charges and events, the pools, the outbox, the migrations.
    let m = scrape(&client, &base).await;
    let charges_route = "route=\"/api/v1/workspaces/{workspace_id}/charges\"";
    for (what, parts) in [
        (
            "charges answered 201",
            vec![
                "credits_http_requests_total{",
                charges_route,
                "status=\"201\"",
            ],
        ),
        (
            "charges answered 503",
            vec![
                "credits_http_requests_total{",
                charges_route,
                "status=\"503\"",
            ],
        ),
        (
            "charge latencies",
            vec![
                "credits_http_request_duration_seconds_count{",
                charges_route,
            ],
        ),
        (
            "charges created",
            vec!["credits_charges_total{", "outcome=\"created\""],
        ),
        (
            "charges refused as unavailable",
            vec!["credits_charges_total{", "outcome=\"unavailable\""],
        ),
        ("database unavailable", vec!["credits_db_unavailable_total"]),
        (
            "events inserted",
            vec!["credits_events_ingested_total{", "result=\"inserted\""],
        ),
        (
            "write waits",
            vec!["credits_db_write_wait_seconds_count{", "phase=\"begin\""],
        ),
        ("connections open", vec!["credits_connections_open"]),
        ("migrations", vec!["credits_migrations_seconds"]),
    ] {
        assert!(
            sample(&m, &parts) > 0.0,
            "{what}: no sample {parts:?} in {m:?}"
        );
    }
    assert!(
        m.iter()
            .any(|(k, _)| k.starts_with("credits_db_connections{")),
        "pool gauges"
    );
    assert!(
        m.iter().any(|(k, _)| k == "credits_outbox_backlog"),
        "outbox backlog"
    );
    assert!(
        m.iter()
            .any(|(k, _)| k.starts_with("credits_http_in_flight{")),
        "in flight"
    );
    let report = verify(&cluster.url(), &sent, &cluster.dir);
    eprintln!(
        "PostgreSQL killed for {:?}: {} refusals (slowest {slowest:?}), recovered {recovered:?} after its return; {} events and {} charges acknowledged, lost 0",
        up.duration_since(down),
        sent.refusals.len(),
        report["events_acknowledged"],
        report["charges_acknowledged"],
    );
}

/// A database that never comes: the server tries for `--database-wait`
/// seconds, then exits with status 1 and a plain message.
#[test]
fn a_database_that_never_comes_ends_the_start_with_a_plain_message() {
    let url = format!(
        "postgres://app:hunter2secret@127.0.0.1:{}/credits",
        free_port()
    );
    let at = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &url])
        .args(["--api-token", TOKEN])
        .args(["--database-wait", "2"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(at.elapsed() < Duration::from_secs(20), "{:?}", at.elapsed());
    assert!(
        stderr.contains("credits: cannot reach the database at postgres://app:***@127.0.0.1:")
            && stderr.contains("--database-wait"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password is shown: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// SQLite on a disk that fills up: `503`s with `Retry-After` (never a
/// `500`), nothing acknowledged lost, the file intact, and writes resume
/// by themselves once there is room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_on_a_full_disk_refuses_cleanly_and_resumes() {
    let dir = std::env::temp_dir().join(format!("credits-full-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("folder");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12m", "tmpfs"])
        .arg(&dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a tmpfs here (not root?): the full-disk test skipped");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _unmount = Unmount(dir.clone());
    // Room kept aside, given back later.
    let spare = dir.join("spare");
    std::fs::write(&spare, vec![1u8; 3 << 20]).expect("spare");

    let url = format!("sqlite://{}/credits.db?mode=rwc", dir.display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::env::temp_dir().join(format!("credits-full-disk-{}.log", std::process::id()));
    let mut server = spawn_server(&url, port, &log);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("client");
    assert!(ready(&client, &base, Duration::from_secs(20)).await);
    workspace(&client, &base, 1_000_000_000).await;

    // Batches and charges until the disk is full and refusals come.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Sent::default()));
    let tasks = stream(&client, &base, 2, 2, 200, &stop, &sent);
    let full = Instant::now();
    while sent.lock().expect("lock").refusals.len() < 20 {
        assert!(
            full.elapsed() < Duration::from_secs(120),
            "the disk never filled: {} acknowledgements; {}",
            sent.lock().expect("lock").acks.len(),
            show(&log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let acked_when_full = sent.lock().expect("lock").acks.len();
    // Reads still answer on a full disk.
    let summary = client
        .get(format!("{base}/api/v1/workspaces/acme/summary"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("summary");
    assert_eq!(summary.status(), 200, "a read on a full disk");

    // Room again: writes resume by themselves (the same ids retried).
    std::fs::remove_file(&spare).expect("free the spare room");
    let freed = Instant::now();
    while sent.lock().expect("lock").acks.len() < acked_when_full + 4 {
        assert!(
            freed.elapsed() < Duration::from_secs(15),
            "writes did not resume within 15 s of room coming back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resumed = freed.elapsed();
    let m = scrape(&client, &base).await;
    assert!(
        sample(&m, &["credits_db_unavailable_total"]) >= 20.0,
        "{m:?}"
    );
    assert!(
        sample(&m, &["credits_sqlite_checkpoint_seconds_count"]) > 0.0,
        "{m:?}"
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let _ = server.0.kill();
    let _ = server.0.wait();

    let sent = std::mem::take(&mut *sent.lock().expect("lock"));
    assert!(
        sent.odd.is_empty(),
        "answers other than 2xx and 503: {:?}",
        sent.odd
    );
    let slowest = sent.refusals.iter().map(|r| r.0).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(5),
        "a refusal took {slowest:?}"
    );
    let report = verify(&url, &sent, &std::env::temp_dir());
    assert_eq!(report["ledger"]["integrity"], json!(["ok"]), "{report}");
    eprintln!(
        "full disk: {} refusals (slowest {slowest:?}), writes resumed {resumed:?} after room came back; {} events and {} charges acknowledged, lost 0",
        sent.refusals.len(),
        report["events_acknowledged"],
        report["charges_acknowledged"],
    );
    let _ = std::fs::remove_file(&log);
}

#[allow(dead_code)]
fn show(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// The tables docs/citus.md places as reference tables (every other one is
/// distributed by its workspace).
const REFERENCE_TABLES: [&str; 3] = ["webhook_outbox", "sessions", "used_handoffs"];

/// Statements that span workspaces on purpose (docs/citus.md, "Across
/// workspaces"), by a fragment of their text.
const ACROSS_WORKSPACES: [&str; 4] = [
    // The time-zone mover's search for unfinished moves.
    "WHERE rebucket_from IS NOT NULL",
    // Readiness: every migration applied.
    "_sqlx_migrations",
    // PostgreSQL's statistics of the ledger's tables.
    "pg_stat_user_tables",
    // At start: whether any raw events were ever dropped (retention).
    "FROM event_archive LIMIT 1",
];

/// The workspace tables a statement reads or writes (its `FROM`, `JOIN`,
/// `INTO` and `UPDATE` targets that are tables of ours).
fn workspace_tables(sql: &str, tables: &[String]) -> Vec<String> {
    let words: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut found: Vec<String> = words
        .windows(2)
        .filter(|w| matches!(w[0].as_str(), "from" | "join" | "into" | "update"))
        .map(|w| w[1].clone())
        .filter(|t| tables.contains(t) && !REFERENCE_TABLES.contains(&t.as_str()))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Every statement the server runs against a workspace's table names one
/// workspace (docs/citus.md): a real `credits serve` on a PostgreSQL of
/// the test's own with `pg_stat_statements`, driven through every API
/// route, the pages and the sign-ins; then each statement it recorded that
/// touches a distributed table must filter on `workspace_id` (`id` for
/// `workspaces` itself), apart from the few that span workspaces on
/// purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_statement_names_one_workspace() {
    let Some(cluster) = Cluster::init("statements") else {
        return;
    };
    cluster.start_with(
        "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.max=10000",
    );
    let admin = sqlx::PgPool::connect(&cluster.url())
        .await
        .expect("connect");
    sqlx::query("CREATE EXTENSION pg_stat_statements")
        .execute(&admin)
        .await
        .expect("pg_stat_statements");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = cluster.dir.join("server.log");
    let secret = "statements-embed-secret-0123456789abcdef";
    let file = std::fs::File::create(&log).expect("log");
    let _server = Proc(
        Command::new(env!("CARGO_BIN_EXE_credits"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &cluster.url(), "--api-token", TOKEN])
            .args(["--embed-secret", secret, "--metrics-token", METRICS])
            .env("RUST_LOG", "warn")
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("starts"),
    );
    let client = reqwest::Client::new();
    assert!(ready(&client, &base, Duration::from_secs(20)).await);
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(&admin)
        .await
        .expect("reset");

    // Every route of the API, and the pages.
    let api = format!("{base}/api/v1/workspaces/acme");
    let now = chrono::Utc::now().to_rfc3339();
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "PUT",
            String::new(),
            json!({"name": "Acme", "timezone": "Europe/Madrid",
            "plan": {"name": "G", "monthly_credits": 100000, "identities_included": 2,
                     "price": {"amount_cents": 0, "currency": "EUR"}},
            "alerts": {"thresholds": [50, 80]},
            "limits": {"user_default": {"credits": 50000, "mode": "hard"}, "overage": 0}}),
        ),
        (
            "PUT",
            "/users/u1".into(),
            json!({"name": "U1", "email": "u1@x.test", "role": "admin"}),
        ),
        (
            "PUT",
            "/users/u2".into(),
            json!({"name": "U2", "email": "u2@x.test", "role": "member"}),
        ),
        (
            "PUT",
            "/campaigns/c1".into(),
            json!({"name": "C1", "status": "active"}),
        ),
        (
            "PUT",
            "/identities/i1".into(),
            json!({"name": "I1", "channel": "email", "user_id": "u1"}),
        ),
        (
            "POST",
            "/credit-grants".into(),
            json!({"id": "g1", "kind": "add_on", "credits": 500}),
        ),
        (
            "POST",
            "/usage-events".into(),
            json!({"events": [
            {"id": "e1", "type": "credits", "occurred_at": now, "action": "enrich_email", "credits": 3,
             "user_id": "u1", "campaign_id": "c1", "identity_id": "i1"},
            {"id": "e2", "type": "conversation", "occurred_at": now, "campaign_id": "c1", "identity_id": "i1"}]}),
        ),
        (
            "POST",
            "/charges".into(),
            json!({"id": "ch1", "action": "ai_completion", "credits": 2, "user_id": "u2", "campaign_id": "c1"}),
        ),
        (
            "POST",
            "/charges".into(),
            json!({"id": "ch1", "action": "ai_completion", "credits": 2, "user_id": "u2", "campaign_id": "c1"}),
        ),
        (
            "POST",
            "/charges".into(),
            json!({"id": "ch2", "action": "ai_completion", "credits": 900000, "user_id": "u2"}),
        ),
        (
            "PUT",
            "/limits/users/u2".into(),
            json!({"credits": 10, "mode": "hard"}),
        ),
        (
            "PUT",
            "/limits/campaigns/c1".into(),
            json!({"credits": 5000, "mode": "soft"}),
        ),
        (
            "POST",
            "/charges".into(),
            json!({"id": "ch3", "action": "ai_completion", "credits": 20, "user_id": "u2"}),
        ),
        (
            "POST",
            "/limit-requests".into(),
            json!({"id": "lr1", "user_id": "u2", "credits": 50, "reason": "more"}),
        ),
        (
            "POST",
            "/limit-requests/lr1/decision".into(),
            json!({"decision": "approve"}),
        ),
        ("DELETE", "/limits/campaigns/c1".into(), Value::Null),
        ("DELETE", "/limits/users/u2".into(), Value::Null),
    ];
    for (method, path, body) in &writes {
        let url = format!("{api}{path}");
        let req = match *method {
            "PUT" => client.put(&url).json(body),
            "POST" => client.post(&url).json(body),
            _ => client.delete(&url),
        };
        let status = req
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answer")
            .status();
        assert!(status.as_u16() < 500, "{method} {path}: {status}");
    }
    for path in [
        "",
        "/summary",
        "/credit-usage?period=this_month&group_by=day,action",
        "/credit-usage?period=last_28_days&group_by=user",
        "/credit-usage?period=this_month&group_by=campaign&user_id=u1",
        "/conversations?period=this_month&group_by=identity",
        "/credit-usage.csv?period=this_month",
        "/credit-usage.csv?period=this_month&group_by=user",
        "/support-requests",
        "/alerts",
        "/limits",
        "/limit-requests",
        "/audit-log",
    ] {
        let status = client
            .get(format!("{api}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answer")
            .status();
        assert!(status.is_success(), "GET {path}: {status}");
    }
    // The pages, signed in by a hand-off (standalone and embedded).
    let jwt = |user: &str| {
        use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
        let claims = json!({"sub": user, "ws": "acme", "aud": "credits",
            "exp": chrono::Utc::now().timestamp() + 300, "jti": credits_server::auth::new_session_token()});
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap_or_default()
    };
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    for (user, first, pages) in [
        (
            "u1",
            "/auth/handoff?token=",
            [
                "/usage/plan",
                "/usage/credits?period=last_week",
                "/usage/conversations",
                "/usage/credits.csv?period=this_month",
            ],
        ),
        (
            "u2",
            "/embed?next=/usage/credits&token=",
            [
                "/embed/usage/plan",
                "/embed/usage/credits?period=last_week",
                "/embed/usage/conversations",
                "/embed/usage/credits.csv?period=this_month",
            ],
        ),
    ] {
        let r = browser
            .get(format!("{base}{first}{}", jwt(user)))
            .send()
            .await
            .expect("hand-off");
        assert!(r.status().as_u16() < 400, "{user}: {}", r.status());
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .unwrap_or_default()
            .to_string();
        for page in pages {
            let r = browser
                .get(format!("{base}{page}"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("page");
            assert!(r.status().is_success(), "{page}: {}", r.status());
        }
    }
    for path in ["/users/u2/sessions", "/users/u2"] {
        let status = client
            .delete(format!("{api}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answer")
            .status();
        assert_eq!(status, 204, "DELETE {path}");
    }
    let _ = client
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS)
        .send()
        .await;

    // What the server ran.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&admin)
    .await
    .expect("tables");
    let statements: Vec<String> = sqlx::query_scalar(
        "SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&admin)
    .await
    .expect("statements");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for sql in &statements {
        let touched = workspace_tables(sql, &tables);
        if touched.is_empty() || ACROSS_WORKSPACES.iter().any(|f| sql.contains(f)) {
            continue;
        }
        checked += 1;
        let lower = sql.to_ascii_lowercase();
        let named = lower.contains("workspace_id")
            || (touched == ["workspaces"]
                && (lower.contains("where id =")
                    || lower.starts_with("insert into workspaces (id,")));
        if !named {
            wrong.push(format!("{touched:?}: {sql}"));
        }
    }
    assert!(
        checked > 60,
        "only {checked} statements on workspace tables were recorded"
    );
    assert!(
        wrong.is_empty(),
        "{} of {checked} statements name no workspace (docs/citus.md):\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
    eprintln!("{checked} statements on workspace tables, each naming one workspace");
    admin.close().await;
}
