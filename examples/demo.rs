//! The full round trip in one command, with no Odoo and no N8N to install:
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! It starts the built-in Odoo 18 emulator (the test suite's, with the two
//! models and a queued request), a small N8N stand-in that accepts the
//! initiation with 202 and a moment later calls the bridge back with a real
//! PNG, and the real bridge — `daemon::run`, exactly what `serve` runs — on
//! loopback ports. It prints the story as it happens, then a failure and a
//! duplicate delivery, and exits 0 only if every step happened.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use influence_gen_bridge::config::{Config, Environment};
use influence_gen_testkit::{N8nFake, OdooEmulator, UserAccess, images};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const CALLBACK_TOKEN: &str = "demo-callback-token-0f3c9a";
const API_KEY: &str = "demo-n8n-api-key-77b1";
const TRIGGER_SECRET: &str = "demo-trigger-secret-5e21d0";
/// How long any step may take before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

#[tokio::main]
async fn main() -> ExitCode {
    println!("influence-gen-bridge demo: the real bridge against the BUILT-IN ODOO 18 EMULATOR");
    println!("(an in-memory stand-in for Odoo, from the test suite) and a small N8N stand-in.\n");
    match run().await {
        Ok(()) => {
            println!("\ndemo finished: every step happened");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("\ndemo FAILED: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// Everything the demo started, for the steps to use.
struct Stage {
    odoo: OdooEmulator,
    n8n: Arc<N8nFake>,
    bridge: String,
    http: reqwest::Client,
    /// What the N8N stand-in's callbacks were answered, in order.
    callbacks: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>,
}

async fn run() -> Result<(), String> {
    influence_gen_bridge::tls::install_crypto_provider();
    let odoo = OdooEmulator::start().await;
    odoo.add_user("bridge", "demo-odoo-password-4d2e", UserAccess::Admin);
    let n8n = Arc::new(N8nFake::start().await);
    n8n.require_api_key("X-N8N-Api-Key", API_KEY);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let spool = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = demo_config(&odoo, &n8n, &address.to_string(), spool.path())?;
    let shutdown = CancellationToken::new();
    let (_reload, reloads) = tokio::sync::mpsc::channel(1);
    let daemon = tokio::spawn(influence_gen_bridge::daemon::run(
        config,
        listener,
        shutdown.clone(),
        reloads,
    ));
    println!("bridge: serving on http://{address} (daemon::run, the code `serve` runs)");

    let (callback_answers, callbacks) = tokio::sync::mpsc::unbounded_channel();
    let stage = Stage {
        odoo,
        n8n,
        bridge: format!("http://{address}"),
        http: reqwest::Client::new(),
        callbacks: tokio::sync::Mutex::new(callbacks),
    };
    tokio::spawn(n8n_stand_in(
        Arc::clone(&stage.n8n),
        stage.http.clone(),
        callback_answers,
    ));
    let story = story(&stage).await;
    shutdown.cancel();
    let _ = daemon.await;
    story
}

fn demo_config(
    odoo: &OdooEmulator,
    n8n: &N8nFake,
    address: &str,
    spool: &std::path::Path,
) -> Result<Config, String> {
    let text = format!(
        r#"
[server]
listen = "{address}"
public_url = "http://{address}"
[odoo]
url = "{odoo}"
database = "ig"
login = "bridge"
password = "demo-odoo-password-4d2e"
[n8n]
webhook_url = "{webhook}"
api_key = "{API_KEY}"
callback_token = "{CALLBACK_TOKEN}"
outbound_token = "demo-outbound-token-1a9c"
[initiation]
trigger_secret = "{TRIGGER_SECRET}"
sweep_interval = "0s"
[spool]
dir = "{spool}"
[log]
level = "off"
"#,
        odoo = odoo.url(),
        webhook = n8n.url("/webhook/influence-gen"),
        spool = spool.display(),
    );
    Config::from_toml(
        &text,
        std::path::Path::new("demo.toml"),
        spool,
        &Environment::default(),
    )
    .map_err(|e| e.to_string())
}

/// N8N: answer the webhook with 202 (the fake does), then call back.
async fn n8n_stand_in(
    n8n: Arc<N8nFake>,
    http: reqwest::Client,
    answers: tokio::sync::mpsc::UnboundedSender<String>,
) {
    let mut handled = 0;
    loop {
        if !n8n.wait_for(handled + 1, Duration::from_secs(3600)).await {
            return;
        }
        let received = n8n.received();
        let initiation = received[handled].json();
        handled += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let prompt = initiation["params"]["prompt"].as_str().unwrap_or_default();
        let result = if prompt.contains("forbidden") {
            json!({ "status": "failure", "error_data": { "message": "the provider's content filter refused the prompt", "details": "code 451" } })
        } else {
            let png = images::png(256, 256);
            use base64::Engine;
            let data = base64::engine::general_purpose::STANDARD.encode(&png);
            json!({ "status": "success", "data": { "image_data": data, "file_format": "png", "mimetype": "image/png", "width": 256, "height": 256, "file_size": png.len() } })
        };
        let body = json!({ "ai_generation_request_id": initiation["ai_generation_request_id"], "result_payload": result });
        let url = initiation["odoo_callback_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let answer = post_callback(&http, &url, &body).await;
        let line = format!(
            "  N8N → bridge: callback for request {} ({}) → {answer}",
            initiation["ai_generation_request_id"],
            result["status"].as_str().unwrap_or("?")
        );
        if answers.send(line).is_err() {
            return;
        }
    }
}

async fn post_callback(http: &reqwest::Client, url: &str, body: &Value) -> String {
    let sent = http
        .post(url)
        .header("X-N8N-Webhook-Token", CALLBACK_TOKEN)
        .json(body)
        .send()
        .await;
    match sent {
        Ok(response) => format!(
            "{} {}",
            response.status().as_u16(),
            response.text().await.unwrap_or_default()
        ),
        Err(error) => format!("error: {error}"),
    }
}

async fn story(stage: &Stage) -> Result<(), String> {
    let odoo = &stage.odoo;
    println!("\n1. A successful generation");
    let first = odoo.seed_request(json!({ "prompt": "a lighthouse at dusk, watercolour", "model_id": "sdxl-1.0", "resolution": "1024x1024", "seed": 42 }));
    println!("  Odoo: request #{first} created, status queued");
    trigger(stage, first).await?;
    wait(&format!("N8N to receive request #{first}"), || {
        !stage.n8n.received().is_empty()
    })
    .await?;
    let sent = stage.n8n.received()[0].json();
    println!(
        "  bridge → N8N: request #{first} sent (prompt {:?}, callback {}); Odoo status now {}",
        sent["params"]["prompt"].as_str().unwrap_or_default(),
        sent["odoo_callback_url"].as_str().unwrap_or_default(),
        status(odoo, first)
    );
    print_next_callback(stage).await?;
    wait(&format!("request #{first} to complete"), || {
        status(odoo, first) == "completed"
    })
    .await?;
    let image = odoo
        .records(IMAGES)
        .into_iter()
        .find(|i| i["request_id"][0] == first)
        .ok_or("no generated image")?;
    let attachment_id: i64 = image["storage_identifier"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or("the image has no attachment")?;
    let bytes = odoo
        .attachment_bytes(attachment_id)
        .ok_or("the attachment has no bytes")?;
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!(
        "  Odoo: attachment #{attachment_id} ({} bytes, sha256 {}…) and generated image #{} ({}×{} {})",
        bytes.len(),
        &sha256[..16],
        image["id"],
        image["width"],
        image["height"],
        image["file_format"].as_str().unwrap_or_default()
    );
    if image["hash_value"] != sha256.as_str() {
        return Err("the image's hash_value does not match the stored bytes".into());
    }
    println!("  Odoo: request #{first} completed");

    println!("\n2. A failed generation");
    let second = odoo.seed_request(json!({ "prompt": "something forbidden" }));
    println!("  Odoo: request #{second} created, status queued");
    trigger(stage, second).await?;
    print_next_callback(stage).await?;
    wait(&format!("request #{second} to fail"), || {
        status(odoo, second) == "failed"
    })
    .await?;
    let details = odoo
        .record(REQUESTS, second)
        .map(|r| r["error_details"].clone())
        .unwrap_or_default();
    println!(
        "  Odoo: request #{second} failed: {:?}",
        details.as_str().unwrap_or_default()
    );

    println!("\n3. N8N delivers the first result again");
    let received = stage.n8n.received()[0].json();
    let png = images::png(256, 256);
    use base64::Engine;
    let again = json!({ "ai_generation_request_id": received["ai_generation_request_id"], "result_payload": { "status": "success", "data": { "image_data": base64::engine::general_purpose::STANDARD.encode(&png), "file_format": "png" } } });
    let answer = post_callback(
        &stage.http,
        &format!("{}/influence_gen/ai/callback/image_result", stage.bridge),
        &again,
    )
    .await;
    println!("  N8N → bridge: the same callback → {answer}");
    let images = odoo
        .records(IMAGES)
        .into_iter()
        .filter(|i| i["request_id"][0] == first)
        .count();
    if !answer.contains("duplicate") || images != 1 {
        return Err(format!("the duplicate was not absorbed ({images} images)"));
    }
    println!("  Odoo: still exactly one generated image for request #{first}");

    println!("\n4. The bridge's own view");
    let ready = get(stage, "/readyz").await?;
    println!(
        "  bridge /readyz: {}",
        if ready.contains("\"ready\"") {
            "ready"
        } else {
            "not ready"
        }
    );
    let metrics = get(stage, "/metrics").await?;
    let applied = metric(
        &metrics,
        "influence_gen_bridge_callbacks_total{route=\"callback\",outcome=\"applied\"}",
    );
    let duplicate = metric(
        &metrics,
        "influence_gen_bridge_callbacks_total{route=\"callback\",outcome=\"duplicate\"}",
    );
    println!("  bridge /metrics: callbacks applied {applied}, duplicates {duplicate}");
    if !ready.contains("\"ready\"") || applied != "2" || duplicate != "1" {
        return Err("the bridge's readiness or metrics do not tell the story above".into());
    }
    Ok(())
}

/// Prints how the bridge answered the N8N stand-in's next callback.
async fn print_next_callback(stage: &Stage) -> Result<(), String> {
    let mut callbacks = stage.callbacks.lock().await;
    match tokio::time::timeout(STEP_TIMEOUT, callbacks.recv()).await {
        Ok(Some(line)) => {
            println!("{line}");
            Ok(())
        }
        _ => Err("the N8N stand-in never called back".into()),
    }
}

/// What Odoo's automation rule "Send Webhook Notification" posts on create.
async fn trigger(stage: &Stage, id: i64) -> Result<(), String> {
    let record = stage.odoo.record(REQUESTS, id).ok_or("no such request")?;
    let body = json!({ "_action": "Send Webhook Notification(#1)", "_id": id, "_model": REQUESTS, "id": id, "status": "queued", "uuid": record["uuid"] });
    let url = format!("{}/influence_gen/trigger/{TRIGGER_SECRET}", stage.bridge);
    let response = stage
        .http
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "  Odoo automation rule → bridge: trigger for request #{id} → {}",
        response.status().as_u16()
    );
    if response.status().as_u16() != 202 {
        return Err(format!("the trigger was answered {}", response.status()));
    }
    Ok(())
}

async fn get(stage: &Stage, path: &str) -> Result<String, String> {
    let response = stage
        .http
        .get(format!("{}{path}", stage.bridge))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    response.text().await.map_err(|e| e.to_string())
}

fn metric(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(name).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| "0".into())
}

fn status(odoo: &OdooEmulator, id: i64) -> String {
    odoo.record(REQUESTS, id)
        .and_then(|r| r["status"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Polls `done` until it holds, or fails the step after [`STEP_TIMEOUT`].
async fn wait(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
