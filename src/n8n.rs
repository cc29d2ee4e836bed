//! The N8N webhook client and the initiation payload
//! (`docs/protocol.md#initiation`). Each accepted POST starts a paid
//! generation, so [`N8nError`] says whether N8N may have started it and
//! whether a retry may help. The API key and token never appear in an
//! error; redirects are not followed (they would take the key elsewhere).

use std::time::Duration;

use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};
use url::Url;

use crate::odoo::records::AiImageRequest;

/// The header of N8N's "Header Auth" credential as its docs name it; no
/// deployment was seen to need another.
pub const API_KEY_HEADER: &str = "X-N8N-Api-Key";
/// Sent on every call, so N8N's logs can tell who is asking.
const USER_AGENT: &str = concat!("influence-gen-bridge/", env!("CARGO_PKG_VERSION"));
/// A connect that times out surely sent nothing, unlike a later timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an error answer is read, and how much goes into a message.
const MAX_ERROR_BODY_BYTES: usize = 4096;
const MAX_EXCERPT_CHARS: usize = 300;

/// Fields of the request read to build the payload.
pub const INITIATION_FIELDS: &[&str] = &[
    "id",
    "status",
    "prompt",
    "negative_prompt",
    "model_id",
    "resolution",
    "aspect_ratio",
    "seed",
    "inference_steps",
    "cfg_scale",
];

/// The body POSTed to the webhook. `Debug` never shows the token.
#[derive(Debug, Serialize)]
pub struct InitiationPayload {
    /// The Odoo id as a decimal string.
    pub ai_generation_request_id: String,
    pub params: Map<String, Value>,
    pub odoo_callback_url: String,
    /// The outbound token; an empty string when none is configured.
    #[serde(serialize_with = "expose")]
    pub security_token: SecretString,
}

fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// The generation parameters `request` sets. Odoo answers `false` for an
/// empty text and `0` for an unfilled number: both are left out (a 0 is
/// never valid, and no seed means a random one).
pub fn params(request: &AiImageRequest) -> Map<String, Value> {
    let nonzero = |n: Option<i64>| n.filter(|n| *n != 0);
    let cfg_scale = request.cfg_scale.filter(|x| *x != 0.0 && x.is_finite());
    [
        ("prompt", json!(request.prompt)),
        ("negative_prompt", json!(request.negative_prompt)),
        ("model_id", json!(request.model_id)),
        ("resolution", json!(request.resolution)),
        ("aspect_ratio", json!(request.aspect_ratio)),
        ("seed", json!(nonzero(request.seed))),
        ("inference_steps", json!(nonzero(request.inference_steps))),
        ("cfg_scale", json!(cfg_scale)),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_null())
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// Why N8N did not take a request.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum N8nError {
    /// 401/403 ("Authorization data is wrong!"). `detail` is a hint and an
    /// excerpt of the body, each with its separator.
    #[error("N8N refused the API key (HTTP {status}){detail}")]
    ApiKeyRefused { status: u16, detail: String },
    #[error("N8N answered HTTP {status}{detail}")]
    Status { status: u16, detail: String },
    #[error("N8N did not answer within {} (n8n.timeout)", humantime::format_duration(*.after))]
    Timeout { after: Duration },
    #[error("cannot connect to N8N at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// The exchange broke off after connecting.
    #[error("the call to N8N at {endpoint} failed: {reason}")]
    Send { endpoint: String, reason: String },
    #[error("cannot set up the N8N client: {0}")]
    ClientSetup(String),
}

impl N8nError {
    /// N8N's answer `status` (not 2xx), with the `excerpt` of its body.
    fn answered(status: u16, excerpt: &str) -> Self {
        let hint = match status {
            300..400 => " (a redirect; redirects are not followed, check the webhook URL)",
            _ => "",
        };
        let detail = match excerpt {
            "" => hint.to_owned(),
            excerpt => format!("{hint}: {excerpt}"),
        };
        match status {
            401 | 403 => Self::ApiKeyRefused { status, detail },
            _ => Self::Status { status, detail },
        }
    }

