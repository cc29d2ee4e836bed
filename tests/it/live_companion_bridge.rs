//! The bridge's two protocols against a real Odoo 18 with the companion
//! addon installed, when one is named in the environment:
//! `IG_LIVE_ODOO_URL`, `IG_LIVE_ODOO_DB`, `IG_LIVE_ODOO_LOGIN`,
//! `IG_LIVE_ODOO_PASSWORD` (the bridge's user, in the group InfluenceGen
//! Bridge), `IG_LIVE_ODOO_ADMIN_LOGIN`, `IG_LIVE_ODOO_ADMIN_PASSWORD`. The
//! late-commit tests also need the server's PostgreSQL: `IG_LIVE_ODOO_DIR`
//! (or the kit's own `ODOO18_DIR`), the kit's state directory whose
//! `odoo.conf` names the port and password. Without them each test says it
//! is skipped and passes.
//!
//! * 10 identical results, sent at once through two bridge processes, make
//!   one generated image (companion protocol);
//! * a lock on the generated-image table held 4 s while `odoo.timeout` is
//!   1 s (every image create outlasts the timeout and commits later) still
//!   gives one image per result, in both protocols.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::odoo::OdooClient;
use influence_gen_testkit::images;
use serde_json::{Value, json};

use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{client, post, success_inline};
use crate::support::config::TestConfig;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const IMAGE_TABLE: &str = "influence_gen_generated_image";
/// How long the admin holds the table lock, against `odoo.timeout = 1s`.
const LOCK_HELD: Duration = Duration::from_secs(4);

/// The tests of this file run one at a time: a table lock of one would
/// stretch the timings of another.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The live Odoo's configuration for the bridge's user, or `None` to skip.
fn live_config(test: &str) -> Option<TestConfig> {
    let Ok(url) = std::env::var("IG_LIVE_ODOO_URL") else {
        eprintln!(
            "skipped {test}: set IG_LIVE_ODOO_URL (and _DB, _LOGIN, _PASSWORD) to run it against a real Odoo 18"
        );
        return None;
    };
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("IG_LIVE_ODOO_URL is set but {name} is not"))
    };
    let mut config = TestConfig::new(&url);
    config.database = var("IG_LIVE_ODOO_DB");
    config.login = var("IG_LIVE_ODOO_LOGIN");
    config.password = var("IG_LIVE_ODOO_PASSWORD");
    Some(
        config
            .with("odoo", "timeout = \"30s\"")
            .with("initiation", "sweep_interval = \"0s\""),
    )
}

/// The kit's `odoo.conf`, or `None` (and a message) to skip.
fn server_conf(test: &str) -> Option<PathBuf> {
    let dir = std::env::var("IG_LIVE_ODOO_DIR")
        .or_else(|_| std::env::var("ODOO18_DIR"))
        .ok();
    let Some(dir) = dir else {
        eprintln!(
            "skipped {test}: set IG_LIVE_ODOO_DIR to the Odoo kit's state directory (its odoo.conf names PostgreSQL)"
        );
        return None;
    };
    Some(Path::new(&dir).join("odoo.conf"))
}

fn odoo_client(config: &TestConfig) -> OdooClient {
    let parsed = Config::from_toml(
        &config.toml(),
        Path::new("live.toml"),
        Path::new("/tmp"),
        &Environment::default(),
    )
    .unwrap();
    influence_gen_bridge::tls::install_crypto_provider();
    OdooClient::new(&parsed.odoo).unwrap()
}

async fn new_requests(odoo: &OdooClient, prompt: &str, n: usize) -> Vec<i64> {
    let vals: Vec<Value> = (0..n)
        .map(|i| json!({ "prompt": format!("{prompt} {i}") }))
        .collect();
    odoo.create_many(REQUESTS, &vals).await.unwrap()
}

async fn images_of(odoo: &OdooClient, request: i64) -> Vec<Value> {
    let domain = json!([["request_id", "=", request]]);
    odoo.search_read(IMAGES, &domain, &["id", "hash_value"], &Default::default())
        .await
        .unwrap()
}

