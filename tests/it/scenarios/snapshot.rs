//! The Odoo state a scenario ends in, read over JSON-RPC and normalized so
//! that two Odoos (the emulator and a real one) can be compared: record ids
//! become labels (`r0`, `r1`, … for requests in the order given), digits in
//! free text become `N`, and only fields the bridge writes or Odoo derives
//! from them are kept.

use serde_json::{Map, Value, json};

use super::{ATTACHMENTS, IMAGES, REQUESTS, Target};
use influence_gen_bridge::odoo::SearchOptions;

const REQUEST_FIELDS: &[&str] = &["status", "error_details", "generated_image_id"];
const IMAGE_FIELDS: &[&str] = &[
    "request_id",
    "storage_type",
    "storage_identifier",
    "file_format",
    "file_size",
    "width",
    "height",
    "hash_value",
    "retention_category",
];
const MESSAGE_FIELDS: &[&str] = &[
    "res_id",
    "message_type",
    "subtype_id",
    "body",
    "tracking_value_ids",
];
const ATTACHMENT_FIELDS: &[&str] = &[
    "res_model",
    "res_id",
    "name",
    "mimetype",
    "checksum",
    "file_size",
];

/// What a scenario saw and left: `answers` (normalized), then per request
/// its status, error, images and their attachments.
pub async fn take(target: &Target, requests: &[i64], answers: Value) -> Value {
    let labels = Labels(requests.to_vec());
    let odoo = &target.admin;
    let by_id = SearchOptions {
        order: Some("id asc".into()),
        ..SearchOptions::default()
    };
    let rows: Vec<Value> = odoo
        .read(REQUESTS, requests, REQUEST_FIELDS)
        .await
        .expect("read the requests");
    let images: Vec<Value> = odoo
        .search_read(
            IMAGES,
            &json!([["request_id", "in", requests]]),
            IMAGE_FIELDS,
            &by_id,
        )
        .await
        .expect("read the images");
    let image_ids: Vec<i64> = images.iter().filter_map(|i| i["id"].as_i64()).collect();
    let attachments: Vec<Value> = odoo
        .search_read(
            ATTACHMENTS,
            &json!([["res_model", "=", IMAGES], ["res_id", "in", image_ids]]),
            ATTACHMENT_FIELDS,
            &by_id,
        )
        .await
        .expect("read the attachments");
    let messages: Vec<Value> = odoo
        .search_read(
            "mail.message",
            &json!([["model", "=", REQUESTS], ["res_id", "in", requests]]),
            MESSAGE_FIELDS,
            &by_id,
        )
        .await
        .expect("read the chatter");
    let mut state = Map::new();
    state.insert("answers".into(), labels.text_in(&answers));
    for (n, row) in rows.iter().enumerate() {
        let id = row["id"].as_i64().unwrap_or_default();
        let own: Vec<Value> = images
            .iter()
            .filter(|image| image["request_id"][0].as_i64() == Some(id))
            .map(|image| image_state(image, &attachments, &labels))
            .collect();
        let linked = &row["generated_image_id"];
        let links = match linked.as_array() {
            Some(pair) => json!(
                images
                    .iter()
                    .position(|image| image["id"] == pair[0])
                    .map(|position| format!("image {position}"))
            ),
            None => linked.clone(),
        };
        state.insert(
            format!("r{n}"),
            json!({
                "status": row["status"],
                "error_details": labels.text_in(&row["error_details"]),
                "generated_image": links,
                "images": own,
                "chatter": chatter(id, &messages, &labels),
            }),
        );
    }
    Value::Object(state)
}

/// The request's chatter: each message's type, subtype, body and number of
/// tracked values, oldest first.
fn chatter(request: i64, messages: &[Value], labels: &Labels) -> Value {
    messages
        .iter()
        .filter(|m| m["res_id"].as_i64() == Some(request))
        .map(|m| {
            json!({
                "message_type": m["message_type"],
                "subtype": m["subtype_id"][1],
                "body": labels.text_in(&m["body"]),
                "tracked_values": m["tracking_value_ids"].as_array().map(Vec::len),
            })
        })
        .collect()
}

fn image_state(image: &Value, attachments: &[Value], labels: &Labels) -> Value {
    let id = image["id"].as_i64();
    let own: Vec<Value> = attachments
        .iter()
        .filter(|a| a["res_id"].as_i64() == id)
        .map(|a| {
            json!({
                "name": labels.text_in(&a["name"]),
                "res_model": a["res_model"],
                "mimetype": a["mimetype"],
                "checksum": a["checksum"],
                "file_size": a["file_size"],
                "is_storage_identifier": image["storage_identifier"] == json!(a["id"].to_string()),
            })
        })
        .collect();
    json!({
        "storage_type": image["storage_type"],
        "file_format": image["file_format"],
        "file_size": image["file_size"],
        "width": image["width"],
        "height": image["height"],
        "hash_value": image["hash_value"],
        "retention_category": labels.text_in(&image["retention_category"]),
        "attachments": own,
    })
}

/// Request ids and their labels.
struct Labels(Vec<i64>);

impl Labels {
    /// `value` with every string normalized, recursively.
    fn text_in(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.normalize(text)),
            Value::Array(items) => items.iter().map(|v| self.text_in(v)).collect(),
            Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| (k.clone(), self.text_in(v)))
                .collect(),
            other => other.clone(),
        }
    }

    /// Request ids to `rN` (whole numbers only: not inside a word such as
    /// a hex hash, nor a dimension such as `8×8`), other digit runs to `N`.
    fn normalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut digits = String::new();
        let mut before = '\0';
        for c in text.chars().chain(std::iter::once('\0')) {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if !digits.is_empty() {
                let whole = !joins_a_number(before) && !joins_a_number(c);
                let label = digits
                    .parse::<i64>()
                    .ok()
                    .filter(|_| whole)
                    .and_then(|n| self.0.iter().position(|id| *id == n));
                match label {
                    Some(n) => out.push_str(&format!("r{n}")),
                    None => out.push('N'),
                }
                digits.clear();
            }
            if c != '\0' {
                out.push(c);
                before = c;
            }
        }
        out
    }
}

/// Whether `c` next to a digit run makes it part of something else than an
/// id: a word (`ad7f`) or a dimension (`8×8`).
fn joins_a_number(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '×'
}

#[test]
fn ids_become_labels_and_other_numbers_n() {
    let labels = Labels(vec![42, 7]);
    assert_eq!(
        labels.normalize("request 42 is completed with image 17; ai_gen_7_png"),
        "request r0 is completed with image N; ai_gen_r1_png"
    );
    assert_eq!(labels.normalize("420"), "N");
    assert_eq!(labels.normalize("SHA-256 ad7f"), "SHA-N adNf");
    assert_eq!(
        labels.normalize("AI image stored: 7×7 PNG"),
        "AI image stored: N×N PNG"
    );
}
