//! The production Odoo client over Odoo 19's `/json/2`, against the emulator
//! playing Odoo 19: the API choice, the calls the bridge makes as keyword
//! arguments, API keys (refused, expired, a password in their place), and
//! that a forced API on the wrong server says so. These run in every run of
//! the suite; `IG_TEST_ODOO_API=json2` runs the rest over `/json/2` too.

use influence_gen_bridge::odoo::{
    AccessOperation, Api, OdooError, Refusal, SearchOptions, ServerErrorKind,
};
use influence_gen_testkit::{CallMatcher, Fault, FaultRule, UserAccess};
use serde_json::{Value, json};

use crate::odoo_client::client;
use crate::support::config::TestConfig;
use crate::support::{TestApi, odoo_for};

const REQUESTS: &str = "influence_gen.ai_image_request";

/// Calls that reached the emulator over `/json/2`.
fn json2_calls(odoo: &influence_gen_testkit::OdooEmulator) -> usize {
    odoo.calls().iter().filter(|c| c.method == "json2").count()
}

#[tokio::test]
async fn auto_speaks_json2_to_odoo_19_and_jsonrpc_to_odoo_18() {
    let (odoo19, config) = odoo_for(TestApi::Json2).await;
    let client19 = client(&config);
    assert_eq!(client19.api().await.unwrap(), Api::Json2);
    assert_eq!(client19.version().await.unwrap().major(), Some(19));
    assert_eq!(client19.authenticate().await.unwrap(), 7);
    assert!(
        odoo19.calls().iter().all(|c| c.service != "common"),
        "no /jsonrpc call reached Odoo 19: {:?}",
        odoo19.calls()
    );

    let (odoo18, config) = odoo_for(TestApi::JsonRpc).await;
    let client18 = client(&config);
    assert_eq!(client18.api().await.unwrap(), Api::JsonRpc);
    assert_eq!(client18.version().await.unwrap().major(), Some(18));
    client18.authenticate().await.unwrap();
    assert_eq!(json2_calls(&odoo18), 0);
}

#[tokio::test]
async fn the_bridges_calls_work_over_json2() {
    let (odoo, config) = odoo_for(TestApi::Json2).await;
    let client = client(&config);
    let id = client
        .create(REQUESTS, &json!({ "prompt": "a fox" }))
        .await
        .unwrap();
    let ids = client
        .create_many(
            REQUESTS,
            &[json!({ "prompt": "b" }), json!({ "prompt": "c" })],
        )
        .await
        .unwrap();
    assert_eq!(
        ids,
        vec![id + 1, id + 2],
        "create of one answers its id, of many the ids"
    );
    client
        .write(REQUESTS, &[id], &json!({ "status": "processing" }))
        .await
        .unwrap();
    let read: Vec<Value> = client.read(REQUESTS, &[id], &["status"]).await.unwrap();
    assert_eq!(read, vec![json!({"id": id, "status": "processing"})]);
    let options = SearchOptions {
        limit: Some(1),
        order: Some("id desc".into()),
        ..SearchOptions::default()
    };
    let found: Vec<Value> = client
        .search_read(
            REQUESTS,
            &json!([["status", "=", "queued"]]),
            &["prompt"],
            &options,
        )
        .await
        .unwrap();
    assert_eq!(found[0]["prompt"], "c");
    let ascending = SearchOptions {
        order: Some("id asc".into()),
        ..SearchOptions::default()
    };
    assert_eq!(
        client
            .search(REQUESTS, &json!([]), &ascending)
            .await
            .unwrap(),
        vec![id, id + 1, id + 2]
    );
    let fields = client.fields_get(REQUESTS).await.unwrap();
    assert_eq!(fields["status"].field_type, "selection");
    assert!(
        client
            .check_access_rights(REQUESTS, AccessOperation::Write)
            .await
            .unwrap()
    );
    let note: Option<Value> = client
        .execute_kw(
            REQUESTS,
            "message_post",
            &json!([[id]]),
            &json!({"body": "done", "message_type": "comment", "subtype_xmlid": "mail.mt_note"}),
        )
        .await
        .unwrap();
    assert!(
        note.is_some_and(|n| n.is_array()),
        "Odoo 19 answers [message id]"
    );
    let allowed: Option<bool> = client
        .execute_kw(REQUESTS, "has_access", &json!([[id], "write"]), &json!({}))
        .await
        .unwrap();
    assert_eq!(allowed, Some(true));
    assert_eq!(
        odoo.calls()
            .iter()
            .filter(|c| c.service == "common")
            .count(),
        0
    );
    // Every call was a /json/2 call with the ids where the method runs on records.
    let write = odoo
        .calls()
        .into_iter()
        .find(|c| c.model_method.as_deref() == Some("write"))
        .unwrap();
    assert_eq!(write.method, "json2");
    assert_eq!(write.args, json!([[id]]));
    assert_eq!(write.kwargs, json!({"vals": {"status": "processing"}}));
}

