//! Fingerprints of secrets: enough to tell whether two machines hold the
//! same value (`printf %s "$SECRET" | sha256sum | cut -c1-8`), never enough
//! to use a generated one (32 bits only let a log reader test guesses of a
//! weak secret).

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::Config;

/// `sha256:` and the first 8 hex digits of the SHA-256 of `secret`.
pub fn fingerprint(secret: &SecretString) -> String {
    let digest = Sha256::digest(secret.expose_secret().as_bytes());
    let hex: Vec<String> = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", hex.concat())
}

/// Logs, at `info`, each secret key of `config` with its fingerprint, or
/// that it is not configured; signing secrets one by one.
pub fn log_configured_secrets(config: &Config) {
    let log = |key: &str, secret: Option<&SecretString>| match secret.map(fingerprint) {
        Some(fingerprint) => tracing::info!(key, %fingerprint, "secret configured"),
        None => tracing::info!(key, "secret not configured"),
    };
    log("odoo.password", Some(&config.odoo.password));
    log("n8n.api_key", config.n8n.api_key.as_ref());
    log("n8n.callback_token", config.n8n.callback_token.as_ref());
    log("n8n.outbound_token", config.n8n.outbound_token.as_ref());
    let signing = &config.auth.signing_secrets;
    for (index, secret) in signing.iter().enumerate() {
        log(
            &format!("auth.signing_secrets[{index}]"),
            Some(secret.text()),
        );
    }
    if signing.is_empty() {
        log("auth.signing_secrets", None);
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
