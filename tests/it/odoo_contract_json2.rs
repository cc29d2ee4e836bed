//! Contract test: the Odoo emulator playing Odoo 19 against the `/json/2` transcripts recorded
//! from a real Odoo 19.0 (`tests/fixtures/odoo19/json2/`, copied from ../shared/odoo19).
//!
//! Each transcript is replayed in file order on one fresh emulator with the recorded method,
//! path, headers and raw body (the API key placeholders of the recording are the emulator's
//! keys). Compared with the recorded answer: HTTP status, Content-Type, `WWW-Authenticate`, the
//! HTML pages byte for byte, and JSON bodies as `odoo_contract` compares Odoo 18's (same keys,
//! types and values, except timestamps, UUIDs and tracebacks). The errors that the `/json/2`
//! layer itself raises (`werkzeug.exceptions.*`) must match word for word; for an exception of
//! the ORM below it, the name must match and the message is the emulator's (its ORM speaks
//! Odoo 18's wording, held by the Odoo 18 contract test). Transcripts the emulator does not
//! serve are listed with the reason.

use std::path::{Path, PathBuf};

use influence_gen_testkit::{EmulatorConfig, OdooEmulator, Series, UserAccess, send};
use serde_json::{Value, json};

use crate::odoo_contract::compare;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odoo19/json2")
}

const REQUESTS: &str = "influence_gen.ai_image_request";

fn skip_reason(name: &str) -> Option<&'static str> {
    let n = |prefix: &str| name.starts_with(prefix);
    if n("03_") {
        Some("a second server whose dbfilter matched two databases")
    } else if n("18_") || n("19_") || n("20_") || n("46_") {
        Some("web_read/web_save with a nested specification: the emulator reads flat fields")
    } else if n("22_") || n("23_") || n("23b_") {
        Some("chatter history of the recorded database (tracking messages of other exchanges)")
    } else if n("24_") || n("25_") {
        Some(
            "fields_get of Odoo 19's mail mixin; the request model's own fields are held by the Odoo 18 test",
        )
    } else if n("37_") {
        Some(
            "its first row is the attachment Odoo resized (PIL's palette PNG); its second row, the one sent with image_no_postprocess, is checked after 36",
        )
    } else if n("38_") || n("39b_") || n("40_") || n("97_") || n("98_") {
        Some(
            "a model or method the emulator does not have (inactive system users, ir.filters, read_group)",
        )
    } else if n("39_") || n("90_") || n("91_") {
        Some("ACL message names Odoo 19's group names (Role / Administrator)")
    } else if n("74_") || n("75_") {
        Some("a PostgreSQL error on ids or limit given as strings")
    } else if n("73_") || n("76_") || n("77_") {
        Some("ORM error worded differently in Odoo 19 (Domain(), 'in condition')")
    } else {
        None
    }
}

