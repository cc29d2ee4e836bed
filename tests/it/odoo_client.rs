//! The production Odoo client against the emulator: the login
//! and its renewal, Odoo's `None` answers, every error kind, the size limits
//! and the concurrency bound.

use std::path::Path;
use std::time::Duration;

use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::odoo::{
    AccessOperation, OdooClient, OdooError, Protocol, Refusal, SearchOptions, ServerErrorKind,
};
use influence_gen_testkit::{CallMatcher, Fault, FaultRule, OdooEmulator, Outcome};
use serde_json::{Value, json};

use crate::support::config::TestConfig;
use crate::support::{TestApi, closed_port, logins, odoo, odoo_for};

const REQUESTS: &str = "influence_gen.ai_image_request";

pub(crate) fn client(config: &TestConfig) -> OdooClient {
    influence_gen_bridge::tls::install_crypto_provider();
    let parsed = Config::from_toml(
        &config.toml(),
        Path::new("t.toml"),
        Path::new("/tmp"),
        &Environment::default(),
    )
    .unwrap();
    OdooClient::new(&parsed.odoo).unwrap()
}

#[tokio::test]
async fn the_uid_is_cached_and_renewed_once_when_odoo_denies_the_session() {
    // /jsonrpc only: /json/2 has no session (see the json2 tests below).
    let (odoo, config) = odoo_for(TestApi::JsonRpc).await;
    let client = client(&config);
    let id = odoo.seed_request(json!({ "prompt": "p" }));
    let read: Vec<Value> = client.read(REQUESTS, &[id], &["status"]).await.unwrap();
    assert_eq!(read[0]["status"], "queued");
    let _: Vec<Value> = client.read(REQUESTS, &[id], &["status"]).await.unwrap();
    assert_eq!(logins(&odoo), 1, "the uid is cached");

    // Odoo forgets the session (a password change, a restart of its key store).
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQUESTS, "read"),
        Fault::odoo("odoo.exceptions.AccessDenied", "Access Denied"),
    ));
    let read: Vec<Value> = client.read(REQUESTS, &[id], &["status"]).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(logins(&odoo), 2, "one new login, then the call again");

    // Denied twice: the second refusal is the caller's.
    odoo.inject(FaultRule::times(
        CallMatcher::model_method(REQUESTS, "read"),
        Fault::odoo("odoo.exceptions.AccessDenied", "Access Denied"),
        2,
    ));
    let error = client
        .read::<Value>(REQUESTS, &[id], &["status"])
        .await
        .unwrap_err();
    assert_eq!(error.server_kind(), Some(ServerErrorKind::AccessDenied));
    assert_eq!(logins(&odoo), 3);
}

#[tokio::test]
async fn an_api_key_works_as_the_password() {
    let (odoo, config) = odoo().await;
    let uid = odoo.add_user(
        "keyed",
        "a-password-nobody-uses-1f",
        influence_gen_testkit::UserAccess::Admin,
    );
    odoo.add_api_key(uid, "test-api-key-login-7c3d");
    let config = TestConfig {
        login: "keyed".into(),
        password: "test-api-key-login-7c3d".into(),
        ..config
    };
    assert_eq!(client(&config).authenticate().await.unwrap(), uid);
}

#[tokio::test]
async fn a_wrong_password_is_a_refused_login() {
    let (_odoo, config) = odoo().await;
    let config = TestConfig {
        password: "wrong-password".into(),
        ..config
    };
    let error = client(&config).authenticate().await.unwrap_err();
    assert!(matches!(error, OdooError::LoginRefused { .. }), "{error:?}");
    // The bridge's problem, not the call's: work waits for a fixed password.
    assert_eq!(error.refusal(), Some(Refusal::LoginRefused));
    assert!(error.is_transient());
    assert!(!error.to_string().contains("wrong-password"), "{error}");
}

