//! Configuration: serde reads the TOML file straight into [`Config`] (field
//! names are keys, an unknown key is refused), then [`validate`] resolves the
//! secrets ([`secret`]) and checks bounds and the rules between keys,
//! collecting every problem. Each error names its key (`odoo.timeout: …`);
//! secrets are [`secrecy::SecretString`]s, never in `Debug`, logs or errors.

pub mod fingerprint;
pub mod secret;
mod sections;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use secret::Environment;
pub use sections::*;

/// The path used when neither `--config` nor the environment names one.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/influence-gen-bridge/config.toml";
/// The environment variable that overrides [`DEFAULT_CONFIG_PATH`].
pub const CONFIG_PATH_ENV: &str = "INFLUENCE_GEN_BRIDGE_CONFIG";
/// The route N8N calls back on (`docs/protocol.md#routes`).
pub const CALLBACK_PATH: &str = "/influence_gen/ai/callback/image_result";

/// The validated configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub odoo: OdooConfig,
    #[serde(default)]
    pub n8n: N8nConfig,
    #[serde(default)]
    pub images: ImageConfig,
    #[serde(default)]
    pub initiation: InitiationConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub spool: SpoolConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    /// `None`: plain HTTP (the usual setup, behind a reverse proxy).
    #[serde(skip)]
    pub tls: Option<TlsConfig>,
    #[serde(rename = "tls", default)]
    tls_files: Option<TlsFiles>,
}

/// Why the configuration could not be loaded: each problem names its key
/// (`key: what is wrong`), never a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// Every problem found while validating.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, key: impl fmt::Display, message: impl fmt::Display) {
        self.0.push(format!("\n  - {key}: {message}"));
    }

    /// `Ok(value)` when there is no problem, else all of them.
    fn or<T>(self, value: T, path: &Path) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            return Ok(value);
        }
        Err(ConfigError {
            path: path.to_owned(),
            message: format!("is not valid:{}", self.0.concat()),
        })
    }
}

impl Config {
    /// Reads, parses and validates the file at `path`, taking secrets from
    /// this process's environment and systemd credentials.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_config_file(path)?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Self::from_toml(&text, path, base_dir, &Environment::from_process())
    }

    /// Parses and validates TOML text; `path` is only used in messages and
    /// `base_dir` resolves relative paths.
    pub fn from_toml(
        text: &str,
        path: &Path,
        base_dir: &Path,
        env: &Environment,
    ) -> Result<Self, ConfigError> {
        validate::validate(parse(text, path)?, path, base_dir, env)
    }
}

impl SpoolConfig {
    /// Reads `[spool]` alone from the file at `path`, for the `spool`
    /// commands: no other section is validated and no secret is resolved,
    /// so an admin needs no Odoo password or token to manage the spool.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        #[derive(Deserialize)]
        struct SpoolOnly {
            #[serde(default)]
            spool: SpoolConfig,
        }
        let SpoolOnly { mut spool } = parse(&read_config_file(path)?, path)?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut problems = Problems::default();
        validate::spool(&mut spool, base_dir, &mut problems);
        problems.or(spool, path)
    }
}

fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    read_text(path).map_err(|message| ConfigError {
        path: path.to_owned(),
        message,
    })
}

/// The file's text, or why not (never its content).
fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read the file ({})", e.kind()))
}

/// Deserializes `text`; an error names the key it concerns and never quotes
/// the file's line (it may hold a secret).
fn parse<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|error: toml::de::Error| {
        let (section, key) = key_at(text, error.span().map_or(0, |span| span.start));
        let message = error.message().trim_end();
        let named = |prefix| Some(message.strip_prefix(prefix)?.split('`').next()?.to_owned());
        let (key, message) = match (named("unknown field `"), named("missing field `")) {
            (Some(name), _) => (Some(name), UNKNOWN_KEY),
            (_, Some(name)) => (Some(name), "is required"),
            _ => (key, message),
        };
        // An unknown `[section]` is reported at its own header.
        let section = section.filter(|section| Some(section) != key.as_ref());
        let dotted = match (section, key) {
            (None, None) => "(file)".to_owned(),
            (section, key) => section.into_iter().chain(key).collect::<Vec<_>>().join("."),
        };
        ConfigError {
            path: path.to_owned(),
            message: format!("{dotted}: {message}"),
        }
    })
}

const UNKNOWN_KEY: &str =
    "unknown key (misspelled, or removed in this version: config.example.toml lists every key)";

/// The `[section]` and the key whose value is at byte `at` of `text`: the
/// last header before it, and the last `key =` up to the end of its line.
fn key_at(text: &str, at: usize) -> (Option<String>, Option<String>) {
    let end = text[at.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |n| at + n);
    let (mut section, mut key) = (None, None);
    for line in text[..end].lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            section = Some(header.trim_end_matches(']').trim().to_owned());
            key = None;
        } else if let Some((name, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            key = Some(name.trim().to_owned());
        }
    }
    (section, key)
}

#[cfg(test)]
mod tests;