/// The recorded request: method, path, headers (without Host and Content-Length), raw body.
fn request(t: &Value) -> (String, String, Vec<(String, String)>, String) {
    let request = &t["request"];
    let line = request["request_line"].as_str().unwrap();
    let path = line.split(' ').nth(1).unwrap().to_owned();
    let headers = request["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(name, _)| !matches!(name.as_str(), "Host" | "Content-Length"))
        .collect();
    let method = request["method"].as_str().unwrap().to_owned();
    let body = request["body_raw"].as_str().unwrap_or("").to_owned();
    (method, path, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Odoo 19 with the recorded users and keys: `bridge` (uid 5) and `viewer19` (uid 6).
async fn odoo19() -> OdooEmulator {
    let odoo = OdooEmulator::start_with(EmulatorConfig {
        database: "ig19".into(),
        seed_viewer: false,
        series: Series::Odoo19,
        ..EmulatorConfig::default()
    })
    .await;
    odoo.set_next_id("res.users", 5);
    let bridge = odoo.add_user_named(
        "InfluenceGen Bridge",
        "bridge",
        "bridge-pass-789",
        UserAccess::User,
    );
    let viewer = odoo.add_user_named(
        "Viewer (read-only)",
        "viewer19",
        "viewer-pass",
        UserAccess::ReadOnly,
    );
    assert_eq!((bridge, viewer), (5, 6));
    // The keys of transcript 95, listed with their recorded expirations; the keys the other
    // transcripts use do not expire here (the recorded 1-day key would expire under the test).
    odoo.add_listed_api_key(
        bridge,
        "<listed-1>",
        "json2 transcripts (session)",
        Some("2026-12-03 00:00:00"),
    );
    odoo.add_listed_api_key(
        bridge,
        "<listed-2>",
        "json2 transcripts (shell)",
        Some("2027-12-02 07:28:47"),
    );
    odoo.add_api_key(bridge, "<api-key-from-session-wizard>");
    odoo.add_api_key(bridge, "<api-key>");
    odoo.set_next_id("res.users.apikeys", 5);
    odoo.add_listed_api_key(
        bridge,
        "<expired-api-key>",
        "json2 transcripts (expired)",
        Some("2026-12-01 07:28:51"),
    );
    odoo.add_api_key(viewer, "<viewer-api-key>");
    odoo.add_api_key(2, "<admin-api-key>");
    odoo
}

/// Lines the emulator's data up with the recorded database where the recording did something
/// outside these transcripts.
fn before(odoo: &OdooEmulator, name: &str) {
    if name.starts_with("21_") {
        // The recorded request 1 had three tracking/notification messages (46, 47, 42).
        odoo.set_next_id("mail.message", 49);
    }
    if name.starts_with("30_") {
        // 18/19: a web_save wrote request 1 and created request 5 (skipped here).
        odoo.update(REQUESTS, 1, json!({"status": "completed"}));
        odoo.insert(
            REQUESTS,
            json!({"prompt": "Created through web_save", "seed": 7}),
        );
    }
    if name.starts_with("31_") {
        odoo.set_next_id("ir.attachment", 31);
    }
    if name.starts_with("42_") {
        // 39b-41 and a request made and deleted by the recording (id 6).
        let id = odoo.insert(REQUESTS, json!({"prompt": "deleted"}));
        odoo.delete(REQUESTS, id).unwrap();
    }
}

/// Transcript 37's second row: the attachment created with `image_no_postprocess` (36) holds
/// the bytes sent, byte for byte.
fn stored_as_sent(odoo: &OdooEmulator) -> Vec<String> {
    let text =
        std::fs::read_to_string(fixtures().join("37_attachment_read_compare_checksums.json"))
            .expect("transcript 37");
    let t: Value = serde_json::from_str(&text).expect("JSON");
    let want = &t["response"]["body_json"][1];
    let id = want["id"].as_i64().expect("an id");
    let got = odoo.record("ir.attachment", id).unwrap_or_default();
    ["checksum", "file_size"]
        .into_iter()
        .filter(|k| got[*k] != want[*k])
        .map(|k| format!("attachment {id} {k}: expected {}, got {}", want[k], got[k]))
        .collect()
}

/// Differences between the recorded answer of `t` and the emulator's.
async fn replay(odoo: &OdooEmulator, t: &Value) -> Vec<String> {
    let (method, path, headers, body) = request(t);
    let resp = send(odoo.addr(), &method, &path, &headers, body)
        .await
        .expect("emulator answers");
    let expected = &t["response"];
    let mut diffs = Vec::new();
    if u64::from(resp.status) != expected["status"].as_u64().unwrap() {
        diffs.push(format!(
            "status: expected {}, got {}",
            expected["status"], resp.status
        ));
    }
    let recorded: Vec<(String, String)> = expected["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for name in ["content-type", "www-authenticate"] {
        let want = header(&recorded, name);
        // HTTP clients trim a header value's trailing space ("Bearer ").
        let got = header(&resp.headers, name).map(str::trim_end);
        if got != want.map(str::trim_end) {
            diffs.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    if expected["body_is_json"] != json!(true) {
        let want = expected["body_raw"].as_str().unwrap_or("");
        if resp.text() != want {
            diffs.push(format!("body: expected {want:?}, got {:?}", resp.text()));
        }
        return diffs;
    }
    let Some(actual) = resp.json() else {
        diffs.push(format!("body is not JSON: {:?}", resp.text()));
        return diffs;
    };
    let want = &expected["body_json"];
    let orm_error = want
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.starts_with("werkzeug.") && want.get("debug").is_some());
    compare(want, &actual, "$", !orm_error, &mut diffs);
    if orm_error && want["name"] != actual["name"] {
        diffs.push(format!(
            "name: expected {}, got {}",
            want["name"], actual["name"]
        ));
    }
    diffs
}

#[tokio::test]
async fn emulator_matches_odoo19_json2_transcripts() {
    let odoo = odoo19().await;
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let (mut covered, mut skipped, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for name in &names {
        if let Some(reason) = skip_reason(name) {
            skipped.push(format!("{name}: {reason}"));
            continue;
        }
        let text = std::fs::read_to_string(fixtures().join(name)).expect("readable transcript");
        let t: Value = serde_json::from_str(&text).expect("transcript is JSON");
        before(&odoo, name);
        let mut diffs = replay(&odoo, &t).await;
        if name.starts_with("36_") {
            diffs.extend(stored_as_sent(&odoo));
        }
        if !diffs.is_empty() {
            failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
        }
        covered.push(name.clone());
    }
    println!("covered ({}): {}", covered.len(), covered.join(" "));
    println!("skipped ({}):\n  {}", skipped.len(), skipped.join("\n  "));
    assert!(
        failures.is_empty(),
        "emulator differs from Odoo 19's /json/2:\n{}",
        failures.join("\n")
    );
    // Every exchange the bridge's own calls make, and every error case of the /json/2 layer.
    for prefix in [
        "00_", "01_", "02_", "04_", "10_", "11_", "12_", "13_", "14_", "15_", "16_", "17_", "21_",
        "30_", "31_", "32_", "33_", "34_", "40b_", "41_", "41b_", "41c_", "42_", "43_", "44_",
        "45_", "47_", "48_", "50_", "51_", "52_", "53_", "55_", "56_", "57_", "58_", "59_", "60_",
        "61_", "62_", "63_", "64_", "65_", "65b_", "66_", "70_", "71_", "72_", "78_", "79_", "80_",
        "81_", "82_", "83_", "84_", "85_", "86_", "87_", "88_", "92_", "93_", "94_", "95_", "96_",
        "99_",
    ] {
        assert!(
            covered.iter().any(|c| c.starts_with(prefix)),
            "transcript {prefix}* is not covered"
        );
    }
}
