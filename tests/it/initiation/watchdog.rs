//! Issue 15, items 4 and 5: the watchdog gives up on a request left
//! `processing` without a result for `initiation.result_timeout`, saying
//! what is known of its send; a request whose result waits in the spool is
//! left to the spool.

use std::time::Duration;

use influence_gen_testkit::{CallMatcher, Fault, FaultRule, OdooEmulator, Reply, images};
use serde_json::json;

use super::at_most_once::notes;
use super::{REQUESTS, record, request, setup, status};
use crate::support::bridge::{BridgeProcess, ConfigFile};
use crate::support::callbacks::{self, success_inline};

const WAIT: Duration = Duration::from_secs(15);
/// Short enough for a test, longer than the longest send of these tests
/// (one attempt of 1 s).
const RESULT_TIMEOUT: (&str, &str) = ("initiation", "result_timeout = \"10s\"");
const ONE_ATTEMPT: (&str, &str) = ("initiation", "attempts = 1");
const N8N_TIMEOUT: (&str, &str) = ("n8n", "timeout = \"1s\"");
/// Long before any result timeout.
const LONG_AGO: &str = "2020-01-01 00:00:00";

fn error_details(odoo: &OdooEmulator, id: i64) -> String {
    record(odoo, id)["error_details"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Moves the request's last change into the past, as time passing would.
fn age(odoo: &OdooEmulator, id: i64) {
    odoo.update(REQUESTS, id, json!({ "write_date": LONG_AGO }));
}

async fn wait_for_status(odoo: &OdooEmulator, id: i64, want: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while status(odoo, id) != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "request {id} is {}, not {want}",
            status(odoo, id)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_request_left_processing_by_a_killed_bridge_becomes_initiation_failed() {
    let (odoo, n8n, config) = setup(&[
        ("initiation", "sweep_interval = \"100ms\""),
        ("initiation", "sweep_grace = \"0s\""),
        RESULT_TIMEOUT,
        ONE_ATTEMPT,
        N8N_TIMEOUT,
    ])
    .await;
    n8n.set_default(Reply::Hang);
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let id = request(&odoo);
    assert!(n8n.wait_for(1, WAIT).await);
    // SIGKILL mid-send: nothing records anything.
    drop(bridge);
    assert_eq!(status(&odoo, id), "processing");
    age(&odoo, id);
    let restarted = BridgeProcess::start_with_file(&file.path, &[]).await;
    wait_for_status(&odoo, id, "initiation_failed").await;
    let details = error_details(&odoo, id);
    assert!(
        details.starts_with(&format!(
            "No result within 10s of becoming processing (since {LONG_AGO} UTC) (initiation.result_timeout): \
             this bridge process has no record of its send"
        )),
        "{details}"
    );
    // Logged once the note is posted too (the status comes first).
    restarted
        .wait_for_log("watchdog: no result in time", WAIT)
        .await;
    assert!(
        notes(&odoo, id)
            .iter()
            .any(|n| n.contains("AI image generation given up: No result within 10s")),
        "{:?}",
        notes(&odoo, id)
    );
    assert_eq!(n8n.received().len(), 1, "never sent again");
}

#[tokio::test]
async fn the_watchdog_says_what_is_known_of_the_send() {
    let (odoo, n8n, config) = setup(&[RESULT_TIMEOUT, ONE_ATTEMPT, N8N_TIMEOUT]).await;
    let bridge = BridgeProcess::start(&config).await;
    let trigger = |id: i64| {
        let url = bridge.url(&format!(
            "{}{}",
            super::TRIGGER_PREFIX,
            super::TRIGGER_SECRET
        ));
        async move {
            let response = super::http()
                .post(url)
                .body(json!({ "id": id }).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
        }
    };
    let accepted = request(&odoo);
    trigger(accepted).await;
    assert!(n8n.wait_for(1, WAIT).await);
    n8n.set_default(Reply::Delayed(
        Duration::from_secs(3),
        Box::new(Reply::started()),
    ));
    let unknown = request(&odoo);
    trigger(unknown).await;
    assert!(n8n.wait_for(2, WAIT).await);
    bridge.wait_for_log("outcome unknown", WAIT).await;
    age(&odoo, accepted);
    age(&odoo, unknown);
    wait_for_status(&odoo, accepted, "initiation_failed").await;
    wait_for_status(&odoo, unknown, "initiation_failed").await;
    let details = error_details(&odoo, accepted);
    assert!(details.contains("N8N accepted it at "), "{details}");
    assert!(
        details.contains("(HTTP 202) but its result never arrived"),
        "{details}"
    );
    let details = error_details(&odoo, unknown);
    assert!(
        details.contains("is unknown (N8N did not answer within 1s (n8n.timeout))"),
        "{details}"
    );
    // The status is written before the note and the count: wait for both.
    let given_up = || {
        let logs = bridge.logs();
        logs.iter()
            .filter(|l| l.contains("watchdog: no result in time"))
            .count()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while given_up() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = super::http()
        .get(bridge.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (outcome, count) in [("sent", 1), ("unknown", 1), ("gave_up", 2)] {
        let line =
            format!("influence_gen_bridge_initiations_total{{outcome=\"{outcome}\"}} {count}");
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_failure_odoo_could_not_record_is_resolved_by_the_watchdog() {
    let (odoo, n8n, config) = setup(&[RESULT_TIMEOUT, ONE_ATTEMPT, N8N_TIMEOUT]).await;
    n8n.set_default(Reply::Status(404, "webhook not registered".into()));
    let bridge = BridgeProcess::start(&config).await;
    let id = request(&odoo);
    // The claim goes through; every later write of the request fails, as
    // when Odoo goes down during the send.
    odoo.inject(FaultRule {
        matcher: CallMatcher::model_method(REQUESTS, "write").after(1),
        fault: Fault::Http(503),
        times: usize::MAX,
    });
    let response = super::http()
        .post(bridge.url(&format!(
            "{}{}",
            super::TRIGGER_PREFIX,
            super::TRIGGER_SECRET
        )))
        .body(json!({ "id": id }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    bridge.wait_for_log("initiation stopped", WAIT).await;
    assert_eq!(status(&odoo, id), "processing", "Odoo could not be told");
    odoo.clear_faults();
    age(&odoo, id);
    wait_for_status(&odoo, id, "initiation_failed").await;
    let details = error_details(&odoo, id);
    assert!(
        details
            .contains("N8N did not start it (N8N answered HTTP 404: webhook not registered, at "),
        "{details}"
    );
    assert!(
        details.contains("and Odoo could not be told then"),
        "{details}"
    );
}

#[tokio::test]
async fn a_request_whose_result_waits_in_the_spool_is_left_to_the_spool() {
    let (odoo, _n8n, config) = setup(&[
        RESULT_TIMEOUT,
        ONE_ATTEMPT,
        N8N_TIMEOUT,
        ("spool", "retry_initial = \"200ms\""),
        ("spool", "retry_max = \"200ms\""),
        ("spool", "wait = \"200ms\""),
    ])
    .await;
    let id = request(&odoo);
    odoo.update(REQUESTS, id, json!({ "status": "processing" }));
    // The result arrives but cannot be stored yet.
    odoo.inject(FaultRule {
        matcher: CallMatcher::model_method("influence_gen.generated_image", "create"),
        fault: Fault::Http(503),
        times: usize::MAX,
    });
    let bridge = BridgeProcess::start(&config).await;
    let png = images::png(8, 8);
    let (code, _) = callbacks::post(
        &callbacks::client(),
        &bridge.url(""),
        &success_inline(id.to_string(), &png),
    )
    .await
    .unwrap();
    assert_eq!(code, 202, "accepted into the spool");
    age(&odoo, id);
    bridge
        .wait_for_log("its result waits in the spool; left to the spool", WAIT)
        .await;
    assert_eq!(status(&odoo, id), "processing");
    odoo.clear_faults();
    wait_for_status(&odoo, id, "completed").await;
}
