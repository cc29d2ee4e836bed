//! What the configuration promises: every error names its key; bounds and
//! the rules between keys; where secrets come from and in which order; a
//! placeholder fails closed; unknown and removed keys are refused; the
//! shipped `config.example.toml` is valid and has at most 45 keys.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

/// The smallest valid file.
const BASE: &str = r#"
[server]
public_url = "https://bridge.example.com"
[odoo]
url = "http://127.0.0.1:8069"
database = "ig"
login = "bridge"
password = "pw"
"#;

fn load_in(dir: &Path, text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml(
        text,
        Path::new("c.toml"),
        dir,
        &Environment::from_pairs(env),
    )
}

fn load(text: &str) -> Result<Config, ConfigError> {
    load_in(Path::new("/etc/bridge"), text, &[])
}

/// `BASE` with `lines` added to `[section]` (a new section when absent).
fn with(section: &str, lines: &str) -> String {
    let header = format!("[{section}]\n");
    match BASE.find(&header) {
        Some(at) => {
            let at = at + header.len();
            format!("{}{lines}\n{}", &BASE[..at], &BASE[at..])
        }
        None => format!("{BASE}{header}{lines}\n"),
    }
}

/// The error text of a file that must be refused.
fn error(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error.to_string(),
    }
}

/// Asserts that `text` is refused with a message naming `key` and saying `what`.
#[track_caller]
fn refused(text: &str, key: &str, what: &str) {
    let error = error(text);
    assert!(
        error.contains(&format!("{key}: ")) && error.contains(what),
        "expected `{key}: …{what}…` in:\n{error}"
    );
}

#[test]
fn a_minimal_file_takes_the_documented_defaults() {
    let config = load(BASE).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8787");
    assert_eq!(config.server.max_connections, 64);
    assert_eq!(config.odoo.timeout, Duration::from_secs(30));
    assert_eq!(config.odoo.protocol, ProtocolMode::Auto);
    assert_eq!(config.odoo.api, OdooApi::Auto);
    assert_eq!(config.images.allowed_ports, [80, 443]);
    assert_eq!(
        config.initiation.sweep_interval,
        Some(Duration::from_secs(60))
    );
    assert_eq!(config.spool.max_age, Duration::from_secs(7 * 86_400));
    assert_eq!(config.auth.mode, AuthMode::Token);
    assert_eq!(config.log.format, LogFormat::Text);
    assert!(config.tls.is_none() && config.n8n.callback_token.is_none());
    assert_eq!(
        config.server.callback_url(),
        "https://bridge.example.com/influence_gen/ai/callback/image_result"
    );
}

#[test]
fn values_are_parsed_into_their_types() {
    let config = load(&format!(
        "{}[images]\nallowed_hosts = [\"*.cdn.example.com\", \"Images.Example.com.\"]\n\
         [initiation]\nsweep_interval = \"0s\"\n[spool]\ndir = \"spool\"\nwait = \"1500ms\"\n",
        with("odoo", "protocol = \"generic\"\napi = \"json2\"")
    ))
    .unwrap();
    assert_eq!(config.odoo.protocol, ProtocolMode::Generic);
    assert_eq!(config.odoo.api, OdooApi::Json2);
    assert_eq!(config.initiation.sweep_interval, None, "0s turns it off");
    assert_eq!(config.spool.wait, Duration::from_millis(1500));
    assert_eq!(config.spool.dir, Path::new("/etc/bridge/spool"));
    let hosts = &config.images.allowed_hosts;
    assert!(hosts[0].matches("a.cdn.example.com") && !hosts[0].matches("cdn.example.com"));
    assert!(hosts[1].matches("images.example.com"));
}

