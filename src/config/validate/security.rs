//! Validation of `[auth]`, `[limits]` and `[tls]`.
//!
//! Fails closed: a mode that checks signatures without a usable signing
//! secret, or `both` without a callback token, is a configuration error
//! naming the missing key, never a daemon that quietly accepts less.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Checker;
use crate::auth::SigningSecret;
use crate::config::raw::{self, RawAuth, RawLimits, RawTls};
use crate::config::secret::{self, SecretListSpec};
use crate::config::{AuthConfig, AuthMode, LimitsConfig, N8nConfig, RateLimit, TlsConfig};

/// More signing secrets than this is a mistake: rotation needs two or three.
const MAX_SIGNING_SECRETS: usize = 8;
/// Certificate and key files larger than this are refused before parsing.
const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

impl Checker<'_> {
    pub(super) fn auth(&mut self, raw: &RawAuth, n8n: Option<&N8nConfig>) -> Option<AuthConfig> {
        let mode_text = raw.mode.as_deref().unwrap_or(raw::DEFAULT_AUTH_MODE);
        let mode = AuthMode::parse(mode_text);
        if mode.is_none() {
            self.problems.push(
                "auth.mode",
                format!("`{mode_text}` is not one of `token`, `signature`, `either`, `both`"),
            );
        }
        let texts = secret::resolve_list(
            &SecretListSpec {
                section: "auth",
                key: "signing_secrets",
                inline: raw.signing_secrets.as_deref(),
                file: raw.signing_secrets_file.as_deref(),
            },
            self.env,
            self.base_dir,
            &mut self.problems,
        );
        if texts.len() > MAX_SIGNING_SECRETS {
            self.problems.push(
                "auth.signing_secrets",
                format!(
                    "{} secrets given; at most {MAX_SIGNING_SECRETS} (rotation needs two)",
                    texts.len()
                ),
            );
        }
        let mut signing_secrets = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            match SigningSecret::parse(text) {
                Ok(secret) => signing_secrets.push(secret),
                Err(reason) => self.problems.push(
                    "auth.signing_secrets",
                    format!("entry {} {reason}", index + 1),
                ),
            }
        }
        let timestamp_tolerance = self.duration(
            "auth.timestamp_tolerance",
            raw.timestamp_tolerance.as_deref(),
            raw::DEFAULT_TIMESTAMP_TOLERANCE,
            (Duration::from_secs(1), Duration::from_secs(3600)),
        );
        let mode = mode?;
        if mode.uses_signatures() && texts.is_empty() {
            self.problems.push(
                "auth.signing_secrets",
                format!(
                    "auth.mode = \"{mode}\" checks signatures, so at least one signing secret \
                     (whsec_<base64>) is required; set `signing_secrets` or \
                     `signing_secrets_file` in [auth], the environment variable {}, or the \
                     systemd credential `{}` (values starting with {} count as unset)",
                    secret::env_var_name("auth", "signing_secrets"),
                    secret::credential_name("auth", "signing_secrets"),
                    secret::PLACEHOLDER_PREFIX,
                ),
            );
        }
        if mode == AuthMode::Both && n8n.is_some_and(|n8n| n8n.callback_token.is_none()) {
            self.missing_secret(
                "n8n",
                "callback_token",
                "auth.mode = \"both\" checks the token as well, so the callback token",
            );
        }
        Some(AuthConfig {
            mode,
            signing_secrets,
            timestamp_tolerance,
        })
    }

    pub(super) fn limits(&mut self, raw: &RawLimits) -> Option<LimitsConfig> {
        let header_read_timeout = self.duration(
            "limits.header_read_timeout",
            raw.header_read_timeout.as_deref(),
            raw::DEFAULT_HEADER_READ_TIMEOUT,
            (Duration::from_secs(1), Duration::from_secs(600)),
        );
        // hyper's own floor for its read buffer is 8 KiB; headers above
        // 1 MiB are no legitimate client's.
        let max_header_bytes = self.count(
            "limits.max_header_bytes",
            raw.max_header_bytes,
            raw::DEFAULT_MAX_HEADER_BYTES,
            (1024, 1024 * 1024),
        );
        let max_connections = self.count(
            "limits.max_connections",
            raw.max_connections,
            raw::DEFAULT_MAX_CONNECTIONS,
            (1, 65_536),
        );
        let per_minute = self.number(
            "limits.rate_limit_per_minute",
            raw.rate_limit_per_minute,
            raw::DEFAULT_RATE_LIMIT_PER_MINUTE,
            (0, 1_000_000),
        );
        let burst = self.number(
            "limits.rate_limit_burst",
            raw.rate_limit_burst,
            raw::DEFAULT_RATE_LIMIT_BURST,
            (1, 100_000),
        );
        let rate_limit = match (u32::try_from(per_minute), u32::try_from(burst)) {
            (Ok(per_minute), Ok(burst)) => NonZeroU32::new(per_minute)
                .zip(NonZeroU32::new(burst))
                .map(|(per_minute, burst)| RateLimit { per_minute, burst }),
            // Both were bounded above.
            _ => None,
        };
        let mut trusted_proxies = Vec::new();
        for text in raw.trusted_proxies.as_deref().unwrap_or_default() {
            match text.trim().parse::<IpAddr>() {
                Ok(ip) => trusted_proxies.push(ip),
                Err(_) => self.problems.push(
                    "limits.trusted_proxies",
                    format!("`{text}` is not an IP address such as 127.0.0.1 or ::1"),
                ),
            }
        }
        Some(LimitsConfig {
            header_read_timeout,
            max_header_bytes,
            max_connections,
            rate_limit,
            trusted_proxies,
        })
    }

    pub(super) fn tls(&mut self, raw: &RawTls) -> Option<TlsConfig> {
        let (cert_file, key_file) = match (raw.cert_file.as_deref(), raw.key_file.as_deref()) {
            (None, None) => return None,
            (Some(cert), Some(key)) => (self.base_dir.join(cert), self.base_dir.join(key)),
            (Some(_), None) => {
                self.problems
                    .push("tls.key_file", "is required when tls.cert_file is set");
                return None;
            }
            (None, Some(_)) => {
                self.problems
                    .push("tls.cert_file", "is required when tls.key_file is set");
                return None;
            }
        };
        let certs = self.pem_file("tls.cert_file", &cert_file, |pem| {
            CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        });
        let key = self.pem_file("tls.key_file", &key_file, |pem| {
            PrivateKeyDer::from_pem_slice(pem)
                .map_err(|_| "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")
        });
        let server_config = match rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder.with_no_client_auth().with_single_cert(certs?, key?),
            Err(error) => {
                self.problems
                    .push("tls.cert_file", format!("TLS cannot be set up: {error}"));
                return None;
            }
        };
        let mut server_config = match server_config {
            Ok(config) => config,
            Err(error) => {
                // rustls checks that the key belongs to the certificate.
                self.problems.push(
                    "tls.key_file",
                    format!("does not fit the certificate of tls.cert_file: {error}"),
                );
                return None;
            }
        };
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Some(TlsConfig {
            cert_file,
            key_file,
            server_config: Arc::new(server_config),
        })
    }

    /// Reads a PEM file of bounded size and parses it with `parse`.
    fn pem_file<T>(
        &mut self,
        key: &str,
        path: &Path,
        parse: impl FnOnce(&[u8]) -> Result<T, &'static str>,
    ) -> Option<T> {
        let result = read_bounded(path).and_then(|bytes| parse(&bytes).map_err(str::to_owned));
        match result {
            Ok(value) => Some(value),
            Err(reason) => {
                self.problems
                    .push(key, format!("{}: {reason}", PathBuf::from(path).display()));
                None
            }
        }
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read the file ({})", e.kind()))?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    if metadata.len() > MAX_PEM_FILE_BYTES {
        return Err(format!("larger than {MAX_PEM_FILE_BYTES} bytes"));
    }
    std::fs::read(path).map_err(|e| format!("cannot read the file ({})", e.kind()))
}
