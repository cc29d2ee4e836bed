//! The real-Odoo suite's `/json/2` scenarios: against a real Odoo 19 (the
//! bridge's `IG_LIVE_ODOO_PASSWORD` is then its own API key, which
//! `.ci/odoo-user-key` makes); against an older Odoo each says so and does
//! nothing. The rest of the suite runs over `/json/2` there too; these add
//! what only `/json/2` has: `check`'s API and key lines, and the callbacks,
//! a duplicate, a failure, a late failure and an initiation read back over
//! `/json/2` by the bridge's own client. That the daemon sends nothing over
//! `/jsonrpc` to Odoo 19 is proved against the emulator
//! (`odoo_client_json2::the_daemon_speaks_only_json2_to_odoo_19`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use influence_gen_bridge::odoo::{Api, OdooClient, SearchOptions};
use influence_gen_testkit::{N8nFake, Reply, images};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::{Live, LiveScenario};
use crate::scenarios::client as odoo_client;
use crate::support::bridge::{self, BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, failure, post, success_inline};
use crate::support::config::{API_KEY, TestConfig, assert_no_secret};

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";

pub fn scenarios() -> Vec<LiveScenario> {
    vec![
        LiveScenario::new("json2: check names the API and the key", |live| {
            check_passes_over_json2(live).boxed()
        }),
        LiveScenario::new(
            "json2: callbacks, a duplicate, failures, read back over /json/2",
            |live| callbacks_round_trip_over_json2(live).boxed(),
        ),
        LiveScenario::new("json2: an initiation", |live| {
            an_initiation_over_json2(live).boxed()
        }),
    ]
}

/// The bridge's configuration and its client, or `None` when the live Odoo
/// has no `/json/2` (said in one line).
async fn json2(live: &Live, scenario: &str) -> Option<(TestConfig, OdooClient)> {
    let config = live.odoo.bridge_config();
    let odoo = odoo_client(&config);
    if odoo.api().await.expect("the API is chosen") != Api::Json2 {
        super::say(&format!(
            "real Odoo: {scenario}: this Odoo has no /json/2, nothing to do"
        ));
        return None;
    }
    Some((config, odoo))
}

async fn check_passes_over_json2(live: Arc<Live>) {
    let Some((config, _)) = json2(&live, "check").await else {
        return;
    };
    let n8n = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = TestConfig {
        webhook_url: Some(format!("http://{}/webhook/x", n8n.local_addr().unwrap())),
        ..config
    };
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["check"], &[]).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(output.status.success(), "{text}");
    assert!(text.contains("ok   odoo api: /json/2"), "{text}");
    assert!(
        text.contains("odoo login: Odoo accepted the API key"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains(" odoo api key: accepted")),
        "{text}"
    );
    assert_no_secret(&text, &config.secrets(), "check");
}

async fn callbacks_round_trip_over_json2(live: Arc<Live>) {
    let Some((config, odoo)) = json2(&live, "callbacks").await else {
        return;
    };
    let request = odoo
        .create(REQUESTS, &json!({ "prompt": "live json2 round trip" }))
        .await
        .unwrap();
    let other = odoo
        .create(REQUESTS, &json!({ "prompt": "live json2 failure" }))
        .await
        .unwrap();

    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let http = client();
    let png = images::png(40, 30);
    let body = success_inline(request.to_string(), &png);
    let (status, answer) = post(&http, &bridge.url(""), &body).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&http, &bridge.url(""), &body).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("duplicate"),
        "{answer}"
    );
    let (status, answer) = post(
        &http,
        &bridge.url(""),
        &failure(other, "live json2 provider error", "details"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    // A failure arriving after the image never overwrites it.
    let (status, answer) = post(&http, &bridge.url(""), &failure(request, "late", ""))
        .await
        .unwrap();
    assert_eq!(status, 409, "{answer}");

    let fields = ["status", "generated_image_id", "error_details"];
    let records: Vec<Value> = odoo
        .read(REQUESTS, &[request, other], &fields)
        .await
        .unwrap();
    let (done, failed) = if records[0]["id"] == request {
        (&records[0], &records[1])
    } else {
        (&records[1], &records[0])
    };
    assert_eq!(done["status"], "completed", "{records:?}");
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error_details"],
        "live json2 provider error\n\ndetails"
    );
    let image_id = done["generated_image_id"][0].as_i64().unwrap();
    let images: Vec<Value> = odoo
        .search_read(
            IMAGES,
            &json!([["request_id", "=", request]]),
            &["storage_identifier", "width", "height"],
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(images.len(), 1, "one image for two deliveries: {images:?}");
    assert_eq!(images[0]["id"], image_id);
    assert_eq!(
        (images[0]["width"].clone(), images[0]["height"].clone()),
        (json!(40), json!(30))
    );
    let attachment_id: i64 = images[0]["storage_identifier"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let attachments: Vec<Value> = odoo
        .read(
            "ir.attachment",
            &[attachment_id],
            &["checksum", "res_model", "res_id", "name"],
        )
        .await
        .unwrap();
    let sha1: String = Sha1::digest(&png)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(attachments[0]["checksum"], sha1.as_str());
    assert_eq!(attachments[0]["res_model"], IMAGES);
    assert_eq!(attachments[0]["res_id"], image_id);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_no_secret(&bridge.log_text(), &config.secrets(), "bridge logs");
}

async fn an_initiation_over_json2(live: Arc<Live>) {
    let Some((config, odoo)) = json2(&live, "initiation").await else {
        return;
    };
    let n8n = N8nFake::start().await;
    n8n.require_api_key("X-N8N-Api-Key", API_KEY);
    n8n.script([Reply::Status(200, "{}".into())]);
    let config = TestConfig {
        webhook_url: Some(n8n.url("/webhook/influence-gen")),
        ..config
    }
    .with("initiation", "sweep_interval = \"0s\"");
    let id = odoo
        .create(
            REQUESTS,
            &json!({ "prompt": "live json2 initiation", "seed": 5 }),
        )
        .await
        .unwrap();
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["initiate", &id.to_string()], &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("sent to N8N (HTTP 200)"), "{stdout}");
    let received = n8n.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].json()["params"]["prompt"],
        "live json2 initiation"
    );
    assert_eq!(received[0].json()["params"]["seed"], 5);
    let read: Vec<Value> = odoo.read(REQUESTS, &[id], &["status"]).await.unwrap();
    assert_eq!(read[0]["status"], "processing");
}
