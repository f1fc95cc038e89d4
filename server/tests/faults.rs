//! Database faults survived, on real servers and real databases: a
//! PostgreSQL cluster of the test's own, started after the server (which
//! waits for it), then killed and started again while batches and charges
//! stream; a database that never comes (the server exits with a plain
//! message); SQLite on a small tmpfs that fills up. In each, nothing
//! acknowledged is lost or doubled (`credits verify` against what the
//! client was told), refusals are quick `503`s with `Retry-After`, and the
//! server recovers by itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TOKEN: &str = "faults-api-token-0123456789abcdef";
const METRICS: &str = "faults-metrics-token-0123456789abcdef";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

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

    /// Runs one of the server's programs (as `postgres` when root).
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
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
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
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
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
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
                s.refusals.push((took, url.rsplit('/').next().unwrap_or_default().to_string()));
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
                    .map(|id| json!({"id": id, "type": "credits", "occurred_at": at,
                                     "action": "enrich_email", "credits": 1, "user_id": "u1"}))
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
    let r = client.get(&url).bearer_auth(METRICS).send().await.expect("metrics");
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
        .args(["verify", "--database-wait", "0", "--database-url", url, "--expect"])
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
    assert!(before > 10, "only {before} acknowledgements before the fault");

    // Killed: not ready, and requests refused quickly.
    cluster.kill();
    let down = Instant::now();
    let mut not_ready = false;
    while down.elapsed() < Duration::from_secs(4) {
        let r = client.get(format!("{base}/readyz")).send().await;
        not_ready |= r.is_ok_and(|r| r.status() == 503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(not_ready, "/readyz never said not ready while the database was down");
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
    assert!(sent.odd.is_empty(), "answers other than 2xx and 503: {:?}", sent.odd);
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
        ("charges answered 201", vec!["credits_http_requests_total{", charges_route, "status=\"201\""]),
        ("charges answered 503", vec!["credits_http_requests_total{", charges_route, "status=\"503\""]),
        ("charge latencies", vec!["credits_http_request_duration_seconds_count{", charges_route]),
        ("charges created", vec!["credits_charges_total{", "outcome=\"created\""]),
        ("charges refused as unavailable", vec!["credits_charges_total{", "outcome=\"unavailable\""]),
        ("database unavailable", vec!["credits_db_unavailable_total"]),
        ("events inserted", vec!["credits_events_ingested_total{", "result=\"inserted\""]),
        ("write waits", vec!["credits_db_write_wait_seconds_count{", "phase=\"begin\""]),
        ("connections open", vec!["credits_connections_open"]),
        ("migrations", vec!["credits_migrations_seconds"]),
    ] {
        assert!(sample(&m, &parts) > 0.0, "{what}: no sample {parts:?} in {m:?}");
    }
    assert!(m.iter().any(|(k, _)| k.starts_with("credits_db_connections{")), "pool gauges");
    assert!(m.iter().any(|(k, _)| k == "credits_outbox_backlog"), "outbox backlog");
    assert!(m.iter().any(|(k, _)| k.starts_with("credits_http_in_flight{")), "in flight");
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
    let url = format!("postgres://app:hunter2secret@127.0.0.1:{}/credits", free_port());
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
    assert!(!stderr.contains("hunter2"), "the password is shown: {stderr}");
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
    assert!(sample(&m, &["credits_db_unavailable_total"]) >= 20.0, "{m:?}");
    assert!(sample(&m, &["credits_sqlite_checkpoint_seconds_count"]) > 0.0, "{m:?}");
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let _ = server.0.kill();
    let _ = server.0.wait();

    let sent = std::mem::take(&mut *sent.lock().expect("lock"));
    assert!(sent.odd.is_empty(), "answers other than 2xx and 503: {:?}", sent.odd);
    let slowest = sent.refusals.iter().map(|r| r.0).max().unwrap_or_default();
    assert!(slowest < Duration::from_secs(5), "a refusal took {slowest:?}");
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
