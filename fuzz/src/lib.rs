//! What the fuzz targets check, as plain functions: `fuzz_targets/` calls
//! them under libFuzzer, and the bridge's own test suite
//! (`tests/it/security/seeds.rs`) runs them on `fuzz/seeds/` with stable
//! Rust, so the targets' logic is compiled and exercised on every CI run.
//!
//! Both inputs come from the network before authentication, so the only
//! acceptable outcomes are `Ok` or an error value: never a panic, an
//! unbounded allocation or a hang.

use std::sync::OnceLock;

use influence_gen_bridge::auth::signature::{
    self, MAX_SIGNATURES, SignatureError, SignedHeaders, SigningSecret,
};
use secrecy::SecretString;

/// The largest image the parser is asked to accept (1 MiB keeps runs fast).
const MAX_IMAGE_BYTES: u64 = 1024 * 1024;

/// Any bytes as a callback body.
pub fn callback_parse(data: &[u8]) {
    if let Ok(parsed) = influence_gen_bridge::callback::parse(data) {
        // A parsed body is borrowed from the input, never larger than it.
        if let Some(token) = &parsed.security_token {
            assert!(token.len() <= data.len());
        }
        let _ = parsed.validate(MAX_IMAGE_BYTES);
    }
}

/// Any bytes as signature headers: the whole input as a `webhook-signature`
/// value, then split at newlines into id, timestamp, signature and body.
pub fn signature_header(data: &[u8]) {
    if let Ok(signatures) = signature::parse_signatures(data) {
        assert!(!signatures.is_empty() && signatures.len() <= MAX_SIGNATURES);
        assert!(signatures.iter().all(|s| s.len() == 32));
    }
    let mut parts = data.splitn(4, |&byte| byte == b'\n');
    let id = parts.next().unwrap_or_default();
    let timestamp = parts.next().unwrap_or_default();
    let header = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let Ok(signed) = SignedHeaders::parse(id, timestamp, header) else {
        return;
    };
    match signed.verify(std::slice::from_ref(secret()), body) {
        Ok(()) | Err(SignatureError::Mismatch) => {}
        Err(other) => panic!("verify of parsed headers failed with {other:?}"),
    }
    // What the key signs, the verifier accepts.
    let good = secret().sign(signed.id, signed.timestamp, body);
    let resigned =
        SignedHeaders::parse(id, timestamp, good.as_bytes()).expect("a fresh signature parses");
    assert_eq!(
        resigned.verify(std::slice::from_ref(secret()), body),
        Ok(())
    );
}

fn secret() -> &'static SigningSecret {
    static SECRET: OnceLock<SigningSecret> = OnceLock::new();
    SECRET.get_or_init(|| {
        SigningSecret::parse(&SecretString::from(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ))
        .expect("a valid test secret")
    })
}
