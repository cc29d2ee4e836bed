//! The outbound side toward N8N: the webhook client and the SDS §4.1 payload.
//!
//! [`N8nClient`] makes one POST per call and decides nothing about retries:
//! [`N8nError::delivery`] tells the caller what a failure says about the
//! workflow. Sending is not idempotent (each accepted POST starts a paid
//! generation), so only a failure after which N8N surely did not start the
//! workflow may be retried: no connection (refused, DNS, TLS handshake), or
//! an answer N8N gives before starting (its "respond immediately" webhook
//! answers 202 before any node runs, so a 500 or 503 from it means nothing
//! started; 408 and 429 likewise). A timeout or a connection broken after
//! the body went out, and a proxy's 502 or 504, leave the outcome unknown.
//! What must stay true:
//!
//! - the API key travels only in its header (marked sensitive); neither the
//!   key nor the security token ever appears in an error, even when a server
//!   echoes them back in its body;
//! - redirects are not followed (a redirected webhook is a misconfiguration,
//!   and following it would send the key elsewhere);
//! - `n8n.timeout` bounds the whole exchange, and at most a few KiB of an
//!   error body are read.

mod payload;

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use payload::{
    INITIATION_FIELDS, InitiationPayload, SEND_ID_AS, SendIdAs, params, request_reference,
};

/// Sent on every call, so N8N's logs can tell who is asking.
const USER_AGENT: &str = concat!("influence-gen-bridge/", env!("CARGO_PKG_VERSION"));
/// How long opening a connection (TCP and TLS) may take. A connect that
/// times out surely sent nothing, unlike a timeout later in the exchange.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this much of an error answer is read.
const MAX_ERROR_BODY_BYTES: usize = 4096;
/// At most this many characters of it end up in a message.
const MAX_EXCERPT_CHARS: usize = 300;
/// The header of N8N's own Header Auth credential, as its docs name it.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-n8n-api-key");

/// Where and how to call the webhook.
#[derive(Debug, Clone, Copy)]
pub struct Webhook<'a> {
    pub url: &'a Url,
    pub api_key_header: &'a HeaderName,
    pub api_key: &'a SecretString,
    pub timeout: Duration,
}

/// N8N took the request (a 2xx answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub status: u16,
}

/// Why N8N did not take a request.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum N8nError {
    /// 401/403: N8N's Header Auth answers 403 "Authorization data is wrong!".
    #[error("N8N refused the API key (HTTP {status}){}", excerpt_suffix(.body_excerpt))]
    ApiKeyRefused { status: u16, body_excerpt: String },
    /// Any other non-2xx answer.
    #[error("N8N answered HTTP {status}{}{}", redirect_hint(*.status), excerpt_suffix(.body_excerpt))]
    Status { status: u16, body_excerpt: String },
    /// No answer within `n8n.timeout`.
    #[error("N8N did not answer within {} (n8n.timeout)", humantime::format_duration(*.after))]
    Timeout { after: Duration },
    /// No connection could be made.
    #[error("cannot connect to N8N at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// The exchange broke off after connecting.
    #[error("the call to N8N at {endpoint} failed: {reason}")]
    Send { endpoint: String, reason: String },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the N8N client: {0}")]
    ClientSetup(String),
}

/// What a failed call says about the workflow run it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// N8N surely did not start it, and the same call may succeed later.
    NotStartedTransient,
    /// N8N surely did not start it, and the same call would fail again.
    NotStartedPermanent,
    /// N8N may or may not have started it: repeating the call could start
    /// a second (paid) generation.
    Unknown,
}

impl N8nError {
    /// What this failure says about the workflow run; see the module docs.
    pub fn delivery(&self) -> Delivery {
        match self {
            Self::Connect { .. } => Delivery::NotStartedTransient,
            Self::Timeout { .. } | Self::Send { .. } => Delivery::Unknown,
            // A proxy in front of N8N: the request may have reached it.
            Self::Status {
                status: 502 | 504, ..
            } => Delivery::Unknown,
            Self::Status {
                status: 408 | 429 | 500 | 503,
                ..
            } => Delivery::NotStartedTransient,
            Self::Status { .. } | Self::ApiKeyRefused { .. } | Self::ClientSetup(_) => {
                Delivery::NotStartedPermanent
            }
        }
    }

    /// Whether another try may succeed without risking a second run: N8N
    /// surely did not start this one.
    pub fn is_transient(&self) -> bool {
        self.delivery() == Delivery::NotStartedTransient
    }

