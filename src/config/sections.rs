//! The sections of the configuration file: serde structs whose fields are the
//! keys, each `default` next to its key (`config.example.toml` documents each
//! key once, with the why of its default; bounds are in [`super::validate`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, de::Error as _};
use url::Url;

use super::secret::Source;
use crate::auth::SigningSecret;

pub(super) const MIB: u64 = 1024 * 1024;

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(deserialize_with = "url")]
    pub public_url: Url,
    #[serde(default = "int::<{ 64 * MIB }, _>")]
    pub max_body_bytes: u64,
    #[serde(default = "int::<64, _>")]
    pub max_connections: usize,
    #[serde(default = "default_shutdown_grace", deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    #[serde(default)]
    pub start_degraded: bool,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
/// Fits the systemd unit's `TimeoutStopSec` with the daemon's stop margin.
pub fn default_shutdown_grace() -> Duration {
    secs(20)
}

impl ServerConfig {
    /// `public_url` + [`super::CALLBACK_PATH`], keeping a proxy's path prefix.
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
    #[serde(default = "seconds::<30>", deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(default = "int::<4, _>")]
    pub max_concurrent_calls: usize,
    #[serde(default)]
    pub protocol: ProtocolMode,
    #[serde(default = "seconds::<150>", deserialize_with = "duration")]
    pub unknown_outcome_wait: Duration,
}

impl OdooConfig {
    /// `{url}{path}` (`path` starts with `/`), keeping a path prefix of `url`.
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

/// `odoo.protocol`: which [`crate::odoo::Protocol`] the bridge may speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolMode {
    /// The companion addon when `bridge_protocol()` answers, else generic.
    #[default]
    Auto,
    Companion,
    Generic,
}

impl fmt::Display for ProtocolMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format!("{self:?}").to_lowercase())
    }
}

/// `[n8n]`: the webhook and the shared secrets, each falling back to Odoo's
/// system parameters when unset (`docs/protocol.md#system-parameters`).
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
    #[serde(default = "seconds::<10>", deserialize_with = "duration")]
    pub timeout: Duration,
}

/// `[images]`: bounds on a delivered image, and where it may be downloaded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    #[serde(default = "int::<{ 40 * MIB }, _>")]
    pub max_bytes: u64,
    #[serde(default = "int::<40_000_000, _>")]
    pub max_pixels: u64,
    #[serde(default = "seconds::<60>", deserialize_with = "duration")]
    pub download_timeout: Duration,
    #[serde(default)]
    pub allowed_hosts: Vec<HostPattern>,
    #[serde(default)]
    pub allow_private_networks: bool,
    #[serde(default = "default_allowed_ports")]
    pub allowed_ports: Vec<u16>,
}

fn default_allowed_ports() -> Vec<u16> {
    vec![80, 443]
}

/// One entry of `images.allowed_hosts`: a host, or `*.example.com` for its
/// subdomains only, kept as [`url::Url::host_str`] gives hosts (lower case).
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

/// `[initiation]`: the trigger route, sweeper, retries and watchdog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitiationConfig {
    /// `None` turns the trigger route off (it answers 404).
    #[serde(skip)]
    pub trigger_secret: Option<SecretString>,
    #[serde(rename = "trigger_secret", default)]
    pub(crate) trigger_secret_source: Option<Source<SecretString>>,
    #[serde(default = "int::<3, _>")]
    pub attempts: u32,
    /// `None` when the sweeper is off (`"0s"`).
    #[serde(
        default = "default_sweep_interval",
        deserialize_with = "sweep_interval"
    )]
    pub sweep_interval: Option<Duration>,
    #[serde(default = "seconds::<30>", deserialize_with = "duration")]
    pub sweep_grace: Duration,
    #[serde(default = "seconds::<3600>", deserialize_with = "duration")]
    pub result_timeout: Duration,
}

fn default_sweep_interval() -> Option<Duration> {
    Some(secs(60))
}

