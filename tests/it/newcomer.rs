//! A newcomer's first five minutes: the demo runs and tells its story
//! through the production code path, and the quickstart's configuration and
//! commands work as the README shows them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::bridge::{self, BIN};
use crate::support::config::{ODOO_LOGIN, ODOO_PASSWORD, assert_no_secret};
use crate::support::odoo;

/// The demo example's binary. `cargo test` builds every example before it
/// runs the tests, so it is there and fresh; a run limited to this test
/// target (`cargo test --test it`) may find it missing, and builds it.
fn demo_binary() -> PathBuf {
    let binary = Path::new(BIN)
        .parent()
        .expect("target dir")
        .join("examples")
        .join("demo");
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", "demo"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "cannot build the demo");
    }
    binary
}

#[tokio::test]
async fn the_demo_tells_the_whole_story_and_exits_0() {
    let output = tokio::process::Command::new(demo_binary())
        .output()
        .await
        .expect("run the demo");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the demo failed:\n{text}\n{errors}"
    );
    for line in [
        "BUILT-IN ODOO 18 EMULATOR",
        "(daemon::run, the code `serve` runs)",
        "Odoo: request #1 created, status queued",
        "Odoo automation rule → bridge: trigger for request #1 → 202",
        "bridge → N8N: request #1 sent",
        "Odoo status now processing",
        "N8N → bridge: callback for request \"1\" (success) → 200 {\"status\":\"success\"}",
        "Odoo: attachment #",
        "and generated image #",
        "Odoo: request #1 completed",
        "Odoo: request #2 failed",
        "the same callback → 200 {\"message\":\"duplicate",
        "still exactly one generated image",
        // The production serve path answered its own routes.
        "bridge /readyz: ready",
        "bridge /metrics: callbacks applied 2, duplicates 1",
        "demo finished: every step happened",
    ] {
        assert!(text.contains(line), "the story lacks {line:?}:\n{text}");
    }
}

/// `examples/quickstart/config.toml` with its endpoints pointed at the test's services.
pub fn quickstart_config(odoo_url: &str, webhook_url: &str) -> String {
    let text = include_str!("../../examples/quickstart/config.toml");
    let replaced = text
        .replace(
            "url = \"http://127.0.0.1:8069\"",
            &format!("url = {odoo_url:?}"),
        )
        .replace(
            "webhook_url = \"http://127.0.0.1:5678/webhook/influence-gen\"",
            &format!("webhook_url = {webhook_url:?}"),
        )
        .replace("listen = \"127.0.0.1:8787\"", "listen = \"127.0.0.1:0\"");
    assert_ne!(
        replaced, text,
        "the quickstart config changed shape: update this test"
    );
    replaced
}

#[tokio::test]
async fn the_quickstart_config_and_check_work_as_written() {
    let (odoo, _) = odoo().await;
    let n8n = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let webhook = format!("http://{}/webhook/influence-gen", n8n.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = quickstart_config(&odoo.url(), &webhook)
        .replace("login = \"bridge\"", &format!("login = {ODOO_LOGIN:?}"));
    std::fs::write(&path, text).unwrap();
    // The secrets exactly as the README's quickstart exports them.
    let secrets = [
        ("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", ODOO_PASSWORD),
        (
            "INFLUENCE_GEN_BRIDGE_N8N_API_KEY",
            "quickstart-api-key-93be",
        ),
        (
            "INFLUENCE_GEN_BRIDGE_N8N_CALLBACK_TOKEN",
            "quickstart-callback-token-5c11",
        ),
        (
            "INFLUENCE_GEN_BRIDGE_N8N_OUTBOUND_TOKEN",
            "quickstart-outbound-token-08fd",
        ),
    ];
    let output = bridge::run(&path, &["check"], &secrets).await;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "check failed with the quickstart config:\n{report}"
    );
    assert!(report.contains("all checks passed"), "{report}");
    let values: Vec<String> = secrets
        .iter()
        .map(|(_, value)| (*value).to_owned())
        .collect();
    assert_no_secret(&report, &values, "check");

    // Without the secrets it names what is missing, and exits 2.
    let output = bridge::run(&path, &["check"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD"));
}

#[test]
fn the_readme_shows_the_two_commands_and_the_demo_near_the_top() {
    let readme = include_str!("../../README.md");
    let top: String = readme.lines().take(60).collect::<Vec<_>>().join("\n");
    for command in [
        "cargo test --workspace",
        "cargo run --example demo",
        "serve",
    ] {
        assert!(top.contains(command), "README's top lacks {command:?}");
    }
    let ci = include_str!("../../.ci/run");
    assert!(
        ci.lines()
            .any(|line| line.trim() == "cargo test --workspace"),
        ".ci/run does not run the README's test command"
    );
}

#[test]
fn the_readme_is_short_and_the_docs_anchors_code_cites_exist() {
    let readme = include_str!("../../README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; keep it at most 200, move the rest to docs/"
    );

    // Code comments cite docs/<file>.md#<anchor>: every one must name a heading.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    collect_rust_files(&root.join("src"), &mut sources);
    let mut cited = 0;
    for source in &sources {
        let text = std::fs::read_to_string(source).unwrap();
        for (at, _) in text.match_indices("docs/") {
            let rest = &text[at..];
            let Some((doc, anchor)) = rest.split_once(".md#") else {
                continue;
            };
            if doc.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '/' || c == '_')) {
                continue;
            }
            let anchor: String = anchor
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            let doc = root.join(format!("{doc}.md"));
            let headings = std::fs::read_to_string(&doc).unwrap_or_else(|error| {
                panic!("{} cites {}: {error}", source.display(), doc.display())
            });
            assert!(
                headings
                    .lines()
                    .any(|line| heading_anchor(line).as_deref() == Some(&*anchor)),
                "{} cites {}#{anchor}, which has no such heading",
                source.display(),
                doc.display()
            );
            cited += 1;
        }
    }
    // The anchors the code is asked to cite (docs/protocol.md) exist whether cited yet or not.
    let protocol = include_str!("../../docs/protocol.md");
    for anchor in [
        "routes",
        "callback-contract",
        "callback-answers",
        "applying-a-result",
        "initiation",
        "request-states",
        "system-parameters",
    ] {
        assert!(
            protocol
                .lines()
                .any(|line| heading_anchor(line).as_deref() == Some(anchor)),
            "docs/protocol.md lacks the heading of #{anchor}"
        );
    }
    eprintln!("{cited} citations of docs/ anchors in src/ checked");
}

/// The GitHub anchor of a Markdown heading line, or `None` for another line.
fn heading_anchor(line: &str) -> Option<String> {
    let title = line.trim_start_matches('#');
    if title.len() == line.len() || !title.starts_with(' ') {
        return None;
    }
    Some(
        title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect(),
    )
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}
