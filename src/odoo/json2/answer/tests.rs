//! Every recorded Odoo 19 `/json/2` answer decodes to the result or to the
//! error kind `/jsonrpc` gives for the same case.

use serde_json::Value;

use super::*;
use crate::odoo::Refusal;

const CALLER: Caller<'static> = Caller {
    login: "bridge",
    database: "ig19",
};

/// (status, content type, body) of a transcript in tests/fixtures/odoo19/json2.
fn recorded(name: &str) -> (u16, Option<String>, Vec<u8>) {
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
        .and_then(|h| h[1].as_str())
        .map(str::to_owned);
    let status = u16::try_from(response["status"].as_u64().unwrap()).unwrap();
    (
        status,
        content_type,
        response["body_raw"].as_str().unwrap().as_bytes().to_vec(),
    )
}

fn answer(name: &str, single_create: bool) -> Result<Option<Value>, OdooError> {
    let (status, content_type, body) = recorded(name);
    decode(
        status,
        content_type.as_deref(),
        &body,
        single_create,
        CALLER,
    )
}

fn failure(name: &str) -> OdooError {
    answer(name, false).expect_err(name)
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
    let gateway = error(502, Some("text/html"), b"<h1>502 Bad Gateway</h1>", CALLER);
    assert!(matches!(gateway, OdooError::HttpStatus { status: 502, .. }));
    assert!(gateway.is_transient());
    let not_odoo = error(404, Some("text/html"), b"<h1>Not Found</h1>", CALLER);
    assert!(matches!(
        not_odoo,
        OdooError::HttpStatus { status: 404, .. }
    ));
    assert!(!not_odoo.is_transient());
    let unavailable = error(
        503,
        Some("application/json"),
        br#"{"name": "werkzeug.exceptions.ServiceUnavailable", "message": "busy"}"#,
        CALLER,
    );
    assert!(unavailable.is_transient(), "{unavailable:?}");
    let serialization = error(
        500,
        Some("application/json"),
        br#"{"name": "psycopg2.errors.SerializationFailure", "message": "could not serialize"}"#,
        CALLER,
    );
    assert!(serialization.is_transient());
    let lock = error(
        409,
        Some("application/json"),
        br#"{"name": "odoo.exceptions.LockError", "message": "locked"}"#,
        CALLER,
    );
    assert_eq!(lock.server_kind(), Some(ServerErrorKind::Concurrency));
    let too_large = error(
        413,
        Some("application/json"),
        br#"{"name": "werkzeug.exceptions.RequestEntityTooLarge", "message": "413"}"#,
        CALLER,
    );
    assert_eq!(too_large.server_kind(), Some(ServerErrorKind::TooLarge));
}

#[test]
fn a_success_that_is_not_json_is_a_page_or_an_invalid_response() {
    // A maintenance page in place of Odoo, as over /jsonrpc: a refusal, work waits.
    let error = decode::<Value>(
        200,
        Some("text/html"),
        b"<html>maintenance</html>",
        false,
        CALLER,
    )
    .unwrap_err();
    assert!(matches!(error, OdooError::NotJsonRpc { .. }), "{error:?}");
    assert_eq!(error.refusal(), Some(Refusal::NotJsonRpc));
    let error = decode::<i64>(200, Some("application/json"), b"[1, 2]", true, CALLER).unwrap_err();
    assert!(matches!(error, OdooError::InvalidResponse(_)), "{error:?}");
}
