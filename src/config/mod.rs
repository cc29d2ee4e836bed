//! Configuration: the TOML file, environment variables and credential files,
//! validated once into types that cannot hold an invalid value.
//!
//! Two stages, as ripgrep does it: [`raw::RawConfig`] is the file as written;
//! [`validate`] turns it into [`Config`], collecting *every* problem (each
//! naming its key) instead of stopping at the first. Nothing downstream of
//! [`Config`] re-checks a value. Secrets are resolved by [`secret`] and held as
//! [`SecretString`], so `Debug` output, logs and errors never contain them.

pub mod fingerprint;
pub mod initiation;
pub mod raw;
pub mod secret;
mod security;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use initiation::{InitiationConfig, SendIdAs};
pub use secret::Environment;
pub use security::{AuthConfig, AuthMode, LimitsConfig, RateLimit, TlsConfig};
pub use validate::validate;

/// The path used when neither `--config` nor the environment names one.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/influence-gen-bridge/config.toml";
/// The environment variable that overrides [`DEFAULT_CONFIG_PATH`].
pub const CONFIG_PATH_ENV: &str = "INFLUENCE_GEN_BRIDGE_CONFIG";
/// The route N8N calls back on, identical to the Odoo controller of the SDS.
pub const CALLBACK_PATH: &str = "/influence_gen/ai/callback/image_result";
/// Configuration files larger than this are refused before parsing.
const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub odoo: OdooConfig,
    pub n8n: N8nConfig,
    pub images: ImageConfig,
    pub initiation: InitiationConfig,
    pub log: LogConfig,
    pub spool: SpoolConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    /// `None`: plain HTTP (the usual setup, behind a reverse proxy).
    pub tls: Option<TlsConfig>,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The bridge as N8N reaches it; the callback URL is built from it.
    pub public_url: Url,
    pub max_body_bytes: u64,
    pub body_read_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Report ready to systemd before Odoo accepted the login.
    pub start_degraded: bool,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_listen: Option<SocketAddr>,
}

impl ServerConfig {
    /// The full callback URL sent to N8N: `public_url` + [`CALLBACK_PATH`],
    /// keeping any path prefix of `public_url` (a reverse proxy's sub-path).
    pub fn callback_url(&self) -> String {
        format!(
            "{}{CALLBACK_PATH}",
            self.public_url.as_str().trim_end_matches('/')
        )
    }
}

/// `[odoo]`: the JSON-RPC connection and the models it holds.
#[derive(Debug, Clone)]
pub struct OdooConfig {
    /// Base URL of Odoo; the endpoint is `{url}/jsonrpc`.
    pub url: Url,
    pub database: String,
    pub login: String,
    /// The user's password or one of its API keys; Odoo accepts either.
    pub password: SecretString,
    pub timeout: Duration,
    pub max_concurrent_calls: usize,
    pub max_request_bytes: u32,
    pub max_response_bytes: u32,
    pub request_model: String,
    pub image_model: String,
    pub lookup: RequestLookup,
    pub uuid_field: String,
    /// Which of Odoo's external APIs to speak.
    pub api: OdooApi,
    /// Which protocol the bridge speaks to Odoo (see [`crate::odoo::Protocol`]).
    pub protocol: ProtocolMode,
    /// Generic protocol: after a call whose outcome is unknown (timeout,
    /// connection lost, 502/503/504), no create is repeated before this has
    /// passed. Must exceed Odoo's `limit_time_real`.
    pub unknown_outcome_wait: Duration,
}

impl OdooConfig {
    /// `{url}/jsonrpc`, keeping any path prefix of `url`.
    pub fn jsonrpc_endpoint(&self) -> String {
        format!("{}/jsonrpc", self.url.as_str().trim_end_matches('/'))
    }

    /// `{url}{path}` for a path starting with `/`, keeping any path prefix
    /// of `url` (`/json/2/…`, `/web/version`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.as_str().trim_end_matches('/'))
    }
}

/// `odoo.api`: which of Odoo's external APIs the bridge speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OdooApi {
    /// Ask Odoo once at login: `/json/2` where it exists, else `/jsonrpc`.
    Auto,
    /// The legacy `/jsonrpc` (Odoo 16-19; removed in Odoo 20).
    JsonRpc,
    /// `/json/2` with an API key as bearer token (Odoo 19 and later).
    Json2,
}

impl OdooApi {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "auto" => Some(Self::Auto),
            "jsonrpc" => Some(Self::JsonRpc),
            "json2" => Some(Self::Json2),
            _ => None,
        }
    }
}

/// How a callback's `ai_generation_request_id` finds its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLookup {
    /// The Odoo integer id, sent as a decimal string.
    Id,
    /// The request's UUID field (`odoo.uuid_field`).
    Uuid,
    /// A decimal string is an id; anything else is a UUID.
    Both,
}

impl RequestLookup {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "id" => Some(Self::Id),
            "uuid" => Some(Self::Uuid),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    /// Whether the uuid field must exist on the request model.
    pub fn uses_uuid(self) -> bool {
        matches!(self, Self::Uuid | Self::Both)
    }
}

