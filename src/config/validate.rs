//! The second stage: raw values in, a [`Config`] or every [`Problem`] out.
//!
//! Each section has one function; each value one call to a small checker that
//! applies the default, the bounds and the format, and records a problem that
//! names the key. A section is only built when all of its required values are
//! present, and the whole [`Config`] only when no problem was found at all.
//!
//! [`Problem`]: super::Problem

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use url::Url;

use super::raw::{self, RawConfig};
use super::secret::{self, Environment, SecretSpec};
use super::{
    Config, HostPattern, ImageConfig, LogConfig, LogFormat, N8nConfig, OdooApi, OdooConfig,
    Problems, ProtocolMode, RequestLookup, ServerConfig, SpoolConfig,
};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
/// JSON around the base64 `datas` of an attachment create: name, model, ids.
const ODOO_REQUEST_OVERHEAD_BYTES: u64 = 64 * KIB;

/// Validates `raw`, resolving secrets from `env` and files relative to `base_dir`.
pub fn validate(raw: RawConfig, base_dir: &Path, env: &Environment) -> Result<Config, Problems> {
    let mut check = Checker {
        problems: Problems::default(),
        env,
        base_dir,
    };
    let server = check.server(&raw.server);
    let odoo = check.odoo(&raw.odoo);
    let n8n = check.n8n(&raw.n8n);
    let images = check.images(&raw.images);
    let initiation = check.initiation(&raw.initiation, odoo.as_ref().map(|odoo| odoo.lookup));
    if let Some(n8n) = &n8n {
        check.result_timeout_outlasts_a_send(&initiation, n8n.timeout);
    }
    let log = check.log(&raw.log);
    let spool = check.spool(&raw.spool, base_dir);
    if let (Some(odoo), Some(images)) = (&odoo, &images) {
        check.odoo_can_carry_images(odoo, images);
    }
    let auth = check.auth(&raw.auth, n8n.as_ref());
    let limits = check.limits(&raw.limits);
    let tls = check.tls(&raw.tls);
    match (server, odoo, n8n, images, log, spool, auth, limits) {
        (
            Some(server),
            Some(odoo),
            Some(n8n),
            Some(images),
            Some(log),
            Some(spool),
            Some(auth),
            Some(limits),
        ) if check.problems.is_empty() => Ok(Config {
            server,
            odoo,
            n8n,
            images,
            initiation,
            log,
            spool,
            auth,
            limits,
            tls,
        }),
        _ => Err(check.problems),
    }
}

/// Validates `[spool]` alone, resolving no secret (for the `spool`
/// commands): its configuration, or every problem in that section.
pub fn validate_spool(raw: &raw::RawSpool, base_dir: &Path) -> Result<SpoolConfig, Problems> {
    let env = Environment::default();
    let mut check = Checker {
        problems: Problems::default(),
        env: &env,
        base_dir,
    };
    match check.spool(raw, base_dir) {
        Some(spool) if check.problems.is_empty() => Ok(spool),
        _ => Err(check.problems),
    }
}

struct Checker<'a> {
    problems: Problems,
    env: &'a Environment,
    base_dir: &'a Path,
}

