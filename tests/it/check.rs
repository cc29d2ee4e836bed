//! `influence-gen-bridge check` against the Odoo emulator: all ok, and each
//! failure mode with a FAIL line that says what is wrong, a non-zero exit, and
//! no secret anywhere in the output (logs at trace level included).

use std::process::Output;

use influence_gen_testkit::UserAccess;

use crate::support::bridge::{self, ConfigFile};
use crate::support::config::{TestConfig, assert_no_secret};
use crate::support::{closed_port, odoo};

/// A listener that stands in for N8N's webhook host (check only connects).
fn fake_n8n() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/webhook/influence-gen",
        listener.local_addr().unwrap()
    );
    (listener, url)
}

async fn run_check(config: &TestConfig) -> (Output, String) {
    let file = ConfigFile::write(config);
    let output = bridge::run(&file.path, &["check"], &[("RUST_LOG", "trace")]).await;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_no_secret(&text, &config.secrets(), "check");
    (output, text)
}

fn fail_line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|line| line.starts_with(&format!("FAIL {name}:")))
        .unwrap_or_else(|| panic!("no FAIL line for {name}:\n{text}"))
}

#[tokio::test]
async fn all_checks_pass_against_a_well_configured_odoo() {
    let (odoo, config) = odoo().await;
    let request = odoo.seed_request(serde_json::json!({ "prompt": "p" }));
    odoo.insert(
        "influence_gen.generated_image",
        serde_json::json!({ "request_id": request }),
    );
    let (_n8n, webhook) = fake_n8n();
    let config = TestConfig {
        webhook_url: Some(webhook),
        ..config
    };
    let (output, text) = run_check(&config).await;
    assert!(output.status.success(), "check failed:\n{text}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for name in [
        "config",
        "callback token",
        "odoo reachable",
        "odoo login",
        "request model",
        "image model",
        "access rights",
        "n8n webhook",
        "n8n api key",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("ok   {name}:"))),
            "no ok line for {name}:\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.trim_end().ends_with("all checks passed"), "{stdout}");
}

#[tokio::test]
async fn record_rules_unchecked_on_an_empty_database_are_a_warning_not_a_failure() {
    let (_odoo, config) = odoo().await;
    let (_n8n, webhook) = fake_n8n();
    let (output, text) = run_check(&TestConfig {
        webhook_url: Some(webhook),
        ..config
    })
    .await;
    assert!(output.status.success(), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("warn access rights:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("no record yet"), "{line}");
}

#[tokio::test]
async fn a_missing_field_is_named() {
    let (odoo, config) = odoo().await;
    odoo.remove_field("influence_gen.ai_image_request", "error_details");
    let (_n8n, webhook) = fake_n8n();
    let (output, text) = run_check(&TestConfig {
        webhook_url: Some(webhook),
        ..config
    })
    .await;
    assert!(!output.status.success());
    let line = fail_line(&text, "request model");
    assert!(line.contains("error_details"), "{line}");
}

#[tokio::test]
async fn a_wrong_password_fails_the_login_without_printing_it() {
    let (_odoo, config) = odoo().await;
    let config = TestConfig {
        password: "test-wrong-password-0c1d".into(),
        ..config
    };
    let (output, text) = run_check(&config).await;
    assert!(!output.status.success());
    let line = fail_line(&text, "odoo login");
    assert!(
        line.contains("bridge") && line.contains("refused"),
        "{line}"
    );
    assert!(text.contains("skip request model"), "{text}");
}

#[tokio::test]
async fn a_read_only_user_lacks_rights() {
    let (odoo, config) = odoo().await;
    crate::support::add_user(
        &odoo,
        "reader",
        "test-reader-password-8e2a",
        UserAccess::ReadOnly,
    );
    let request = odoo.seed_request(serde_json::json!({ "prompt": "p" }));
    odoo.insert(
        "influence_gen.generated_image",
        serde_json::json!({ "request_id": request }),
    );
    let config = TestConfig {
        login: "reader".into(),
        password: "test-reader-password-8e2a".into(),
        ..config
    };
    let (output, text) = run_check(&config).await;
    assert!(!output.status.success());
    let line = fail_line(&text, "access rights");
    // The access lists allow writing; the read-only group's record rule does not.
    assert!(
        line.contains("write on influence_gen.ai_image_request (a record rule forbids it)"),
        "{line}"
    );
    assert!(
        line.contains("write on influence_gen.generated_image (a record rule forbids it)"),
        "{line}"
    );
}

#[tokio::test]
async fn a_user_without_rights_fails_the_access_lists() {
    let (odoo, config) = odoo().await;
    crate::support::add_user(
        &odoo,
        "nobody",
        "test-nobody-password-5a7c",
        UserAccess::NoAccess,
    );
    let config = TestConfig {
        login: "nobody".into(),
        password: "test-nobody-password-5a7c".into(),
        ..config
    };
    let (output, text) = run_check(&config).await;
    assert!(!output.status.success());
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL access rights:") || l.starts_with("FAIL request model:"));
    assert!(line.is_some(), "{text}");
}

#[tokio::test]
async fn an_unreachable_odoo_is_reported() {
    let config = TestConfig::new(&format!("http://127.0.0.1:{}", closed_port()));
    let (output, text) = run_check(&config).await;
    assert!(!output.status.success());
    let line = fail_line(&text, "odoo reachable");
    assert!(line.contains("unreachable"), "{line}");
    assert!(text.contains("skip odoo login"), "{text}");
}

#[tokio::test]
async fn missing_callback_token_and_webhook_are_failures() {
    let (_odoo, config) = odoo().await;
    let config = TestConfig {
        callback_token: None,
        webhook_url: None,
        ..config
    };
    let (output, text) = run_check(&config).await;
    assert!(!output.status.success());
    assert!(
        fail_line(&text, "callback token").contains("refused"),
        "{text}"
    );
    assert!(
        fail_line(&text, "n8n webhook").contains("webhook_url"),
        "{text}"
    );
}

#[tokio::test]
async fn an_invalid_config_exits_2_and_names_the_key() {
    let (_odoo, config) = odoo().await;
    let config = config.with("odoo", "max_concurrent_calls = 0");
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["check"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("odoo.max_concurrent_calls"), "{stderr}");
    assert_no_secret(&stderr, &config.secrets(), "invalid config");
}

// --- the API in use and the API key (Odoo 19) -------------------------------

fn line<'a>(text: &'a str, tag: &str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("{tag} {name}:")))
        .unwrap_or_else(|| panic!("no `{tag} {name}` line:\n{text}"))
}

