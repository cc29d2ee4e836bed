//! The second stage: a parsed [`Config`] in, the same with its secrets
//! resolved, or every [`Problem`] out. Only what serde cannot see is
//! checked here: bounds, the rules between keys, secrets, TLS files.
//!
//! Fails closed: a mode that checks signatures without a usable signing
//! secret, or `both` without a callback token, is a problem naming the
//! missing key, never a daemon that quietly accepts less.
//!
//! [`Problem`]: super::Problem

use std::fmt::Debug;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretString};

use super::secret::{self, Environment, Source};
use super::{Config, Problems, SpoolConfig, TlsConfig, TlsFiles};
use crate::auth::SigningSecret;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const DAY: Duration = Duration::from_secs(86_400);
/// The base64 of an image and the JSON around it must fit the 128 MiB
/// request limit toward Odoo (Werkzeug 3's own).
const MAX_IMAGE_BYTES: u64 = 95 * MIB;
/// More signing secrets than this is a mistake: rotation needs two or three.
const MAX_SIGNING_SECRETS: usize = 8;
/// A trigger secret travels in a URL path: long enough not to be guessed,
/// and only characters that need no escaping (RFC 3986 "unreserved").
const TRIGGER_SECRET_CHARS: RangeInclusive<usize> = 16..=256;
/// The value the example addon ships in its automation rule's URL.
const ADDON_PLACEHOLDER_SECRET: &str = "CHANGE-ME-SECRET";
/// Certificate and key files larger than this are refused before parsing.
const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// Validates `config`, resolving secrets from `env` and files relative to
/// `base_dir`.
pub fn validate(
    mut config: Config,
    base_dir: &Path,
    env: &Environment,
) -> Result<Config, Problems> {
    let mut check = Check {
        problems: Problems::default(),
        env,
        base_dir,
    };
    check.secrets(&mut config);
    check.bounds(&config);
    check.cross_field(&config);
    config.tls = check.tls(std::mem::take(&mut config.tls_files));
    config.spool = check.spool_dir(config.spool);
    match check.problems.is_empty() {
        true => Ok(config),
        false => Err(check.problems),
    }
}

/// Validates `[spool]` alone, resolving no secret (for the `spool` commands).
pub(super) fn spool(spool: SpoolConfig, base_dir: &Path) -> Result<SpoolConfig, Problems> {
    let env = Environment::default();
    let mut check = Check {
        problems: Problems::default(),
        env: &env,
        base_dir,
    };
    check.spool_bounds(&spool);
    let spool = check.spool_dir(spool);
    match check.problems.is_empty() {
        true => Ok(spool),
        false => Err(check.problems),
    }
}

struct Check<'a> {
    problems: Problems,
    env: &'a Environment,
    base_dir: &'a Path,
}

