//! Issue 7 end to end, against the real daemon: guarded downloads, signed
//! callbacks, limits and timeouts, TLS, and no secret in any log line.
//!
//! | file | proves |
//! |---|---|
//! | `guard` | every blocked class of `image_url` is refused (422, request failed) before any connection |
//! | `signature` | Standard Webhooks signatures in every mode, rotation, copies, and the N8N recipe |
//! | `decoding` | an inline image is decoded only after the caller is authenticated |
//! | `limits` | slowloris, endless bodies, oversized headers, the connection limit |
//! | `tls` | the optional HTTPS listener |
//! | `properties` | random and truncated bodies and headers always get a 4xx JSON answer |
//! | `seeds` | the fuzz targets' checks on the committed seed corpus (stable Rust) |
//! | `leaks` | one daemon through every scenario: fingerprints logged, secrets never |

mod decoding;
mod guard;
mod leaks;
mod limits;
mod properties;
mod seeds;
mod signature;
mod tls;

use std::time::Duration;

use influence_gen_testkit::OdooEmulator;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::bridge::BridgeProcess;
use crate::support::config::{CALLBACK_TOKEN, TestConfig, assert_no_secret};
use crate::support::odoo;

pub const CALLBACK: &str = "/influence_gen/ai/callback/image_result";
pub const REQUESTS: &str = "influence_gen.ai_image_request";
/// Two signing secrets (rotation), distinctive enough to search logs for.
pub const SIGNING_KEY_OLD: &str = "whsec_c2VjdXJpdHktdGVzdC1zaWduaW5nLWtleS1vbGQtMDE=";
pub const SIGNING_KEY_NEW: &str = "whsec_c2VjdXJpdHktdGVzdC1zaWduaW5nLWtleS1uZXctMDI=";

/// A daemon, its Odoo, an HTTP client, and every secret it was given.
pub struct Setup {
    pub odoo: OdooEmulator,
    pub bridge: BridgeProcess,
    pub http: reqwest::Client,
    pub secrets: Vec<String>,
}

/// Starts a daemon on the emulator's Odoo with `adjust` applied to its
/// configuration (which starts as the test default: token auth, default
/// `[images]`, `[server]` and `[auth]`).
pub async fn start(adjust: impl FnOnce(TestConfig) -> TestConfig) -> Setup {
    let (odoo, config) = odoo().await;
    let config = adjust(config);
    let bridge = BridgeProcess::start(&config).await;
    influence_gen_bridge::tls::install_crypto_provider();
    let mut secrets = config.secrets();
    for key in [SIGNING_KEY_OLD, SIGNING_KEY_NEW] {
        secrets.push(key.to_owned());
        // The base64 part alone must not appear either.
        secrets.push(key.trim_start_matches("whsec_").to_owned());
    }
    Setup {
        odoo,
        bridge,
        http: reqwest::Client::new(),
        secrets,
    }
}

/// `[auth]` lines for `mode` with both signing secrets.
pub fn signed_mode(config: TestConfig, mode: &str) -> TestConfig {
    config.with("auth", format!("mode = {mode:?}")).with(
        "auth",
        format!("signing_secrets = [{SIGNING_KEY_OLD:?}, {SIGNING_KEY_NEW:?}]"),
    )
}

/// An answer: status and the JSON body (panics if it is not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Setup {
    pub fn request(&self) -> i64 {
        self.odoo.seed_request(json!({ "prompt": "a lighthouse" }))
    }

    pub fn record(&self, id: i64) -> Value {
        self.odoo.record(REQUESTS, id).expect("the request exists")
    }

    /// POSTs `body` to the callback with `headers`.
    pub async fn post(&self, body: &[u8], headers: &[(&str, String)]) -> Answer {
        let mut request = self
            .http
            .post(self.bridge.url(CALLBACK))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        answer(request.send().await.expect("the bridge answers")).await
    }

    /// GET /healthz: the daemon still serves.
    pub async fn healthy(&self) -> bool {
        self.http
            .get(self.bridge.url("/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200)
    }

    pub fn assert_no_leak(&self) {
        assert_no_secret(&self.bridge.log_text(), &self.secrets, "bridge logs");
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    Answer { status, body }
}

/// The token header, as N8N's Header Auth credential sends it.
pub fn token_header() -> (&'static str, String) {
    ("x-n8n-webhook-token", CALLBACK_TOKEN.to_owned())
}

/// The three Standard Webhooks headers for `body`, signed with `key` at
/// `timestamp` (unix seconds).
pub fn signature_headers(
    key: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let secret =
        influence_gen_bridge::auth::SigningSecret::parse(&SecretString::from(key)).unwrap();
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", secret.sign(id, timestamp, body)),
    ]
}

pub fn now() -> i64 {
    influence_gen_bridge::auth::unix_now()
}

/// A failure result for `request`: applying it needs no image.
pub fn failure_body(request: i64) -> Vec<u8> {
    json!({
        "ai_generation_request_id": request.to_string(),
        "result_payload": { "status": "failure", "error_data": { "message": "model refused", "details": "" } }
    })
    .to_string()
    .into_bytes()
}

/// A success result for `request` whose image is at `url`.
pub fn url_body(request: i64, url: &str) -> Vec<u8> {
    json!({
        "ai_generation_request_id": request.to_string(),
        "result_payload": { "status": "success", "data": { "image_url": url, "file_format": "png" } }
    })
    .to_string()
    .into_bytes()
}