/// `days` from now as Odoo writes a datetime.
fn in_days(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    influence_gen_testkit::time::format_unix(now + days * 24 * 3600)
}

/// Odoo 19 where the bridge's user holds one listed key expiring in `days`,
/// and the stand-in N8N listener (keep it alive for the check).
async fn odoo19_with_key(
    days: i64,
) -> (
    influence_gen_testkit::OdooEmulator,
    TestConfig,
    std::net::TcpListener,
) {
    let (odoo, config) = crate::support::odoo_for(crate::support::TestApi::Json2).await;
    let uid = odoo.add_user("keyed", "unused-password-4d", UserAccess::Admin);
    odoo.add_listed_api_key(uid, "test-listed-key-6a1f", "bridge", Some(&in_days(days)));
    let (n8n, webhook) = fake_n8n();
    let config = TestConfig {
        login: "keyed".into(),
        password: "test-listed-key-6a1f".into(),
        webhook_url: Some(webhook),
        ..config
    };
    (odoo, config, n8n)
}

#[tokio::test]
async fn over_json2_check_names_the_version_the_api_and_the_key_expiry() {
    let (_odoo, config, _n8n) = odoo19_with_key(60).await;
    let (output, text) = run_check(&config).await;
    assert!(output.status.success(), "{text}");
    assert!(
        line(&text, "ok  ", "odoo reachable").contains("Odoo 19.0"),
        "{text}"
    );
    let api = line(&text, "ok  ", "odoo api");
    assert!(
        api.contains("/json/2") && api.contains("odoo.api = auto"),
        "{api}"
    );
    assert!(
        line(&text, "ok  ", "odoo login").contains("accepted the API key"),
        "{text}"
    );
    let key = line(&text, "ok  ", "odoo api key");
    assert!(
        key.contains("expires on") && key.contains("(in 59 days)"),
        "{key}"
    );
}

#[tokio::test]
async fn a_key_that_expires_within_two_weeks_is_a_warning() {
    let (_odoo, config, _n8n) = odoo19_with_key(5).await;
    let (output, text) = run_check(&config).await;
    assert!(
        output.status.success(),
        "a warning does not fail the check:\n{text}"
    );
    let key = line(&text, "warn", "odoo api key");
    assert!(
        key.contains("(in 4 days)") && key.contains("make a new key"),
        "{key}"
    );
}

#[tokio::test]
async fn a_password_over_json2_fails_with_the_api_key_advice() {
    let (odoo, config) = crate::support::odoo_for(crate::support::TestApi::Json2).await;
    odoo.add_user("passworded", "test-plain-password-0c9e", UserAccess::Admin);
    let (output, text) = run_check(&TestConfig {
        login: "passworded".into(),
        password: "test-plain-password-0c9e".into(),
        ..config
    })
    .await;
    assert!(!output.status.success());
    let login = fail_line(&text, "odoo login");
    assert!(
        login.contains("takes an API key, not a password"),
        "{login}"
    );
}