fn sweep_interval<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(|interval| Some(interval).filter(|i| !i.is_zero()))
}

/// `[spool]`: the durable queue of accepted callbacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Relative to the configuration file's directory once validated.
    #[serde(default = "default_spool_dir")]
    pub dir: PathBuf,
    #[serde(default = "seconds::<5>", deserialize_with = "duration")]
    pub wait: Duration,
    #[serde(default = "yes")]
    pub fsync: bool,
    #[serde(default = "seconds::<1>", deserialize_with = "duration")]
    pub retry_initial: Duration,
    #[serde(default = "seconds::<300>", deserialize_with = "duration")]
    pub retry_max: Duration,
    #[serde(default = "seconds::<{ 7 * 86_400 }>", deserialize_with = "duration")]
    pub max_age: Duration,
    #[serde(default = "int::<{ 4096 * MIB }, _>")]
    pub max_bytes: u64,
}

fn default_spool_dir() -> PathBuf {
    PathBuf::from("/var/lib/influence-gen-bridge/spool")
}
fn yes() -> bool {
    true
}

/// `[auth]`: callback authentication (see [`crate::auth`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub mode: AuthMode,
    /// Any of them may sign (key rotation).
    #[serde(skip)]
    pub signing_secrets: Vec<SigningSecret>,
    #[serde(rename = "signing_secrets", default)]
    pub(crate) signing_secrets_source: Option<Source<Vec<SecretString>>>,
    #[serde(default = "seconds::<300>", deserialize_with = "duration")]
    pub timestamp_tolerance: Duration,
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
        f.write_str(&format!("{self:?}").to_lowercase())
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
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_log_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

fn default_log_level() -> String {
    "info".to_owned()
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

/// A section left out takes every default, as does `Default`.
macro_rules! default_from_serde {
    ($($section:ty),+) => {$(
        impl Default for $section {
            fn default() -> Self {
                absent()
            }
        }
    )+};
}
default_from_serde!(
    N8nConfig,
    ImageConfig,
    InitiationConfig,
    SpoolConfig,
    AuthConfig,
    LogConfig
);

/// `n` seconds, for bounds.
pub(super) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `N` seconds, as a serde default: `default = "seconds::<30>"`.
fn seconds<const N: u64>() -> Duration {
    secs(N)
}

/// `N` as a serde default for an integer key: `default = "int::<64, _>"`.
fn int<const N: u64, T: TryFrom<u64, Error: fmt::Debug>>() -> T {
    T::try_from(N).expect("the default fits the key's type")
}

/// A section left out: each key takes its default.
fn absent<T: serde::de::DeserializeOwned>() -> T {
    toml::from_str("").expect("every key of the section has a default")
}

/// A duration as humans write it: `"500ms"`, `"30s"`, `"5m"`, `"7days"`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        D::Error::custom(format!(
            "`{text}` is not a duration such as \"30s\", \"500ms\" or \"5m\": {e}"
        ))
    })
}

/// An `http(s)` URL with a host and no query, fragment or credentials. The
/// text is not echoed: it might carry credentials.
fn url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    checked_url(&String::deserialize(d)?).map_err(D::Error::custom)
}

/// [`url`]; blank or a placeholder is `None`, as when left out.
fn optional_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let text = String::deserialize(d)?;
    if super::secret::is_unset(&text) {
        return Ok(None);
    }
    checked_url(&text).map(Some).map_err(D::Error::custom)
}

fn checked_url(text: &str) -> Result<Url, &'static str> {
    match Url::parse(text.trim()) {
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            Err("must start with http:// or https://")
        }
        Ok(url) if url.host_str().is_none() => Err("has no host"),
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            Err("must not have a query or fragment")
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Err("must not carry credentials; use the secret keys instead")
        }
        Ok(url) => Ok(url),
        Err(_) => Err("is not a valid URL"),
    }
}
