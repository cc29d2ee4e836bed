//! The outbound side toward N8N: the webhook client and the SDS §4.1 payload.
//!
//! [`N8nClient`] makes one POST per call and decides nothing about retries:
//! [`N8nError::is_transient`] tells the caller whether another try could
//! succeed. What must stay true:
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

pub use payload::{INITIATION_FIELDS, InitiationPayload, params, request_reference};

/// Sent on every call, so N8N's logs can tell who is asking.
const USER_AGENT: &str = concat!("influence-gen-bridge/", env!("CARGO_PKG_VERSION"));
/// At most this much of an error answer is read.
const MAX_ERROR_BODY_BYTES: usize = 4096;
/// At most this many characters of it end up in a message.
const MAX_EXCERPT_CHARS: usize = 300;

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

impl N8nError {
    /// Whether the same call may succeed later: no connection, timeouts, a
    /// broken exchange, 408, 429 and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connect { .. } | Self::Send { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::ApiKeyRefused { .. } | Self::ClientSetup(_) => false,
        }
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

fn transport_error(error: &reqwest::Error, endpoint: &str, timeout: Duration) -> N8nError {
    if error.is_timeout() {
        return N8nError::Timeout { after: timeout };
    }
    let reason = root_cause(error);
    if error.is_connect() {
        N8nError::Connect {
            endpoint: endpoint.to_owned(),
            reason,
        }
    } else {
        N8nError::Send {
            endpoint: endpoint.to_owned(),
            reason,
        }
    }
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
        assert!(timeout.is_transient());
    }

    #[test]
    fn endpoints_leave_out_the_path() {
        let url = Url::parse("https://n8n.example.com/webhook/secret-path").unwrap();
        assert_eq!(endpoint(&url), "n8n.example.com:443");
    }
}
