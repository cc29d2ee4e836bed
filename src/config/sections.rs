//! The sections of the configuration file, each a serde struct whose field
//! names are the keys (`config.example.toml` documents each key once).
//! Defaults are the named functions next to each section; bounds and
//! cross-field rules are in [`super::validate`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::secret::Source;
use super::{duration, optional_url, secs, url};
use crate::auth::SigningSecret;

const MIB: u64 = 1024 * 1024;

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(deserialize_with = "url")]
    pub public_url: Url,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_shutdown_grace", deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    #[serde(default)]
    pub start_degraded: bool,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
/// 64 MiB: a 40 MiB image as base64 plus the JSON around it.
fn default_max_body_bytes() -> u64 {
    64 * MIB
}
/// With 64 MiB bodies, 64 connections hold at most 4 GiB of bodies at once.
fn default_max_connections() -> usize {
    64
}
/// Fits the systemd unit's `TimeoutStopSec` with the daemon's stop margin.
pub fn default_shutdown_grace() -> Duration {
    secs(20)
}

impl ServerConfig {
    /// The full callback URL sent to N8N: `public_url` + [`super::CALLBACK_PATH`],
    /// keeping any path prefix of `public_url` (a reverse proxy's sub-path).
    pub fn callback_url(&self) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{}", super::CALLBACK_PATH)
    }
}

/// `[odoo]`: the connection to Odoo and the user the bridge acts as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdooConfig {
    #[serde(deserialize_with = "url")]
    pub url: Url,
    #[serde(default)]
    pub api: OdooApi,
    pub database: String,
    pub login: String,
    #[serde(skip)]
    pub password: SecretString,
    #[serde(rename = "password", default)]
    pub(crate) password_source: Option<Source<SecretString>>,
    #[serde(default = "default_odoo_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(default = "default_max_concurrent_calls")]
    pub max_concurrent_calls: usize,
    #[serde(default)]
    pub protocol: ProtocolMode,
    #[serde(
        default = "default_unknown_outcome_wait",
        deserialize_with = "duration"
    )]
    pub unknown_outcome_wait: Duration,
}

fn default_odoo_timeout() -> Duration {
    secs(30)
}
/// Odoo's prefork default is a handful of workers; more concurrent calls than
/// workers only queue up in its listen backlog (see DESIGN.md).
fn default_max_concurrent_calls() -> usize {
    4
}
/// Longer than Odoo's default `limit_time_real` (120 s): by then a call whose
/// answer was lost has committed or been killed.
fn default_unknown_outcome_wait() -> Duration {
    secs(150)
}

impl OdooConfig {
    /// `{url}/jsonrpc`, keeping any path prefix of `url`.
    pub fn jsonrpc_endpoint(&self) -> String {
        self.endpoint("/jsonrpc")
    }

    /// `{url}{path}` for a path starting with `/`, keeping any path prefix
    /// of `url` (`/json/2/…`, `/web/version`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.as_str().trim_end_matches('/'))
    }
}

/// `odoo.api`: which of Odoo's external APIs the bridge speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OdooApi {
    /// Ask Odoo once at login: `/json/2` where it exists, else `/jsonrpc`.
    #[default]
    Auto,
    JsonRpc,
    Json2,
}

/// `odoo.protocol`: which protocol toward Odoo the bridge may speak
/// (see [`crate::odoo::Protocol`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolMode {
    /// The companion addon when `bridge_protocol()` answers, else generic.
    #[default]
    Auto,
    Companion,
    Generic,
}

impl ProtocolMode {
    /// The value as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Companion => "companion",
            Self::Generic => "generic",
        }
    }
}

/// `[n8n]`: the outbound webhook and the shared secrets. Each may be unset:
/// Odoo's system parameters are the fallback
/// (`docs/protocol.md#system-parameters`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct N8nConfig {
    #[serde(deserialize_with = "optional_url")]
    pub webhook_url: Option<Url>,
    #[serde(skip)]
    pub api_key: Option<SecretString>,
    #[serde(rename = "api_key")]
    pub(crate) api_key_source: Option<Source<SecretString>>,
    #[serde(skip)]
    pub callback_token: Option<SecretString>,
    #[serde(rename = "callback_token")]
    pub(crate) callback_token_source: Option<Source<SecretString>>,
    #[serde(skip)]
    pub outbound_token: Option<SecretString>,
    #[serde(rename = "outbound_token")]
    pub(crate) outbound_token_source: Option<Source<SecretString>>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
}

impl Default for N8nConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            api_key: None,
            api_key_source: None,
            callback_token: None,
            callback_token_source: None,
            outbound_token: None,
            outbound_token_source: None,
            timeout: secs(10),
        }
    }
}

/// `[images]`: bounds on the image a callback delivers, and where an
/// `image_url` may be downloaded from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    pub max_bytes: u64,
    pub max_pixels: u64,
    #[serde(deserialize_with = "duration")]
    pub download_timeout: Duration,
    /// Empty: any public host.
    pub allowed_hosts: Vec<HostPattern>,
    pub allow_private_networks: bool,
    /// Empty: any port.
    pub allowed_ports: Vec<u16>,
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self {
            // 40 MiB: well above what image models produce.
            max_bytes: 40 * MIB,
            // 40 megapixels: an 8K image (33 MP) fits; a header claiming more
            // is a decompression bomb.
            max_pixels: 40_000_000,
            download_timeout: secs(60),
            allowed_hosts: Vec::new(),
            allow_private_networks: false,
            // Image hosts rarely use other ports.
            allowed_ports: vec![80, 443],
        }
    }
}

