//! What serde cannot check: secrets, bounds, the rules between keys and the
//! TLS files; every problem is collected. Fails closed: a mode that checks
//! signatures without a usable signing secret, or `both` without a callback
//! token, is a problem naming the missing key, never a daemon accepting less.

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretString};

use super::secret::{self, Environment, Source};
use super::{AuthMode, Config, ConfigError, MIB, Problems, SpoolConfig, TlsConfig, TlsFiles, secs};
use crate::auth::SigningSecret;

const DAY: Duration = secs(86_400);
/// An image's base64 and the JSON around it must fit the bridge's 128 MiB
/// request limit toward Odoo (Werkzeug 3's own).
const MAX_IMAGE_BYTES: u64 = 95 * MIB;
/// More signing secrets than this is a mistake: rotation needs two or three.
const MAX_SIGNING_SECRETS: usize = 8;
/// A trigger secret travels in a URL path: long enough not to be guessed,
/// and only characters that need no escaping (RFC 3986 "unreserved").
const TRIGGER_SECRET_CHARS: RangeInclusive<usize> = 16..=256;
/// The value the example addon ships in its automation rule's URL.
const ADDON_PLACEHOLDER_SECRET: &str = "CHANGE-ME-SECRET";

/// Each `key` of `section` (its value in `$values`) must lie in its range.
macro_rules! within {
    ($problems:expr, $section:literal, $values:expr; $($key:ident: $range:expr),+ $(,)?) => {$(
        let (value, range) = ($values.$key, $range);
        if !range.contains(&value) {
            let (min, max) = range.into_inner();
            let message = format!("{value:?} is outside the allowed range {min:?} to {max:?}");
            $problems.push(concat!($section, ".", stringify!($key)), message);
        }
    )+};
}

/// Validates `config` (read from `path`), resolving secrets from `env` and
/// files relative to `base_dir`.
pub(super) fn validate(
    mut config: Config,
    path: &Path,
    base_dir: &Path,
    env: &Environment,
) -> Result<Config, ConfigError> {
    let mut check = Check {
        problems: Problems::default(),
        env,
        base_dir,
    };
    check.secrets(&mut config);
    check.bounds(&config);
    check.cross_field(&config);
    config.tls = config.tls_files.take().and_then(|files| check.tls(files));
    spool(&mut config.spool, base_dir, &mut check.problems);
    check.problems.or(config, path)
}

/// Checks `[spool]` and makes its directory relative to `base_dir`.
pub(super) fn spool(spool: &mut SpoolConfig, base_dir: &Path, problems: &mut Problems) {
    within!(problems, "spool", spool;
        wait: Duration::ZERO..=secs(120),
        retry_initial: Duration::from_millis(10)..=secs(3600),
        retry_max: spool.retry_initial..=DAY,
        max_age: secs(1)..=365 * DAY,
        max_bytes: MIB..=1024 * 1024 * MIB,
    );
    if spool.dir.as_os_str().is_empty() {
        problems.push("spool.dir", "must name a directory");
    }
    spool.dir = base_dir.join(&spool.dir);
}

struct Check<'a> {
    problems: Problems,
    env: &'a Environment,
    base_dir: &'a Path,
}