#[tokio::test]
async fn a_record_method_without_ids_is_refused_before_sending() {
    let (odoo, config) = odoo_for(TestApi::Json2).await;
    let client = client(&config);
    client.authenticate().await.unwrap();
    let before = odoo.calls().len();
    let error = client
        .execute_kw::<_, _, Value>(
            REQUESTS,
            "write",
            &json!([]),
            &json!({"vals": {"status": "failed"}}),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, OdooError::Unsupported(_)), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(odoo.calls().len(), before, "nothing reached Odoo");
}

#[tokio::test]
async fn keys_that_odoo_refuses_are_refused_logins() {
    let (odoo, config) = odoo_for(TestApi::Json2).await;
    // A password in the key's place (Odoo 19's /json/2 takes none).
    odoo.add_user(
        "passworded",
        "test-password-not-a-key-3c1d",
        UserAccess::Admin,
    );
    let error = client(&TestConfig {
        login: "passworded".into(),
        password: "test-password-not-a-key-3c1d".into(),
        ..config.clone()
    })
    .authenticate()
    .await
    .unwrap_err();
    assert!(matches!(error, OdooError::LoginRefused { .. }), "{error:?}");
    assert_eq!(
        error.refusal(),
        Some(Refusal::LoginRefused),
        "a refusal of the bridge: work waits for a new key"
    );
    assert!(!error.to_string().contains("test-password"), "{error}");

    let uid = odoo.add_user("expiring", "x-unused-password-77", UserAccess::Admin);
    odoo.add_listed_api_key(
        uid,
        "test-expired-key-9b2e",
        "old",
        Some("2020-01-01 00:00:00"),
    );
    let error = client(&TestConfig {
        login: "expiring".into(),
        password: "test-expired-key-9b2e".into(),
        ..config
    })
    .search(REQUESTS, &json!([]), &SearchOptions::default())
    .await
    .unwrap_err();
    assert!(matches!(error, OdooError::LoginRefused { .. }), "{error:?}");
}

#[tokio::test]
async fn odoo_19_errors_keep_their_kinds_and_transience() {
    let (odoo, config) = odoo_for(TestApi::Json2).await;
    let client = client(&config);
    let missing = client
        .write(REQUESTS, &[999_999], &json!({ "status": "failed" }))
        .await
        .unwrap_err();
    assert_eq!(missing.server_kind(), Some(ServerErrorKind::MissingError));
    let bad = client
        .create(REQUESTS, &json!({ "prompt": "p", "status": "bogus" }))
        .await
        .unwrap_err();
    assert_eq!(bad.server_kind(), Some(ServerErrorKind::InvalidInput));
    let unknown_model = client
        .search("influence_gen.nope", &json!([]), &SearchOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        unknown_model.server_kind(),
        Some(ServerErrorKind::UserError)
    );
    for error in [&missing, &bad, &unknown_model] {
        assert!(!error.is_transient(), "{error}");
    }
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQUESTS, "search"),
        Fault::odoo(
            "psycopg2.errors.SerializationFailure",
            "could not serialize access",
        ),
    ));
    let conflict = client
        .search(REQUESTS, &json!([]), &SearchOptions::default())
        .await
        .unwrap_err();
    assert!(conflict.is_transient(), "{conflict:?}");
    odoo.set_http_error(Some(503));
    let unavailable = client
        .search(REQUESTS, &json!([]), &SearchOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(
        unavailable,
        OdooError::HttpStatus { status: 503, .. }
    ));
    assert!(unavailable.is_transient());
    odoo.set_http_error(None);
    let wrong_db = crate::odoo_client::client(&TestConfig {
        database: "no_such_db".into(),
        ..config.clone()
    })
    .authenticate()
    .await
    .unwrap_err();
    assert_eq!(
        wrong_db.server_kind(),
        Some(ServerErrorKind::Database),
        "{wrong_db}"
    );
    assert!(!wrong_db.is_transient());
}

#[tokio::test]
async fn the_api_is_not_settled_while_odoo_is_down() {
    let (odoo, config) = odoo_for(TestApi::Json2).await;
    let client = client(&config);
    odoo.set_down(true);
    let error = client.authenticate().await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    odoo.set_down(false);
    assert_eq!(client.api().await.unwrap(), Api::Json2);
    client.authenticate().await.unwrap();
}