#[test]
fn a_value_serde_cannot_read_names_its_key() {
    refused(
        &with("odoo", "timeout = \"soon\""),
        "odoo.timeout",
        "not a duration",
    );
    refused(
        &with("odoo", "protocol = \"fast\""),
        "odoo.protocol",
        "`fast`",
    );
    refused(&with("auth", "mode = \"magic\""), "auth.mode", "`magic`");
    refused(
        &with("server", "listen = \"localhost\""),
        "server.listen",
        "",
    );
    refused(
        &with("images", "allowed_ports = [70000]"),
        "images.allowed_ports",
        "70000",
    );
    refused(
        &with(
            "images",
            "allowed_hosts = [\n  \"ok.example\",\n  \"*bad*\",\n]",
        ),
        "images.allowed_hosts",
        "`*bad*`",
    );
    refused(&with("spool", "fsync = \"yes\""), "spool.fsync", "");
    refused(
        &BASE.replace("https://bridge.example.com", "ftp://bridge.example.com"),
        "server.public_url",
        "http:// or https://",
    );
    // A URL is never echoed: it might carry credentials.
    let text = error(&with(
        "n8n",
        "webhook_url = \"https://user:hunter2@n8n.example\"",
    ));
    assert!(
        text.contains("n8n.webhook_url: must not carry credentials"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn a_missing_required_key_is_named() {
    refused(
        &BASE.replace("database = \"ig\"\n", ""),
        "odoo.database",
        "is required",
    );
    refused(
        &BASE.replace("login = \"bridge\"", "login = \" \""),
        "odoo.login",
        "is required",
    );
    refused(
        &BASE.replace("public_url = \"https://bridge.example.com\"\n", ""),
        "server.public_url",
        "is required",
    );
}

#[test]
fn unknown_and_removed_keys_are_refused_by_name() {
    let removed = "unknown key (misspelled, or removed in this version";
    refused(&with("odoo", "timeuot = \"5s\""), "odoo.timeuot", removed);
    // Keys of the previous version fail clearly, never silently.
    refused(&with("odoo", "lookup = \"id\""), "odoo.lookup", removed);
    refused(
        &with("odoo", "password_file = \"pw\""),
        "odoo.password_file",
        removed,
    );
    refused(
        &with("images", "max_redirects = 3"),
        "images.max_redirects",
        removed,
    );
    refused(
        &with("spool", "poll_interval = \"1s\""),
        "spool.poll_interval",
        removed,
    );
    refused(
        &with("server", "metrics_listen = \"127.0.0.1:9187\""),
        "server.metrics_listen",
        removed,
    );
    refused(&with("limits", "max_connections = 8"), "limits", removed);
    refused(
        &with("tls", "chain_file = \"x\""),
        "tls.chain_file",
        removed,
    );
}

#[test]
fn every_bound_problem_is_reported_at_once() {
    let text = error(&format!(
        "{}[spool]\nretry_initial = \"2s\"\nretry_max = \"1s\"\nwait = \"10m\"\n\
         [images]\nallowed_ports = [0]\nmax_bytes = 200000000\n[log]\nlevel = \"[nope\"\n",
        with("odoo", "timeout = \"0s\"\nmax_concurrent_calls = 0")
    ));
    for key in [
        "odoo.timeout",
        "odoo.max_concurrent_calls",
        "spool.retry_max",
        "spool.wait",
        "images.allowed_ports",
        "images.max_bytes",
        "log.level",
    ] {
        assert!(
            text.contains(&format!("  - {key}: ")),
            "{key} missing in:\n{text}"
        );
    }
}

#[test]
fn the_result_timeout_must_outlast_the_longest_send() {
    // 3 attempts × 20 s plus 2 pauses of at most 10 s: 80 s.
    let text = with("n8n", "timeout = \"20s\"");
    let text = format!("{text}[initiation]\nresult_timeout = \"80s\"\n");
    refused(&text, "initiation.result_timeout", "does not outlast");
    assert!(load(&text.replace("80s", "81s")).is_ok());
}

#[test]
fn auth_modes_fail_closed_without_what_they_check() {
    refused(
        &with("auth", "mode = \"signature\""),
        "auth.signing_secrets",
        "is required",
    );
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let both = with(
        "auth",
        &format!("mode = \"both\"\nsigning_secrets = [\"{secret}\"]"),
    );
    refused(&both, "n8n.callback_token", "is required");
    let config = load(&format!("{both}[n8n]\ncallback_token = \"tok\"\n")).unwrap();
    assert_eq!(config.auth.signing_secrets.len(), 1);
    refused(
        &with("auth", "signing_secrets = [\"whsec_short\"]"),
        "auth.signing_secrets",
        "entry 1",
    );
}

#[test]
fn tls_needs_both_files_that_fit_together() {
    refused(
        &with("tls", "cert_file = \"c.pem\""),
        "tls.key_file",
        "is required",
    );
    refused(
        &with("tls", "key_file = \"k.pem\""),
        "tls.cert_file",
        "is required",
    );
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(
        dir.path().join("other.pem"),
        other.signing_key.serialize_pem(),
    )
    .unwrap();
    let tls = |cert: &str, key: &str| {
        let text = with(
            "tls",
            &format!("cert_file = \"{cert}\"\nkey_file = \"{key}\""),
        );
        load_in(dir.path(), &text, &[]).map_err(|e| e.to_string())
    };
    assert!(tls("cert.pem", "key.pem").unwrap().tls.is_some());
    let text = tls("key.pem", "key.pem").unwrap_err();
    assert!(
        text.contains("tls.cert_file: ") && text.contains("no readable PEM certificate"),
        "{text}"
    );
    assert!(
        tls("cert.pem", "nope.pem")
            .unwrap_err()
            .contains("tls.key_file: ")
    );
    let text = tls("cert.pem", "other.pem").unwrap_err();
    assert!(
        text.contains("tls.key_file: does not fit the certificate"),
        "{text}"
    );
}

#[test]
fn a_secret_comes_from_the_environment_then_the_file_then_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("odoo_password"), "from-credential\n").unwrap();
    std::fs::write(dir.path().join("pw"), "  from-file \n").unwrap();
    let credentials = credentials.to_str().unwrap();
    let password = |value: &str, env: &[(&str, &str)]| {
        let text = BASE.replace("password = \"pw\"", &format!("password = {value}"));
        let config = load_in(dir.path(), &text, env).map_err(|e| e.to_string())?;
        Ok::<_, String>(config.odoo.password.expose_secret().to_owned())
    };
    let env_var = "INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD";
    let all = [
        (env_var, "from-env"),
        ("CREDENTIALS_DIRECTORY", credentials),
    ];
    assert_eq!(password("\"inline\"", &all).unwrap(), "from-env");
    let no_env = [("CREDENTIALS_DIRECTORY", credentials)];
    assert_eq!(password("\"inline\"", &no_env).unwrap(), "inline");
    // A file is relative to the configuration file, and trimmed.
    assert_eq!(password("{ file = \"pw\" }", &no_env).unwrap(), "from-file");
    // Placeholders and blanks count as unset: the next source is used.
    let placeholder_env = [
        (env_var, "PLACEHOLDER_X"),
        ("CREDENTIALS_DIRECTORY", credentials),
    ];
    assert_eq!(
        password("\"\"", &placeholder_env).unwrap(),
        "from-credential"
    );
    assert_eq!(
        password("\"PLACEHOLDER_PW\"", &no_env).unwrap(),
        "from-credential"
    );
    // An unreadable file names the key and the path.
    let text = password("{ file = \"missing\" }", &[]).unwrap_err();
    assert!(
        text.contains("odoo.password: ") && text.contains("missing: cannot read the file"),
        "{text}"
    );
    let text = password("{ path = \"pw\" }", &[]).unwrap_err();
    assert!(text.contains("odoo.password: a string"), "{text}");
}

#[test]
fn a_placeholder_fails_closed_and_no_secret_is_ever_echoed() {
    let text = error(&BASE.replace(
        "password = \"pw\"",
        "password = \"PLACEHOLDER_ODOO_PASSWORD\"",
    ));
    assert!(
        text.contains("odoo.password: ") && text.contains("is required"),
        "{text}"
    );
    assert!(
        text.contains("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD"),
        "{text}"
    );
    assert!(
        text.contains("systemd credential `odoo_password`"),
        "{text}"
    );
    let text = error(&with("initiation", "trigger_secret = \"hunter2-short\""));
    assert!(
        text.contains("initiation.trigger_secret: must be"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    let config = load(&with("n8n", "api_key = \"key-value-42\"")).unwrap();
    assert!(!format!("{config:?}").contains("key-value-42"));
    assert!(!format!("{config:?}").contains("\"pw\""));
}

#[test]
fn the_trigger_secret_travels_in_a_url_path() {
    let trigger = |value: &str| with("initiation", &format!("trigger_secret = \"{value}\""));
    refused(
        &trigger("CHANGE-ME-SECRET"),
        "initiation.trigger_secret",
        "placeholder",
    );
    refused(
        &trigger(&"a/".repeat(10)),
        "initiation.trigger_secret",
        "letters, digits",
    );
    let config = load(&trigger("0123456789abcdef-._~")).unwrap();
    assert!(config.initiation.trigger_secret.is_some());
}

#[test]
fn a_list_secret_has_one_entry_per_line_or_is_split_in_the_environment() {
    let (a, b) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_dW5rbm93bi1zaWduaW5nLWtleS1ub3QtY29uZmlndXJlZA==",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keys"),
        format!("# current\n{a}\n\n  {b}  \nPLACEHOLDER\n"),
    )
    .unwrap();
    let count = |value: &str, env: &[(&str, &str)]| {
        let text = with(
            "auth",
            &format!("mode = \"signature\"\nsigning_secrets = {value}"),
        );
        load_in(dir.path(), &text, env)
            .unwrap()
            .auth
            .signing_secrets
            .len()
    };
    assert_eq!(count("{ file = \"keys\" }", &[]), 2);
    let env = [(
        "INFLUENCE_GEN_BRIDGE_AUTH_SIGNING_SECRETS",
        &*format!("{a}, {b}"),
    )];
    assert_eq!(count(&format!("[\"{a}\"]"), &env), 2);
    assert_eq!(count(&format!("[\"{a}\", \"PLACEHOLDER\"]"), &[]), 1);
}

#[test]
fn the_spool_commands_read_only_the_spool_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    // No Odoo password anywhere, and other sections are not validated.
    std::fs::write(
        &path,
        "[odoo]\nurl = \"x\"\n[spool]\ndir = \"s\"\nwait = \"1s\"\n",
    )
    .unwrap();
    let spool = SpoolConfig::load(&path).unwrap();
    assert_eq!(spool.dir, dir.path().join("s"));
    std::fs::write(&path, "[spool]\nmax_entries = 5\n").unwrap();
    let text = SpoolConfig::load(&path).unwrap_err().to_string();
    assert!(text.contains("spool.max_entries: unknown key"), "{text}");
}

