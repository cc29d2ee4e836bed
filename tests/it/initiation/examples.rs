//! The shipped examples parse: the Odoo addon's Python and XML (with
//! `python3`, skipped with a message when it is missing) and the N8N
//! workflow's JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

const ADDON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/odoo/influence_gen_base_models"
);
const N8N_EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/n8n");

fn files(dir: &Path, extension: &str, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the examples") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files(&path, extension, into);
        } else if path.extension().is_some_and(|e| e == extension) {
            into.push(path);
        }
    }
}

fn python3_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_addon_python_and_xml_parse() {
    if !python3_available() {
        println!("SKIPPED the_addon_python_and_xml_parse: python3 is not installed");
        return;
    }
    // Bytecode goes to a temporary directory, not into the examples.
    let cache = tempfile::tempdir().unwrap();
    let mut python = Vec::new();
    files(Path::new(ADDON), "py", &mut python);
    assert!(python.len() >= 4, "{python:?}");
    for file in &python {
        let output = Command::new("python3")
            .args(["-m", "py_compile"])
            .arg(file)
            .env("PYTHONPYCACHEPREFIX", cache.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut xml = Vec::new();
    files(Path::new(ADDON), "xml", &mut xml);
    assert!(xml.len() >= 4, "{xml:?}");
    for file in &xml {
        let output = Command::new("python3")
            .args([
                "-c",
                "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])",
            ])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut compiled = Vec::new();
    files(Path::new(ADDON), "pyc", &mut compiled);
    assert!(
        compiled.is_empty(),
        "py_compile wrote into the examples: {compiled:?}"
    );
}

#[test]
fn the_n8n_workflow_is_json() {
    let mut json = Vec::new();
    files(Path::new(N8N_EXAMPLES), "json", &mut json);
    assert!(!json.is_empty());
    for file in json {
        let text = std::fs::read_to_string(&file).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(value["nodes"].is_array(), "{}: no nodes", file.display());
    }
}
