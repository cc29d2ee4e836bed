//! Against a real Odoo 18, when one is named in the environment:
//! `IG_LIVE_ODOO_URL` (e.g. `http://127.0.0.1:8069`), `IG_LIVE_ODOO_DB`,
//! `IG_LIVE_ODOO_LOGIN`, `IG_LIVE_ODOO_PASSWORD` (the bridge's user, with
//! the example addon installed). Without them every test here says it is
//! skipped and passes.

use std::path::Path;
use std::time::Duration;

use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::odoo::{OdooClient, SearchOptions};
use influence_gen_testkit::images;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::support::bridge::{self, BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, failure, post, success_inline};
use crate::support::config::{TestConfig, assert_no_secret};

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";

/// The live Odoo's configuration, or `None` (and a message) to skip.
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
    // A real Odoo hashes the password on the first login (~0.4 s) and is slower than the emulator.
    Some(config.with("odoo", "timeout = \"30s\""))
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

#[tokio::test]
async fn check_passes_against_the_live_odoo() {
    let Some(config) = live_config("check_passes_against_the_live_odoo") else {
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
    assert_no_secret(&text, &config.secrets(), "check");
}

#[tokio::test]
async fn a_callback_round_trip_against_the_live_odoo() {
    let Some(config) = live_config("a_callback_round_trip_against_the_live_odoo") else {
        return;
    };
    let odoo = odoo_client(&config);
    let request = odoo
        .create(REQUESTS, &json!({ "prompt": "live round trip" }))
        .await
        .unwrap();
    let other = odoo
        .create(REQUESTS, &json!({ "prompt": "live failure" }))
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
    assert_eq!(status, 200);
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("duplicate"),
        "{answer}"
    );
    let (status, _) = post(
        &http,
        &bridge.url(""),
        &failure(other, "live provider error", "details"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);

    let fields = ["status", "generated_image_id", "error_details"];
    let record: Vec<Value> = odoo
        .read(REQUESTS, &[request, other], &fields)
        .await
        .unwrap();
    assert_eq!(record[0]["status"], "completed", "{record:?}");
    assert_eq!(record[1]["status"], "failed");
    assert_eq!(record[1]["error_details"], "live provider error\n\ndetails");
    let image_id = record[0]["generated_image_id"][0].as_i64().unwrap();
    let options = SearchOptions::default();
    let images: Vec<Value> = odoo
        .search_read(
            IMAGES,
            &json!([["request_id", "=", request]]),
            &["storage_identifier", "file_size", "width", "height"],
            &options,
        )
        .await
        .unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["id"], image_id);
    assert_eq!(images[0]["width"], 40);
    let attachment_id: i64 = images[0]["storage_identifier"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let attachments: Vec<Value> = odoo
        .read(
            "ir.attachment",
            &[attachment_id],
            &["checksum", "res_model", "res_id", "mimetype", "name"],
        )
        .await
        .unwrap();
    let sha1: String = Sha1::digest(&png)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(attachments[0]["checksum"], sha1.as_str());
    assert_eq!(attachments[0]["res_id"], image_id);
    assert_eq!(attachments[0]["res_model"], IMAGES);
    assert_eq!(attachments[0]["name"], format!("ai_gen_{request}_png"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_no_secret(&bridge.log_text(), &config.secrets(), "bridge logs");
}