    /// Whether N8N may have started the workflow: a timeout, a connection
    /// broken after the body went out, a proxy's 502/504.
    pub fn maybe_started(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Send { .. } => true,
            Self::Status { status, .. } => matches!(status, 502 | 504),
            _ => false,
        }
    }

    /// Whether N8N surely started nothing and a retry may succeed: no
    /// connection, or the 408/429/500/503 its webhook gives before any node runs.
    pub fn transient(&self) -> bool {
        match self {
            Self::Connect { .. } => true,
            Self::Status { status, .. } => matches!(status, 408 | 429 | 500 | 503),
            _ => false,
        }
    }
}

/// The client for N8N's webhook; cheap to clone.
#[derive(Debug, Clone)]
pub struct N8nClient {
    client: reqwest::Client,
}

impl N8nClient {
    pub fn new() -> Result<Self, N8nError> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .retry(reqwest::retry::never())
            .connect_timeout(CONNECT_TIMEOUT)
            // A pooled connection that N8N closed meanwhile would turn a
            // harmless failure into an unknown outcome.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| N8nError::ClientSetup(e.to_string()))?;
        Ok(Self { client })
    }

    /// POSTs `payload` to `url` once, within `timeout`; `Ok` is N8N's 2xx status.
    pub async fn start(
        &self,
        url: &Url,
        api_key: &SecretString,
        timeout: Duration,
        payload: &InitiationPayload,
    ) -> Result<u16, N8nError> {
        let endpoint = endpoint(url);
        let mut key = HeaderValue::from_str(api_key.expose_secret()).map_err(|_| {
            N8nError::ClientSetup("the API key is not a valid HTTP header value".to_owned())
        })?;
        key.set_sensitive(true);
        let sent = self
            .client
            .post(url.clone())
            .header(API_KEY_HEADER, key)
            .timeout(timeout)
            .json(payload)
            .send()
            .await;
        let mut response = sent.map_err(|e| transport_error(&e, endpoint, timeout))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(status);
        }
        let secrets = [
            api_key.expose_secret(),
            payload.security_token.expose_secret(),
        ];
        let excerpt = excerpt(read_some(&mut response).await, &secrets);
        Err(N8nError::answered(status, &excerpt))
    }
}

/// `host:port` of `url`, for messages (the path may be a secret).
fn endpoint(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    format!("{host}:{}", url.port_or_known_default().unwrap_or_default())
}

/// A failure to connect (a connect timeout included) sent nothing.
fn transport_error(error: &reqwest::Error, endpoint: String, timeout: Duration) -> N8nError {
    if error.is_connect() {
        let reason = root_cause(error);
        return N8nError::Connect { endpoint, reason };
    }
    if error.is_timeout() {
        return N8nError::Timeout { after: timeout };
    }
    let reason = root_cause(error);
    N8nError::Send { endpoint, reason }
}

/// The innermost cause ("connection refused"), an I/O error by its kind.
fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            return io.kind().to_string();
        }
        source = next;
    }
    // reqwest's own text names the URL; keep only what follows it.
    let text = source.to_string();
    text.rsplit_once(": ")
        .map_or(text.clone(), |(_, reason)| reason.to_owned())
}