impl Check<'_> {
    fn secrets(&mut self, config: &mut Config) {
        match self.secret("odoo", "password", config.odoo.password_source.take()) {
            Some(password) => config.odoo.password = password,
            None => self.missing(
                ("odoo", "password"),
                "the password or an API key of the bridge's Odoo user",
            ),
        }
        let n8n = &mut config.n8n;
        n8n.api_key = self.secret("n8n", "api_key", n8n.api_key_source.take());
        n8n.callback_token = self.secret("n8n", "callback_token", n8n.callback_token_source.take());
        n8n.outbound_token = self.secret("n8n", "outbound_token", n8n.outbound_token_source.take());
        let initiation = &mut config.initiation;
        let trigger = self.secret(
            "initiation",
            "trigger_secret",
            initiation.trigger_secret_source.take(),
        );
        initiation.trigger_secret = trigger.filter(|secret| self.trigger_secret_is_usable(secret));
        let auth = &mut config.auth;
        let texts = secret::resolve(
            ("auth", "signing_secrets"),
            auth.signing_secrets_source.take(),
            true,
            (self.env, self.base_dir),
            &mut self.problems,
        );
        if texts.len() > MAX_SIGNING_SECRETS {
            let message = format!("{} given; at most {MAX_SIGNING_SECRETS}", texts.len());
            self.problems.push("auth.signing_secrets", message);
        }
        for (index, text) in texts.iter().enumerate() {
            match SigningSecret::parse(text) {
                Ok(secret) => auth.signing_secrets.push(secret),
                Err(reason) => self.problems.push(
                    "auth.signing_secrets",
                    format!("entry {} {reason}", index + 1),
                ),
            }
        }
        if auth.mode.uses_signatures() && texts.is_empty() {
            let what = format!(
                "auth.mode = \"{}\" checks signatures, so a signing secret (whsec_<base64>)",
                auth.mode
            );
            self.missing(("auth", "signing_secrets"), &what);
        }
    }

    fn secret(
        &mut self,
        section: &str,
        key: &str,
        written: Option<Source<SecretString>>,
    ) -> Option<SecretString> {
        let written = written.map(Into::into);
        let env = (self.env, self.base_dir);
        let entries = secret::resolve((section, key), written, false, env, &mut self.problems);
        entries.into_iter().next()
    }

    fn missing(&mut self, (section, key): (&str, &str), what: &str) {
        self.problems.push(
            format!("{section}.{key}"),
            format!(
                "{what} is required; set `{key}` in [{section}] (a value or {{ file = \"path\" }}), \
                 the environment variable {}, or the systemd credential `{}` (values starting with \
                 {} count as unset)",
                secret::env_var_name(section, key),
                secret::credential_name(section, key),
                secret::PLACEHOLDER_PREFIX,
            ),
        );
    }

    /// Says what is wrong with a trigger secret, never its value.
    fn trigger_secret_is_usable(&mut self, secret: &SecretString) -> bool {
        let text = secret.expose_secret();
        let length = text.chars().count();
        let reason = if text.eq_ignore_ascii_case(ADDON_PLACEHOLDER_SECRET) {
            "is the example addon's placeholder; generate a secret, e.g. `openssl rand -hex 24`"
                .to_owned()
        } else if !TRIGGER_SECRET_CHARS.contains(&length) {
            format!("must be {TRIGGER_SECRET_CHARS:?} characters long (it has {length})")
        } else if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            "may hold only letters, digits and - . _ ~ (it travels in a URL path)".to_owned()
        } else {
            return true;
        };
        self.problems.push("initiation.trigger_secret", reason);
        false
    }

    fn bounds(&mut self, config: &Config) {
        let (server, odoo, images) = (&config.server, &config.odoo, &config.images);
        self.within("server.max_body_bytes", server.max_body_bytes, KIB..=GIB);
        self.within("server.max_connections", server.max_connections, 1..=65_536);
        let grace = Duration::ZERO..=Duration::from_secs(600);
        self.within("server.shutdown_grace", server.shutdown_grace, grace);
        for (key, text) in [
            ("odoo.database", &odoo.database),
            ("odoo.login", &odoo.login),
        ] {
            if secret::is_unset(text) {
                self.problems.push(key, "is required");
            }
        }
        let timeout = Duration::from_secs(1)..=Duration::from_secs(1800);
        self.within("odoo.timeout", odoo.timeout, timeout.clone());
        self.within(
            "odoo.max_concurrent_calls",
            odoo.max_concurrent_calls,
            1..=256,
        );
        let wait = Duration::from_secs(1)..=DAY;
        self.within("odoo.unknown_outcome_wait", odoo.unknown_outcome_wait, wait);
        let n8n_timeout = Duration::from_secs(1)..=Duration::from_secs(600);
        self.within("n8n.timeout", config.n8n.timeout, n8n_timeout);
        self.within("images.max_bytes", images.max_bytes, KIB..=MAX_IMAGE_BYTES);
        self.within("images.max_pixels", images.max_pixels, 1..=1_000_000_000);
        self.within("images.download_timeout", images.download_timeout, timeout);
        if images.allowed_ports.contains(&0) {
            self.problems.push(
                "images.allowed_ports",
                "0 is not a port number (1 to 65535)",
            );
        }
        let initiation = &config.initiation;
        self.within("initiation.attempts", initiation.attempts, 1..=10);
        let interval = initiation.sweep_interval.unwrap_or_default();
        self.within("initiation.sweep_interval", interval, Duration::ZERO..=DAY);
        self.within(
            "initiation.sweep_grace",
            initiation.sweep_grace,
            Duration::ZERO..=DAY,
        );
        let result_timeout = Duration::from_secs(1)..=30 * DAY;
        self.within(
            "initiation.result_timeout",
            initiation.result_timeout,
            result_timeout,
        );
        self.spool_bounds(&config.spool);
        let tolerance = Duration::from_secs(1)..=Duration::from_secs(3600);
        self.within(
            "auth.timestamp_tolerance",
            config.auth.timestamp_tolerance,
            tolerance,
        );
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&config.log.level) {
            let message = format!("`{}` is not a valid filter: {e}", config.log.level);
            self.problems.push("log.level", message);
        }
    }

    fn spool_bounds(&mut self, spool: &SpoolConfig) {
        let wait = Duration::ZERO..=Duration::from_secs(120);
        self.within("spool.wait", spool.wait, wait);
        let initial = Duration::from_millis(10)..=Duration::from_secs(3600);
        self.within("spool.retry_initial", spool.retry_initial, initial);
        let max = spool.retry_initial..=DAY;
        self.within("spool.retry_max", spool.retry_max, max);
        let age = Duration::from_secs(1)..=365 * DAY;
        self.within("spool.max_age", spool.max_age, age);
        self.within("spool.max_bytes", spool.max_bytes, MIB..=1024 * GIB);
    }

    fn cross_field(&mut self, config: &Config) {
        let (initiation, n8n) = (&config.initiation, &config.n8n);
        // The watchdog must not give up on a request another process is
        // still sending: every attempt taking all of `n8n.timeout`, with the
        // longest pause between them.
        let pauses = initiation.attempts.saturating_sub(1);
        let longest =
            n8n.timeout * initiation.attempts + crate::initiation::RETRY_BACKOFF.max * pauses;
        if initiation.result_timeout <= longest {
            self.problems.push(
                "initiation.result_timeout",
                format!(
                    "{:?} does not outlast the longest send to N8N ({longest:?}: \
                     initiation.attempts × n8n.timeout plus the pauses between them)",
                    initiation.result_timeout
                ),
            );
        }
        if config.auth.mode == super::AuthMode::Both && n8n.callback_token.is_none() {
            let what = "auth.mode = \"both\" checks the token as well, so the callback token";
            self.missing(("n8n", "callback_token"), what);
        }
    }

    /// `value` must lie in `range`.
    fn within<T: PartialOrd + Debug>(&mut self, key: &str, value: T, range: RangeInclusive<T>) {
        if !range.contains(&value) {
            let (min, max) = range.into_inner();
            let message = format!("{value:?} is outside the allowed range {min:?} to {max:?}");
            self.problems.push(key, message);
        }
    }

    fn spool_dir(&mut self, mut spool: SpoolConfig) -> SpoolConfig {
        if spool.dir.as_os_str().is_empty() {
            self.problems.push("spool.dir", "must name a directory");
        }
        spool.dir = self.base_dir.join(&spool.dir);
        spool
    }

    fn tls(&mut self, files: TlsFiles) -> Option<TlsConfig> {
        let (cert_file, key_file) = match (files.cert_file, files.key_file) {
            (None, None) => return None,
            (Some(cert), Some(key)) => (self.base_dir.join(cert), self.base_dir.join(key)),
            (Some(_), None) => {
                let message = "is required when tls.cert_file is set";
                self.problems.push("tls.key_file", message);
                return None;
            }
            (None, Some(_)) => {
                let message = "is required when tls.key_file is set";
                self.problems.push("tls.cert_file", message);
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
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let built = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ("tls.cert_file", format!("TLS cannot be set up: {e}")))
            .and_then(|builder| {
                // rustls checks that the key belongs to the certificate.
                builder
                    .with_no_client_auth()
                    .with_single_cert(certs?, key?)
                    .map_err(|e| {
                        let message = format!("does not fit the certificate of tls.cert_file: {e}");
                        ("tls.key_file", message)
                    })
            });
        let mut server_config = match built {
            Ok(server_config) => server_config,
            Err((key, message)) => {
                if !message.is_empty() {
                    self.problems.push(key, message);
                }
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

    /// Reads a PEM file of bounded size and parses it with `parse`; on a
    /// problem (recorded here) the error carries an empty message.
    fn pem_file<T>(
        &mut self,
        key: &'static str,
        path: &Path,
        parse: impl FnOnce(&[u8]) -> Result<T, &'static str>,
    ) -> Result<T, (&'static str, String)> {
        let unreadable = |e: std::io::Error| format!("cannot read the file ({})", e.kind());
        let result = std::fs::metadata(path)
            .map_err(unreadable)
            .and_then(|metadata| match metadata.len() {
                _ if !metadata.is_file() => Err("not a regular file".to_owned()),
                len if len > MAX_PEM_FILE_BYTES => {
                    Err(format!("larger than {MAX_PEM_FILE_BYTES} bytes"))
                }
                _ => std::fs::read(path).map_err(unreadable),
            })
            .and_then(|bytes| parse(&bytes).map_err(str::to_owned));
        result.map_err(|reason| {
            self.problems
                .push(key, format!("{}: {reason}", path.display()));
            (key, String::new())
        })
    }
}
