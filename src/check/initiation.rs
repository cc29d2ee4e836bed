//! The checks of what initiation needs: the callback token, the N8N
//! settings in force (the TOML, else Odoo's system parameters, each line
//! saying where a value came from), whether the webhook can be reached, and
//! how requests reach N8N.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls_platform_verifier::ConfigVerifierExt;
use tokio::net::TcpStream;
use url::Url;

use crate::config::Config;
use crate::odoo::OdooClient;
use crate::parameters::{
    API_KEY_PARAMETER, CALLBACK_TOKEN_PARAMETER, EffectiveN8n, OUTBOUND_TOKEN_PARAMETER,
    ParameterState, Source, Sourced, SystemParameters, WEBHOOK_URL_PARAMETER,
};

use super::Report;
use super::Verdict::{self, Fail, Pass, Warn};

/// The longest a probe of the webhook waits per step.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The N8N settings in force; Odoo is asked only for what the TOML leaves unset.
pub(super) async fn effective(config: &Config) -> Option<EffectiveN8n> {
    let odoo = OdooClient::new(&config.odoo).ok()?;
    Some(SystemParameters::new(odoo).effective(config).await)
}

pub(super) fn callback_token(config: &Config, n8n: Option<&EffectiveN8n>, report: &mut Report) {
    let mode = config.auth.mode;
    if mode.uses_signatures() {
        let count = config.auth.signing_secrets.len();
        let detail = format!("auth.mode = {mode}: {count} signing secret(s) configured");
        report.add("callback signatures", (Pass, detail));
    }
    let line = match n8n.and_then(|n8n| n8n.callback_token.as_ref()) {
        Some(token) if token.source == Source::Config => {
            (Pass, "configured (n8n.callback_token)".to_owned())
        }
        Some(_) => (
            Warn,
            format!(
                "taken from the Odoo system parameter {CALLBACK_TOKEN_PARAMETER}; setting n8n.callback_token \
                 in the configuration is recommended: while Odoo is down at start the token is unknown and \
                 every callback is refused"
            ),
        ),
        // `both` cannot get here: validation requires the token for it.
        None if mode.uses_signatures() => (
            Pass,
            format!("not set; auth.mode = {mode} accepts signed callbacks only"),
        ),
        None => unset(
            "callback_token",
            CALLBACK_TOKEN_PARAMETER,
            "every callback will be refused (fail closed); set it or INFLUENCE_GEN_BRIDGE_N8N_CALLBACK_TOKEN",
        ),
    };
    report.add("callback token", line);
}

/// The system parameters, the webhook, the API key and the ways in.
pub(super) async fn n8n_lines(config: &Config, n8n: Option<&EffectiveN8n>, report: &mut Report) {
    if let Some(n8n) = n8n {
        report.add("system parameters", parameters(config, n8n));
    }
    let webhook = match n8n.and_then(|n8n| n8n.webhook_url.as_ref()) {
        Some(url) => {
            let origin = url.origin("n8n.webhook_url", WEBHOOK_URL_PARAMETER);
            match probe(&url.value, config.n8n.timeout.min(PROBE_TIMEOUT)).await {
                Ok(detail) => (Pass, format!("{detail} (from {origin})")),
                Err(reason) => (Fail, format!("{reason} (from {origin})")),
            }
        }
        None => unset(
            "webhook_url",
            WEBHOOK_URL_PARAMETER,
            "requests cannot be sent to N8N",
        ),
    };
    report.add("n8n webhook", webhook);
    let api_key = match n8n.and_then(|n8n| n8n.api_key.as_ref()) {
        Some(key) => {
            let origin = key.origin("n8n.api_key", API_KEY_PARAMETER);
            (Pass, format!("configured ({origin})"))
        }
        None => unset(
            "api_key",
            API_KEY_PARAMETER,
            "N8N's header auth will refuse the bridge",
        ),
    };
    report.add("n8n api key", api_key);
    let (swept, ways_in) = crate::initiation::ways_in(config);
    report.add("initiation", (if swept { Pass } else { Warn }, ways_in));
}

