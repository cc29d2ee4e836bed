//! The sections of the configuration file, each a serde struct whose field
//! names are the keys. Defaults are the named functions at the end; bounds
//! and cross-field rules are in [`super::validate`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::secret::Source;
use super::{duration, optional_url, url};
use crate::auth::SigningSecret;

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The bridge as N8N reaches it; the callback URL is built from it.
    #[serde(deserialize_with = "url")]
    pub public_url: Url,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_shutdown_grace", deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    /// Report ready to systemd before Odoo accepted the login.
    #[serde(default)]
    pub start_degraded: bool,
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
    /// Base URL of Odoo; the endpoints are paths below it.
    #[serde(deserialize_with = "url")]
    pub url: Url,
    /// Which of Odoo's external APIs to speak.
    #[serde(default)]
    pub api: OdooApi,
    pub database: String,
    pub login: String,
    /// The user's password or one of its API keys; Odoo accepts either.
    #[serde(skip)]
    pub password: SecretString,
    #[serde(rename = "password", default)]
    pub(crate) password_source: Option<Source<SecretString>>,
    #[serde(default = "default_odoo_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(default = "default_max_concurrent_calls")]
    pub max_concurrent_calls: usize,
    /// Which protocol the bridge speaks to Odoo (see [`crate::odoo::Protocol`]).
    #[serde(default)]
    pub protocol: ProtocolMode,
    /// Generic protocol: after a call whose outcome is unknown (timeout,
    /// connection lost, 502/503/504), no create is repeated before this has
    /// passed. Must exceed Odoo's `limit_time_real`.
    #[serde(
        default = "default_unknown_outcome_wait",
        deserialize_with = "duration"
    )]
    pub unknown_outcome_wait: Duration,
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
    /// The legacy `/jsonrpc` (Odoo 16-19; removed in Odoo 20).
    JsonRpc,
    /// `/json/2` with an API key as bearer token (Odoo 19 and later).
    Json2,
}

/// `odoo.protocol`: which protocol toward Odoo the bridge may speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolMode {
    /// The companion addon when `bridge_protocol()` answers, else generic.
    #[default]
    Auto,
    /// The companion addon only; without it nothing is applied.
    Companion,
    /// Plain ORM calls, never asking for the addon.
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
/// (`docs/protocol.md#system-parameters`). An unset callback token means
/// every callback is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct N8nConfig {
    #[serde(default, deserialize_with = "optional_url")]
    pub webhook_url: Option<Url>,
    #[serde(skip)]
    pub api_key: Option<SecretString>,
    #[serde(rename = "api_key", default)]
    pub(crate) api_key_source: Option<Source<SecretString>>,
    #[serde(skip)]
    pub callback_token: Option<SecretString>,
    #[serde(rename = "callback_token", default)]
    pub(crate) callback_token_source: Option<Source<SecretString>>,
    #[serde(skip)]
    pub outbound_token: Option<SecretString>,
    #[serde(rename = "outbound_token", default)]
    pub(crate) outbound_token_source: Option<Source<SecretString>>,
    #[serde(default = "default_n8n_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
}

/// `[images]`: bounds on the image a callback delivers, and where an
/// `image_url` may be downloaded from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    #[serde(default = "default_image_max_bytes")]
    pub max_bytes: u64,
    /// Largest width × height accepted (the decompression-bomb guard).
    #[serde(default = "default_max_pixels")]
    pub max_pixels: u64,
    #[serde(default = "default_download_timeout", deserialize_with = "duration")]
    pub download_timeout: Duration,
    /// Hosts an `image_url` may name; empty means any public host.
    #[serde(default)]
    pub allowed_hosts: Vec<HostPattern>,
    /// Allow loopback, private, link-local and the other non-public ranges.
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Ports an `image_url` may use; empty means any port.
    #[serde(default = "default_allowed_ports")]
    pub allowed_ports: Vec<u16>,
}

