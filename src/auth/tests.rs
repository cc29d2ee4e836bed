//! The modes of [`authenticate`] and the token check, with a fixed clock.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use secrecy::SecretString;

use super::signature::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::*;

const NOW: i64 = 1_700_000_000;
const TOKEN: &str = "tok-123";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &[u8] = br#"{"ai_generation_request_id":"7"}"#;

fn config(mode: AuthMode) -> AuthConfig {
    AuthConfig {
        mode,
        signing_secrets: vec![SigningSecret::parse(&SecretString::from(SECRET)).unwrap()],
        timestamp_tolerance: Duration::from_secs(300),
        ..AuthConfig::default()
    }
}

fn signed(id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
    let secret = SigningSecret::parse(&SecretString::from(SECRET)).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(ID_HEADER, HeaderValue::from_str(id).unwrap());
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
    headers.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_str(&secret.sign(id, timestamp, body)).unwrap(),
    );
    headers
}

fn with_token(mut headers: HeaderMap, token: &str) -> HeaderMap {
    headers.insert(TOKEN_HEADER, HeaderValue::from_str(token).unwrap());
    headers
}

fn check(mode: AuthMode, headers: &HeaderMap, now: i64) -> Result<(), Refusal> {
    let token = SecretString::from(TOKEN);
    authenticate(&config(mode), Some(&token), headers, BODY, None, now)
}

fn refusal(result: Result<(), Refusal>) -> Refusal {
    match result {
        Ok(()) => panic!("should be refused"),
        Err(refusal) => refusal,
    }
}

#[test]
fn token_mode_ignores_signatures() {
    let token_only = with_token(HeaderMap::new(), TOKEN);
    check(AuthMode::Token, &token_only, NOW).unwrap();
    let signature_only = signed("msg_1", NOW, BODY);
    assert_eq!(
        refusal(check(AuthMode::Token, &signature_only, NOW)),
        Refusal::Token(AuthError::Missing)
    );
}

#[test]
fn signature_mode_needs_a_valid_fresh_signature_and_ignores_tokens() {
    check(AuthMode::Signature, &signed("msg_1", NOW, BODY), NOW).unwrap();
    // A wrong token header does not matter in this mode.
    let headers = with_token(signed("msg_2", NOW, BODY), "wrong");
    assert!(check(AuthMode::Signature, &headers, NOW).is_ok());
    assert_eq!(
        refusal(check(
            AuthMode::Signature,
            &with_token(HeaderMap::new(), TOKEN),
            NOW
        )),
        Refusal::Signature(SignatureError::Missing)
    );
    assert_eq!(
        refusal(check(
            AuthMode::Signature,
            &signed("msg_3", NOW, b"{}"),
            NOW
        )),
        Refusal::Signature(SignatureError::Mismatch)
    );
    for skew in [-301, 301] {
        assert_eq!(
            refusal(check(
                AuthMode::Signature,
                &signed("msg_4", NOW + skew, BODY),
                NOW
            )),
            Refusal::Signature(SignatureError::OutsideTolerance),
            "{skew}"
        );
    }
}

#[test]
fn either_mode_judges_a_signed_callback_by_its_signature_alone() {
    let token_only = with_token(HeaderMap::new(), TOKEN);
    assert!(check(AuthMode::Either, &token_only, NOW).is_ok());
    assert!(check(AuthMode::Either, &signed("msg_1", NOW, BODY), NOW).is_ok());
    // A bad signature is not rescued by a good token.
    let bad_signature = with_token(signed("msg_2", NOW, b"other"), TOKEN);
    assert_eq!(
        refusal(check(AuthMode::Either, &bad_signature, NOW)),
        Refusal::Signature(SignatureError::Mismatch)
    );
    assert_eq!(
        refusal(check(AuthMode::Either, &HeaderMap::new(), NOW)),
        Refusal::Token(AuthError::Missing)
    );
}

#[test]
fn both_mode_needs_token_and_signature() {
    let both = with_token(signed("msg_1", NOW, BODY), TOKEN);
    check(AuthMode::Both, &both, NOW).unwrap();
    assert_eq!(
        refusal(check(AuthMode::Both, &signed("msg_2", NOW, BODY), NOW)),
        Refusal::Token(AuthError::Missing)
    );
    assert_eq!(
        refusal(check(
            AuthMode::Both,
            &with_token(HeaderMap::new(), TOKEN),
            NOW
        )),
        Refusal::Signature(SignatureError::Missing)
    );
}

#[test]
fn refusals_say_nothing_specific_to_the_caller() {
    for refusal in [
        Refusal::Token(AuthError::Mismatch),
        Refusal::Token(AuthError::NotConfigured),
        Refusal::Signature(SignatureError::Mismatch),
        Refusal::Signature(SignatureError::OutsideTolerance),
        Refusal::Signature(SignatureError::Malformed("x")),
    ] {
        assert_eq!(refusal.public_message(), "authentication failed");
    }
}

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

#[test]
fn the_right_token_passes_from_header_or_body() {
    let expected = secret("s3cret");
    assert_eq!(check_token(Some(&expected), Some(b"s3cret"), None), Ok(()));
    assert_eq!(check_token(Some(&expected), None, Some("s3cret")), Ok(()));
}

#[test]
fn a_wrong_header_is_not_rescued_by_the_body() {
    let expected = secret("s3cret");
    assert_eq!(
        check_token(Some(&expected), Some(b"nope"), Some("s3cret")),
        Err(AuthError::Mismatch)
    );
}

#[test]
fn missing_wrong_and_unconfigured_are_refused() {
    let expected = secret("s3cret");
    assert_eq!(
        check_token(Some(&expected), None, None),
        Err(AuthError::Missing)
    );
    assert_eq!(
        check_token(Some(&expected), None, Some("s3cre")),
        Err(AuthError::Mismatch)
    );
    assert_eq!(
        check_token(Some(&expected), None, Some("s3cret ")),
        Err(AuthError::Mismatch)
    );
    assert_eq!(
        check_token(None, Some(b"anything"), None),
        Err(AuthError::NotConfigured)
    );
    assert_eq!(check_token(None, None, None), Err(AuthError::NotConfigured));
}

#[test]
fn header_lookup_ignores_case() {
    let mut headers = HeaderMap::new();
    headers.insert("X-N8N-Webhook-Token", TOKEN.parse().unwrap());
    check(AuthMode::Token, &headers, NOW).unwrap();
}

#[test]
fn errors_never_contain_the_token() {
    for error in [
        AuthError::NotConfigured,
        AuthError::Missing,
        AuthError::Mismatch,
    ] {
        assert!(!error.to_string().contains("s3cret"));
    }
}