/// One entry of `images.allowed_hosts`: a host, or `*.example.com` for its
/// subdomains (not `example.com` itself), kept as [`url::Url::host_str`]
/// gives hosts: lower case, punycode, IPv6 in brackets, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HostPattern {
    host: String,
    subdomains: bool,
}

impl HostPattern {
    /// Parses `example.com`, `*.example.com`, `10.0.0.5` or `[fd00::5]`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (subdomains, host) = text.strip_prefix("*.").map_or((false, text), |h| (true, h));
        let host = host.strip_suffix('.').unwrap_or(host);
        let host = match url::Host::parse(host).ok()? {
            _ if host.contains('*') => return None,
            url::Host::Domain(domain) => domain,
            ip if !subdomains => ip.to_string(),
            _ => return None,
        };
        Some(Self { host, subdomains })
    }

    /// Whether `host` (as [`url::Url::host_str`] gives it) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        match host.strip_suffix(&self.host) {
            Some(label) if self.subdomains => label.len() > 1 && label.ends_with('.'),
            Some(rest) => rest.is_empty(),
            None => false,
        }
    }
}

impl TryFrom<String> for HostPattern {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| {
            format!("`{text}` is not a host name, an IP address or a pattern such as *.example.com")
        })
    }
}

/// `[initiation]`: the trigger route, the sweeper, the retries toward N8N
/// and the watchdog.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitiationConfig {
    /// `None` turns the trigger route off (it answers 404).
    #[serde(skip)]
    pub trigger_secret: Option<SecretString>,
    #[serde(rename = "trigger_secret")]
    pub(crate) trigger_secret_source: Option<Source<SecretString>>,
    pub attempts: u32,
    /// `None` when the sweeper is off (`"0s"`).
    #[serde(deserialize_with = "sweep_interval")]
    pub sweep_interval: Option<Duration>,
    #[serde(deserialize_with = "duration")]
    pub sweep_grace: Duration,
    #[serde(deserialize_with = "duration")]
    pub result_timeout: Duration,
}

impl Default for InitiationConfig {
    fn default() -> Self {
        Self {
            trigger_secret: None,
            trigger_secret_source: None,
            attempts: 3,
            sweep_interval: Some(secs(60)),
            // Longer than a trigger needs, so the sweeper does not race it.
            sweep_grace: secs(30),
            // A generation takes minutes, not an hour.
            result_timeout: secs(3600),
        }
    }
}

fn sweep_interval<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(|interval| Some(interval).filter(|i| !i.is_zero()))
}

/// `[spool]`: the durable queue of accepted callbacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolConfig {
    /// Relative to the configuration file's directory once validated.
    pub dir: PathBuf,
    #[serde(deserialize_with = "duration")]
    pub wait: Duration,
    pub fsync: bool,
    #[serde(deserialize_with = "duration")]
    pub retry_initial: Duration,
    #[serde(deserialize_with = "duration")]
    pub retry_max: Duration,
    #[serde(deserialize_with = "duration")]
    pub max_age: Duration,
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("/var/lib/influence-gen-bridge/spool"),
            // N8N waits for the answer; a few seconds covers a healthy Odoo.
            wait: secs(5),
            fsync: true,
            retry_initial: secs(1),
            retry_max: secs(300),
            max_age: secs(7 * 86_400),
            // 4 GiB: a hundred full-size images, or a day of an outage.
            max_bytes: 4 * 1024 * MIB,
        }
    }
}

/// `[auth]`: callback authentication (see [`crate::auth`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// Any of them may sign (key rotation).
    #[serde(skip)]
    pub signing_secrets: Vec<SigningSecret>,
    #[serde(rename = "signing_secrets")]
    pub(crate) signing_secrets_source: Option<Source<Vec<SecretString>>>,
    #[serde(deserialize_with = "duration")]
    pub timestamp_tolerance: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Token,
            signing_secrets: Vec::new(),
            signing_secrets_source: None,
            // The Standard Webhooks recommendation.
            timestamp_tolerance: secs(300),
        }
    }
}

/// Which credentials a callback must carry (see [`crate::auth`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    Token,
    Signature,
    Either,
    Both,
}

impl AuthMode {
    /// Whether signatures are checked at all (and so secrets are required).
    pub fn uses_signatures(self) -> bool {
        !matches!(self, Self::Token)
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Token => "token",
            Self::Signature => "signature",
            Self::Either => "either",
            Self::Both => "both",
        })
    }
}

/// `[tls]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `[tls]`: serve HTTPS directly, the key checked to fit the certificate.
#[derive(Clone)]
pub struct TlsConfig {
    pub server_config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The rustls config holds the private key.
        f.write_str("TlsConfig { .. }")
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// An `EnvFilter` directive such as `info` or `influence_gen_bridge=debug`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    #[default]
    Text,
    /// One JSON object per line, for journald and log shippers.
    Json,
}