async fn statuses(odoo: &OdooClient, requests: &[i64]) -> Vec<String> {
    let rows: Vec<Value> = odoo.read(REQUESTS, requests, &["status"]).await.unwrap();
    rows.iter()
        .map(|row| row["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn wait_completed(odoo: &OdooClient, requests: &[i64], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let now = statuses(odoo, requests).await;
        if now.iter().all(|status| status == "completed") {
            return;
        }
        assert!(Instant::now() < deadline, "not all completed: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn live_ten_identical_results_through_two_bridges_make_one_image() {
    let test = "live_ten_identical_results_through_two_bridges_make_one_image";
    let Some(config) = live_config(test) else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    let config = config.with("odoo", "protocol = \"companion\"");
    let odoo = odoo_client(&config);
    let request = new_requests(&odoo, "two bridges", 1).await[0];
    // Two processes, each with its own configuration file and spool.
    let bridges = [
        BridgeProcess::start(&config).await,
        BridgeProcess::start(&config).await,
    ];
    for bridge in &bridges {
        bridge
            .wait_for_log("the companion addon answers", Duration::from_secs(30))
            .await;
    }
    let body = success_inline(request.to_string(), &images::png(64, 48));
    let http = client();
    let posts = (0..10).map(|i| {
        let (http, url, body) = (http.clone(), bridges[i % 2].url(""), body.clone());
        tokio::spawn(async move { post(&http, &url, &body).await.unwrap() })
    });
    let mut duplicates = 0;
    for answer in futures_util::future::join_all(posts).await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
        duplicates += usize::from(body.to_string().contains("duplicate"));
    }
    assert_eq!(duplicates, 9, "one delivery stores, nine are duplicates");
    assert_eq!(images_of(&odoo, request).await.len(), 1);
    assert_eq!(statuses(&odoo, &[request]).await, ["completed"]);
}

#[tokio::test]
async fn live_late_commit_companion_gives_one_image_per_result() {
    late_commit(
        "live_late_commit_companion_gives_one_image_per_result",
        "companion",
    )
    .await;
}

#[tokio::test]
async fn live_late_commit_generic_gives_one_image_per_result() {
    late_commit(
        "live_late_commit_generic_gives_one_image_per_result",
        "generic",
    )
    .await;
}

/// A result while the admin holds a lock on the generated-image table
/// longer than `odoo.timeout`: the image create is cut off by the bridge's
/// timeout and commits in Odoo once the lock goes. One result, so that one
/// of the kit's two Odoo workers stays free for the retry (with more
/// results than workers every retry would queue behind the blocked calls
/// and see the first commit).
async fn late_commit(test: &str, protocol: &str) {
    let (Some(config), Some(conf)) = (live_config(test), server_conf(test)) else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    // The test's own client keeps the long timeout.
    let odoo = odoo_client(&config);
    let config = config
        .with("odoo", format!("protocol = \"{protocol}\""))
        .with("odoo", "timeout = \"1s\"")
        // Longer than the lock: by then Odoo has committed the cut-off calls.
        .with("odoo", "unknown_outcome_wait = \"8s\"")
        .with("spool", "wait = \"0s\"");
    let requests = new_requests(&odoo, &format!("late commit {protocol}"), 1).await;
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("Odoo protocol", Duration::from_secs(30))
        .await;
    let postgres = Postgres::from_conf(&conf, &config.database);
    let mut lock = postgres.hold_table_lock(IMAGE_TABLE, LOCK_HELD).await;
    let http = client();
    for (i, request) in requests.iter().enumerate() {
        let body = success_inline(request.to_string(), &images::png(30 + i as u32, 20));
        let (status, answer) = post(&http, &bridge.url(""), &body).await.unwrap();
        assert_eq!(status, 202, "{answer}");
    }
    let held = lock.wait().await.expect("psql ran");
    assert!(held.success(), "the lock session failed");
    wait_completed(&odoo, &requests, Duration::from_secs(60)).await;
    // Every cut-off call has returned in Odoo by now (the lock is gone and
    // the bridge answered); let the last retries settle.
    bridge
        .wait_for_log("spool entry applied", Duration::from_secs(30))
        .await;
    for request in &requests {
        let found = images_of(&odoo, *request).await;
        assert_eq!(found.len(), 1, "request {request} ({protocol}): {found:?}");
    }
    assert!(
        bridge
            .log_text()
            .contains("did not answer within the timeout"),
        "the lock did not outlast odoo.timeout: the test proved nothing"
    );
}

/// The kit's PostgreSQL, reached with `psql` as its superuser.
struct Postgres {
    host: String,
    port: String,
    user: String,
    password: String,
    database: String,
}

impl Postgres {
    fn from_conf(conf: &Path, database: &str) -> Self {
        let text = std::fs::read_to_string(conf)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", conf.display()));
        let value = |key: &str| {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_else(|| panic!("{} has no {key}", conf.display()))
        };
        Self {
            host: value("db_host"),
            port: value("db_port"),
            user: value("db_user"),
            password: value("db_password"),
            database: database.to_owned(),
        }
    }

    fn psql(&self, sql: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("psql");
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"])
            .args(["-h", &self.host, "-p", &self.port, "-U", &self.user])
            .args(["-d", &self.database, "-c", sql])
            .env("PGPASSWORD", &self.password)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts a session holding `LOCK TABLE … IN EXCLUSIVE MODE` (reads
    /// pass, inserts wait) for `held`; returns once the lock is granted.
    async fn hold_table_lock(&self, table: &str, held: Duration) -> tokio::process::Child {
        let sql = format!(
            "BEGIN; LOCK TABLE {table} IN EXCLUSIVE MODE; SELECT pg_sleep({}); COMMIT;",
            held.as_secs_f64()
        );
        let child = self.psql(&sql).spawn().expect("psql");
        let granted = format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             WHERE c.relname = '{table}' AND l.mode = 'ExclusiveLock' AND l.granted"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let output = self.psql(&granted).output().await.expect("psql");
            if String::from_utf8_lossy(&output.stdout).trim() == "1" {
                return child;
            }
            assert!(
                Instant::now() < deadline,
                "the lock was not granted: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
