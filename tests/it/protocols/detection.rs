//! `odoo.protocol`: what `auto`, `generic` and `companion` speak with and
//! without the addon, and re-detection after Odoo was away.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{client, failure, post};
use crate::support::odoo;

#[tokio::test]
async fn auto_without_the_addon_speaks_generic_and_says_so_once() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config.with("initiation", "sweep_interval = \"0s\"")).await;
    bridge
        .wait_for_log("speaking the generic protocol", Duration::from_secs(10))
        .await;
    let http = client();
    for message in ["one", "two"] {
        let request = odoo.seed_request(json!({ "prompt": message }));
        let (status, _) = post(&http, &bridge.url(""), &failure(request, message, ""))
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(status_of(&odoo, request), "failed");
    }
    assert_eq!(odoo.count(REQUESTS, "bridge_protocol"), 1, "asked once");
    let lines = bridge
        .logs()
        .iter()
        .filter(|line| line.contains("speaking the generic protocol"))
        .count();
    assert_eq!(lines, 1, "{}", bridge.log_text());
}

#[tokio::test]
async fn generic_mode_never_asks_for_the_addon() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config.with("odoo", "protocol = \"generic\"")).await;
    bridge
        .wait_for_log("Odoo protocol", Duration::from_secs(10))
        .await;
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(odoo.count(REQUESTS, "bridge_protocol"), 0);
}

#[tokio::test]
async fn companion_mode_without_the_addon_applies_nothing_and_says_why() {
    let (odoo, config) = odoo().await;
    let config = config
        .with("odoo", "protocol = \"companion\"")
        .with("spool", "wait = \"1s\"");
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("the Odoo protocol is not usable", Duration::from_secs(10))
        .await;
    let http = client();
    let ready = http.get(bridge.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body = ready.text().await.unwrap();
    assert!(body.contains("companion addon"), "{body}");
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&http, &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 202, "kept in the spool until the addon is there");
    assert_eq!(status_of(&odoo, request), "queued");
    assert_eq!(odoo.count(REQUESTS, "write"), 0);
}

#[tokio::test]
async fn companion_mode_applies_what_waited_once_the_addon_is_installed() {
    let (odoo, config) = bridge_user_odoo(false).await;
    let config = config
        .with("odoo", "protocol = \"companion\"")
        .with("spool", "wait = \"0s\"");
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("the Odoo protocol is not usable", Duration::from_secs(10))
        .await;
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 202);
    odoo.install_companion_addon();
    eventually(
        "the failure to be recorded",
        Duration::from_secs(10),
        || status_of(&odoo, request) == "failed",
    )
    .await;
    assert_eq!(odoo.count(REQUESTS, "bridge_apply_result"), 1);
    assert_eq!(odoo.count(REQUESTS, "write"), 0, "no generic write");
}

#[tokio::test]
async fn auto_switches_to_the_addon_installed_while_odoo_was_away() {
    let (odoo, config) = bridge_user_odoo(false).await;
    let config = config
        .with("initiation", "sweep_interval = \"0s\"")
        .with("spool", "wait = \"0s\"");
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("speaking the generic protocol", Duration::from_secs(10))
        .await;
    // Odoo goes away (a restart with a new addon), a result arrives meanwhile.
    odoo.set_down(true);
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 202);
    bridge
        .wait_for_log("transient failure; will retry", Duration::from_secs(10))
        .await;
    odoo.install_companion_addon();
    odoo.set_down(false);
    eventually(
        "the failure to be recorded",
        Duration::from_secs(10),
        || status_of(&odoo, request) == "failed",
    )
    .await;
    bridge
        .wait_for_log("the companion addon answers", Duration::from_secs(5))
        .await;
    assert_eq!(odoo.count(REQUESTS, "bridge_apply_result"), 1);
    assert_eq!(odoo.count(REQUESTS, "write"), 0, "no generic write");
}