#[tokio::test]
async fn jsonrpc_on_odoo_19_is_a_deprecation_warning() {
    let (_odoo, config, _n8n) = odoo19_with_key(60).await;
    let (output, text) = run_check(&config.with("odoo", "api = \"jsonrpc\"")).await;
    assert!(output.status.success(), "{text}");
    let api = line(&text, "warn", "odoo api");
    assert!(
        api.contains("/jsonrpc") && api.contains("Odoo 20 removes it"),
        "{api}"
    );
    assert!(
        !text.contains("odoo api key:"),
        "no key line over /jsonrpc:\n{text}"
    );
}

#[tokio::test]
async fn json2_forced_on_odoo_18_says_it_needs_odoo_19() {
    let (_odoo, config) = crate::support::odoo_for(crate::support::TestApi::JsonRpc).await;
    let (output, text) = run_check(&config.with("odoo", "api = \"json2\"")).await;
    assert!(!output.status.success());
    let reachable = fail_line(&text, "odoo reachable");
    assert!(reachable.contains("needs Odoo 19 or later"), "{reachable}");
}

// --- the companion addon and the protocol -----------------------------------

/// The line that starts with `prefix` (e.g. `ok   protocol:`).
fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{text}"))
}

/// An emulator whose bridge user is in the group InfluenceGen Bridge.
async fn bridge_group_odoo(addon: bool) -> (influence_gen_testkit::OdooEmulator, TestConfig) {
    let emulator = if addon {
        influence_gen_testkit::EmulatorConfig::default().with_companion_addon()
    } else {
        influence_gen_testkit::EmulatorConfig::default()
    };
    let odoo = influence_gen_testkit::OdooEmulator::start_with(emulator).await;
    odoo.add_bridge_user(
        crate::support::config::ODOO_LOGIN,
        crate::support::config::ODOO_PASSWORD,
    );
    let (_n8n, webhook) = fake_n8n();
    let config = TestConfig {
        webhook_url: Some(webhook),
        ..TestConfig::new(&odoo.url())
    };
    (odoo, config)
}

#[tokio::test]
async fn the_companion_addon_is_reported_with_its_version_and_the_protocol() {
    let (_odoo, config) = bridge_group_odoo(true).await;
    let (_, text) = run_check(&config).await;
    let addon = line_starting(&text, "ok   companion addon:");
    assert!(
        addon.contains("influence_gen_bridge 18.0.1.0.0") && addon.contains("callable by `bridge`"),
        "{addon}"
    );
    let protocol = line_starting(&text, "ok   protocol:");
    assert!(protocol.contains("companion, version 1"), "{protocol}");
}

#[tokio::test]
async fn without_the_addon_auto_warns_and_says_what_generic_gives_up() {
    let (_odoo, config) = bridge_group_odoo(false).await;
    let (_, text) = run_check(&config).await;
    let addon = line_starting(&text, "warn companion addon:");
    assert!(addon.contains("not installed"), "{addon}");
    let protocol = line_starting(&text, "warn protocol:");
    assert!(
        protocol.contains("ONE bridge per database")
            && protocol.contains("limit_time_real")
            && protocol.contains("2s"),
        "{protocol}"
    );
}

#[tokio::test]
async fn companion_mode_without_the_addon_fails() {
    let (_odoo, config) = bridge_group_odoo(false).await;
    let (output, text) = run_check(&config.with("odoo", "protocol = \"companion\"")).await;
    assert!(!output.status.success(), "{text}");
    assert!(
        fail_line(&text, "companion addon").contains("examples/odoo/influence_gen_bridge"),
        "{text}"
    );
    fail_line(&text, "protocol");
}

#[tokio::test]
async fn a_bridge_user_outside_the_group_is_told_which_group() {
    let (odoo, config) = bridge_group_odoo(true).await;
    let uid = odoo.add_user("outsider", "test-outsider-password-3c7d", UserAccess::User);
    odoo.set_in_bridge_group(uid, false);
    let config = TestConfig {
        login: "outsider".into(),
        password: "test-outsider-password-3c7d".into(),
        ..config
    };
    let (output, text) = run_check(&config).await;
    assert!(!output.status.success(), "{text}");
    let addon = fail_line(&text, "companion addon");
    assert!(
        addon.contains("group_influence_gen_bridge") && addon.contains("`outsider`"),
        "{addon}"
    );
}