    /// The HTTP status N8N answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::ApiKeyRefused { status, .. } | Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    }
}

fn redirect_hint(status: u16) -> &'static str {
    if (300..400).contains(&status) {
        " (a redirect; redirects are not followed, check the webhook URL)"
    } else {
        ""
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
            // A fresh connection per call: a pooled one that N8N closed
            // meanwhile would turn a harmless failure into an unknown outcome.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| N8nError::ClientSetup(e.to_string()))?;
        Ok(Self { client })
    }

    /// POSTs `payload` to the webhook once.
    pub async fn start(
        &self,
        webhook: Webhook<'_>,
        payload: &InitiationPayload,
    ) -> Result<Accepted, N8nError> {
        let endpoint = endpoint(webhook.url);
        let mut key = HeaderValue::from_str(webhook.api_key.expose_secret()).map_err(|_| {
            N8nError::ClientSetup("the API key is not a valid HTTP header value".to_owned())
        })?;
        key.set_sensitive(true);
        let sent = self
            .client
            .post(webhook.url.clone())
            .header(webhook.api_key_header, key)
            .timeout(webhook.timeout)
            .json(payload)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return Err(transport_error(&error, &endpoint, webhook.timeout)),
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(Accepted { status });
        }
        let secrets = [
            webhook.api_key.expose_secret(),
            payload.security_token.expose_secret(),
        ];
        let body_excerpt = excerpt(read_some(&mut response).await, &secrets);
        Err(match status {
            401 | 403 => N8nError::ApiKeyRefused {
                status,
                body_excerpt,
            },
            _ => N8nError::Status {
                status,
                body_excerpt,
            },
        })
    }
}

/// `host:port` of `url`, for messages (the path may be a secret).
fn endpoint(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "the configured URL".to_owned(),
    }
}

/// Connecting comes first: a failure there (a connect timeout included)
/// means nothing was sent.
fn transport_error(error: &reqwest::Error, endpoint: &str, timeout: Duration) -> N8nError {
    let endpoint = endpoint.to_owned();
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

/// The innermost cause, which says what happened ("connection refused")
/// rather than what was being done; an I/O error by its kind.
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

/// Up to [`MAX_ERROR_BODY_BYTES`] of the body; a body that cannot be read is empty.
async fn read_some(response: &mut reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
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
        let refused = N8nError::ApiKeyRefused {
            status: 403,
            body_excerpt: "Authorization data is wrong!".into(),
        };
        assert_eq!(
            refused.to_string(),
            "N8N refused the API key (HTTP 403): Authorization data is wrong!"
        );
        assert!(!refused.is_transient());
        let status = N8nError::Status {
            status: 503,
            body_excerpt: String::new(),
        };
        assert_eq!(status.to_string(), "N8N answered HTTP 503");
        assert!(status.is_transient());
        let moved = N8nError::Status {
            status: 301,
            body_excerpt: String::new(),
        };
        assert!(moved.to_string().contains("redirects are not followed"));
        assert!(!moved.is_transient());
        assert!(
            N8nError::Status {
                status: 429,
                body_excerpt: String::new()
            }
            .is_transient()
        );
        let timeout = N8nError::Timeout {
            after: Duration::from_secs(10),
        };
        assert_eq!(
            timeout.to_string(),
            "N8N did not answer within 10s (n8n.timeout)"
        );
        assert!(!timeout.is_transient(), "N8N may have started it");
    }

    #[test]
    fn only_failures_before_the_start_are_retried() {
        let status = |status| N8nError::Status {
            status,
            body_excerpt: String::new(),
        };
        let endpoint = "n8n:443".to_owned();
        let reason = "connection refused".to_owned();
        for error in [
            N8nError::Connect { endpoint, reason },
            status(500),
            status(503),
            status(429),
            status(408),
        ] {
            assert_eq!(error.delivery(), Delivery::NotStartedTransient, "{error}");
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
            assert_eq!(error.delivery(), Delivery::Unknown, "{error}");
            assert!(!error.is_transient());
        }
        for error in [status(404), status(400), status(301), status(501)] {
            assert_eq!(error.delivery(), Delivery::NotStartedPermanent, "{error}");
        }
    }

    #[test]
    fn endpoints_leave_out_the_path() {
        let url = Url::parse("https://n8n.example.com/webhook/secret-path").unwrap();
        assert_eq!(endpoint(&url), "n8n.example.com:443");
    }
}
