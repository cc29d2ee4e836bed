//! The real-Odoo suite: the real daemon against a real Odoo (18 over
//! `/jsonrpc`, 19 over `/json/2`), when one is named in the environment
//! (`.ci/run` starts one of each in turn and sets these):
//!
//! | variable | meaning |
//! |---|---|
//! | `IG_LIVE_ODOO_URL` | e.g. `http://127.0.0.1:8069`; unset skips the suite |
//! | `IG_LIVE_ODOO_DB` | the database, with `influence_gen_base_models` installed |
//! | `IG_LIVE_ODOO_LOGIN`, `IG_LIVE_ODOO_PASSWORD` | the bridge's user (internal, InfluenceGen Bridge group); on Odoo 19 the password is its API key |
//! | `IG_LIVE_ODOO_ADMIN_LOGIN`, `IG_LIVE_ODOO_ADMIN_PASSWORD` | an administrator, for test setup |
//! | `IG_LIVE_ODOO_KIT`, `IG_LIVE_ODOO_DIR` | the odoo18-server kit and its state directory (stop/restart scenarios; optional) |
//!
//! One test, [`real_odoo_suite`], runs every scenario one after another
//! (they share one database, and the initiation scenarios' sweeper sees
//! every queued request), prints one line per scenario and one summary line
//! naming the Odoo version, and fails if any scenario failed. The shared
//! scenarios (`crate::scenarios`) also run against a fresh emulator, and
//! the two end states must be equal. Without `IG_LIVE_ODOO_URL` the suite
//! prints one line saying how to run it, and passes.
//!
//! To add scenarios (e.g. `live/companion.rs`): a module with a
//! `scenarios() -> Vec<LiveScenario>` function, listed in [`all`].

mod check;
mod initiation;
mod json2;
mod outages;
mod rights;
mod shared;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use influence_gen_bridge::odoo::OdooClient;

use crate::scenarios::{Target, client};
use crate::support::config::TestConfig;

/// The environment contract of the suite.
#[derive(Debug, Clone)]
pub struct LiveOdoo {
    pub url: String,
    pub database: String,
    pub login: String,
    pub password: String,
    pub admin_login: String,
    pub admin_password: String,
    /// The kit that started this Odoo, for stop/restart scenarios.
    pub kit: Option<PathBuf>,
    /// The kit's state directory of this Odoo.
    pub dir: Option<PathBuf>,
}

impl LiveOdoo {
    /// The live Odoo named by `IG_LIVE_ODOO_*`, or `None` without a URL.
    /// A URL without the other required variables is a mistake, not a skip.
    pub fn from_env() -> Option<Self> {
        let url = std::env::var("IG_LIVE_ODOO_URL").ok()?;
        let var = |name: &str| {
            std::env::var(name)
                .unwrap_or_else(|_| panic!("IG_LIVE_ODOO_URL is set but {name} is not"))
        };
        let path = |name: &str| std::env::var_os(name).map(PathBuf::from);
        Some(Self {
            url,
            database: var("IG_LIVE_ODOO_DB"),
            login: var("IG_LIVE_ODOO_LOGIN"),
            password: var("IG_LIVE_ODOO_PASSWORD"),
            admin_login: var("IG_LIVE_ODOO_ADMIN_LOGIN"),
            admin_password: var("IG_LIVE_ODOO_ADMIN_PASSWORD"),
            kit: path("IG_LIVE_ODOO_KIT"),
            dir: path("IG_LIVE_ODOO_DIR"),
        })
    }

    /// A configuration for the daemon as the bridge's user. A real Odoo
    /// hashes a password on first login (~0.4 s) and is slower than the
    /// emulator: a generous timeout.
    pub fn bridge_config(&self) -> TestConfig {
        let mut config = TestConfig::new(&self.url);
        config.database = self.database.clone();
        config.login = self.login.clone();
        config.password = self.password.clone();
        config.with("odoo", "timeout = \"30s\"")
    }

    /// The same Odoo as the administrator.
    pub fn admin_config(&self) -> TestConfig {
        let mut config = self.bridge_config();
        config.login = self.admin_login.clone();
        config.password = self.admin_password.clone();
        config
    }
}

/// What every live scenario gets.
pub struct Live {
    pub odoo: LiveOdoo,
    /// The real Odoo as a scenario target (admin client, bridge config).
    pub target: Arc<Target>,
}

impl Live {
    /// The admin's JSON-RPC client.
    pub fn admin(&self) -> &OdooClient {
        &self.target.admin
    }
}

