//! Parsing and validation of callback bodies, without a server.

use super::*;

const MAX: u64 = 1024 * 1024;
/// A 1×1 PNG's base64 is not needed: validation only decodes base64.
const DATA: &str = "aGVsbG8gd29ybGQ=";

fn parse_ok(body: &str) -> ParsedCallback<'_> {
    parse(body.as_bytes()).expect("a JSON object")
}

fn valid(body: &str) -> CallbackResult {
    parse_ok(body).validate(MAX).expect("valid")
}

fn invalid_message(body: &str) -> String {
    parse_ok(body).validate(MAX).expect_err("invalid").0
}

#[test]
fn a_bare_success_with_image_data() {
    let body = format!(
        r#"{{"ai_generation_request_id":"42","security_token":"tok","result_payload":{{"status":"success","data":{{"image_data":"{DATA}","file_format":"png","file_size":11,"width":1,"height":2,"mimetype":"image/png"}}}}}}"#
    );
    let parsed = parse_ok(&body);
    assert!(matches!(parsed.style, BodyStyle::Bare));
    assert_eq!(parsed.security_token.as_deref(), Some("tok"));
    let result = parsed.validate(MAX).unwrap();
    assert_eq!(result.request_ref, "42");
    let Outcome::Success {
        image: ImagePayload::Inline(bytes),
        claims,
    } = result.outcome
    else {
        panic!("not inline")
    };
    assert_eq!(&bytes[..], b"hello world");
    assert_eq!(
        claims,
        Claims {
            file_format: Some("png".into()),
            mimetype: Some("image/png".into()),
            width: Some(1),
            height: Some(2),
            file_size: Some(11)
        }
    );
}

#[test]
fn the_jsonrpc_envelope_keeps_its_id() {
    let body = r#"{"jsonrpc":"2.0","method":"call","id":{"n":7},"params":{"ai_generation_request_id":5,"result_payload":{"status":"failure","error_data":{"message":"m","details":"d"}}}}"#;
    let parsed = parse_ok(body);
    let BodyStyle::JsonRpc { id } = &parsed.style else {
        panic!("not an envelope")
    };
    assert_eq!(id.get(), r#"{"n":7}"#);
    let result = parsed.validate(MAX).unwrap();
    assert_eq!(result.request_ref, "5");
    assert!(
        matches!(result.outcome, Outcome::Failure { ref message, ref details } if message == "m" && details.as_deref() == Some("d"))
    );
}

#[test]
fn an_envelope_without_id_answers_with_null() {
    let body = r#"{"jsonrpc":"2.0","method":"call","params":{"ai_generation_request_id":"5","result_payload":{"status":"failure"}}}"#;
    let BodyStyle::JsonRpc { id } = parse_ok(body).style else {
        panic!("not an envelope")
    };
    assert_eq!(id.get(), "null");
}

#[test]
fn an_image_url() {
    let result = valid(
        r#"{"ai_generation_request_id":"u-1","result_payload":{"status":"success","data":{"image_url":" https://img.example.com/a.png "}}}"#,
    );
    let Outcome::Success {
        image: ImagePayload::Url(url),
        ..
    } = result.outcome
    else {
        panic!("not a URL")
    };
    assert_eq!(url, "https://img.example.com/a.png");
}

#[test]
fn failure_synonyms_and_missing_error_data() {
    for status in ["failure", "failed", "error"] {
        let body = format!(
            r#"{{"ai_generation_request_id":"1","result_payload":{{"status":"{status}"}}}}"#
        );
        let Outcome::Failure { message, details } = valid(&body).outcome else {
            panic!("not a failure")
        };
        assert!(message.contains("without error_data"), "{message}");
        assert_eq!(details, None);
    }
}

#[test]
fn structured_details_are_kept_as_json_text() {
    let body = r#"{"ai_generation_request_id":"1","result_payload":{"status":"failure","error_data":{"message":"m","details":{"code":451}}}}"#;
    let Outcome::Failure { details, .. } = valid(body).outcome else {
        panic!()
    };
    assert_eq!(details.as_deref(), Some(r#"{"code":451}"#));
}

#[test]
fn long_messages_are_cut() {
    let long = "x".repeat(5_000);
    let body = format!(
        r#"{{"ai_generation_request_id":"1","result_payload":{{"status":"failure","error_data":{{"message":"{long}"}}}}}}"#
    );
    let Outcome::Failure { message, .. } = valid(&body).outcome else {
        panic!()
    };
    assert_eq!(message.chars().count(), MAX_ERROR_MESSAGE_CHARS + 1);
}

#[test]
fn not_an_object_is_malformed() {
    for body in ["", "[]", "\"x\"", "{", "{\"a\":", "\u{0}"] {
        assert!(
            parse(body.as_bytes()).is_err(),
            "{body:?} should be malformed"
        );
    }
    assert!(parse(&[0xff, 0xfe]).is_err());
}

#[test]
fn contract_violations_name_the_field() {
    let cases = [
        (r#"{}"#, "missing ai_generation_request_id"),
        (
            r#"{"ai_generation_request_id":""}"#,
            "missing ai_generation_request_id",
        ),
        (
            r#"{"ai_generation_request_id":-3}"#,
            "ai_generation_request_id must be",
        ),
        (
            r#"{"ai_generation_request_id":[1]}"#,
            "ai_generation_request_id must be",
        ),
        (
            r#"{"ai_generation_request_id":"1"}"#,
            "missing result_payload",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":3}"#,
            "result_payload must be an object",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{}}"#,
            "missing result_payload.status",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"done"}}"#,
            "must be \"success\" or \"failure\"",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"success"}}"#,
            "missing result_payload.data",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"success","data":{}}}"#,
            "needs image_data or image_url",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"success","data":{"image_data":"aGk=","image_url":"http://x/y"}}}"#,
            "not both",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"success","data":{"image_data":"not base64!"}}}"#,
            "image_data",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"success","data":{"image_url":"ftp://x/y"}}}"#,
            "image_url must be",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"success","data":{"image_data":"aGk=","width":-1}}}"#,
            "width must be",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"success","data":{"image_data":"aGk=","mimetype":7}}}"#,
            "mimetype must be",
        ),
        (
            r#"{"ai_generation_request_id":"1","result_payload":{"status":"failure","error_data":"boom"}}"#,
            "error_data must be an object",
        ),
    ];
    for (body, needle) in cases {
        let message = invalid_message(body);
        assert!(
            message.contains(needle),
            "{body}: {message:?} should contain {needle:?}"
        );
    }
}

