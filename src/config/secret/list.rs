//! Secrets that are a list (several signing secrets, for key rotation).
//!
//! The sources and their order are those of a single secret (see
//! [`super`]): the environment variable, `<key>_file`, the inline TOML list,
//! the systemd credential; the first source that holds at least one real
//! value wins, lists are never merged. In the environment the entries are
//! separated by whitespace or commas; in a file or credential there is one
//! per line, and blank lines and lines starting with `#` are skipped. Each
//! entry that is a placeholder counts as absent.

use std::path::Path;

use secrecy::SecretString;

use super::{
    Environment, MAX_SECRET_FILE_BYTES, Problems, SecretSpec, credential_name, env_var_name,
    is_unset,
};

/// The inline list of a list secret; the rest of the spec as for one secret.
pub struct SecretListSpec<'a> {
    pub section: &'static str,
    pub key: &'static str,
    pub inline: Option<&'a [String]>,
    pub file: Option<&'a str>,
}

/// Resolves a list secret; empty when no source holds a real value.
pub fn resolve_list(
    spec: &SecretListSpec<'_>,
    env: &Environment,
    base_dir: &Path,
    problems: &mut Problems,
) -> Vec<SecretString> {
    let dotted = SecretSpec {
        section: spec.section,
        key: spec.key,
        inline: None,
        file: None,
    }
    .dotted();
    if spec.inline.is_some() && spec.file.is_some() {
        problems.push(
            &dotted,
            format!("set either `{0}` or `{0}_file`, not both", spec.key),
        );
        return Vec::new();
    }
    if let Some(value) = env.get(&env_var_name(spec.section, spec.key)) {
        let entries = real_entries(value.split(|c: char| c.is_whitespace() || c == ','));
        if !entries.is_empty() {
            return entries;
        }
    }
    if let Some(file) = spec.file {
        let path = base_dir.join(file);
        match read_list_file(&path) {
            Ok(entries) if !entries.is_empty() => return entries,
            Ok(_) => {}
            Err(reason) => problems.push(
                format!("{dotted}_file"),
                format!("{}: {reason}", path.display()),
            ),
        }
    }
    if let Some(inline) = spec.inline {
        let entries = real_entries(inline.iter().map(String::as_str));
        if !entries.is_empty() {
            return entries;
        }
    }
    let Some(dir) = env.credentials_dir() else {
        return Vec::new();
    };
    let credential = dir.join(credential_name(spec.section, spec.key));
    if credential.exists() {
        match read_list_file(&credential) {
            Ok(entries) => return entries,
            Err(reason) => problems.push(dotted, format!("{}: {reason}", credential.display())),
        }
    }
    Vec::new()
}

fn real_entries<'a>(entries: impl Iterator<Item = &'a str>) -> Vec<SecretString> {
    entries
        .map(str::trim)
        .filter(|entry| !is_unset(entry))
        .map(|entry| SecretString::from(entry.to_owned()))
        .collect()
}

/// One entry per line; blank and `#` lines skipped; size-limited like any
/// secret file.
fn read_list_file(path: &Path) -> Result<Vec<SecretString>, String> {
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read the file ({})", e.kind()))?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    if metadata.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "larger than {MAX_SECRET_FILE_BYTES} bytes; a secret file holds one value per line"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file ({})", e.kind()))?;
    let text = String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?;
    Ok(real_entries(
        text.lines()
            .filter(|line| !line.trim_start().starts_with('#')),
    ))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn resolve(
        inline: Option<&[String]>,
        file: Option<&str>,
        env: &Environment,
        dir: &Path,
    ) -> (Vec<String>, Problems) {
        let spec = SecretListSpec {
            section: "auth",
            key: "signing_secrets",
            inline,
            file,
        };
        let mut problems = Problems::default();
        let values = resolve_list(&spec, env, dir, &mut problems)
            .iter()
            .map(|s| s.expose_secret().to_owned())
            .collect();
        (values, problems)
    }

    #[test]
    fn environment_entries_are_split_on_whitespace_and_commas() {
        let env = Environment::from_pairs([(
            "INFLUENCE_GEN_BRIDGE_AUTH_SIGNING_SECRETS",
            "whsec_a, whsec_b\nwhsec_c PLACEHOLDER_X",
        )]);
        let inline = vec!["whsec_inline".to_owned()];
        let (values, _) = resolve(Some(&inline), None, &env, Path::new("."));
        assert_eq!(values, ["whsec_a", "whsec_b", "whsec_c"]);
    }

    #[test]
    fn a_file_has_one_entry_per_line_and_may_comment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("keys"),
            "# current\nwhsec_new\n\n# previous, until the senders moved\n  whsec_old  \nPLACEHOLDER\n",
        )
        .unwrap();
        let (values, problems) = resolve(None, Some("keys"), &Environment::default(), dir.path());
        assert_eq!(values, ["whsec_new", "whsec_old"]);
        assert!(problems.is_empty());
    }

    #[test]
    fn placeholders_fall_through_to_the_credential() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("auth_signing_secrets"), "whsec_cred\n").unwrap();
        let env =
            Environment::from_pairs([("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap())]);
        let inline = vec!["PLACEHOLDER_SIGNING_SECRET".to_owned()];
        let (values, _) = resolve(Some(&inline), None, &env, Path::new("."));
        assert_eq!(values, ["whsec_cred"]);
        let (values, _) = resolve(None, None, &Environment::default(), Path::new("."));
        assert!(values.is_empty());
    }

    #[test]
    fn problems_name_the_key_never_the_value() {
        let inline = vec!["whsec_secret_value".to_owned()];
        let (values, problems) = resolve(
            Some(&inline),
            Some("f"),
            &Environment::default(),
            Path::new("."),
        );
        assert!(values.is_empty());
        let text = problems.to_string();
        assert!(text.contains("auth.signing_secrets"), "{text}");
        assert!(!text.contains("whsec_secret_value"), "{text}");
        let (_, problems) = resolve(
            None,
            Some("/nonexistent/keys"),
            &Environment::default(),
            Path::new("."),
        );
        assert!(
            problems.to_string().contains("auth.signing_secrets_file"),
            "{problems}"
        );
    }
}