impl Check<'_> {
    fn secrets(&mut self, config: &mut Config) {
        let password = config.odoo.password_source.take();
        match self.secret(("odoo", "password"), password) {
            Some(password) => config.odoo.password = password,
            None => self.missing(("odoo", "password"), "the Odoo user's password or API key"),
        }
        let n8n = &mut config.n8n;
        n8n.api_key = self.secret(("n8n", "api_key"), n8n.api_key_source.take());
        let token = n8n.callback_token_source.take();
        n8n.callback_token = self.secret(("n8n", "callback_token"), token);
        let token = n8n.outbound_token_source.take();
        n8n.outbound_token = self.secret(("n8n", "outbound_token"), token);
        let trigger = config.initiation.trigger_secret_source.take();
        let trigger = self.secret(("initiation", "trigger_secret"), trigger);
        config.initiation.trigger_secret = trigger.filter(|secret| self.usable_trigger(secret));

        let auth = &mut config.auth;
        let written = auth.signing_secrets_source.take();
        let sources = (self.env, self.base_dir);
        let key = ("auth", "signing_secrets");
        let texts = secret::resolve(key, written, true, sources, &mut self.problems);
        if texts.len() > MAX_SIGNING_SECRETS {
            let message = format!("{} given; at most {MAX_SIGNING_SECRETS}", texts.len());
            self.problems.push("auth.signing_secrets", message);
        }
        for (index, text) in texts.iter().enumerate() {
            match SigningSecret::parse(text) {
                Ok(secret) => auth.signing_secrets.push(secret),
                Err(reason) => {
                    let message = format!("entry {} {reason}", index + 1);
                    self.problems.push("auth.signing_secrets", message);
                }
            }
        }
        if auth.mode.uses_signatures() && texts.is_empty() {
            let what = format!(
                "auth.mode = \"{}\" checks signatures, so a signing secret",
                auth.mode
            );
            self.missing(("auth", "signing_secrets"), &what);
        }
    }

    fn secret(
        &mut self,
        key: (&str, &str),
        written: Option<Source<SecretString>>,
    ) -> Option<SecretString> {
        let written = written.map(|source| match source {
            Source::Inline(value) => Source::Inline(vec![value]),
            Source::File { file } => Source::File { file },
        });
        let sources = (self.env, self.base_dir);
        let mut values = secret::resolve(key, written, false, sources, &mut self.problems);
        values.pop()
    }

    fn missing(&mut self, (section, key): (&str, &str), what: &str) {
        let var = secret::env_var_name(section, key);
        let message = format!(
            "{what} is required; set `{key}` in [{section}] (a value or {{ file = \"path\" }}), \
             the environment variable {var}, or the systemd credential `{section}_{key}` \
             (values starting with {} count as unset)",
            secret::PLACEHOLDER_PREFIX,
        );
        self.problems.push(format!("{section}.{key}"), message);
    }

    /// Says what is wrong with a trigger secret, never its value.
    fn usable_trigger(&mut self, secret: &SecretString) -> bool {
        let text = secret.expose_secret();
        let length = text.chars().count();
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        let reason = if text.eq_ignore_ascii_case(ADDON_PLACEHOLDER_SECRET) {
            "is the example addon's placeholder; generate one, e.g. `openssl rand -hex 24`".into()
        } else if !TRIGGER_SECRET_CHARS.contains(&length) {
            format!("must be {TRIGGER_SECRET_CHARS:?} characters long (it has {length})")
        } else if !text.bytes().all(unreserved) {
            "may hold only letters, digits and - . _ ~ (it travels in a URL path)".into()
        } else {
            return true;
        };
        self.problems.push("initiation.trigger_secret", reason);
        false
    }

    fn bounds(&mut self, config: &Config) {
        let timeout = secs(1)..=secs(1800);
        within!(self.problems, "server", config.server;
            max_body_bytes: 1024..=1024 * MIB,
            max_connections: 1..=65_536,
            shutdown_grace: Duration::ZERO..=secs(600),
        );
        within!(self.problems, "odoo", config.odoo;
            timeout: timeout.clone(),
            max_concurrent_calls: 1..=256,
            unknown_outcome_wait: secs(1)..=DAY,
        );
        within!(self.problems, "n8n", config.n8n; timeout: secs(1)..=secs(600));
        within!(self.problems, "images", config.images;
            max_bytes: 1024..=MAX_IMAGE_BYTES,
            max_pixels: 1..=1_000_000_000,
            download_timeout: timeout,
        );
        within!(self.problems, "initiation", config.initiation;
            attempts: 1..=10,
            sweep_grace: Duration::ZERO..=DAY,
            result_timeout: secs(1)..=30 * DAY,
        );
        within!(self.problems, "auth", config.auth; timestamp_tolerance: secs(1)..=secs(3600));
        for (key, text) in [
            ("odoo.database", &config.odoo.database),
            ("odoo.login", &config.odoo.login),
        ] {
            if secret::is_unset(text) {
                self.problems.push(key, "is required");
            }
        }
        if config.images.allowed_ports.contains(&0) {
            self.problems
                .push("images.allowed_ports", "0 is not a port (1 to 65535)");
        }
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&config.log.level) {
            let message = format!("`{}` is not a valid filter: {e}", config.log.level);
            self.problems.push("log.level", message);
        }
    }

    fn cross_field(&mut self, config: &Config) {
        let (initiation, n8n) = (&config.initiation, &config.n8n);
        // The watchdog must not give up on a request another process is
        // still sending: every attempt taking all of `n8n.timeout`, with the
        // longest pause between them.
        let pauses = initiation.attempts.saturating_sub(1);
        let backoff = crate::initiation::RETRY_BACKOFF.max;
        let longest = n8n.timeout * initiation.attempts + backoff * pauses;
        if initiation.result_timeout <= longest {
            let message = format!(
                "{:?} does not outlast the longest send to N8N ({longest:?}: \
                 initiation.attempts × n8n.timeout plus the pauses between them)",
                initiation.result_timeout
            );
            self.problems.push("initiation.result_timeout", message);
        }
        if config.auth.mode == AuthMode::Both && n8n.callback_token.is_none() {
            let what = "auth.mode = \"both\" checks the token as well, so the callback token";
            self.missing(("n8n", "callback_token"), what);
        }
    }

    fn tls(&mut self, files: TlsFiles) -> Option<TlsConfig> {
        let cert_file = self.base_dir.join(files.cert_file);
        let certs = CertificateDer::pem_file_iter(&cert_file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .ok()
            .filter(|certs| !certs.is_empty());
        let key_file = self.base_dir.join(files.key_file);
        let key = PrivateKeyDer::from_pem_file(&key_file).ok();
        for (key, path, what, ok) in [
            ("tls.cert_file", &cert_file, "certificate", certs.is_some()),
            ("tls.key_file", &key_file, "private key", key.is_some()),
        ] {
            if !ok {
                let message = format!("{}: no readable PEM {what}", path.display());
                self.problems.push(key, message);
            }
        }
        let (certs, key) = (certs?, key?);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // rustls checks that the key belongs to the certificate.
        let built = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key));
        match built {
            Ok(mut server_config) => {
                server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
                let server_config = Arc::new(server_config);
                Some(TlsConfig { server_config })
            }
            Err(e) => {
                let message = format!("does not fit the certificate of tls.cert_file: {e}");
                self.problems.push("tls.key_file", message);
                None
            }
        }
    }
}