/// Up to [`MAX_ERROR_BODY_BYTES`] of the body; an unreadable one is empty.
async fn read_some(response: &mut reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES
        && let Ok(Some(chunk)) = response.chunk().await
    {
        body.extend_from_slice(&chunk);
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    body
}

/// One line of at most [`MAX_EXCERPT_CHARS`] characters, secrets replaced.
fn excerpt(body: Vec<u8>, secrets: &[&str]) -> String {
    let mut text = String::from_utf8_lossy(&body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    if text.chars().count() > MAX_EXCERPT_CHARS {
        text = text.chars().take(MAX_EXCERPT_CHARS - 1).collect();
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(value: Value) -> AiImageRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_field_set_goes_into_params_with_its_type() {
        let request = request(json!({
            "id": 1, "status": "queued", "prompt": "a cat", "negative_prompt": "blurry",
            "model_id": "sdxl-1.0", "resolution": "1024x1024", "aspect_ratio": "1:1",
            "seed": 42, "inference_steps": 30, "cfg_scale": 7.0
        }));
        let params = Value::Object(params(&request));
        assert_eq!(
            params,
            json!({
                "prompt": "a cat", "negative_prompt": "blurry", "model_id": "sdxl-1.0",
                "resolution": "1024x1024", "aspect_ratio": "1:1",
                "seed": 42, "inference_steps": 30, "cfg_scale": 7.0
            })
        );
        assert!(params["seed"].is_i64());
        assert!(params.to_string().contains("\"cfg_scale\":7.0"));
    }

    #[test]
    fn false_blank_and_zero_are_left_out_but_negative_seeds_stay() {
        let dog = request(json!({
            "id": 2, "status": "queued", "prompt": "a dog", "negative_prompt": false,
            "model_id": "", "resolution": false, "aspect_ratio": "  ",
            "seed": 0, "inference_steps": 0, "cfg_scale": 0.0
        }));
        assert_eq!(Value::Object(params(&dog)), json!({ "prompt": "a dog" }));
        let negative = request(json!({ "id": 3, "status": "queued", "seed": -1 }));
        assert_eq!(Value::Object(params(&negative)), json!({ "seed": -1 }));
    }

    #[test]
    fn the_payload_serializes_the_token_but_debug_hides_it() {
        let payload = InitiationPayload {
            ai_generation_request_id: "7".into(),
            params: Map::new(),
            odoo_callback_url: "https://b.example/cb".into(),
            security_token: SecretString::from("tok-123".to_owned()),
        };
        let value = serde_json::to_value(&payload).unwrap();
        assert_eq!(value["security_token"], "tok-123");
        assert!(!format!("{payload:?}").contains("tok-123"));
    }

    #[test]
    fn excerpts_are_short_single_lines_without_secrets() {
        let body = b"Authorization data\n  is wrong! key=k-123 token=t-456".to_vec();
        assert_eq!(
            excerpt(body, &["k-123", "t-456", ""]),
            "Authorization data is wrong! key=[redacted] token=[redacted]"
        );
        let long = excerpt(vec![b'x'; 1000], &[]);
        assert_eq!(long.chars().count(), MAX_EXCERPT_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn messages_say_what_happened() {
        let refused = N8nError::answered(403, "Authorization data is wrong!");
        assert_eq!(
            refused.to_string(),
            "N8N refused the API key (HTTP 403): Authorization data is wrong!"
        );
        let status = |status| N8nError::answered(status, "");
        assert_eq!(status(503).to_string(), "N8N answered HTTP 503");
        assert!(
            status(301)
                .to_string()
                .contains("redirects are not followed")
        );
        let timeout = N8nError::Timeout {
            after: Duration::from_secs(10),
        };
        assert_eq!(
            timeout.to_string(),
            "N8N did not answer within 10s (n8n.timeout)"
        );
    }

    #[test]
    fn only_failures_before_the_start_are_retried() {
        let status = |status| N8nError::answered(status, "");
        let endpoint = "n8n:443".to_owned();
        let reason = "connection refused".to_owned();
        for error in [
            N8nError::Connect { endpoint, reason },
            status(500),
            status(503),
            status(429),
            status(408),
        ] {
            assert!(error.transient() && !error.maybe_started(), "{error}");
        }
        for error in [
            N8nError::Timeout {
                after: Duration::from_secs(1),
            },
            N8nError::Send {
                endpoint: "n8n:443".into(),
                reason: "connection reset".into(),
            },
            status(502),
            status(504),
        ] {
            assert!(error.maybe_started() && !error.transient(), "{error}");
        }
        for error in [
            status(403),
            status(404),
            status(400),
            status(301),
            status(501),
        ] {
            assert!(!error.transient() && !error.maybe_started(), "{error}");
        }
    }

    #[test]
    fn endpoints_leave_out_the_path() {
        let url = Url::parse("https://n8n.example.com/webhook/secret-path").unwrap();
        assert_eq!(endpoint(&url), "n8n.example.com:443");
    }
}