/// A scenario of the real-Odoo suite: panics on failure.
pub struct LiveScenario {
    pub name: String,
    pub run: Box<dyn FnOnce(Arc<Live>) -> BoxFuture<'static, ()> + Send>,
    /// Stops and starts Odoo: needs `IG_LIVE_ODOO_KIT` and `IG_LIVE_ODOO_DIR`.
    pub needs_kit: bool,
}

impl LiveScenario {
    pub fn new(
        name: impl Into<String>,
        run: impl FnOnce(Arc<Live>) -> BoxFuture<'static, ()> + Send + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            run: Box::new(run),
            needs_kit: false,
        }
    }

    /// Marks a scenario that stops and starts Odoo with the kit.
    pub fn needing_the_kit(mut self) -> Self {
        self.needs_kit = true;
        self
    }
}

/// Every scenario, in the order they run.
fn all() -> Vec<LiveScenario> {
    let mut all = shared::scenarios();
    all.extend(rights::scenarios());
    all.extend(check::scenarios());
    all.extend(initiation::scenarios());
    all.extend(json2::scenarios());
    all.extend(outages::scenarios());
    all
}

/// Held by every test that uses the real Odoo: they share one database,
/// and one test's sweeper or claims would take another's queued requests.
static THE_REAL_ODOO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until no other test uses the real Odoo; it is this test's until
/// the guard drops. (A tokio mutex: tests run on runtimes of their own.)
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    THE_REAL_ODOO.lock().await
}

/// How to run the suite, said once when it is skipped.
const HOW_TO_RUN: &str =
    "real-Odoo suite skipped: run .ci/run, or set IG_LIVE_ODOO_* (see tests/it/live/mod.rs)";

/// Writes one line to the real stderr: the test harness captures `print!`
/// and `eprint!` of passing tests, and these lines must reach the CI log.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_odoo_suite() {
    let Some(odoo) = LiveOdoo::from_env() else {
        say(HOW_TO_RUN);
        return;
    };
    let _alone = exclusive().await;
    let target = Target::new(odoo.bridge_config(), &odoo.admin_config());
    let version = target
        .admin
        .version()
        .await
        .expect("the live Odoo answers common.version");
    let api = client(&odoo.bridge_config())
        .api()
        .await
        .expect("the bridge's API is chosen");
    let live = Arc::new(Live {
        odoo,
        target: Arc::new(target),
    });
    let has_kit = live.odoo.kit.is_some() && live.odoo.dir.is_some();
    let (mut passed, mut skipped, mut failed) = (0, 0, Vec::new());
    for scenario in all() {
        if scenario.needs_kit && !has_kit {
            skipped += 1;
            say(&format!(
                "real Odoo: skip {} (needs IG_LIVE_ODOO_KIT and IG_LIVE_ODOO_DIR)",
                scenario.name
            ));
            continue;
        }
        let started = Instant::now();
        let outcome = tokio::spawn((scenario.run)(Arc::clone(&live))).await;
        let took = started.elapsed();
        match outcome {
            Ok(()) => {
                passed += 1;
                say(&format!(
                    "real Odoo: ok   {} ({})",
                    scenario.name,
                    secs(took)
                ));
            }
            Err(error) => {
                say(&format!(
                    "real Odoo: FAIL {} ({})",
                    scenario.name,
                    secs(took)
                ));
                failed.push(format!("{}: {error}", scenario.name));
            }
        }
    }
    let skipped = match skipped {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    say(&format!(
        "real Odoo suite: Odoo {} ({api}), {passed} scenarios passed, {} failed{skipped}",
        version.server_version,
        failed.len()
    ));
    assert!(
        failed.is_empty(),
        "failed scenarios:\n{}",
        failed.join("\n")
    );
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// How often the suite polls Odoo while it waits for a state.
const POLL: Duration = Duration::from_millis(200);

impl Live {
    /// The statuses of `requests`, in order.
    pub async fn statuses(&self, requests: &[i64]) -> Vec<String> {
        let rows: Vec<serde_json::Value> = self
            .admin()
            .read(crate::scenarios::REQUESTS, requests, &["status"])
            .await
            .expect("read the requests' statuses");
        rows.iter()
            .map(|row| row["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until every one of `requests` has `status`, at most `timeout`.
    pub async fn wait_for_status(&self, requests: &[i64], status: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let statuses = self.statuses(requests).await;
            if statuses.iter().all(|s| s == status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "requests {requests:?} not all {status} within {timeout:?}: {statuses:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}