/// One entry of `images.allowed_hosts`: an exact host, or `*.example.com`
/// for every subdomain of `example.com` (not `example.com` itself).
///
/// Hosts are kept in the form [`url::Url::host_str`] gives them: lower
/// case, international names in punycode, IPv6 in brackets, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum HostPattern {
    Exact(String),
    /// The parent domain, without the `*.`.
    Subdomains(String),
}

impl HostPattern {
    /// Parses `example.com`, `*.example.com`, `10.0.0.5` or `[fd00::5]`.
    pub fn parse(text: &str) -> Option<Self> {
        let (wildcard, host) = match text.trim().strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text.trim()),
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || host.contains('*') {
            return None;
        }
        match url::Host::parse(host).ok()? {
            url::Host::Domain(domain) if wildcard => Some(Self::Subdomains(domain)),
            url::Host::Domain(domain) => Some(Self::Exact(domain)),
            _ if wildcard => None,
            ip => Some(Self::Exact(ip.to_string())),
        }
    }

    /// Whether `host` (as [`url::Url::host_str`] gives it) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        match self {
            Self::Exact(exact) => host.eq_ignore_ascii_case(exact),
            Self::Subdomains(parent) => {
                // `cut` is where ".example.com" starts; a label must precede it.
                let Some(cut) = host.len().checked_sub(parent.len() + 1) else {
                    return false;
                };
                cut > 0
                    && host.get(cut..).is_some_and(|tail| {
                        tail.starts_with('.') && tail[1..].eq_ignore_ascii_case(parent)
                    })
            }
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

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(host) => f.write_str(host),
            Self::Subdomains(parent) => write!(f, "*.{parent}"),
        }
    }
}

/// `[initiation]`: the trigger route, the sweeper, the retries toward N8N
/// and the watchdog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitiationConfig {
    /// The path secret of `POST /influence_gen/trigger/<secret>`; `None`
    /// turns the route off (it answers 404).
    #[serde(skip)]
    pub trigger_secret: Option<SecretString>,
    #[serde(rename = "trigger_secret", default)]
    pub(crate) trigger_secret_source: Option<Source<SecretString>>,
    /// Tries per initiation for transient failures (1 = no retry).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// `None` when the sweeper is off (`sweep_interval = "0s"`).
    #[serde(
        default = "default_sweep_interval",
        deserialize_with = "sweep_interval"
    )]
    pub sweep_interval: Option<Duration>,
    /// The sweeper leaves requests younger than this to their trigger.
    #[serde(default = "default_sweep_grace", deserialize_with = "duration")]
    pub sweep_grace: Duration,
    /// How long a request may stay `processing` (since its last change)
    /// without a result before the watchdog makes it `initiation_failed`.
    #[serde(default = "default_result_timeout", deserialize_with = "duration")]
    pub result_timeout: Duration,
}

/// `[spool]`: the durable queue of accepted callbacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Relative to the configuration file's directory once validated.
    #[serde(default = "default_spool_dir")]
    pub dir: PathBuf,
    /// How long a callback waits for its outcome before it is answered 202.
    #[serde(default = "default_spool_wait", deserialize_with = "duration")]
    pub wait: Duration,
    /// fsync data and directories; off only where losing accepted callbacks
    /// on a power cut is acceptable.
    #[serde(default = "default_fsync")]
    pub fsync: bool,
    #[serde(default = "default_retry_initial", deserialize_with = "duration")]
    pub retry_initial: Duration,
    #[serde(default = "default_retry_max", deserialize_with = "duration")]
    pub retry_max: Duration,
    /// Age after which an entry becomes a dead letter.
    #[serde(default = "default_max_age", deserialize_with = "duration")]
    pub max_age: Duration,
    #[serde(default = "default_spool_max_bytes")]
    pub max_bytes: u64,
}