#[tokio::test]
async fn a_method_returning_none_answers_none() {
    let (_odoo, config) = odoo().await;
    let client = client(&config);
    // check_access_rights(op) in raise mode returns None: no `result` key (transcript 20).
    let answer: Option<Value> = client
        .execute_kw(
            REQUESTS,
            "check_access_rights",
            &json!(["write"]),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(answer, None);
    assert!(
        client
            .check_access_rights(REQUESTS, AccessOperation::Write)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn odoo_errors_come_back_as_their_kinds() {
    let (odoo, config) = odoo().await;
    let client = client(&config);
    let none = SearchOptions::default();
    let unknown_model = client
        .search_read::<Value>("influence_gen.nope", &json!([]), &["id"], &none)
        .await
        .unwrap_err();
    assert_eq!(
        unknown_model.server_kind(),
        Some(ServerErrorKind::UserError),
        "{unknown_model}"
    );
    let unknown_field = client
        .search_read::<Value>(REQUESTS, &json!([]), &["nope"], &none)
        .await
        .unwrap_err();
    assert_eq!(
        unknown_field.server_kind(),
        Some(ServerErrorKind::InvalidInput),
        "{unknown_field}"
    );
    let missing = client
        .write(REQUESTS, &[999_999], &json!({ "status": "failed" }))
        .await
        .unwrap_err();
    assert_eq!(
        missing.server_kind(),
        Some(ServerErrorKind::MissingError),
        "{missing}"
    );
    let bad_selection = client
        .create(REQUESTS, &json!({ "prompt": "p", "status": "bogus" }))
        .await
        .unwrap_err();
    assert_eq!(
        bad_selection.server_kind(),
        Some(ServerErrorKind::InvalidInput),
        "{bad_selection}"
    );
    let required = client
        .create(REQUESTS, &json!({ "model_id": "x" }))
        .await
        .unwrap_err();
    assert_eq!(
        required.server_kind(),
        Some(ServerErrorKind::ValidationError),
        "{required}"
    );
    // A method this Odoo lacks (a request model without chatter).
    odoo.remove_method(REQUESTS, "message_post");
    let no_method: Result<Option<Value>, _> = client
        .execute_kw(
            REQUESTS,
            "message_post",
            &json!([[1]]),
            &json!({"body": "b"}),
        )
        .await;
    assert_eq!(
        no_method.unwrap_err().server_kind(),
        Some(ServerErrorKind::NoSuchMethod)
    );
    let unknown: Result<Option<Value>, _> = client
        .execute_kw(REQUESTS, "no_such_method", &json!([[]]), &json!({}))
        .await;
    match (TestApi::of_run(), unknown.unwrap_err()) {
        (TestApi::JsonRpc, error) => {
            assert_eq!(error.server_kind(), Some(ServerErrorKind::NoSuchMethod))
        }
        // Over /json/2 a method whose parameter names the bridge does not
        // know is refused before anything is sent.
        (TestApi::Json2, error) => assert!(matches!(error, OdooError::Unsupported(_)), "{error}"),
    }
    for error in [
        &unknown_model,
        &unknown_field,
        &missing,
        &bad_selection,
        &required,
    ] {
        assert!(!error.is_transient(), "{error} must not be retried");
    }

    let wrong_db = client_for_db(&config, "no_such_db")
        .authenticate()
        .await
        .unwrap_err();
    assert_eq!(
        wrong_db.server_kind(),
        Some(ServerErrorKind::Database),
        "{wrong_db}"
    );
    assert!(
        !wrong_db.is_transient(),
        "a database that does not exist is configuration"
    );
}

fn client_for_db(config: &TestConfig, database: &str) -> OdooClient {
    client(&TestConfig {
        database: database.into(),
        ..config.clone()
    })
}

#[tokio::test]
async fn transport_failures_are_distinct_and_transient() {
    let (odoo, config) = odoo().await;
    let client = client(&config.clone().with("odoo", "timeout = \"1s\""));
    client.authenticate().await.unwrap();

    odoo.set_http_error(Some(502));
    let error = client
        .search(REQUESTS, &json!([]), &SearchOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, OdooError::HttpStatus { status: 502, .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    odoo.set_http_error(None);

    odoo.set_latency(Duration::from_secs(3));
    let error = client
        .search(REQUESTS, &json!([]), &SearchOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, OdooError::Timeout), "{error:?}");
    assert!(error.is_transient());
    odoo.set_latency(Duration::ZERO);

    odoo.set_down(true);
    let error = client
        .search(REQUESTS, &json!([]), &SearchOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, OdooError::Unreachable(_)), "{error:?}");
    assert!(error.is_transient());
    odoo.set_down(false);
    assert!(
        client
            .search(REQUESTS, &json!([]), &SearchOptions::default())
            .await
            .is_ok(),
        "recovers when Odoo is back"
    );

    let nowhere = TestConfig::new(&format!("http://127.0.0.1:{}", closed_port()));
    let error = self::client(&nowhere).authenticate().await.unwrap_err();
    assert!(matches!(error, OdooError::Unreachable(_)), "{error:?}");
}

#[tokio::test]
async fn a_url_that_is_not_odoo_is_a_protocol_or_shape_error() {
    // Werkzeug's HTML 400 for a route that is not type='json' (transcript 53).
    let not_odoo = influence_gen_testkit::ImageServer::start().await;
    not_odoo.route(
        "/jsonrpc",
        influence_gen_testkit::Route::File {
            status: 400,
            content_type: "text/html; charset=utf-8".into(),
            body: "<!doctype html><title>400 Bad Request</title><p>Invalid JSON data</p>".into(),
        },
    );
    let error = client(&TestConfig::new(&not_odoo.url("")))
        .authenticate()
        .await
        .unwrap_err();
    match error {
        OdooError::Protocol { body_excerpt } => {
            assert!(body_excerpt.contains("Invalid JSON data"), "{body_excerpt}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_over_the_size_limit_are_not_sent() {
    let (odoo, config) = odoo().await;
    let client = client(&config);
    client.authenticate().await.unwrap();
    let before = odoo.calls().len();
    let big = "x".repeat(influence_gen_bridge::odoo::transport::MAX_REQUEST_BYTES);
    let error = client
        .create(REQUESTS, &json!({ "prompt": big }))
        .await
        .unwrap_err();
    assert!(matches!(error, OdooError::RequestTooLarge), "{error:?}");
    assert_eq!(odoo.calls().len(), before, "nothing reached Odoo");
}

#[tokio::test]
async fn concurrent_calls_never_exceed_the_configured_bound() {
    let (odoo, config) = odoo().await;
    let client = client(&config.with("odoo", "max_concurrent_calls = 2"));
    client.authenticate().await.unwrap();
    odoo.set_latency(Duration::from_millis(150));
    let (domain, options) = (json!([]), SearchOptions::default());
    let calls = (0..8).map(|_| client.search(REQUESTS, &domain, &options));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    // Replay the log: how many searches were open at once?
    let log = odoo.calls();
    let searches: Vec<_> = log
        .iter()
        .filter(|c| c.model_method.as_deref() == Some("search"))
        .collect();
    assert_eq!(searches.len(), 8);
    assert!(searches.iter().all(|c| c.outcome == Outcome::Ok));
    let peak = odoo.peak_concurrency();
    assert!(peak <= 2, "{peak} calls were in flight at once");
    assert!(peak == 2, "the bound was not used: peak {peak}");
}

// --- the protocol, detected once per session ---------------------------------

fn protocol_calls(odoo: &OdooEmulator) -> usize {
    odoo.count(REQUESTS, "bridge_protocol")
}

#[tokio::test]
async fn the_protocol_is_detected_once_per_session_and_again_after_a_re_login() {
    let odoo = OdooEmulator::start().await;
    odoo.add_bridge_user(
        crate::support::config::ODOO_LOGIN,
        crate::support::config::ODOO_PASSWORD,
    );
    let client = client(&TestConfig::new(&odoo.url()));
    assert_eq!(client.protocol().await.unwrap(), Protocol::Generic);
    // Installed meanwhile: the session still speaks what it detected.
    odoo.install_companion_addon();
    assert_eq!(client.protocol().await.unwrap(), Protocol::Generic);
    assert_eq!(protocol_calls(&odoo), 1, "cached for the session");
    // A re-login (Odoo denied the session) starts a new session.
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQUESTS, "search"),
        Fault::odoo("odoo.exceptions.AccessDenied", "Access Denied"),
    ));
    let _ = client
        .search(REQUESTS, &json!([]), &SearchOptions::default())
        .await
        .unwrap();
    assert_eq!(
        client.protocol().await.unwrap(),
        Protocol::Companion { version: 1 }
    );
    assert_eq!(
        client.protocol().await.unwrap(),
        Protocol::Companion { version: 1 }
    );
    assert_eq!(protocol_calls(&odoo), 2);
}

#[tokio::test]
async fn companion_mode_reports_a_missing_addon_and_refusals_are_not_taken_for_absence() {
    let odoo = OdooEmulator::start().await;
    let uid = odoo.add_user(
        crate::support::config::ODOO_LOGIN,
        crate::support::config::ODOO_PASSWORD,
        influence_gen_testkit::UserAccess::User,
    );
    let config = TestConfig::new(&odoo.url()).with("odoo", "protocol = \"companion\"");
    let client = client(&config);
    let error = client.protocol().await.unwrap_err();
    assert!(
        matches!(error, OdooError::CompanionUnavailable(_)),
        "{error}"
    );
    assert!(error.is_transient(), "the work waits for the addon");
    // Installed, but the user is outside the bridge group: an AccessError,
    // in auto mode too (never a silent fallback to generic).
    odoo.install_companion_addon();
    odoo.set_in_bridge_group(uid, false);
    let auto = self::client(&TestConfig::new(&odoo.url()));
    let error = auto.protocol().await.unwrap_err();
    assert_eq!(error.server_kind(), Some(ServerErrorKind::AccessError));
    odoo.set_in_bridge_group(uid, true);
    assert_eq!(
        client.protocol().await.unwrap(),
        Protocol::Companion { version: 1 }
    );
}
