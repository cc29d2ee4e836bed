//! Where secrets come from, and the rule that a placeholder is no secret.
//!
//! A secret `<key>` of section `<section>` is taken from the first source that
//! holds a real value:
//!
//! 1. the environment variable `INFLUENCE_GEN_BRIDGE_<SECTION>_<KEY>`;
//! 2. the file named by `<key>_file` in the TOML (relative to the config file);
//! 3. the inline `<key>` in the TOML;
//! 4. the systemd credential `<section>_<key>` in `$CREDENTIALS_DIRECTORY`
//!    (what `LoadCredential=` provides).
//!
//! A value that starts with `PLACEHOLDER` (the SDS ships such values) or is
//! empty counts as unset, so the next source is consulted. Values never leave
//! this module except inside a [`SecretString`], whose `Debug` is redacted;
//! error messages name keys and paths, never contents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::Problems;

mod list;
pub use list::{SecretListSpec, resolve_list};

/// The prefix that marks a value as "not configured yet".
pub const PLACEHOLDER_PREFIX: &str = "PLACEHOLDER";
/// The prefix of every environment variable the bridge reads for secrets.
pub const ENV_PREFIX: &str = "INFLUENCE_GEN_BRIDGE_";
/// Secret files larger than this are refused: a secret is a line, not a blob.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// True when `value` is a placeholder or blank, i.e. counts as unset.
pub fn is_unset(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value.starts_with(PLACEHOLDER_PREFIX)
}

/// A snapshot of the process environment, injectable for tests.
///
/// Edition 2024 makes `std::env::set_var` unsafe, and tests run in parallel,
/// so tests build an `Environment` from pairs instead of mutating the real one.
#[derive(Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The values may be secrets: only the names are shown.
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Environment")
            .field("names", &names)
            .finish()
    }
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
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self { vars }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    fn credentials_dir(&self) -> Option<PathBuf> {
        self.get("CREDENTIALS_DIRECTORY")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    }
}

/// The environment variable that carries secret `key` of `section`.
pub fn env_var_name(section: &str, key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}_{}",
        section.to_uppercase(),
        key.to_uppercase()
    )
}

/// The systemd credential name that carries secret `key` of `section`.
pub fn credential_name(section: &str, key: &str) -> String {
    format!("{section}_{key}")
}

/// One secret as written in the TOML: its inline value and its `_file` path.
pub struct SecretSpec<'a> {
    pub section: &'static str,
    pub key: &'static str,
    pub inline: Option<&'a str>,
    pub file: Option<&'a str>,
}

impl SecretSpec<'_> {
    fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// Resolves one secret by the precedence in the module docs.
