//! One test per key: its default, a valid override, and an invalid value
//! reported under the key's name. Secrets also by environment, file,
//! credential and placeholder.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::config::{
    Config, ConfigError, Environment, HostPattern, LogFormat, OdooApi, ProtocolMode, RequestLookup,
};

mod initiation;
mod security;

const MINIMAL: &str = r#"
[server]
public_url = "https://bridge.example.com"

[odoo]
url = "http://127.0.0.1:8069"
database = "ig"
login = "bridge"
password = "odoo-pw"
"#;

fn load(text: &str) -> Result<Config, ConfigError> {
    load_env(text, &Environment::default())
}

fn load_env(text: &str, env: &Environment) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("test.toml"), Path::new("."), env)
}

/// MINIMAL with `line` added to `[section]`.
fn with(section: &str, line: &str) -> String {
    let header = format!("[{section}]");
    if MINIMAL.contains(&header) {
        MINIMAL.replacen(&header, &format!("{header}\n{line}"), 1)
    } else {
        format!("{MINIMAL}\n{header}\n{line}\n")
    }
}

fn ok(section: &str, line: &str) -> Config {
    match load(&with(section, line)) {
        Ok(config) => config,
        Err(e) => panic!("[{section}] {line} should be valid: {e}"),
    }
}

/// Asserts that `line` in `[section]` is refused with a message naming `key`.
fn refused(section: &str, line: &str, key: &str) -> String {
    match load(&with(section, line)) {
        Ok(_) => panic!("[{section}] {line} should be refused"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains(key),
                "error for {line} should name {key}: {text}"
            );
            text
        }
    }
}

#[test]
fn minimal_config_takes_every_default() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8787");
    assert_eq!(config.server.max_body_bytes, 64 * 1024 * 1024);
    assert_eq!(config.server.body_read_timeout, Duration::from_secs(30));
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(20));
    assert!(!config.server.start_degraded);
    assert_eq!(config.odoo.timeout, Duration::from_secs(30));
    assert_eq!(config.odoo.max_concurrent_calls, 4);
    assert_eq!(config.odoo.max_request_bytes, 128 * 1024 * 1024);
    assert_eq!(config.odoo.max_response_bytes, 32 * 1024 * 1024);
    assert_eq!(config.odoo.request_model, "influence_gen.ai_image_request");
    assert_eq!(config.odoo.image_model, "influence_gen.generated_image");
    assert_eq!(config.odoo.lookup, RequestLookup::Both);
    assert_eq!(config.odoo.uuid_field, "uuid");
    assert_eq!(config.odoo.protocol, ProtocolMode::Auto);
    assert_eq!(config.odoo.unknown_outcome_wait, Duration::from_secs(150));
    assert!(config.n8n.webhook_url.is_none());
    assert!(config.n8n.api_key.is_none());
    assert_eq!(config.n8n.api_key_header.as_str(), "x-n8n-api-key");
    assert!(config.n8n.callback_token.is_none());
    assert!(config.n8n.outbound_token.is_none());
    assert_eq!(config.n8n.timeout, Duration::from_secs(10));
    assert_eq!(config.images.max_bytes, 40 * 1024 * 1024);
    assert_eq!(config.images.download_timeout, Duration::from_secs(60));
    assert_eq!(config.images.max_redirects, 3);
    assert_eq!(config.images.max_pixels, 40_000_000);
    assert!(config.images.allowed_hosts.is_empty());
    assert!(!config.images.allow_private_networks);
    assert_eq!(config.images.allowed_ports, [80, 443]);
    assert_eq!(config.log.level, "info");
    assert_eq!(config.log.format, LogFormat::Text);
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let text = refused("odoo", "pasword = \"typo\"", "pasword");
    assert!(text.contains("unknown field"), "{text}");
    refused("nope", "x = 1", "nope");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = load("[server]\nlisten = \"x\"\n[odoo]\ntimeout = \"soon\"\n")
        .unwrap_err()
        .to_string();
    for key in [
        "server.listen",
        "server.public_url",
        "odoo.url",
        "odoo.database",
        "odoo.login",
        "odoo.password",
        "odoo.timeout",
    ] {
        assert!(text.contains(key), "missing {key} in {text}");
    }
}

#[test]
fn wrong_type_names_the_key() {
    refused("server", "max_body_bytes = \"big\"", "max_body_bytes");
}

// --- [server] ---------------------------------------------------------------