#[test]
fn numeric_strings_are_accepted_as_claims() {
    let body = r#"{"ai_generation_request_id":"1","result_payload":{"status":"success","data":{"image_data":"aGk=","width":"640"}}}"#;
    let Outcome::Success { claims, .. } = valid(body).outcome else {
        panic!()
    };
    assert_eq!(claims.width, Some(640));
}

#[test]
fn an_oversized_image_is_refused_for_the_pipeline_not_the_caller() {
    let big = "A".repeat(4096);
    let body = format!(
        r#"{{"ai_generation_request_id":"1","result_payload":{{"status":"success","data":{{"image_data":"{big}"}}}}}}"#
    );
    let parsed = parse(body.as_bytes()).unwrap();
    let Outcome::Success {
        image: ImagePayload::Refused(reason),
        ..
    } = parsed.validate(100).unwrap().outcome
    else {
        panic!()
    };
    assert!(
        reason.contains("larger") || reason.contains("large"),
        "{reason}"
    );
}

#[test]
fn the_token_is_read_even_when_the_contract_is_broken() {
    let parsed = parse_ok(r#"{"security_token":"tok"}"#);
    assert_eq!(parsed.security_token.as_deref(), Some("tok"));
    assert!(parsed.validate(MAX).is_err());
}

#[test]
fn a_result_survives_a_round_trip_through_json() {
    let body = format!(
        r#"{{"ai_generation_request_id":"9","result_payload":{{"status":"success","data":{{"image_data":"{DATA}","width":3}}}}}}"#
    );
    let result = valid(&body);
    let text = serde_json::to_string(&result).unwrap();
    let back: CallbackResult = serde_json::from_str(&text).unwrap();
    let Outcome::Success {
        image: ImagePayload::Inline(bytes),
        claims,
    } = back.outcome
    else {
        panic!()
    };
    assert_eq!(&bytes[..], b"hello world");
    assert_eq!(claims.width, Some(3));
}
