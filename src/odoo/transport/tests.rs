//! Every recorded answer of Odoo 18's `/jsonrpc` and Odoo 19's `/json/2`
//! decodes to its result, or to the same error kind on both wires.

use serde_json::{Value, json};

use super::*;
use crate::odoo::Refusal;

fn caller() -> Caller {
    Caller {
        login: "bridge".into(),
        database: "ig19".into(),
    }
}

fn answer_of(status: u16, content_type: Option<&str>, body: &[u8]) -> Answer {
    Answer {
        status,
        content_type: content_type.map(str::to_ascii_lowercase),
        body: body.to_vec(),
    }
}

fn error(status: u16, content_type: Option<&str>, body: &[u8]) -> OdooError {
    answer_of(status, content_type, body).error(&caller())
}

/// A transcript of tests/fixtures/odoo19/json2.
fn recorded(name: &str) -> Answer {
    let path = format!(
        "{}/tests/fixtures/odoo19/json2/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let t: Value = serde_json::from_str(&text).unwrap();
    let response = &t["response"];
    let content_type = response["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| {
            h[0].as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|h| h[1].as_str());
    let status = u16::try_from(response["status"].as_u64().unwrap()).unwrap();
    answer_of(
        status,
        content_type,
        response["body_raw"].as_str().unwrap().as_bytes(),
    )
}

fn answer(name: &str, single_create: bool) -> Result<Option<Value>, OdooError> {
    let answer = recorded(name);
    if single_create {
        single(answer.result(&caller())?)
    } else {
        answer.result(&caller())
    }
}

fn failure(name: &str) -> OdooError {
    answer(name, false).expect_err(name)
}

/// The answer of a transcript of tests/fixtures/odoo18/jsonrpc.
fn jsonrpc(name: &str) -> Result<Option<Value>, OdooError> {
    let path = format!(
        "{}/tests/fixtures/odoo18/jsonrpc/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let t: Value = serde_json::from_str(&text).unwrap();
    let body = match &t["response"] {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    };
    let status = u16::try_from(t["http_status"].as_u64().unwrap()).unwrap();
    let content_type = t["response_headers"]["content-type"].as_str();
    answer_of(status, content_type, body.as_bytes()).jsonrpc(&caller())
}

#[test]
fn recorded_jsonrpc_answers_give_results_and_kinds() {
    assert_eq!(jsonrpc("08_create_single").unwrap(), Some(json!(1)));
    assert_eq!(jsonrpc("14_write").unwrap(), Some(json!(true)));
    // `None` comes without a `result` key.
    assert_eq!(
        jsonrpc("20_check_access_rights_raise_returns_none").unwrap(),
        None
    );
    let error = jsonrpc("05_common_authenticate_wrong_password");
    assert_eq!(error.unwrap(), Some(json!(false)));
    for (name, kind) in [
        (
            "30_error_execute_kw_wrong_password",
            ServerErrorKind::AccessDenied,
        ),
        ("31_error_unknown_model", ServerErrorKind::UserError),
        (
            "32_error_unknown_field_in_fields",
            ServerErrorKind::InvalidInput,
        ),
        (
            "34_error_write_nonexistent_id",
            ServerErrorKind::MissingError,
        ),
        (
            "37_error_invalid_selection_create",
            ServerErrorKind::InvalidInput,
        ),
        (
            "39_error_missing_required_create",
            ServerErrorKind::ValidationError,
        ),
        ("43_error_access_viewer_write", ServerErrorKind::AccessError),
        (
            "48_error_wrong_database_execute_kw",
            ServerErrorKind::Database,
        ),
        ("55_error_unknown_method", ServerErrorKind::NoSuchMethod),
    ] {
        let error = jsonrpc(name).expect_err(name);
        assert_eq!(error.server_kind(), Some(kind), "{name}: {error:?}");
    }
    match jsonrpc("34_error_write_nonexistent_id").unwrap_err() {
        OdooError::Server { name, message, .. } => {
            assert_eq!(name, "odoo.exceptions.MissingError");
            assert!(message.starts_with("Record does not exist or has been deleted."));
        }
        other => panic!("{other:?}"),
    }
    match jsonrpc("53_error_wrong_content_type").unwrap_err() {
        OdooError::Protocol { body_excerpt } => assert!(
            body_excerpt.contains("Request inferred type is compatible with ['http']"),
            "{body_excerpt}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn jsonrpc_answers_that_are_not_odoos_are_told_apart() {
    let page = answer_of(200, Some("text/html"), b"<h1>Down for maintenance</h1>");
    let error = page.jsonrpc::<Value>(&caller()).unwrap_err();
    assert!(matches!(error, OdooError::NotJsonRpc { .. }), "{error:?}");
    assert_eq!(error.refusal(), Some(Refusal::NotJsonRpc));
    for body in [&b"{}"[..], b"[1, 2]", b"not json"] {
        let error = answer_of(200, None, body).jsonrpc::<Value>(&caller());
        assert!(
            matches!(error, Err(OdooError::InvalidResponse(_))),
            "{error:?}"
        );
    }
    let no_data = br#"{"jsonrpc": "2.0", "id": 1, "error": {"code": 200, "message": "x"}}"#;
    let error = answer_of(200, None, no_data).jsonrpc::<Value>(&caller());
    assert!(
        matches!(&error, Err(OdooError::Server { kind: ServerErrorKind::Other, message, .. }) if message == "x"),
        "{error:?}"
    );
    let error = error_of_status(502);
    assert!(matches!(error, OdooError::HttpStatus { status: 502, .. }));
}

fn error_of_status(status: u16) -> OdooError {
    answer_of(status, Some("text/html"), b"<h1>Bad Gateway</h1>")
        .jsonrpc::<Value>(&caller())
        .unwrap_err()
}

#[test]
fn werkzeug_html_becomes_a_readable_excerpt() {
    let html = b"<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n<p>Request inferred type is compatible with [&#39;http&#39;] but &#39;/jsonrpc&#39; is type=&#39;json&#39;.</p>\n";
    assert_eq!(
        clean_excerpt(html),
        "400 Bad Request Bad Request Request inferred type is compatible with ['http'] but '/jsonrpc' is type='json'."
    );
    assert_eq!(clean_excerpt(b"Invalid JSON data"), "Invalid JSON data");
    let long = "x".repeat(500);
    assert_eq!(
        clean_excerpt(long.as_bytes()).chars().count(),
        EXCERPT_CHARS + 1
    );
}

#[test]
fn requests_are_bounded_while_they_are_written() {
    assert_eq!(bounded_json(&json!({"a": 1})).unwrap(), br#"{"a":1}"#);
    let big = "x".repeat(MAX_REQUEST_BYTES);
    let error = bounded_json(&big).unwrap_err();
    assert!(matches!(error, OdooError::RequestTooLarge), "{error:?}");
}

#[test]
fn results_come_back_bare() {
    assert_eq!(
        answer("10_create_single_dict", true).unwrap(),
        Some(Value::from(1))
    );
    assert_eq!(
        answer("11_create_batch", false).unwrap(),
        Some(serde_json::json!([2, 3]))
    );
    assert_eq!(
        answer("15_search_count", false).unwrap(),
        Some(Value::from(3))
    );
    assert_eq!(answer("16_write", false).unwrap(), Some(Value::Bool(true)));
    assert_eq!(
        answer("21_message_post", false).unwrap(),
        Some(serde_json::json!([49]))
    );
    assert_eq!(
        answer("40_method_returning_none_action_archive", false).unwrap(),
        None
    );
    assert_eq!(
        answer("41b_check_access_rights_raise_returns_none", false).unwrap(),
        None
    );
    assert_eq!(
        answer("42_read_nonexistent_id", false).unwrap(),
        Some(serde_json::json!([]))
    );
    let read = answer("13c_read_non_ascii", false).unwrap().unwrap();
    assert!(read[0]["prompt"].as_str().unwrap().contains('狐'));
}

#[test]
fn authentication_failures_are_refused_logins() {
    for name in [
        "50_error_no_authorization",
        "51_error_wrong_key",
        "52_error_basic_auth_instead_of_bearer",
        "55_error_expired_key",
        "56_error_password_as_bearer",
        "59_error_session_cookie_without_bearer",
    ] {
        let error = failure(name);
        assert!(
            matches!(error, OdooError::LoginRefused { .. }),
            "{name}: {error:?}"
        );
        // A refusal of the bridge itself: work waits for new credentials.
        assert_eq!(error.refusal(), Some(Refusal::LoginRefused), "{name}");
    }
}

#[test]
fn odoo_exceptions_keep_their_kinds() {
    let cases = [
        (
            "23b_error_access_field_tracking_value_ids",
            ServerErrorKind::AccessError,
        ),
        (
            "39_error_access_res_partner_create",
            ServerErrorKind::AccessError,
        ),
        (
            "44_error_missing_write_deleted_id",
            ServerErrorKind::MissingError,
        ),
        (
            "45_error_missing_message_post_deleted_id",
            ServerErrorKind::MissingError,
        ),
        ("60_error_unknown_model", ServerErrorKind::UserError),
        ("61_error_unknown_method", ServerErrorKind::NoSuchMethod),
        ("62_error_private_method", ServerErrorKind::AccessError),
        (
            "66_error_ids_on_api_model_method",
            ServerErrorKind::InvalidInput,
        ),
        (
            "70_error_missing_required_argument",
            ServerErrorKind::InvalidInput,
        ),
        ("71_error_unexpected_keyword", ServerErrorKind::InvalidInput),
        (
            "73_error_wrong_type_domain_string",
            ServerErrorKind::InvalidInput,
        ),
        ("74_error_wrong_type_ids_strings", ServerErrorKind::Database),
        (
            "76_error_unknown_field_in_domain",
            ServerErrorKind::InvalidInput,
        ),
        ("78_error_invalid_selection", ServerErrorKind::InvalidInput),
        (
            "79_error_validation_missing_required",
            ServerErrorKind::ValidationError,
        ),
        ("93_error_access_viewer_write", ServerErrorKind::AccessError),
        (
            "99_error_api_private_method_exists",
            ServerErrorKind::AccessError,
        ),
    ];
    for (name, kind) in cases {
        let error = failure(name);
        assert_eq!(error.server_kind(), Some(kind), "{name}: {error:?}");
        // Only the PostgreSQL error could be transient, and its message
        // names a bad value, not an outage: the kind decides alone.
        if kind != ServerErrorKind::Database {
            assert!(!error.is_transient(), "{name}");
        }
    }
    match failure("44_error_missing_write_deleted_id") {
        OdooError::Server { name, message, .. } => {
            assert_eq!(name, "odoo.exceptions.MissingError");
            assert!(message.starts_with("Record does not exist or has been deleted."));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn html_answers_are_recognised_by_their_content_type() {
    for name in [
        "03_error_multidb_no_database_header",
        "57_error_unknown_database_header",
        "58_error_database_header_filtered_out",
    ] {
        let error = failure(name);
        assert_eq!(
            error.server_kind(),
            Some(ServerErrorKind::Database),
            "{name}"
        );
        assert!(
            !error.is_transient(),
            "{name}: a wrong database is configuration"
        );
        assert!(
            error.to_string().contains("\"ig19\" does not exist"),
            "{error}"
        );
    }
    for name in [
        "65_error_get_instead_of_post",
        "84_error_wrong_content_type",
        "85_error_form_content_type",
        "87_error_no_content_type",
        "80_error_malformed_json",
    ] {
        let error = failure(name);
        assert!(
            matches!(error, OdooError::Protocol { .. }),
            "{name}: {error:?}"
        );
        assert!(!error.is_transient());
    }
    let error = failure("64_error_missing_method_segment");
    assert_eq!(error.server_kind(), Some(ServerErrorKind::NoSuchMethod));
}

#[test]
fn other_statuses_keep_their_transient_meaning() {
    let gateway = error(502, Some("text/html"), b"<h1>502 Bad Gateway</h1>");
    assert!(matches!(gateway, OdooError::HttpStatus { status: 502, .. }));
    assert!(gateway.is_transient());
    let not_odoo = error(404, Some("text/html"), b"<h1>Not Found</h1>");
    assert!(matches!(
        not_odoo,
        OdooError::HttpStatus { status: 404, .. }
    ));
    assert!(!not_odoo.is_transient());
    let unavailable = error(
        503,
        Some("application/json"),
        br#"{"name": "werkzeug.exceptions.ServiceUnavailable", "message": "busy"}"#,
    );
    assert!(unavailable.is_transient(), "{unavailable:?}");
    let serialization = error(
        500,
        Some("application/json"),
        br#"{"name": "psycopg2.errors.SerializationFailure", "message": "could not serialize"}"#,
    );
    assert!(serialization.is_transient());
    let lock = error(
        409,
        Some("application/json"),
        br#"{"name": "odoo.exceptions.LockError", "message": "locked"}"#,
    );
    assert_eq!(lock.server_kind(), Some(ServerErrorKind::Concurrency));
    let too_large = error(
        413,
        Some("application/json"),
        br#"{"name": "werkzeug.exceptions.RequestEntityTooLarge", "message": "413"}"#,
    );
    assert_eq!(too_large.server_kind(), Some(ServerErrorKind::TooLarge));
}

#[test]
fn a_success_that_is_not_json_is_a_page_or_an_invalid_response() {
    // A maintenance page in place of Odoo, as over /jsonrpc: a refusal, work waits.
    let page = answer_of(200, Some("text/html"), b"<html>maintenance</html>");
    let error = page.result::<Value>(&caller()).unwrap_err();
    assert!(matches!(error, OdooError::NotJsonRpc { .. }), "{error:?}");
    assert_eq!(error.refusal(), Some(Refusal::NotJsonRpc));
    let ids = answer_of(200, Some("application/json"), b"[1, 2]").result(&caller());
    let error = single::<i64>(ids.unwrap()).unwrap_err();
    assert!(matches!(error, OdooError::InvalidResponse(_)), "{error:?}");
}

#[tokio::test]
async fn a_key_no_header_can_carry_is_refused_before_sending() {
    let transport = Transport::new(
        "http://127.0.0.1:9".into(),
        Duration::from_secs(1),
        caller(),
    )
    .unwrap();
    let body = crate::odoo::json2::body("m", "search", &json!([[]]), &json!({})).unwrap();
    let key = SecretString::from("line\nbreak");
    let error = transport
        .json2::<Value>("m", "search", body, &key)
        .await
        .unwrap_err();
    assert!(matches!(error, OdooError::Unsupported(_)), "{error:?}");
    assert!(!error.to_string().contains("line"), "{error}");
}