#[test]
fn the_example_file_is_valid_and_has_at_most_45_keys() {
    let text = include_str!("../../config.example.toml");
    let keys = text
        .lines()
        .filter(|line| {
            let line = line.trim_start().trim_start_matches('#').trim_start();
            line.split_once('=').is_some_and(|(key, _)| {
                let key = key.trim();
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
        })
        .count();
    assert!(keys <= 45, "{keys} keys");
    // Uncommenting every key must give a valid file too (without the files
    // the example names, which do not exist here: secrets and TLS).
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                rest
            }
            _ => line,
        })
        .filter(|line| !line.contains("{ file =") && !line.contains("_file = "))
        .collect::<Vec<_>>()
        .join("\n");
    let env = [("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "pw")];
    for text in [text, uncommented.as_str()] {
        let config = load_in(Path::new("/etc/bridge"), text, &env);
        assert!(config.is_ok(), "{}", config.unwrap_err());
    }
    assert!(uncommented.contains("\nmax_connections = 64"));
    // The defaults the example documents are the code's.
    let (mut example, default) = (
        load_in(Path::new("/etc/bridge"), &uncommented, &env).unwrap(),
        load(BASE).unwrap(),
    );
    let same = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
        assert_eq!(format!("{a:?}"), format!("{b:?}"))
    };
    example.images.allowed_hosts.clear(); // an example, not the default
    same(&example.images, &default.images);
    same(&example.spool, &default.spool);
    same(&example.auth, &default.auth);
    same(&example.log, &default.log);
    let (a, b) = (&example.server, &default.server);
    same(
        &(
            a.listen,
            a.max_body_bytes,
            a.max_connections,
            a.shutdown_grace,
            a.start_degraded,
        ),
        &(
            b.listen,
            b.max_body_bytes,
            b.max_connections,
            b.shutdown_grace,
            b.start_degraded,
        ),
    );
    let (a, b) = (&example.odoo, &default.odoo);
    same(
        &(
            a.api,
            a.timeout,
            a.max_concurrent_calls,
            a.protocol,
            a.unknown_outcome_wait,
        ),
        &(
            b.api,
            b.timeout,
            b.max_concurrent_calls,
            b.protocol,
            b.unknown_outcome_wait,
        ),
    );
    let (a, b) = (&example.initiation, &default.initiation);
    same(
        &(
            a.attempts,
            a.sweep_interval,
            a.sweep_grace,
            a.result_timeout,
        ),
        &(
            b.attempts,
            b.sweep_interval,
            b.sweep_grace,
            b.result_timeout,
        ),
    );
    same(&example.n8n.timeout, &default.n8n.timeout);
}
