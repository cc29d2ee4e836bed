//! Odoo refusing the bridge itself (issue 15, item 2): a wrong password, a
//! login cooldown's `AccessDenied`, a maintenance page in place of JSON-RPC.
//! These are the bridge's problems, not the result's: an accepted callback
//! waits in the spool (202, never a dead letter), `/readyz` says why, a
//! metric and one log line per change say so, and the entry applies once
//! Odoo accepts the bridge again or a reload brings the new password.

use std::time::Duration;

use influence_gen_testkit::{CallMatcher, Fault, FaultRule, OdooEmulator, UserAccess};
use serde_json::{Value, json};

use crate::support::bridge::{BridgeProcess, ConfigFile};
use crate::support::callbacks::{self, failure};
use crate::support::config::{ODOO_LOGIN, ODOO_PASSWORD, TestConfig, assert_no_secret};

const REQUESTS: &str = "influence_gen.ai_image_request";
const NEW_PASSWORD: &str = "test-odoo-password-rotated-77e1";
const WAIT: Duration = Duration::from_secs(15);

struct Setup {
    odoo: OdooEmulator,
    uid: i64,
    config: TestConfig,
    file: ConfigFile,
    bridge: BridgeProcess,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    let odoo = OdooEmulator::start().await;
    let uid = odoo.add_user(ODOO_LOGIN, ODOO_PASSWORD, UserAccess::Admin);
    let config = TestConfig::new(&odoo.url())
        .with("spool", "wait = \"1s\"")
        .with("initiation", "sweep_interval = \"0s\"");
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    bridge
        .wait_for_log("logged in to Odoo", Duration::from_secs(10))
        .await;
    Setup {
        odoo,
        uid,
        config,
        file,
        bridge,
        http: callbacks::client(),
    }
}

impl Setup {
    fn status(&self, request: i64) -> Value {
        self.odoo.record(REQUESTS, request).unwrap()["status"].clone()
    }

    fn dead_letters(&self) -> usize {
        std::fs::read_dir(self.file.spool_dir.join("dead")).map_or(0, |dir| dir.count())
    }

    async fn readyz(&self) -> (u16, Value) {
        // Past the readiness cache.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let response = self
            .http
            .get(self.bridge.url("/readyz"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn refused_gauge(&self, reason: &str) -> f64 {
        let text = self
            .http
            .get(self.bridge.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let name = format!("influence_gen_bridge_odoo_refused{{reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(name.as_str()))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    }

    fn log_lines_with(&self, needle: &str) -> usize {
        self.bridge
            .logs()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Posts a failure for a new request: accepted, not applied, not dead.
    async fn post_waiting(&self) -> i64 {
        let request = self.odoo.seed_request(json!({ "prompt": "a lighthouse" }));
        let (status, body) = callbacks::post(
            &self.http,
            &self.bridge.url(""),
            &failure(request, "provider outage", ""),
        )
        .await
        .unwrap();
        assert_eq!((status, &body), (202, &json!({ "status": "accepted" })));
        assert_eq!(self.status(request), "queued");
        assert_eq!(self.dead_letters(), 0, "the callback became a dead letter");
        request
    }

    async fn wait_for_status(&self, request: i64, status: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.status(request) != status {
            assert!(
                tokio::time::Instant::now() < deadline,
                "request {request} never became {status}:\n{}",
                self.bridge.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_rotated_password_keeps_callbacks_waiting_until_a_reload_brings_the_new_one() {
    let setup = setup().await;
    setup
        .odoo
        .update("res.users", setup.uid, json!({ "password": NEW_PASSWORD }));
    let first = setup.post_waiting().await;
    let second = setup.post_waiting().await;
    let (status, body) = setup.readyz().await;
    assert_eq!(status, 503, "{body}");
    let failing = body["failing"][0].as_str().unwrap();
    assert!(failing.contains("refuses the bridge's login"), "{body}");
    assert_eq!(setup.refused_gauge("login_refused").await, 1.0);
    // Two callbacks, several probes and readiness checks: one line.
    let explanation = "Odoo refuses the bridge's login";
    assert_eq!(
        setup.log_lines_with(explanation),
        1,
        "{}",
        setup.bridge.log_text()
    );
    assert_eq!(setup.status(first), "queued");

    let rotated = TestConfig {
        password: NEW_PASSWORD.to_owned(),
        ..setup.config.clone()
    };
    setup.file.rewrite(&rotated);
    setup.bridge.signal("HUP");
    setup.wait_for_status(first, "failed").await;
    setup.wait_for_status(second, "failed").await;
    assert_eq!(setup.dead_letters(), 0);
    assert_eq!(setup.refused_gauge("login_refused").await, 0.0);
    assert_eq!(setup.log_lines_with(explanation), 1);
    setup
        .bridge
        .wait_for_log("Odoo accepts the bridge again", WAIT)
        .await;
    let mut secrets = setup.config.secrets();
    secrets.push(NEW_PASSWORD.to_owned());
    assert_no_secret(&setup.bridge.log_text(), &secrets, "bridge logs");
}

#[tokio::test]
async fn a_login_cooldown_and_a_maintenance_page_make_callbacks_wait_not_die() {
    let setup = setup().await;
    // Odoo's cooldown after repeated failures: AccessDenied even after a
    // fresh login.
    setup.odoo.inject(FaultRule::always(
        CallMatcher::service("object", "execute_kw"),
        Fault::odoo(
            "odoo.exceptions.AccessDenied",
            "Too many login failures, please wait a bit before trying again.",
        ),
    ));
    let denied = setup.post_waiting().await;
    let (status, body) = setup.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["failing"][0]
            .as_str()
            .unwrap()
            .contains("denies the bridge's session"),
        "{body}"
    );
    assert_eq!(setup.refused_gauge("access_denied").await, 1.0);
    let explanation = "Odoo denies the bridge's session";
    assert_eq!(
        setup.log_lines_with(explanation),
        1,
        "{}",
        setup.bridge.log_text()
    );
    setup.odoo.clear_faults();
    // The cooldown ends: the entry applies by itself.
    setup.wait_for_status(denied, "failed").await;

    // A maintenance page answers every call with HTTP 200 and HTML.
    setup.odoo.set_http_error(Some(200));
    let maintained = setup.post_waiting().await;
    let (status, body) = setup.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["failing"][0]
            .as_str()
            .unwrap()
            .contains("instead of JSON-RPC"),
        "{body}"
    );
    assert_eq!(setup.refused_gauge("not_json_rpc").await, 1.0);
    setup.odoo.set_http_error(None);
    setup.wait_for_status(maintained, "failed").await;
    assert_eq!(setup.dead_letters(), 0);
    assert_eq!(setup.refused_gauge("not_json_rpc").await, 0.0);
}