/// `[auth]`: callback authentication (see [`crate::auth`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub mode: AuthMode,
    /// Standard Webhooks secrets; any of them may sign (key rotation).
    #[serde(skip)]
    pub signing_secrets: Vec<SigningSecret>,
    #[serde(rename = "signing_secrets", default)]
    pub(crate) signing_secrets_source: Option<Source<Vec<SecretString>>>,
    /// How far `webhook-timestamp` may be from now, either way.
    #[serde(default = "default_timestamp_tolerance", deserialize_with = "duration")]
    pub timestamp_tolerance: Duration,
}

/// Which credentials a callback must carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// The shared token (`n8n.callback_token`).
    #[default]
    Token,
    /// A Standard Webhooks signature; the token is ignored.
    Signature,
    /// A signature when the callback is signed, else the token.
    Either,
    /// The token and a signature.
    Both,
}

impl AuthMode {
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

/// `[tls]` as written: both files or neither.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsFiles {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
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

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// An `EnvFilter` directive such as `info` or `influence_gen_bridge=debug`.
    #[serde(default = "default_log_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
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

/// `initiation.sweep_interval`: a duration, `"0s"` turning the sweeper off.
fn sweep_interval<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(|interval| Some(interval).filter(|i| !i.is_zero()))
}

// --- defaults ---------------------------------------------------------------

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
/// 64 MiB: a 40 MB image as base64 plus the JSON around it.
fn default_max_body_bytes() -> u64 {
    64 * MIB
}
/// With 64 MiB bodies, 64 connections bound the bodies held at once to 4 GiB.
fn default_max_connections() -> usize {
    64
}
/// Below the systemd unit's `TimeoutStopSec` with the daemon's stop margin.
pub fn default_shutdown_grace() -> Duration {
    Duration::from_secs(20)
}
fn default_odoo_timeout() -> Duration {
    Duration::from_secs(30)
}
/// Odoo's prefork default is a handful of workers; more concurrent calls than
/// workers only queue up in its listen backlog (see DESIGN.md).
fn default_max_concurrent_calls() -> usize {
    4
}
/// Longer than Odoo's default `limit_time_real` (120 s): by then a call whose
/// answer was lost has committed or been killed.
fn default_unknown_outcome_wait() -> Duration {
    Duration::from_secs(150)
}
fn default_n8n_timeout() -> Duration {
    Duration::from_secs(10)
}
/// 40 MiB: well above what image models produce, far below Odoo's limits.
fn default_image_max_bytes() -> u64 {
    40 * MIB
}
/// 40 megapixels: an 8K image (33 MP) fits; a header claiming more is
/// treated as a decompression bomb.
fn default_max_pixels() -> u64 {
    40_000_000
}
fn default_download_timeout() -> Duration {
    Duration::from_secs(60)
}
/// The standard HTTP and HTTPS ports; image hosts rarely use others.
fn default_allowed_ports() -> Vec<u16> {
    vec![80, 443]
}
fn default_attempts() -> u32 {
    3
}
fn default_sweep_interval() -> Option<Duration> {
    Some(Duration::from_secs(60))
}
/// Longer than a trigger normally needs, so the sweeper does not race it.
fn default_sweep_grace() -> Duration {
    Duration::from_secs(30)
}
/// A generation takes minutes, not an hour.
fn default_result_timeout() -> Duration {
    Duration::from_secs(3600)
}
fn default_spool_dir() -> PathBuf {
    PathBuf::from("/var/lib/influence-gen-bridge/spool")
}
/// N8N waits for the answer; a few seconds covers a healthy Odoo.
fn default_spool_wait() -> Duration {
    Duration::from_secs(5)
}
fn default_fsync() -> bool {
    true
}
fn default_retry_initial() -> Duration {
    Duration::from_secs(1)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(300)
}
fn default_max_age() -> Duration {
    Duration::from_secs(7 * 86_400)
}
/// 4 GiB: a hundred full-size images, or a day of results during an outage.
fn default_spool_max_bytes() -> u64 {
    4 * 1024 * MIB
}
/// The Standard Webhooks recommendation.
fn default_timestamp_tolerance() -> Duration {
    Duration::from_secs(300)
}
fn default_log_level() -> String {
    "info".to_owned()
}
