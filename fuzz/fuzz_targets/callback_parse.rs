//! Fuzzes the callback body parser (`influence_gen_bridge::callback::parse`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    influence_gen_bridge_fuzz::callback_parse(data);
});