#[tokio::test]
async fn a_forced_api_is_used_as_told() {
    // json2 against Odoo 18: its 404 page, permanent, and nothing else tried.
    let (odoo18, config) = odoo_for(TestApi::JsonRpc).await;
    let error = client(&config.with("odoo", "api = \"json2\""))
        .authenticate()
        .await
        .unwrap_err();
    assert!(
        matches!(error, OdooError::HttpStatus { status: 404, .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(odoo18.calls().iter().all(|c| c.service != "common"));

    // jsonrpc against Odoo 19: the legacy API still works, with the key as password.
    let (odoo19, config) = odoo_for(TestApi::Json2).await;
    let client = client(&config.with("odoo", "api = \"jsonrpc\""));
    assert_eq!(client.api().await.unwrap(), Api::JsonRpc);
    client.authenticate().await.unwrap();
    let _: Vec<i64> = client
        .search(REQUESTS, &json!([]), &SearchOptions::default())
        .await
        .unwrap();
    assert_eq!(json2_calls(&odoo19), 0);
}

#[tokio::test]
async fn answers_over_the_size_limit_are_refused() {
    let (odoo, config) = odoo_for(TestApi::Json2).await;
    let client = client(&config);
    let prompt = "x".repeat(influence_gen_bridge::odoo::transport::MAX_RESPONSE_BYTES);
    let id = odoo.seed_request(json!({ "prompt": prompt }));
    let error = client
        .read::<Value>(REQUESTS, &[id], &["prompt"])
        .await
        .unwrap_err();
    assert!(matches!(error, OdooError::ResponseTooLarge), "{error:?}");
}

#[tokio::test]
async fn the_daemon_speaks_only_json2_to_odoo_19() {
    use crate::support::bridge::BridgeProcess;
    use crate::support::callbacks::{client as http_client, failure, post, success_inline};

    let (odoo, config) = odoo_for(TestApi::Json2).await;
    let done = odoo.seed_request(json!({ "prompt": "a" }));
    let failed = odoo.seed_request(json!({ "prompt": "b" }));
    let bridge = BridgeProcess::start(&config).await;
    let http = http_client();
    let png = influence_gen_testkit::images::png(8, 8);
    let (status, answer) = post(
        &http,
        &bridge.url(""),
        &success_inline(done.to_string(), &png),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&http, &bridge.url(""), &failure(failed, "boom", ""))
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(odoo.record(REQUESTS, done).unwrap()["status"], "completed");
    assert_eq!(odoo.record(REQUESTS, failed).unwrap()["status"], "failed");
    let calls = odoo.calls();
    let legacy: Vec<_> = calls
        .iter()
        .filter(|c| c.method != "json2")
        .map(|c| format!("{}.{} {:?}", c.service, c.method, c.model_method))
        .collect();
    assert!(legacy.is_empty(), "calls that were not /json/2: {legacy:?}");
    assert!(calls.len() >= 4, "{calls:?}");
}

#[tokio::test]
async fn the_companion_methods_are_called_with_the_contracts_names_over_json2() {
    let odoo =
        influence_gen_testkit::OdooEmulator::start_with(influence_gen_testkit::EmulatorConfig {
            series: influence_gen_testkit::Series::Odoo19,
            ..influence_gen_testkit::EmulatorConfig::default().with_companion_addon()
        })
        .await;
    let uid = odoo.add_bridge_user("bridge", "unused-password-5f");
    odoo.add_api_key(uid, crate::support::config::ODOO_PASSWORD);
    let client = client(&TestConfig::new(&odoo.url()));
    let protocol: Option<Value> = client
        .execute_kw(REQUESTS, "bridge_protocol", &json!([]), &json!({}))
        .await
        .unwrap();
    assert_eq!(protocol.unwrap()["name"], "influence_gen_bridge");
    let id = odoo.seed_request(json!({ "prompt": "p" }));
    let applied: Option<Value> = client
        .execute_kw(
            REQUESTS,
            "bridge_apply_result",
            &json!([{"field": "id", "value": id}, {"kind": "failure", "error_details": "boom"}]),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(applied.unwrap()["outcome"], "failure_recorded");
    assert_eq!(odoo.record(REQUESTS, id).unwrap()["status"], "failed");
    let call = odoo
        .calls()
        .into_iter()
        .find(|c| c.model_method.as_deref() == Some("bridge_apply_result"))
        .unwrap();
    assert_eq!(call.method, "json2");
    assert_eq!(
        call.kwargs["reference"],
        json!({"field": "id", "value": id})
    );
}
