//! The validated security sections: `[auth]` (how callbacks prove who sent
//! them), `[limits]` (what any client may cost the server) and `[tls]` (the
//! optional TLS listener).

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::SigningSecret;

/// `[auth]`: callback authentication (see [`crate::auth`]).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// Standard Webhooks secrets; any of them may sign (key rotation).
    pub signing_secrets: Vec<SigningSecret>,
    /// How far `webhook-timestamp` may be from now, either way.
    pub timestamp_tolerance: Duration,
}

/// Which credentials a callback must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// The shared token (`n8n.callback_token`), as the SDS has it.
    Token,
    /// A Standard Webhooks signature; the token is ignored.
    Signature,
    /// A signature when the callback is signed, else the token.
    Either,
    /// The token and a signature.
    Both,
}

impl AuthMode {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "token" => Some(Self::Token),
            "signature" => Some(Self::Signature),
            "either" => Some(Self::Either),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Signature => "signature",
            Self::Either => "either",
            Self::Both => "both",
        }
    }

    /// Whether signatures are checked at all (and so secrets are required).
    pub fn uses_signatures(self) -> bool {
        !matches!(self, Self::Token)
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[limits]`: bounds on what one connection or client may cost.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Time for a client to send a request's headers (also the idle time of
    /// a kept-alive connection, and the TLS handshake's deadline).
    pub header_read_timeout: Duration,
    /// Largest request line plus headers, in bytes (431 beyond).
    pub max_header_bytes: usize,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Per-client rate limit of the callback and trigger routes; `None` = off.
    pub rate_limit: Option<RateLimit>,
    /// Peers whose `X-Forwarded-For` names the real client (a reverse proxy).
    pub trusted_proxies: Vec<IpAddr>,
}

/// A token bucket: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

/// `[tls]`: serve HTTPS directly, with this certificate and key.
#[derive(Clone)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Built and checked (key matches certificate) during validation.
    pub server_config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The rustls config holds the private key: only the paths are shown.
        f.debug_struct("TlsConfig")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}
