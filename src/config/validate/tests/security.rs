//! `[auth]`, `[limits]` and `[tls]`: one test per key, as in the parent.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{MINIMAL, load, load_env, ok, refused, with};
use crate::config::{AuthMode, Config, Environment, RateLimit};

const KEY_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KEY_B: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn signing_texts(config: &Config) -> Vec<String> {
    config
        .auth
        .signing_secrets
        .iter()
        .map(|secret| secret.text().expose_secret().to_owned())
        .collect()
}

#[test]
fn minimal_config_takes_every_security_default() {
    let config = load(MINIMAL).unwrap();
    assert_eq!(config.auth.mode, AuthMode::Token);
    assert!(config.auth.signing_secrets.is_empty());
    assert_eq!(config.auth.timestamp_tolerance, Duration::from_secs(300));
    assert_eq!(config.limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(config.limits.max_header_bytes, 16 * 1024);
    assert_eq!(config.limits.max_connections, 64);
    assert_eq!(
        config.limits.rate_limit,
        Some(RateLimit {
            per_minute: 6000.try_into().unwrap(),
            burst: 300.try_into().unwrap(),
        })
    );
    assert!(config.limits.trusted_proxies.is_empty());
    assert!(config.tls.is_none());
}

// --- [auth] -----------------------------------------------------------------

#[test]
fn auth_mode() {
    let secrets = format!("signing_secrets = [{KEY_A:?}]");
    for (text, mode) in [
        ("token", AuthMode::Token),
        ("signature", AuthMode::Signature),
        ("either", AuthMode::Either),
    ] {
        let config = ok("auth", &format!("mode = \"{text}\"\n{secrets}"));
        assert_eq!(config.auth.mode, mode);
    }
    let both = with("auth", &format!("mode = \"both\"\n{secrets}"))
        .replace("[odoo]", "[n8n]\ncallback_token = \"t\"\n\n[odoo]");
    assert_eq!(load(&both).unwrap().auth.mode, AuthMode::Both);
    refused("auth", "mode = \"hmac\"", "auth.mode");
}

#[test]
fn a_mode_that_checks_signatures_without_a_secret_fails_closed() {
    for mode in ["signature", "either", "both"] {
        let text = refused(
            "auth",
            &format!("mode = \"{mode}\""),
            "auth.signing_secrets",
        );
        assert!(
            text.contains("INFLUENCE_GEN_BRIDGE_AUTH_SIGNING_SECRETS"),
            "{text}"
        );
        // Placeholders are no secrets either.
        refused(
            "auth",
            &format!("mode = \"{mode}\"\nsigning_secrets = [\"PLACEHOLDER_SIGNING_SECRET\"]"),
            "auth.signing_secrets",
        );
    }
    // `both` also checks the token, so it must be configured.
    refused(
        "auth",
        &format!("mode = \"both\"\nsigning_secrets = [{KEY_A:?}]"),
        "n8n.callback_token",
    );
}

#[test]
fn auth_signing_secrets_inline_and_validated() {
    let config = ok("auth", &format!("signing_secrets = [{KEY_A:?}, {KEY_B:?}]"));
    assert_eq!(signing_texts(&config), [KEY_A, KEY_B]);
    let text = refused(
        "auth",
        "signing_secrets = [\"whsec_not-base64!\"]",
        "auth.signing_secrets",
    );
    assert!(text.contains("entry 1"), "{text}");
    assert!(
        !text.contains("not-base64!"),
        "the value must not be echoed: {text}"
    );
    let text = refused(
        "auth",
        "signing_secrets = [\"whsec_c2hvcnQ=\"]",
        "auth.signing_secrets",
    );
    assert!(text.contains("24 to 64 bytes"), "{text}");
    let nine = vec![format!("{KEY_A:?}"); 9].join(", ");
    refused(
        "auth",
        &format!("signing_secrets = [{nine}]"),
        "auth.signing_secrets",
    );
    refused("auth", "signing_secrets = \"whsec_x\"", "signing_secrets");
}

#[test]
fn auth_signing_secrets_by_environment_file_and_credential() {
    let inline = with("auth", "signing_secrets = [\"PLACEHOLDER\"]");

    let env = Environment::from_pairs([(
        "INFLUENCE_GEN_BRIDGE_AUTH_SIGNING_SECRETS",
        format!("{KEY_A} {KEY_B}"),
    )]);
    assert_eq!(
        signing_texts(&load_env(&inline, &env).unwrap()),
        [KEY_A, KEY_B]
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keys"),
        format!("# rotation\n{KEY_B}\n{KEY_A}\n"),
    )
    .unwrap();
    let text = with("auth", "signing_secrets_file = \"keys\"");
    let config = Config::from_toml(
        &text,
        Path::new("t.toml"),
        dir.path(),
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(signing_texts(&config), [KEY_B, KEY_A]);

    std::fs::write(
        dir.path().join("auth_signing_secrets"),
        format!("{KEY_A}\n"),
    )
    .unwrap();
    let env = Environment::from_pairs([("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap())]);
    assert_eq!(signing_texts(&load_env(&inline, &env).unwrap()), [KEY_A]);

    std::fs::write(
        dir.path().join("placeholder"),
        "PLACEHOLDER_SIGNING_SECRET\n",
    )
    .unwrap();
    let text = with(
        "auth",
        "mode = \"signature\"\nsigning_secrets_file = \"placeholder\"",
    );
    let error = Config::from_toml(
        &text,
        Path::new("t.toml"),
        dir.path(),
        &Environment::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("auth.signing_secrets"), "{error}");

    refused(
        "auth",
        "signing_secrets_file = \"/nonexistent/keys\"",
        "auth.signing_secrets_file",
    );
    refused(
        "auth",
        &format!("signing_secrets = [{KEY_A:?}]\nsigning_secrets_file = \"keys\""),
        "auth.signing_secrets",
    );
}

#[test]
fn auth_timestamp_tolerance() {
    assert_eq!(
        ok("auth", "timestamp_tolerance = \"30s\"")
            .auth
            .timestamp_tolerance,
        Duration::from_secs(30)
    );
    refused(
        "auth",
        "timestamp_tolerance = \"0s\"",
        "auth.timestamp_tolerance",
    );
    refused(
        "auth",
        "timestamp_tolerance = \"2h\"",
        "auth.timestamp_tolerance",
    );
}

#[test]
fn signing_secrets_never_appear_in_debug_or_errors() {
    let config = ok("auth", &format!("signing_secrets = [{KEY_A:?}]"));
    let debug = format!("{config:?}");
    assert!(!debug.contains(&KEY_A[6..]), "{debug}");
}

// --- [limits] ---------------------------------------------------------------

#[test]
fn limits_header_read_timeout() {
    assert_eq!(
        ok("limits", "header_read_timeout = \"2s\"")
            .limits
            .header_read_timeout,
        Duration::from_secs(2)
    );
    refused(
        "limits",
        "header_read_timeout = \"100ms\"",
        "limits.header_read_timeout",
    );
}

#[test]
fn limits_max_header_bytes() {
    assert_eq!(
        ok("limits", "max_header_bytes = 8192")
            .limits
            .max_header_bytes,
        8192
    );
    refused(
        "limits",
        "max_header_bytes = 100",
        "limits.max_header_bytes",
    );
    refused(
        "limits",
        "max_header_bytes = 10000000",
        "limits.max_header_bytes",
    );
}

#[test]
fn limits_max_connections() {
    assert_eq!(
        ok("limits", "max_connections = 2").limits.max_connections,
        2
    );
    refused("limits", "max_connections = 0", "limits.max_connections");
}

#[test]
fn limits_rate_limit() {
    let config = ok("limits", "rate_limit_per_minute = 30\nrate_limit_burst = 5");
    assert_eq!(
        config.limits.rate_limit,
        Some(RateLimit {
            per_minute: 30.try_into().unwrap(),
            burst: 5.try_into().unwrap(),
        })
    );
    assert_eq!(
        ok("limits", "rate_limit_per_minute = 0").limits.rate_limit,
        None
    );
    refused(
        "limits",
        "rate_limit_per_minute = 5000000",
        "limits.rate_limit_per_minute",
    );
    refused("limits", "rate_limit_burst = 0", "limits.rate_limit_burst");
}

#[test]
fn limits_trusted_proxies() {
    let config = ok("limits", "trusted_proxies = [\"127.0.0.1\", \"::1\"]");
    assert_eq!(
        config.limits.trusted_proxies,
        [
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "::1".parse().unwrap()
        ]
    );
    refused(
        "limits",
        "trusted_proxies = [\"10.0.0.0/8\"]",
        "limits.trusted_proxies",
    );
}

// --- [tls] ------------------------------------------------------------------

#[test]
fn tls_cert_and_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let load_in = |lines: &str| {
        Config::from_toml(
            &with("tls", lines),
            Path::new("t.toml"),
            dir.path(),
            &Environment::default(),
        )
    };
    let config = load_in("cert_file = \"cert.pem\"\nkey_file = \"key.pem\"").unwrap();
    let tls = config.tls.unwrap();
    assert_eq!(tls.cert_file, dir.path().join("cert.pem"));
    assert_eq!(tls.server_config.alpn_protocols, [b"http/1.1".to_vec()]);
    assert!(!format!("{tls:?}").contains("PRIVATE"), "{tls:?}");

    let error = |lines: &str| load_in(lines).unwrap_err().to_string();
    assert!(error("cert_file = \"cert.pem\"").contains("tls.key_file"));
    assert!(error("key_file = \"key.pem\"").contains("tls.cert_file"));
    let text = error("cert_file = \"key.pem\"\nkey_file = \"key.pem\"");
    assert!(text.contains("tls.cert_file"), "{text}");
    let text = error("cert_file = \"cert.pem\"\nkey_file = \"cert.pem\"");
    assert!(text.contains("tls.key_file"), "{text}");
    assert!(error("cert_file = \"nope.pem\"\nkey_file = \"key.pem\"").contains("tls.cert_file"));

    // A key that is not the certificate's is refused up front.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(
        dir.path().join("other.pem"),
        other.signing_key.serialize_pem(),
    )
    .unwrap();
    let text = error("cert_file = \"cert.pem\"\nkey_file = \"other.pem\"");
    assert!(text.contains("tls.key_file"), "{text}");
    assert!(text.contains("does not fit"), "{text}");
}
