//! Where secrets come from: the first real value of the environment
//! variable, the TOML (a value or `{ file = "path" }`) and the systemd
//! credential, as `config.example.toml` tells. A list (`auth.signing_secrets`)
//! is split at whitespace or commas in the environment, at lines in a file.
//! Values leave only as [`SecretString`]; problems never quote them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::Problems;

/// The prefix that marks a value as "not configured yet".
pub const PLACEHOLDER_PREFIX: &str = "PLACEHOLDER";
/// The prefix of every environment variable the bridge reads for secrets.
pub const ENV_PREFIX: &str = "INFLUENCE_GEN_BRIDGE_";

/// A secret as written in the TOML: the value (`T`: one string or a list),
/// or the file holding it.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    deny_unknown_fields,
    expecting = "a string (a list for signing_secrets) or { file = \"path\" }"
)]
pub enum Source<T> {
    Inline(T),
    File { file: PathBuf },
}

/// True when `value` is a placeholder or blank, i.e. counts as unset.
pub fn is_unset(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value.starts_with(PLACEHOLDER_PREFIX)
}

/// A snapshot of the process environment (no `Debug`: values may be secrets).
#[derive(Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
}

impl Environment {
    /// The variables of this process that the configuration may read.
    pub fn from_process() -> Self {
        let vars = std::env::vars()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) || name == "CREDENTIALS_DIRECTORY")
            .collect();
        Self { vars }
    }

    /// An environment made of exactly these pairs.
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Self {
            vars: vars.collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// The environment variable that carries secret `key` of `section`.
pub fn env_var_name(section: &str, key: &str) -> String {
    format!("{ENV_PREFIX}{section}_{key}").to_uppercase()
}

/// Resolves secret `section.key` by the precedence in the module docs: its
/// real entries (at most one unless `list`), or none. An unreadable file is
/// a problem recorded under the key.
pub(super) fn resolve(
    (section, key): (&str, &str),
    written: Option<Source<Vec<SecretString>>>,
    list: bool,
    (env, base_dir): (&Environment, &Path),
    problems: &mut Problems,
) -> Vec<SecretString> {
    let dotted = format!("{section}.{key}");
    let mut read = |path: &Path| match read_file(path, list) {
        Ok(entries) => entries,
        Err(reason) => {
            problems.push(&dotted, format!("{}: {reason}", path.display()));
            Vec::new()
        }
    };
    let separator = |c: char| list && (c.is_whitespace() || c == ',');
    if let Some(value) = env.get(&env_var_name(section, key))
        && let entries = real(value.split(separator))
        && !entries.is_empty()
    {
        return entries;
    }
    let entries = match written {
        Some(Source::Inline(values)) => real(values.iter().map(ExposeSecret::expose_secret)),
        Some(Source::File { file }) => read(&base_dir.join(file)),
        None => Vec::new(),
    };
    if !entries.is_empty() {
        return entries;
    }
    let credential = env
        .get("CREDENTIALS_DIRECTORY")
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(format!("{section}_{key}")));
    match credential {
        Some(path) if path.exists() => read(&path),
        _ => Vec::new(),
    }
}

/// The entries that are not placeholders, trimmed.
fn real<'a>(entries: impl IntoIterator<Item = &'a str>) -> Vec<SecretString> {
    entries
        .into_iter()
        .map(str::trim)
        .filter(|entry| !is_unset(entry))
        .map(SecretString::from)
        .collect()
}

/// A secret file: one value (trimmed), or for a list one entry per line.
fn read_file(path: &Path, list: bool) -> Result<Vec<SecretString>, String> {
    let text = super::read_text(path)?;
    Ok(if list {
        real(text.lines().filter(|line| !line.trim().starts_with('#')))
    } else {
        real([text.as_str()])
    })
}
