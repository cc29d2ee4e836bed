//! Fuzzes the Standard Webhooks header parsers and the verification.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    influence_gen_bridge_fuzz::signature_header(data);
});