impl Checker<'_> {
    fn server(&mut self, raw: &raw::RawServer) -> Option<ServerConfig> {
        let listen = self.socket_addr(
            "server.listen",
            raw.listen.as_deref().unwrap_or(raw::DEFAULT_LISTEN),
        );
        let public_url = self.url(
            "server.public_url",
            raw.public_url.as_deref(),
            Required::Yes(
                "the callback URL sent to N8N is built from it, e.g. https://bridge.example.com",
            ),
        );
        let max_body_bytes = self.bytes(
            "server.max_body_bytes",
            raw.max_body_bytes,
            raw::DEFAULT_MAX_BODY_BYTES,
            KIB,
            GIB,
        );
        let body_read_timeout = self.duration(
            "server.body_read_timeout",
            raw.body_read_timeout.as_deref(),
            raw::DEFAULT_BODY_READ_TIMEOUT,
            (Duration::from_secs(1), Duration::from_secs(600)),
        );
        let shutdown_grace = self.duration(
            "server.shutdown_grace",
            raw.shutdown_grace.as_deref(),
            raw::DEFAULT_SHUTDOWN_GRACE,
            (Duration::ZERO, Duration::from_secs(600)),
        );
        let metrics_listen = match raw.metrics_listen.as_deref() {
            Some(text) => Some(self.socket_addr("server.metrics_listen", text)?),
            None => None,
        };
        Some(ServerConfig {
            listen: listen?,
            public_url: public_url?,
            max_body_bytes,
            body_read_timeout,
            shutdown_grace,
            start_degraded: raw.start_degraded.unwrap_or(false),
            metrics_listen,
        })
    }

    fn odoo(&mut self, raw: &raw::RawOdoo) -> Option<OdooConfig> {
        let url = self.url(
            "odoo.url",
            raw.url.as_deref(),
            Required::Yes("e.g. http://127.0.0.1:8069"),
        );
        let database = self.required_text("odoo.database", raw.database.as_deref());
        let login = self.required_text("odoo.login", raw.login.as_deref());
        let password = self.secret(SecretSpec {
            section: "odoo",
            key: "password",
            inline: raw.password.as_deref(),
            file: raw.password_file.as_deref(),
        });
        if password.is_none() {
            self.missing_secret(
                "odoo",
                "password",
                "the password or an API key of the bridge's Odoo user",
            );
        }
        let timeout = self.duration(
            "odoo.timeout",
            raw.timeout.as_deref(),
            raw::DEFAULT_ODOO_TIMEOUT,
            (Duration::from_secs(1), Duration::from_secs(1800)),
        );
        let max_concurrent_calls = self.count(
            "odoo.max_concurrent_calls",
            raw.max_concurrent_calls,
            raw::DEFAULT_ODOO_MAX_CONCURRENT_CALLS,
            (1, 256),
        );
        let max_request_bytes = self.bytes(
            "odoo.max_request_bytes",
            raw.max_request_bytes,
            raw::DEFAULT_ODOO_MAX_REQUEST_BYTES,
            MIB,
            u64::from(u32::MAX),
        );
        let max_response_bytes = self.bytes(
            "odoo.max_response_bytes",
            raw.max_response_bytes,
            raw::DEFAULT_ODOO_MAX_RESPONSE_BYTES,
            64 * KIB,
            u64::from(u32::MAX),
        );
        let request_model = self.model_name(
            "odoo.request_model",
            raw.request_model.as_deref(),
            raw::DEFAULT_REQUEST_MODEL,
        );
        let image_model = self.model_name(
            "odoo.image_model",
            raw.image_model.as_deref(),
            raw::DEFAULT_IMAGE_MODEL,
        );
        let lookup_text = raw.lookup.as_deref().unwrap_or(raw::DEFAULT_LOOKUP);
        let lookup = RequestLookup::parse(lookup_text);
        if lookup.is_none() {
            self.problems.push(
                "odoo.lookup",
                format!("`{lookup_text}` is not one of `id`, `uuid`, `both`"),
            );
        }
        let uuid_field = self.field_name(
            "odoo.uuid_field",
            raw.uuid_field.as_deref(),
            raw::DEFAULT_UUID_FIELD,
        );
        let api_text = raw.api.as_deref().unwrap_or(raw::DEFAULT_ODOO_API);
        let api = OdooApi::parse(api_text);
        if api.is_none() {
            self.problems.push(
                "odoo.api",
                format!("`{api_text}` is not one of `auto`, `jsonrpc`, `json2`"),
            );
        }
        let protocol_text = raw
            .protocol
            .as_deref()
            .unwrap_or(raw::DEFAULT_ODOO_PROTOCOL);
        let protocol = ProtocolMode::parse(protocol_text);
        if protocol.is_none() {
            self.problems.push(
                "odoo.protocol",
                format!("`{protocol_text}` is not one of `auto`, `companion`, `generic`"),
            );
        }
        let unknown_outcome_wait = self.duration(
            "odoo.unknown_outcome_wait",
            raw.unknown_outcome_wait.as_deref(),
            raw::DEFAULT_UNKNOWN_OUTCOME_WAIT,
            (Duration::from_secs(1), Duration::from_secs(86_400)),
        );
        Some(OdooConfig {
            url: url?,
            database: database?,
            login: login?,
            password: password?,
            timeout,
            max_concurrent_calls,
            // Both were bounded by u32::MAX above.
            max_request_bytes: u32::try_from(max_request_bytes).unwrap_or(u32::MAX),
            max_response_bytes: u32::try_from(max_response_bytes).unwrap_or(u32::MAX),
            request_model: request_model?,
            image_model: image_model?,
            lookup: lookup?,
            uuid_field: uuid_field?,
            api: api?,
            protocol: protocol?,
            unknown_outcome_wait,
        })
    }

    fn n8n(&mut self, raw: &raw::RawN8n) -> Option<N8nConfig> {
        let webhook_url = match raw.webhook_url.as_deref() {
            Some(text) if !secret::is_unset(text) => {
                Some(self.url("n8n.webhook_url", Some(text), Required::No)?)
            }
            _ => None,
        };
        let api_key = self.secret(SecretSpec {
            section: "n8n",
            key: "api_key",
            inline: raw.api_key.as_deref(),
            file: raw.api_key_file.as_deref(),
        });
        let header_text = raw
            .api_key_header
            .as_deref()
            .unwrap_or(raw::DEFAULT_API_KEY_HEADER);
        let api_key_header = http::HeaderName::try_from(header_text).ok();
        if api_key_header.is_none() {
            self.problems.push(
                "n8n.api_key_header",
                format!("`{header_text}` is not a valid HTTP header name"),
            );
        }
        let callback_token = self.secret(SecretSpec {
            section: "n8n",
            key: "callback_token",
            inline: raw.callback_token.as_deref(),
            file: raw.callback_token_file.as_deref(),
        });
        let outbound_token = self.secret(SecretSpec {
            section: "n8n",
            key: "outbound_token",
            inline: raw.outbound_token.as_deref(),
            file: raw.outbound_token_file.as_deref(),
        });
        let timeout = self.duration(
            "n8n.timeout",
            raw.timeout.as_deref(),
            raw::DEFAULT_N8N_TIMEOUT,
            (Duration::from_secs(1), Duration::from_secs(600)),
        );
        Some(N8nConfig {
            webhook_url,
            api_key,
            api_key_header: api_key_header?,
            callback_token,
            outbound_token,
            timeout,
        })
    }

    fn images(&mut self, raw: &raw::RawImages) -> Option<ImageConfig> {
        let max_bytes = self.bytes(
            "images.max_bytes",
            raw.max_bytes,
            raw::DEFAULT_IMAGE_MAX_BYTES,
            KIB,
            GIB,
        );
        let download_timeout = self.duration(
            "images.download_timeout",
            raw.download_timeout.as_deref(),
            raw::DEFAULT_DOWNLOAD_TIMEOUT,
            (Duration::from_secs(1), Duration::from_secs(1800)),
        );
        let max_redirects = self.count(
            "images.max_redirects",
            raw.max_redirects,
            raw::DEFAULT_MAX_REDIRECTS,
            (0, 10),
        );
        let max_pixels = self.number(
            "images.max_pixels",
            raw.max_pixels,
            raw::DEFAULT_IMAGE_MAX_PIXELS,
            (1, 1_000_000_000),
        );
        let allowed_hosts =
            self.host_patterns("images.allowed_hosts", raw.allowed_hosts.as_deref());
        let allowed_ports = self.ports(
            "images.allowed_ports",
            raw.allowed_ports.as_deref(),
            &raw::DEFAULT_ALLOWED_PORTS,
        );
        Some(ImageConfig {
            max_bytes,
            max_pixels,
            download_timeout,
            max_redirects,
            allowed_hosts,
            allow_private_networks: raw.allow_private_networks.unwrap_or(false),
            allowed_ports,
        })
    }

    fn host_patterns(&mut self, key: &str, values: Option<&[String]>) -> Vec<HostPattern> {
        let mut patterns = Vec::new();
        for text in values.unwrap_or_default() {
            match HostPattern::parse(text) {
                Some(pattern) => patterns.push(pattern),
                None => self.problems.push(
                    key,
                    format!(
                        "`{text}` is not a host name, an IP address or a pattern such as *.example.com"
                    ),
                ),
            }
        }
        patterns
    }

    fn ports(&mut self, key: &str, values: Option<&[i64]>, default: &[u16]) -> Vec<u16> {
        let Some(values) = values else {
            return default.to_vec();
        };
        let mut ports = Vec::new();
        for &value in values {
            match u16::try_from(value) {
                Ok(port) if port > 0 => {
                    if !ports.contains(&port) {
                        ports.push(port);
                    }
                }
                _ => self
                    .problems
                    .push(key, format!("{value} is not a port number (1 to 65535)")),
            }
        }
        ports
    }

    fn log(&mut self, raw: &raw::RawLog) -> Option<LogConfig> {
        let level = raw
            .level
            .clone()
            .unwrap_or_else(|| raw::DEFAULT_LOG_LEVEL.to_owned());
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&level) {
            self.problems
                .push("log.level", format!("`{level}` is not a valid filter: {e}"));
        }
        let format_text = raw.format.as_deref().unwrap_or(raw::DEFAULT_LOG_FORMAT);
        let format = LogFormat::parse(format_text);
        if format.is_none() {
            self.problems.push(
                "log.format",
                format!("`{format_text}` is not one of `text`, `json`"),
            );
        }
        Some(LogConfig {
            level,
            format: format?,
        })
    }

    fn spool(&mut self, raw: &raw::RawSpool, base_dir: &Path) -> Option<SpoolConfig> {
        let dir_text = raw.dir.as_deref().unwrap_or(raw::DEFAULT_SPOOL_DIR).trim();
        if dir_text.is_empty() {
            self.problems.push("spool.dir", "must name a directory");
        }
        let wait = self.duration(
            "spool.wait",
            raw.wait.as_deref(),
            raw::DEFAULT_SPOOL_WAIT,
            (Duration::ZERO, Duration::from_secs(120)),
        );
        let retry_initial = self.duration(
            "spool.retry_initial",
            raw.retry_initial.as_deref(),
            raw::DEFAULT_SPOOL_RETRY_INITIAL,
            (Duration::from_millis(10), Duration::from_secs(3600)),
        );
        let retry_max = self.duration(
            "spool.retry_max",
            raw.retry_max.as_deref(),
            raw::DEFAULT_SPOOL_RETRY_MAX,
            (Duration::from_millis(10), Duration::from_secs(24 * 3600)),
        );
        if retry_max < retry_initial {
            self.problems.push(
                "spool.retry_max",
                "must not be shorter than spool.retry_initial",
            );
        }
        let max_attempts = self.count(
            "spool.max_attempts",
            raw.max_attempts,
            raw::DEFAULT_SPOOL_MAX_ATTEMPTS,
            (1, 1_000_000),
        );
        let max_age = self.duration(
            "spool.max_age",
            raw.max_age.as_deref(),
            raw::DEFAULT_SPOOL_MAX_AGE,
            (Duration::from_secs(1), Duration::from_secs(365 * 24 * 3600)),
        );
        let max_bytes = self.bytes(
            "spool.max_bytes",
            raw.max_bytes,
            raw::DEFAULT_SPOOL_MAX_BYTES,
            MIB,
            1024 * GIB,
        );
        let max_entries = self.count(
            "spool.max_entries",
            raw.max_entries,
            raw::DEFAULT_SPOOL_MAX_ENTRIES,
            (1, 100_000_000),
        );
        let max_concurrent = self.count(
            "spool.max_concurrent",
            raw.max_concurrent,
            raw::DEFAULT_SPOOL_MAX_CONCURRENT,
            (1, 256),
        );
        let poll_interval = self.duration(
            "spool.poll_interval",
            raw.poll_interval.as_deref(),
            raw::DEFAULT_SPOOL_POLL_INTERVAL,
            (Duration::from_millis(50), Duration::from_secs(3600)),
        );
        Some(SpoolConfig {
            dir: base_dir.join(dir_text),
            wait,
            fsync: raw.fsync.unwrap_or(true),
            retry_initial,
            retry_max,
            max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
            max_age,
            max_bytes,
            max_entries: max_entries as u64,
            max_concurrent,
            poll_interval,
        })
    }

    /// Odoo receives the image base64-encoded inside one JSON-RPC request, so
    /// the request limit must hold the largest accepted image.
    fn odoo_can_carry_images(&mut self, odoo: &OdooConfig, images: &ImageConfig) {
        let needed = images.max_bytes.div_ceil(3) * 4 + ODOO_REQUEST_OVERHEAD_BYTES;
        if u64::from(odoo.max_request_bytes) < needed {
            self.problems.push(
                "odoo.max_request_bytes",
                format!(
                    "{} bytes cannot carry an image of images.max_bytes = {} as base64; \
                     raise it to at least {needed} or lower images.max_bytes",
                    odoo.max_request_bytes, images.max_bytes
                ),
            );
        }
    }

    // --- one checker per kind of value -------------------------------------

    fn secret(&mut self, spec: SecretSpec<'_>) -> Option<secrecy::SecretString> {
        secret::resolve(&spec, self.env, self.base_dir, &mut self.problems)
    }

    fn missing_secret(&mut self, section: &'static str, key: &'static str, what: &str) {
        self.problems.push(
            format!("{section}.{key}"),
            format!(
                "{what} is required; set `{key}` or `{key}_file` in [{section}], the environment variable {}, \
                 or the systemd credential `{}` (values starting with {} count as unset)",
                secret::env_var_name(section, key),
                secret::credential_name(section, key),
                secret::PLACEHOLDER_PREFIX,
            ),
        );
    }

    fn required_text(&mut self, key: &str, value: Option<&str>) -> Option<String> {
        match value.map(str::trim) {
            Some(text) if !secret::is_unset(text) => Some(text.to_owned()),
            _ => {
                self.problems.push(key, "is required");
                None
            }
        }
    }

    fn socket_addr(&mut self, key: &str, text: &str) -> Option<SocketAddr> {
        let parsed = text.parse().ok();
        if parsed.is_none() {
            self.problems.push(
                key,
                format!("`{text}` is not an address:port such as 127.0.0.1:8787 or [::]:8787"),
            );
        }
        parsed
    }

    fn url(&mut self, key: &str, value: Option<&str>, required: Required) -> Option<Url> {
        let text = match value.map(str::trim) {
            Some(text) if !secret::is_unset(text) => text,
            _ => {
                if let Required::Yes(hint) = required {
                    self.problems.push(key, format!("is required ({hint})"));
                }
                return None;
            }
        };
        let reason = match Url::parse(text) {
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                "must start with http:// or https://"
            }
            Ok(url) if url.host_str().is_none() => "has no host",
            Ok(url) if url.query().is_some() || url.fragment().is_some() => {
                "must not have a query or fragment"
            }
            Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                "must not carry credentials; use the secret keys instead"
            }
            Ok(url) => return Some(url),
            Err(_) => "is not a valid URL",
        };
        // The URL text is not echoed: it might carry credentials.
        self.problems.push(key, reason);
        None
    }

    fn duration(
        &mut self,
        key: &str,
        value: Option<&str>,
        default: &str,
        (min, max): (Duration, Duration),
    ) -> Duration {
        let text = value.unwrap_or(default);
        let fallback = humantime::parse_duration(default).unwrap_or(min);
        match humantime::parse_duration(text) {
            Ok(d) if d >= min && d <= max => d,
            Ok(_) => {
                self.problems.push(
                    key,
                    format!(
                        "`{text}` is outside the allowed range {} to {}",
                        humantime::format_duration(min),
                        humantime::format_duration(max)
                    ),
                );
                fallback
            }
            Err(e) => {
                self.problems.push(
                    key,
                    format!("`{text}` is not a duration such as \"30s\", \"500ms\" or \"5m\": {e}"),
                );
                fallback
            }
        }
    }

    fn bytes(&mut self, key: &str, value: Option<u64>, default: u64, min: u64, max: u64) -> u64 {
        let value = value.unwrap_or(default);
        if !(min..=max).contains(&value) {
            self.problems.push(
                key,
                format!("{value} bytes is outside the allowed range {min} to {max}"),
            );
            return default;
        }
        value
    }

    fn count(
        &mut self,
        key: &str,
        value: Option<u64>,
        default: u64,
        (min, max): (u64, u64),
    ) -> usize {
        let value = value.unwrap_or(default);
        if !(min..=max).contains(&value) {
            self.problems.push(
                key,
                format!("{value} is outside the allowed range {min} to {max}"),
            );
        }
        usize::try_from(value.clamp(min, max)).unwrap_or(usize::MAX)
    }

    fn number(
        &mut self,
        key: &str,
        value: Option<u64>,
        default: u64,
        (min, max): (u64, u64),
    ) -> u64 {
        let value = value.unwrap_or(default);
        if !(min..=max).contains(&value) {
            self.problems.push(
                key,
                format!("{value} is outside the allowed range {min} to {max}"),
            );
            return default;
        }
        value
    }

    fn model_name(&mut self, key: &str, value: Option<&str>, default: &str) -> Option<String> {
        let text = value.unwrap_or(default);
        let valid = !text.is_empty()
            && text
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(is_identifier_byte));
        if !valid {
            self.problems.push(
                key,
                format!("`{text}` is not an Odoo model name such as {default}"),
            );
            return None;
        }
        Some(text.to_owned())
    }

    fn field_name(&mut self, key: &str, value: Option<&str>, default: &str) -> Option<String> {
        let text = value.unwrap_or(default);
        let valid = text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && text.bytes().all(is_identifier_byte);
        if !valid {
            self.problems.push(
                key,
                format!("`{text}` is not an Odoo field name such as {default}"),
            );
            return None;
        }
        Some(text.to_owned())
    }
}

/// Whether a required URL may be left out, and the hint when it is missing.
enum Required {
    Yes(&'static str),
    No,
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
}

mod initiation;
mod security;

#[cfg(test)]
mod tests;
