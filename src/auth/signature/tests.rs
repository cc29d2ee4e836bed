use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use secrecy::SecretString;

use super::*;

/// The example of the Standard Webhooks specification (and of Svix's
/// libraries): any correct implementation produces this signature.
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TIMESTAMP: i64 = 1_614_265_330;
const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const TOLERANCE: Duration = Duration::from_secs(300);

fn secret(text: &str) -> SigningSecret {
    SigningSecret::parse(&SecretString::from(text.to_owned())).unwrap()
}

fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ID_HEADER, HeaderValue::from_str(id).unwrap());
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from_str(timestamp).unwrap());
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
    headers
}

fn verify(
    headers: &HeaderMap,
    secrets: &[SigningSecret],
    body: &[u8],
) -> Result<(), SignatureError> {
    SignedHeaders::from_headers(headers)?
        .ok_or(SignatureError::Missing)?
        .verify(secrets, body)
}

#[test]
fn the_specification_example_signs_and_verifies() {
    let key = secret(SPEC_SECRET);
    assert_eq!(key.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
    let headers = headers(SPEC_ID, "1614265330", SPEC_SIGNATURE);
    assert_eq!(verify(&headers, &[key], SPEC_BODY), Ok(()));
}

#[test]
fn any_change_to_id_timestamp_or_body_breaks_the_signature() {
    let key = secret(SPEC_SECRET);
    for (id, timestamp, body) in [
        ("msg_other", "1614265330", SPEC_BODY),
        (SPEC_ID, "1614265331", SPEC_BODY),
        (SPEC_ID, "1614265330", &br#"{"test": 2432232315}"#[..]),
        (SPEC_ID, "1614265330", &br#"{"test":2432232314}"#[..]),
    ] {
        let headers = headers(id, timestamp, SPEC_SIGNATURE);
        assert_eq!(
            verify(&headers, std::slice::from_ref(&key), body),
            Err(SignatureError::Mismatch),
            "{id} {timestamp}"
        );
    }
}

#[test]
fn any_of_several_signatures_and_secrets_may_match() {
    let old = secret(SPEC_SECRET);
    let new = secret("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    let signature = new.sign("msg_1", 1_700_000_000, b"{}");
    // Rotation on the sender: both signatures in one header.
    let both = format!("{} {signature}", old.sign("msg_1", 1_700_000_000, b"{}"));
    let headers_both = headers("msg_1", "1700000000", &both);
    assert_eq!(
        verify(&headers_both, std::slice::from_ref(&new), b"{}"),
        Ok(())
    );
    // Rotation on the receiver: both secrets configured.
    let headers_new = headers("msg_1", "1700000000", &signature);
    assert_eq!(verify(&headers_new, &[old.clone(), new], b"{}"), Ok(()));
    assert_eq!(
        verify(&headers_new, &[old], b"{}"),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn unknown_versions_are_skipped_but_one_v1_is_required() {
    let key = secret(SPEC_SECRET);
    let with_v1a = format!("v1a,c29tZXRoaW5n {SPEC_SIGNATURE}");
    let headers_v1a = headers(SPEC_ID, "1614265330", &with_v1a);
    assert_eq!(
        verify(&headers_v1a, std::slice::from_ref(&key), SPEC_BODY),
        Ok(())
    );
    assert!(matches!(
        parse_signatures(b"v1a,c29tZXRoaW5n"),
        Err(SignatureError::Malformed(_))
    ));
}

#[test]
fn malformed_headers_are_refused_as_such() {
    for (id, timestamp, signature) in [
        ("", "1614265330", SPEC_SIGNATURE),
        ("has space", "1614265330", SPEC_SIGNATURE),
        (SPEC_ID, "", SPEC_SIGNATURE),
        (SPEC_ID, "-5", SPEC_SIGNATURE),
        (SPEC_ID, "1614265330.5", SPEC_SIGNATURE),
        (SPEC_ID, "9999999999999", SPEC_SIGNATURE),
        (SPEC_ID, "1614265330", ""),
        (SPEC_ID, "1614265330", "v1"),
        (SPEC_ID, "1614265330", "v1,not base64!"),
        (SPEC_ID, "1614265330", "v1,c2hvcnQ="),
    ] {
        let result =
            SignedHeaders::parse(id.as_bytes(), timestamp.as_bytes(), signature.as_bytes());
        assert!(
            matches!(result, Err(SignatureError::Malformed(_))),
            "{id:?} {timestamp:?} {signature:?}: {result:?}"
        );
    }
    let long_id = "x".repeat(MAX_ID_BYTES + 1);
    assert!(parse_id(long_id.as_bytes()).is_err());
    let long_header = format!("{SPEC_SIGNATURE} ").repeat(100);
    assert!(parse_signatures(long_header.as_bytes()).is_err());
}

#[test]
fn absent_headers_are_not_a_signature_and_partial_ones_are_malformed() {
    assert_eq!(SignedHeaders::from_headers(&HeaderMap::new()), Ok(None));
    let mut partial = HeaderMap::new();
    partial.insert(ID_HEADER, HeaderValue::from_static("msg_1"));
    assert!(matches!(
        SignedHeaders::from_headers(&partial),
        Err(SignatureError::Malformed(_))
    ));
}

#[test]
fn only_the_first_signatures_are_looked_at() {
    let key = secret(SPEC_SECRET);
    let decoy = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let many = format!("{} {SPEC_SIGNATURE}", [decoy; MAX_SIGNATURES].join(" "));
    let headers = headers(SPEC_ID, "1614265330", &many);
    assert_eq!(
        verify(&headers, &[key], SPEC_BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn freshness_is_checked_in_both_directions() {
    let signed = SignedHeaders::parse(b"msg_1", b"1000000", SPEC_SIGNATURE.as_bytes()).unwrap();
    assert!(signed.is_fresh(1_000_000, TOLERANCE));
    assert!(signed.is_fresh(1_000_300, TOLERANCE));
    assert!(signed.is_fresh(999_700, TOLERANCE));
    assert!(!signed.is_fresh(1_000_301, TOLERANCE));
    assert!(!signed.is_fresh(999_699, TOLERANCE));
}

#[test]
fn secrets_must_be_base64_keys_of_a_sane_length() {
    for good in [
        SPEC_SECRET,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    ] {
        assert!(
            SigningSecret::parse(&SecretString::from(good)).is_ok(),
            "{good}"
        );
    }
    assert_eq!(
        SigningSecret::parse(&SecretString::from("whsec_not base64")).unwrap_err(),
        SecretError::NotBase64
    );
    assert_eq!(
        SigningSecret::parse(&SecretString::from("whsec_c2hvcnQ=")).unwrap_err(),
        SecretError::BadLength(5)
    );
    let error = SigningSecret::parse(&SecretString::from("whsec_c2hvcnQ="))
        .unwrap_err()
        .to_string();
    assert!(!error.contains("c2hvcnQ"), "{error}");
}

#[test]
fn debug_output_redacts_the_secret() {
    let key = secret(SPEC_SECRET);
    let debug = format!("{key:?}");
    assert!(!debug.contains("MfKQ9r8G"), "{debug}");
}