/// `odoo.protocol`: which protocol toward Odoo the bridge may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolMode {
    /// The companion addon when `bridge_protocol()` answers, else generic.
    Auto,
    /// The companion addon only; without it nothing is applied.
    Companion,
    /// Plain ORM calls, never asking for the addon.
    Generic,
}

impl ProtocolMode {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "auto" => Some(Self::Auto),
            "companion" => Some(Self::Companion),
            "generic" => Some(Self::Generic),
            _ => None,
        }
    }

    /// The value as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Companion => "companion",
            Self::Generic => "generic",
        }
    }
}

/// `[n8n]`: the outbound webhook and the shared secrets.
///
/// Each value may be unset here: the SDS §9 `ir.config_parameter` keys are the
/// fallback. An unset callback token means every callback is refused.
#[derive(Debug, Clone)]
pub struct N8nConfig {
    pub webhook_url: Option<Url>,
    pub api_key: Option<SecretString>,
    pub api_key_header: http::HeaderName,
    pub callback_token: Option<SecretString>,
    pub outbound_token: Option<SecretString>,
    pub timeout: Duration,
}

/// `[images]`: bounds on the image a callback delivers, and where an
/// `image_url` may be downloaded from.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub max_bytes: u64,
    /// Largest width × height accepted (the decompression-bomb guard).
    pub max_pixels: u64,
    pub download_timeout: Duration,
    pub max_redirects: usize,
    /// Hosts an `image_url` may name; empty means any public host.
    pub allowed_hosts: Vec<HostPattern>,
    /// Allow loopback, private, link-local and the other non-public ranges.
    pub allow_private_networks: bool,
    /// Ports an `image_url` may use; empty means any port.
    pub allowed_ports: Vec<u16>,
}

/// One entry of `images.allowed_hosts`: an exact host, or `*.example.com`
/// for every subdomain of `example.com` (not `example.com` itself).
///
/// Hosts are kept in the form [`url::Url::host_str`] gives them: lower
/// case, international names in punycode, IPv6 in brackets, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(host) => f.write_str(host),
            Self::Subdomains(parent) => write!(f, "*.{parent}"),
        }
    }
}

/// `[spool]`: the durable queue of accepted callbacks.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// How long a callback waits for its outcome before it is answered 202.
    pub wait: Duration,
    /// fsync data and directories; off only where losing accepted callbacks
    /// on a power cut is acceptable.
    pub fsync: bool,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Attempts after which an entry becomes a dead letter.
    pub max_attempts: u32,
    /// Age after which an entry becomes a dead letter.
    pub max_age: Duration,
    pub max_bytes: u64,
    pub max_entries: u64,
    /// Entries (of different requests) applied at once.
    pub max_concurrent: usize,
    /// How often the spool directory is rescanned (the CLI changes it too).
    pub poll_interval: Duration,
}

/// `[log]`
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// An `EnvFilter` directive such as `info` or `influence_gen_bridge=debug`.
    pub level: String,
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Text,
    /// One JSON object per line, for journald and log shippers.
    Json,
}

impl LogFormat {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is larger than {MAX_CONFIG_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path} is not valid:\n{problems}")]
    Invalid { path: PathBuf, problems: Problems },
}

/// Every problem found while validating, each with the key it concerns.
#[derive(Debug, Default, Clone)]
pub struct Problems(Vec<Problem>);

/// One invalid or missing value.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The dotted key, e.g. `odoo.timeout`.
    pub key: String,
    /// What is wrong, without the value when the key is a secret.
    pub message: String,
}

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {}: {}", problem.key, problem.message)?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads, parses and validates the file at `path`, taking secrets from
    /// this process's environment and systemd credentials.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &Environment::from_process())
    }

    /// [`Config::load`] with an explicit environment (for tests).
    pub fn load_with(path: &Path, env: &Environment) -> Result<Self, ConfigError> {
        let text = read_config_file(path)?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Self::from_toml(&text, path, base_dir, env)
    }

    /// Parses and validates TOML text; `path` is only used in messages and
    /// `base_dir` resolves relative `*_file` paths.
    pub fn from_toml(
        text: &str,
        path: &Path,
        base_dir: &Path,
        env: &Environment,
    ) -> Result<Self, ConfigError> {
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        validate(raw, base_dir, env).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
        })
    }
}

impl SpoolConfig {
    /// Reads `[spool]` alone from the file at `path`, for the `spool`
    /// commands: the whole file must parse (unknown keys are refused as
    /// ever), but no other section is validated and no secret is resolved,
    /// so an admin needs no Odoo password or token to manage the spool.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_config_file(path)?;
        let raw: raw::RawConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        validate::validate_spool(&raw.spool, base_dir).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
        })
    }
}

fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if metadata.len() > MAX_CONFIG_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_owned(),
        });
    }
    std::fs::read_to_string(path).map_err(read_error)
}