#[test]
fn server_listen() {
    assert_eq!(
        ok("server", "listen = \"0.0.0.0:9000\"")
            .server
            .listen
            .to_string(),
        "0.0.0.0:9000"
    );
    assert_eq!(
        ok("server", "listen = \"[::1]:9000\"")
            .server
            .listen
            .to_string(),
        "[::1]:9000"
    );
    refused("server", "listen = \"localhost\"", "server.listen");
}

#[test]
fn server_public_url() {
    let config = ok("odoo", "");
    assert_eq!(
        config.server.callback_url(),
        "https://bridge.example.com/influence_gen/ai/callback/image_result"
    );
    let text = MINIMAL.replace("https://bridge.example.com", "https://example.com/bridge/");
    let config = load(&text).unwrap();
    assert_eq!(
        config.server.callback_url(),
        "https://example.com/bridge/influence_gen/ai/callback/image_result"
    );
    for bad in [
        "ftp://x",
        "not a url",
        "https://user:pw@x.example",
        "https://x.example/?a=1",
    ] {
        let text = MINIMAL.replace("https://bridge.example.com", bad);
        let error = load(&text).unwrap_err().to_string();
        assert!(error.contains("server.public_url"), "{bad}: {error}");
        if bad.contains("pw@") {
            assert!(
                !error.contains("pw@"),
                "the URL must not be echoed: {error}"
            );
        }
    }
    let text = MINIMAL.replace("https://bridge.example.com", "PLACEHOLDER_PUBLIC_URL");
    assert!(
        load(&text)
            .unwrap_err()
            .to_string()
            .contains("server.public_url: is required")
    );
}

#[test]
fn server_max_body_bytes() {
    assert_eq!(
        ok("server", "max_body_bytes = 1048576")
            .server
            .max_body_bytes,
        1_048_576
    );
    refused("server", "max_body_bytes = 10", "server.max_body_bytes");
}

#[test]
fn server_body_read_timeout() {
    assert_eq!(
        ok("server", "body_read_timeout = \"5s\"")
            .server
            .body_read_timeout,
        Duration::from_secs(5)
    );
    refused(
        "server",
        "body_read_timeout = \"5 parsecs\"",
        "server.body_read_timeout",
    );
    refused(
        "server",
        "body_read_timeout = \"1h\"",
        "server.body_read_timeout",
    );
}

#[test]
fn server_shutdown_grace() {
    assert_eq!(
        ok("server", "shutdown_grace = \"0s\"")
            .server
            .shutdown_grace,
        Duration::ZERO
    );
    refused("server", "shutdown_grace = \"2h\"", "server.shutdown_grace");
}

#[test]
fn server_metrics_listen() {
    assert_eq!(load(MINIMAL).unwrap().server.metrics_listen, None);
    let config = ok("server", "metrics_listen = \"127.0.0.1:9187\"");
    assert_eq!(
        config.server.metrics_listen.unwrap().to_string(),
        "127.0.0.1:9187"
    );
    refused(
        "server",
        "metrics_listen = \"9187\"",
        "server.metrics_listen",
    );
}

#[test]
fn server_start_degraded() {
    assert!(ok("server", "start_degraded = true").server.start_degraded);
    refused("server", "start_degraded = \"yes\"", "start_degraded");
}

// --- [odoo] -----------------------------------------------------------------

#[test]
fn odoo_url() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(
        config.odoo.jsonrpc_endpoint(),
        "http://127.0.0.1:8069/jsonrpc"
    );
    let config =
        load(&MINIMAL.replace("http://127.0.0.1:8069", "https://erp.example.com/odoo/")).unwrap();
    assert_eq!(
        config.odoo.jsonrpc_endpoint(),
        "https://erp.example.com/odoo/jsonrpc"
    );
    let error = load(&MINIMAL.replace("http://127.0.0.1:8069", "127.0.0.1:8069"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("odoo.url"), "{error}");
}

#[test]
fn odoo_database_and_login() {
    let error = load(&MINIMAL.replace("database = \"ig\"", "database = \"\""))
        .unwrap_err()
        .to_string();
    assert!(error.contains("odoo.database: is required"), "{error}");
    let error = load(&MINIMAL.replace("login = \"bridge\"", ""))
        .unwrap_err()
        .to_string();
    assert!(error.contains("odoo.login: is required"), "{error}");
}