/// The failure of an `[n8n]` `key` set neither in the TOML nor in Odoo.
fn unset(key: &str, parameter: &str, consequence: &str) -> (Verdict, String) {
    let detail =
        format!("n8n.{key} is not set (nor the Odoo system parameter {parameter}): {consequence}");
    (Fail, detail)
}

/// Whether the system parameters were read, and what was used from them.
fn parameters(config: &Config, n8n: &EffectiveN8n) -> (Verdict, String) {
    let used: Vec<&str> = [
        (from_odoo(&n8n.webhook_url), WEBHOOK_URL_PARAMETER),
        (from_odoo(&n8n.api_key), API_KEY_PARAMETER),
        (from_odoo(&n8n.outbound_token), OUTBOUND_TOKEN_PARAMETER),
        (from_odoo(&n8n.callback_token), CALLBACK_TOKEN_PARAMETER),
    ]
    .into_iter()
    .filter_map(|(odoo, key)| odoo.then_some(key))
    .collect();
    match (&n8n.parameters, used.as_slice()) {
        (ParameterState::NotNeeded, _) => (
            Pass,
            "not read: every [n8n] value is in the configuration".to_owned(),
        ),
        (ParameterState::Read, []) => (
            Pass,
            "read; none of the influence_gen.* values is set in Odoo".to_owned(),
        ),
        (ParameterState::Read, keys) => {
            (Pass, format!("read; used from Odoo: {}", keys.join(", ")))
        }
        (ParameterState::Forbidden, _) => (
            Warn,
            format!(
                "`{}` may not read ir.config_parameter (only Odoo's Settings group can); the influence_gen.* \
                 parameters are ignored and only the [n8n] values of the configuration are used",
                config.odoo.login
            ),
        ),
        (ParameterState::Unavailable(error), _) => (
            Warn,
            format!("cannot read the influence_gen.* parameters from Odoo: {error}"),
        ),
    }
}

fn from_odoo<T>(value: &Option<Sourced<T>>) -> bool {
    value.as_ref().is_some_and(|v| v.source == Source::Odoo)
}

/// Resolves `url`'s host, connects, and for https completes a verified TLS
/// handshake, without sending a request: a probe must never start a
/// workflow. `Ok` carries a one-line description, `Err` the reason.
async fn probe(url: &Url, timeout: Duration) -> Result<String, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let first = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("resolving {host} timed out"))?
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    let stream = tokio::time::timeout(timeout, TcpStream::connect(first))
        .await
        .map_err(|_| format!("connecting to {host}:{port} timed out"))?
        .map_err(|e| format!("{host}:{port} refuses connections: {e}"))?;
    if url.scheme() != "https" {
        return Ok(format!(
            "{host}:{port} accepts connections (plain http; use https beyond a trusted network)"
        ));
    }
    crate::tls::install_crypto_provider();
    let config = rustls::ClientConfig::with_platform_verifier()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host} is not a valid TLS name: {e}"))?;
    tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .map_err(|_| format!("TLS handshake with {host}:{port} timed out"))?
        .map_err(|e| format!("TLS handshake with {host}:{port} failed: {e}"))?;
    Ok(format!(
        "{host}:{port} accepts TLS connections with a trusted certificate"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listening_port_passes_and_a_closed_one_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/webhook/x")).unwrap();
        let detail = probe(&url, Duration::from_secs(2)).await.unwrap();
        assert!(detail.contains("accepts connections"), "{detail}");
        drop(listener);
        let reason = probe(&url, Duration::from_secs(2)).await.unwrap_err();
        assert!(reason.contains("refuses connections"), "{reason}");
    }

    #[tokio::test]
    async fn a_plain_server_fails_the_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let url = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
        let reason = probe(&url, Duration::from_secs(2)).await.unwrap_err();
        assert!(reason.contains("TLS"), "{reason}");
    }
}
