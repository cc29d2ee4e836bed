//! Fingerprints of secrets: enough to tell whether two machines hold the
//! same value, never enough to use it.
//!
//! A fingerprint is `sha256:` and the first 8 hex digits of the SHA-256 of
//! the value as configured (surrounding whitespace trimmed, as the bridge
//! uses it), so an admin can compute it anywhere with standard tools:
//!
//! ```sh
//! printf %s "$SECRET" | sha256sum | cut -c1-8
//! ```
//!
//! 32 bits of a hash say nothing useful about a long random secret, but they
//! do let someone who reads the log test guesses of a weak one offline: use
//! generated secrets (and an Odoo API key rather than a password).

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::Config;

/// Hex digits of the SHA-256 kept in a fingerprint.
const FINGERPRINT_HEX_DIGITS: usize = 8;

/// `sha256:` and the first 8 hex digits of the SHA-256 of `secret`.
pub fn fingerprint(secret: &SecretString) -> String {
    let digest = Sha256::digest(secret.expose_secret().as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{}", &hex[..FINGERPRINT_HEX_DIGITS])
}

/// Every secret key of `config`, each with its fingerprint or `None` when it
/// is not configured. Signing secrets are listed one by one
/// (`auth.signing_secrets[0]`, …).
pub fn configured_secrets(config: &Config) -> Vec<(String, Option<String>)> {
    let single =
        |key: &str, secret: Option<&SecretString>| (key.to_owned(), secret.map(fingerprint));
    let mut secrets = vec![
        single("odoo.password", Some(&config.odoo.password)),
        single("n8n.api_key", config.n8n.api_key.as_ref()),
        single("n8n.callback_token", config.n8n.callback_token.as_ref()),
        single("n8n.outbound_token", config.n8n.outbound_token.as_ref()),
    ];
    if config.auth.signing_secrets.is_empty() {
        secrets.push(("auth.signing_secrets".to_owned(), None));
    }
    for (index, secret) in config.auth.signing_secrets.iter().enumerate() {
        secrets.push((
            format!("auth.signing_secrets[{index}]"),
            Some(fingerprint(secret.text())),
        ));
    }
    secrets
}

/// Logs, at `info`, which secrets are configured and their fingerprints.
pub fn log_configured_secrets(config: &Config) {
    for (key, fingerprint) in configured_secrets(config) {
        match fingerprint {
            Some(fingerprint) => tracing::info!(key, %fingerprint, "secret configured"),
            None => tracing::info!(key, "secret not configured"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_the_start_of_the_sha256_in_hex() {
        // printf %s s3cret | sha256sum
        assert_eq!(
            fingerprint(&SecretString::from("s3cret")),
            "sha256:1ec1c26b"
        );
        assert_ne!(
            fingerprint(&SecretString::from("s3cret")),
            fingerprint(&SecretString::from("s3cret2"))
        );
    }
}
