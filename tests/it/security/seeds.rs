//! The fuzz targets' checks (`fuzz/src/lib.rs`) on the committed seed
//! corpus, with stable Rust: the targets stay compiled and meaningful even
//! where nightly and libFuzzer are not available. See `fuzz/README.md`.

use std::path::Path;

#[path = "../../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[test]
fn callback_parse_seeds_pass_the_fuzz_checks() {
    for (name, data) in seeds("callback_parse") {
        checks::callback_parse(&data);
        // Every prefix too: a truncated body is the commonest malformed one.
        for cut in 0..data.len() {
            checks::callback_parse(&data[..cut]);
        }
        eprintln!("ok {name}");
    }
}

#[test]
fn signature_header_seeds_pass_the_fuzz_checks() {
    for (name, data) in seeds("signature_header") {
        for cut in 0..=data.len() {
            checks::signature_header(&data[..cut]);
        }
        eprintln!("ok {name}");
    }
}