///
/// Returns `None` when no source holds a real value. Problems (both inline and
/// `_file` given, unreadable file) are recorded in `problems`.
pub fn resolve(
    spec: &SecretSpec<'_>,
    env: &Environment,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<SecretString> {
    if spec.inline.is_some() && spec.file.is_some() {
        problems.push(
            spec.dotted(),
            format!("set either `{0}` or `{0}_file`, not both", spec.key),
        );
        return None;
    }
    if let Some(value) = env.get(&env_var_name(spec.section, spec.key))
        && !is_unset(value)
    {
        return Some(SecretString::from(value.trim().to_owned()));
    }
    if let Some(file) = spec.file {
        let key = format!("{}_file", spec.dotted());
        let path = base_dir.join(file);
        match read_secret_file(&path) {
            Ok(Some(value)) => return Some(value),
            Ok(None) => {}
            Err(reason) => problems.push(key, format!("{}: {reason}", path.display())),
        }
    }
    if let Some(value) = spec.inline
        && !is_unset(value)
    {
        return Some(SecretString::from(value.trim().to_owned()));
    }
    let credential = env
        .credentials_dir()?
        .join(credential_name(spec.section, spec.key));
    if credential.exists() {
        match read_secret_file(&credential) {
            Ok(value) => return value,
            Err(reason) => {
                problems.push(spec.dotted(), format!("{}: {reason}", credential.display()))
            }
        }
    }
    None
}

/// Reads a secret file: at most [`MAX_SECRET_FILE_BYTES`], surrounding
/// whitespace (the trailing newline editors add) trimmed, placeholder = unset.
fn read_secret_file(path: &Path) -> Result<Option<SecretString>, String> {
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read the file ({})", e.kind()))?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    if metadata.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "larger than {MAX_SECRET_FILE_BYTES} bytes; a secret file holds one value"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file ({})", e.kind()))?;
    let text = String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?;
    if is_unset(&text) {
        return Ok(None);
    }
    Ok(Some(SecretString::from(text.trim().to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn spec<'a>(inline: Option<&'a str>, file: Option<&'a str>) -> SecretSpec<'a> {
        SecretSpec {
            section: "odoo",
            key: "password",
            inline,
            file,
        }
    }

    fn resolve_with(
        spec: &SecretSpec<'_>,
        env: &Environment,
        dir: &Path,
    ) -> (Option<String>, Problems) {
        let mut problems = Problems::default();
        let value = resolve(spec, env, dir, &mut problems).map(|s| s.expose_secret().to_owned());
        (value, problems)
    }

    #[test]
    fn placeholder_and_blank_count_as_unset() {
        assert!(is_unset("PLACEHOLDER_YOUR_N8N_API_KEY"));
        assert!(is_unset("  PLACEHOLDER"));
        assert!(is_unset(""));
        assert!(is_unset(" \n"));
        assert!(!is_unset("placeholder-is-lowercase-so-real"));
        assert!(!is_unset("s3cret"));
    }

    #[test]
    fn names_follow_the_documented_pattern() {
        assert_eq!(
            env_var_name("odoo", "password"),
            "INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD"
        );
        assert_eq!(
            env_var_name("n8n", "callback_token"),
            "INFLUENCE_GEN_BRIDGE_N8N_CALLBACK_TOKEN"
        );
        assert_eq!(credential_name("n8n", "api_key"), "n8n_api_key");
    }

    #[test]
    fn environment_wins_over_file_and_inline() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("pw"), "from-file\n").unwrap();
        let env = Environment::from_pairs([("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "from-env")]);
        let (value, problems) = resolve_with(&spec(None, Some("pw")), &env, dir);
        assert_eq!(value.as_deref(), Some("from-env"));
        assert!(problems.is_empty());
    }

    #[test]
    fn placeholder_in_environment_falls_through() {
        let env =
            Environment::from_pairs([("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "PLACEHOLDER_X")]);
        let (value, _) = resolve_with(&spec(Some("inline"), None), &env, Path::new("."));
        assert_eq!(value.as_deref(), Some("inline"));
    }

    #[test]
    fn file_is_trimmed_and_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("pw"), "  from-file \n").unwrap();
        let (value, _) = resolve_with(&spec(None, Some("pw")), &Environment::default(), dir);
        assert_eq!(value.as_deref(), Some("from-file"));
    }

    #[test]
    fn placeholder_file_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("pw"), "PLACEHOLDER_SET_ME\n").unwrap();
        let (value, problems) = resolve_with(&spec(None, Some("pw")), &Environment::default(), dir);
        assert_eq!(value, None);
        assert!(problems.is_empty());
    }

    #[test]
    fn missing_file_is_a_problem_naming_the_key_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let (value, problems) =
            resolve_with(&spec(None, Some("nope")), &Environment::default(), dir);
        assert_eq!(value, None);
        let text = problems.to_string();
        assert!(text.contains("odoo.password_file"), "{text}");
        assert!(text.contains("cannot read the file"), "{text}");
    }

    #[test]
    fn inline_and_file_together_is_a_problem() {
        let (value, problems) = resolve_with(
            &spec(Some("a"), Some("b")),
            &Environment::default(),
            Path::new("."),
        );
        assert_eq!(value, None);
        assert!(problems.to_string().contains("not both"));
    }

    #[test]
    fn systemd_credential_is_the_last_resort() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("odoo_password"), "from-credential\n").unwrap();
        let env = Environment::from_pairs([("CREDENTIALS_DIRECTORY", dir.to_str().unwrap())]);
        let (value, _) = resolve_with(&spec(None, None), &env, Path::new("."));
        assert_eq!(value.as_deref(), Some("from-credential"));
        let (value, _) = resolve_with(&spec(Some("inline"), None), &env, Path::new("."));
        assert_eq!(value.as_deref(), Some("inline"));
        let (value, _) = resolve_with(&spec(Some("PLACEHOLDER"), None), &env, Path::new("."));
        assert_eq!(value.as_deref(), Some("from-credential"));
    }

    #[test]
    fn oversized_secret_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("big"), vec![b'a'; 70 * 1024]).unwrap();
        let (value, problems) =
            resolve_with(&spec(None, Some("big")), &Environment::default(), dir);
        assert_eq!(value, None);
        assert!(problems.to_string().contains("larger than"));
    }

    #[test]
    fn environment_debug_shows_names_only() {
        let env = Environment::from_pairs([("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "hunter2")]);
        let debug = format!("{env:?}");
        assert!(debug.contains("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD"));
        assert!(!debug.contains("hunter2"));
    }
}