#[test]
fn odoo_password_sources() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(config.odoo.password.expose_secret(), "odoo-pw");

    let env = Environment::from_pairs([("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "env-pw")]);
    assert_eq!(
        load_env(MINIMAL, &env)
            .unwrap()
            .odoo
            .password
            .expose_secret(),
        "env-pw"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "file-pw\n").unwrap();
    let text = MINIMAL.replace("password = \"odoo-pw\"", "password_file = \"pw\"");
    let config = Config::from_toml(
        &text,
        Path::new("t.toml"),
        dir.path(),
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(config.odoo.password.expose_secret(), "file-pw");

    let text = MINIMAL.replace("odoo-pw", "PLACEHOLDER_ODOO_PASSWORD");
    let error = load(&text).unwrap_err().to_string();
    assert!(error.contains("odoo.password"), "{error}");
    assert!(
        error.contains("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD"),
        "{error}"
    );
    assert!(!error.contains("PLACEHOLDER_ODOO_PASSWORD"), "{error}");
}

#[test]
fn odoo_timeout() {
    assert_eq!(
        ok("odoo", "timeout = \"2m\"").odoo.timeout,
        Duration::from_secs(120)
    );
    refused("odoo", "timeout = \"0s\"", "odoo.timeout");
}

#[test]
fn odoo_max_concurrent_calls() {
    assert_eq!(
        ok("odoo", "max_concurrent_calls = 2")
            .odoo
            .max_concurrent_calls,
        2
    );
    refused(
        "odoo",
        "max_concurrent_calls = 0",
        "odoo.max_concurrent_calls",
    );
}

#[test]
fn odoo_max_request_bytes() {
    let config = ok("odoo", "max_request_bytes = 536870912");
    assert_eq!(config.odoo.max_request_bytes, 512 * 1024 * 1024);
    refused(
        "odoo",
        "max_request_bytes = 5000000000",
        "odoo.max_request_bytes",
    );
    // Too small for the largest accepted image, base64-encoded.
    let text = refused(
        "odoo",
        "max_request_bytes = 10485760",
        "odoo.max_request_bytes",
    );
    assert!(text.contains("images.max_bytes"), "{text}");
}

#[test]
fn odoo_max_response_bytes() {
    assert_eq!(
        ok("odoo", "max_response_bytes = 1048576")
            .odoo
            .max_response_bytes,
        1_048_576
    );
    refused(
        "odoo",
        "max_response_bytes = 100",
        "odoo.max_response_bytes",
    );
}

#[test]
fn odoo_model_names() {
    assert_eq!(
        ok("odoo", "request_model = \"x_ai.request\"")
            .odoo
            .request_model,
        "x_ai.request"
    );
    assert_eq!(
        ok("odoo", "image_model = \"x_ai.image\"").odoo.image_model,
        "x_ai.image"
    );
    refused(
        "odoo",
        "request_model = \"Bad Model\"",
        "odoo.request_model",
    );
    refused("odoo", "image_model = \"a..b\"", "odoo.image_model");
}

#[test]
fn odoo_lookup() {
    assert_eq!(ok("odoo", "lookup = \"id\"").odoo.lookup, RequestLookup::Id);
    assert_eq!(
        ok("odoo", "lookup = \"uuid\"").odoo.lookup,
        RequestLookup::Uuid
    );
    refused("odoo", "lookup = \"name\"", "odoo.lookup");
}

#[test]
fn odoo_api() {
    assert_eq!(load(MINIMAL).unwrap().odoo.api, OdooApi::Auto);
    assert_eq!(ok("odoo", "api = \"jsonrpc\"").odoo.api, OdooApi::JsonRpc);
    assert_eq!(ok("odoo", "api = \"json2\"").odoo.api, OdooApi::Json2);
    refused("odoo", "api = \"xmlrpc\"", "odoo.api");
    assert_eq!(
        load(MINIMAL)
            .unwrap()
            .odoo
            .endpoint("/json/2/res.users/context_get"),
        "http://127.0.0.1:8069/json/2/res.users/context_get"
    );
}

#[test]
fn odoo_uuid_field() {
    assert_eq!(
        ok("odoo", "uuid_field = \"x_uuid\"").odoo.uuid_field,
        "x_uuid"
    );
    refused("odoo", "uuid_field = \"1uuid\"", "odoo.uuid_field");
}

#[test]
fn odoo_protocol() {
    assert_eq!(
        ok("odoo", "protocol = \"companion\"").odoo.protocol,
        ProtocolMode::Companion
    );
    assert_eq!(
        ok("odoo", "protocol = \"generic\"").odoo.protocol,
        ProtocolMode::Generic
    );
    assert_eq!(
        ok("odoo", "protocol = \"auto\"").odoo.protocol,
        ProtocolMode::Auto
    );
    refused("odoo", "protocol = \"jsonrpc\"", "odoo.protocol");
}

#[test]
fn odoo_unknown_outcome_wait() {
    assert_eq!(
        ok("odoo", "unknown_outcome_wait = \"5m\"")
            .odoo
            .unknown_outcome_wait,
        Duration::from_secs(300)
    );
    refused(
        "odoo",
        "unknown_outcome_wait = \"0s\"",
        "odoo.unknown_outcome_wait",
    );
    refused(
        "odoo",
        "unknown_outcome_wait = \"soon\"",
        "odoo.unknown_outcome_wait",
    );
}

// --- [n8n] ------------------------------------------------------------------

#[test]
fn n8n_webhook_url() {
    let config = ok(
        "n8n",
        "webhook_url = \"https://n8n.example.com/webhook/ig\"",
    );
    assert_eq!(
        config.n8n.webhook_url.unwrap().as_str(),
        "https://n8n.example.com/webhook/ig"
    );
    assert!(
        ok("n8n", "webhook_url = \"PLACEHOLDER_YOUR_N8N_WEBHOOK_URL\"")
            .n8n
            .webhook_url
            .is_none()
    );
    refused("n8n", "webhook_url = \"n8n/webhook\"", "n8n.webhook_url");
}

#[test]
fn n8n_secrets_by_every_source() {
    for key in ["api_key", "callback_token", "outbound_token"] {
        let config = ok("n8n", &format!("{key} = \"inline-{key}\""));
        assert_eq!(
            n8n_secret(&config, key).as_deref(),
            Some(format!("inline-{key}").as_str())
        );

        let config = ok("n8n", &format!("{key} = \"PLACEHOLDER_A_STRONG_SECRET\""));
        assert_eq!(n8n_secret(&config, key), None);

        let var = format!("INFLUENCE_GEN_BRIDGE_N8N_{}", key.to_uppercase());
        let env = Environment::from_pairs([(var, format!("env-{key}"))]);
        let config = load_env(&with("n8n", &format!("{key} = \"inline\"")), &env).unwrap();
        assert_eq!(
            n8n_secret(&config, key).as_deref(),
            Some(format!("env-{key}").as_str())
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), format!("file-{key}\n")).unwrap();
        let text = with("n8n", &format!("{key}_file = \"s\""));
        let config = Config::from_toml(
            &text,
            Path::new("t.toml"),
            dir.path(),
            &Environment::default(),
        )
        .unwrap();
        assert_eq!(
            n8n_secret(&config, key).as_deref(),
            Some(format!("file-{key}").as_str())
        );

        std::fs::write(dir.path().join(format!("n8n_{key}")), format!("cred-{key}")).unwrap();
        let env =
            Environment::from_pairs([("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap())]);
        let config = load_env(MINIMAL, &env).unwrap();
        assert_eq!(
            n8n_secret(&config, key).as_deref(),
            Some(format!("cred-{key}").as_str())
        );

        refused(
            "n8n",
            &format!("{key}_file = \"/nonexistent/secret\""),
            &format!("n8n.{key}_file"),
        );
    }
}

fn n8n_secret(config: &Config, key: &str) -> Option<String> {
    let secret = match key {
        "api_key" => &config.n8n.api_key,
        "callback_token" => &config.n8n.callback_token,
        "outbound_token" => &config.n8n.outbound_token,
        _ => unreachable!("unknown key {key}"),
    };
    secret.as_ref().map(|s| s.expose_secret().to_owned())
}

#[test]
fn n8n_api_key_header() {
    assert_eq!(
        ok("n8n", "api_key_header = \"X-Api-Key\"")
            .n8n
            .api_key_header
            .as_str(),
        "x-api-key"
    );
    refused(
        "n8n",
        "api_key_header = \"bad header\"",
        "n8n.api_key_header",
    );
}

#[test]
fn n8n_timeout() {
    assert_eq!(
        ok("n8n", "timeout = \"3s\"").n8n.timeout,
        Duration::from_secs(3)
    );
    refused("n8n", "timeout = \"-1s\"", "n8n.timeout");
}

// --- [images] ---------------------------------------------------------------

#[test]
fn images_max_bytes() {
    assert_eq!(
        ok("images", "max_bytes = 1048576").images.max_bytes,
        1_048_576
    );
    refused("images", "max_bytes = 1", "images.max_bytes");
}

#[test]
fn images_download_timeout() {
    assert_eq!(
        ok("images", "download_timeout = \"15s\"")
            .images
            .download_timeout,
        Duration::from_secs(15)
    );
    refused(
        "images",
        "download_timeout = \"fast\"",
        "images.download_timeout",
    );
}

#[test]
fn images_max_redirects() {
    assert_eq!(ok("images", "max_redirects = 0").images.max_redirects, 0);
    refused("images", "max_redirects = 50", "images.max_redirects");
}

#[test]
fn images_max_pixels() {
    assert_eq!(
        ok("images", "max_pixels = 1000000").images.max_pixels,
        1_000_000
    );
    refused("images", "max_pixels = 0", "images.max_pixels");
    refused("images", "max_pixels = 2000000000", "images.max_pixels");
}

#[test]
fn images_allowed_hosts() {
    let config = ok(
        "images",
        "allowed_hosts = [\"Images.Example.com\", \"*.cdn.example.net\", \"10.0.0.5\", \"[fd00::5]\"]",
    );
    assert_eq!(
        config.images.allowed_hosts,
        [
            HostPattern::Exact("images.example.com".into()),
            HostPattern::Subdomains("cdn.example.net".into()),
            HostPattern::Exact("10.0.0.5".into()),
            HostPattern::Exact("[fd00::5]".into()),
        ]
    );
    for bad in [
        "\"\"",
        "\"bad host\"",
        "\"*.10.0.0.1\"",
        "\"a.*.example.com\"",
        "\"*\"",
    ] {
        refused(
            "images",
            &format!("allowed_hosts = [{bad}]"),
            "images.allowed_hosts",
        );
    }
    refused("images", "allowed_hosts = \"example.com\"", "allowed_hosts");
}

#[test]
fn host_patterns_match_exact_hosts_and_subdomains() {
    let exact = HostPattern::parse("images.example.com").unwrap();
    assert!(exact.matches("images.example.com"));
    assert!(exact.matches("images.example.com."));
    assert!(!exact.matches("x.images.example.com"));
    assert!(!exact.matches("example.com"));
    let subdomains = HostPattern::parse("*.example.com").unwrap();
    assert!(subdomains.matches("a.example.com"));
    assert!(subdomains.matches("b.a.example.com"));
    assert!(!subdomains.matches("example.com"));
    assert!(!subdomains.matches("badexample.com"));
    assert!(!subdomains.matches(".example.com"));
    assert_eq!(subdomains.to_string(), "*.example.com");
}

#[test]
fn images_allow_private_networks() {
    assert!(
        ok("images", "allow_private_networks = true")
            .images
            .allow_private_networks
    );
    refused(
        "images",
        "allow_private_networks = \"yes\"",
        "allow_private_networks",
    );
}

#[test]
fn images_allowed_ports() {
    assert_eq!(
        ok("images", "allowed_ports = [443, 8443, 443]")
            .images
            .allowed_ports,
        [443, 8443]
    );
    assert!(
        ok("images", "allowed_ports = []")
            .images
            .allowed_ports
            .is_empty()
    );
    refused("images", "allowed_ports = [0]", "images.allowed_ports");
    refused("images", "allowed_ports = [70000]", "images.allowed_ports");
    refused("images", "allowed_ports = [-1]", "images.allowed_ports");
}

// --- [log] ------------------------------------------------------------------

#[test]
fn log_level() {
    assert_eq!(
        ok("log", "level = \"influence_gen_bridge=debug,info\"")
            .log
            .level,
        "influence_gen_bridge=debug,info"
    );
    refused("log", "level = \"loud=[\"", "log.level");
}

#[test]
fn log_format() {
    assert_eq!(ok("log", "format = \"json\"").log.format, LogFormat::Json);
    refused("log", "format = \"xml\"", "log.format");
}

// --- secrets never escape ---------------------------------------------------

#[test]
fn debug_output_redacts_every_secret() {
    let text = [
        MINIMAL.to_owned(),
        "[n8n]\napi_key = \"k-123\"\ncallback_token = \"cb-456\"\noutbound_token = \"ob-789\"\n"
            .to_owned(),
    ]
    .concat();
    let config = load(&text).unwrap();
    let debug = format!("{config:?}");
    for secret in ["odoo-pw", "k-123", "cb-456", "ob-789"] {
        assert!(
            !debug.contains(secret),
            "{secret} leaked into Debug: {debug}"
        );
    }
}

#[test]
fn errors_never_echo_secret_values() {
    // A secret that is valid TOML but sits under a wrong key is reported by key.
    let text = MINIMAL.replace(
        "password = \"odoo-pw\"",
        "password = \"odoo-pw\"\npassword_file = \"x\"",
    );
    let error = load(&text).unwrap_err().to_string();
    assert!(error.contains("odoo.password"), "{error}");
    assert!(!error.contains("odoo-pw"), "{error}");
}

// --- the shipped example ----------------------------------------------------

#[test]
fn example_config_documents_every_key() {
    let example = include_str!("../../../config.example.toml");
    let keys = [
        (
            "server",
            &[
                "listen",
                "public_url",
                "max_body_bytes",
                "body_read_timeout",
                "shutdown_grace",
                "start_degraded",
                "metrics_listen",
            ][..],
        ),
        (
            "odoo",
            &[
                "url",
                "database",
                "login",
                "password",
                "password_file",
                "timeout",
                "max_concurrent_calls",
                "max_request_bytes",
                "max_response_bytes",
                "request_model",
                "image_model",
                "lookup",
                "uuid_field",
                "protocol",
                "unknown_outcome_wait",
            ],
        ),
        (
            "n8n",
            &[
                "webhook_url",
                "api_key",
                "api_key_file",
                "api_key_header",
                "callback_token",
                "callback_token_file",
                "outbound_token",
                "outbound_token_file",
                "timeout",
            ],
        ),
        (
            "images",
            &[
                "max_bytes",
                "max_pixels",
                "download_timeout",
                "max_redirects",
                "allowed_hosts",
                "allow_private_networks",
                "allowed_ports",
            ],
        ),
        (
            "initiation",
            &[
                "send_id_as",
                "trigger_secret",
                "trigger_secret_file",
                "trigger_visibility_timeout",
                "max_pending_triggers",
                "sweep_interval",
                "sweep_grace",
                "sweep_batch",
                "max_concurrent",
                "attempts",
                "retry_backoff",
                "retry_backoff_max",
                "parameter_cache_ttl",
            ],
        ),
        ("log", &["level", "format"]),
        (
            "spool",
            &[
                "dir",
                "wait",
                "fsync",
                "retry_initial",
                "retry_max",
                "max_attempts",
                "max_age",
                "max_bytes",
                "max_entries",
                "max_concurrent",
                "poll_interval",
            ],
        ),
        (
            "auth",
            &[
                "mode",
                "signing_secrets",
                "signing_secrets_file",
                "timestamp_tolerance",
            ],
        ),
        (
            "limits",
            &[
                "header_read_timeout",
                "max_header_bytes",
                "max_connections",
                "rate_limit_per_minute",
                "rate_limit_burst",
                "trusted_proxies",
            ],
        ),
        ("tls", &["cert_file", "key_file"]),
    ];
    for (section, names) in keys {
        assert!(
            example.contains(&format!("[{section}]")),
            "[{section}] missing from config.example.toml"
        );
        for name in names {
            let documented = example.lines().any(|line| {
                let line = line.trim_start_matches(['#', ' ']);
                line.starts_with(&format!("{name} ="))
            });
            assert!(
                documented,
                "{section}.{name} is not documented in config.example.toml"
            );
        }
    }
}

#[test]
fn example_config_is_valid_once_secrets_are_provided() {
    let example = include_str!("../../../config.example.toml");
    let env = Environment::from_pairs([("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "pw")]);
    let config = load_env(example, &env).unwrap();
    // Its placeholders count as unset: the example configures no secret.
    assert!(config.n8n.callback_token.is_none());
    assert!(config.n8n.api_key.is_none());
    // Without the password it names the missing secret.
    assert!(
        load(example)
            .unwrap_err()
            .to_string()
            .contains("odoo.password")
    );
}

// --- [spool] ----------------------------------------------------------------

#[test]
fn spool_defaults() {
    let config = load(MINIMAL).unwrap();
    let spool = &config.spool;
    assert_eq!(spool.dir, Path::new("/var/lib/influence-gen-bridge/spool"));
    assert_eq!(spool.wait, Duration::from_secs(5));
    assert!(spool.fsync);
    assert_eq!(spool.retry_initial, Duration::from_secs(1));
    assert_eq!(spool.retry_max, Duration::from_secs(300));
    assert_eq!(spool.max_attempts, 5000);
    assert_eq!(spool.max_age, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(spool.max_bytes, 4 * 1024 * 1024 * 1024);
    assert_eq!(spool.max_entries, 100_000);
    assert_eq!(spool.max_concurrent, 4);
    assert_eq!(spool.poll_interval, Duration::from_secs(5));
}

#[test]
fn spool_dir() {
    assert_eq!(
        ok("spool", "dir = \"/srv/spool\"").spool.dir,
        Path::new("/srv/spool")
    );
    // Relative to the configuration file's directory.
    let text = with("spool", "dir = \"spool\"");
    let config = Config::from_toml(
        &text,
        Path::new("/etc/igb/c.toml"),
        Path::new("/etc/igb"),
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(config.spool.dir, Path::new("/etc/igb/spool"));
    refused("spool", "dir = \" \"", "spool.dir");
}

#[test]
fn spool_wait() {
    assert_eq!(ok("spool", "wait = \"0s\"").spool.wait, Duration::ZERO);
    refused("spool", "wait = \"10m\"", "spool.wait");
}

#[test]
fn spool_fsync() {
    assert!(!ok("spool", "fsync = false").spool.fsync);
    refused("spool", "fsync = \"no\"", "fsync");
}

#[test]
fn spool_retry_schedule() {
    let config = ok("spool", "retry_initial = \"100ms\"\nretry_max = \"10s\"");
    assert_eq!(config.spool.retry_initial, Duration::from_millis(100));
    assert_eq!(config.spool.retry_max, Duration::from_secs(10));
    refused("spool", "retry_initial = \"1ms\"", "spool.retry_initial");
    refused(
        "spool",
        "retry_initial = \"10s\"\nretry_max = \"1s\"",
        "spool.retry_max",
    );
}

#[test]
fn spool_max_attempts_and_age() {
    assert_eq!(ok("spool", "max_attempts = 3").spool.max_attempts, 3);
    refused("spool", "max_attempts = 0", "spool.max_attempts");
    assert_eq!(
        ok("spool", "max_age = \"1h\"").spool.max_age,
        Duration::from_secs(3600)
    );
    refused("spool", "max_age = \"forever\"", "spool.max_age");
}

#[test]
fn spool_size_bounds() {
    assert_eq!(
        ok("spool", "max_bytes = 104857600").spool.max_bytes,
        104_857_600
    );
    refused("spool", "max_bytes = 10", "spool.max_bytes");
    assert_eq!(ok("spool", "max_entries = 10").spool.max_entries, 10);
    refused("spool", "max_entries = 0", "spool.max_entries");
}

#[test]
fn spool_concurrency_and_polling() {
    assert_eq!(ok("spool", "max_concurrent = 16").spool.max_concurrent, 16);
    refused("spool", "max_concurrent = 0", "spool.max_concurrent");
    assert_eq!(
        ok("spool", "poll_interval = \"1s\"").spool.poll_interval,
        Duration::from_secs(1)
    );
    refused("spool", "poll_interval = \"1ms\"", "spool.poll_interval");
}

#[test]
fn every_documented_value_in_the_example_is_valid() {
    // Uncomment every `# key = value` line: each key must exist (unknown
    // keys are refused) and each documented value must validate. Secret
    // *_file keys and the TLS files point at files that do not exist here,
    // and a key and its _file are exclusive, so those stay commented.
    let example = include_str!("../../../config.example.toml");
    let uncommented: String = example
        .lines()
        .map(|line| {
            let body = line.trim_start_matches("# ");
            let is_setting = line.starts_with("# ")
                && body
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' '));
            let is_secret = [
                "password",
                "api_key",
                "callback_token",
                "outbound_token",
                "trigger_secret",
                "signing_secrets",
                "cert",
                "key",
            ]
            .iter()
            .any(|s| {
                body.starts_with(&format!("{s} =")) || body.starts_with(&format!("{s}_file ="))
            });
            if is_setting && !is_secret {
                body.to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let env = Environment::from_pairs([("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "pw")]);
    if let Err(error) = load_env(&uncommented, &env) {
        panic!("the example's documented values do not validate: {error}\n{uncommented}");
    }
}
