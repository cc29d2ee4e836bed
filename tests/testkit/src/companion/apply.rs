//! `bridge_apply_result(reference, result)`: one result applied to its request, deciding as the
//! bridge's generic pipeline does (duplicate, conflict, store, record the failure).
//!
//! The real addon runs it in one transaction; here every check that could fail half-way (the
//! caller's rights to create the image and the attachment and to write both records) is made
//! before the first write, so a refused call changes nothing either.

use serde_json::{Value, json};

use super::args::{self, Image, Kind};
use super::{find, first_line, note, request_value, status};
use crate::access::Op;
use crate::catalog::{ATTACHMENT, IMAGE, REQUEST};
use crate::errors::OdooResult;
use crate::orm::{self, Env, check_acl, model};
use crate::store::Db;

/// `bridge_apply_result`.
pub fn apply_result(
    db: &mut Db,
    env: &Env,
    reference: &Value,
    result: &Value,
) -> OdooResult<Value> {
    let kind = args::result_kind(result)?;
    let image = match kind {
        Kind::Success => Some(args::verified_image(result)?),
        Kind::Failure | Kind::Rejected => None,
    };
    let error_details = match image {
        Some(_) => String::new(),
        None => args::error_details(result)?,
    };
    let Some(id) = find(db, env, reference)? else {
        return Ok(json!({"outcome": "unknown_request"}));
    };
    match image {
        Some(image) => store_image(db, env, id, &image),
        None => record_failure(db, env, id, kind, &error_details),
    }
}

fn store_image(db: &mut Db, env: &Env, id: i64, image: &Image) -> OdooResult<Value> {
    if status(db, id) == "completed" {
        let linked = request_value(db, id, "generated_image_id").as_i64();
        let same = linked.filter(|img| {
            db.row(IMAGE, *img)
                .and_then(|r| r.get("hash_value"))
                .and_then(Value::as_str)
                == Some(image.sha256.as_str())
        });
        return Ok(match same {
            Some(img) => json!({"outcome": "duplicate", "request_id": id, "image_id": img,
                                "attachment_id": attachment_of(db, img)}),
            None => json!({"outcome": "conflict", "request_id": id, "reason": "a different image"}),
        });
    }
    for (name, op) in [
        (IMAGE, Op::Create),
        (ATTACHMENT, Op::Create),
        (REQUEST, Op::Write),
    ] {
        check_acl(db, env, model(db, name)?, op)?;
    }
    let image_id = create(db, env, IMAGE, image_vals(db, id, image))?;
    let attachment = json!({
        "name": format!("ai_gen_{id}_{}", image.file_format),
        "datas": image.base64,
        "mimetype": image.mimetype,
        "res_model": IMAGE,
        "res_id": image_id,
    });
    let attachment_id = create(db, &env.with_image_no_postprocess(), ATTACHMENT, attachment)?;
    let mut link = json!({"storage_identifier": attachment_id.to_string()});
    if model(db, IMAGE)?.field("attachment_id").is_some() {
        link["attachment_id"] = json!(attachment_id);
    }
    orm::write::write(db, env, IMAGE, &[image_id], &link)?;
    let body = format!(
        "AI image stored: {}×{} {}, {} bytes, SHA-256 {}",
        image.width,
        image.height,
        image.file_format.to_uppercase(),
        image.file_size,
        &image.sha256[..16]
    );
    // Odoo writes a write's tracking message when the transaction ends, so
    // in the real addon's one transaction the note comes first.
    note(db, env, id, body);
    let done =
        json!({"status": "completed", "generated_image_id": image_id, "error_details": false});
    orm::write::write(db, env, REQUEST, &[id], &done)?;
    let stored = |field: &str| {
        db.row(ATTACHMENT, attachment_id)
            .and_then(|r| r.get(field))
            .cloned()
            .unwrap_or(Value::Bool(false))
    };
    Ok(
        json!({"outcome": "completed", "request_id": id, "image_id": image_id,
              "attachment_id": attachment_id, "checksum": stored("checksum"),
              "stored_size": stored("file_size")}),
    )
}

/// The generated image's values (SDS §3.7).
fn image_vals(db: &Db, id: i64, image: &Image) -> Value {
    let retention = match request_value(db, id, "campaign_id").as_i64() {
        Some(campaign) => format!("campaign_asset_{campaign}"),
        None => "personal_generation".to_owned(),
    };
    json!({
        "request_id": id,
        "storage_type": "ir.attachment",
        "hash_value": image.sha256,
        "file_format": image.file_format,
        "file_size": image.file_size,
        "width": image.width,
        "height": image.height,
        "retention_category": retention,
    })
}

fn create(db: &mut Db, env: &Env, model_name: &str, vals: Value) -> OdooResult<i64> {
    let ids = orm::write::create(db, env, model_name, &[vals])?;
    Ok(ids.first().copied().unwrap_or_default())
}

/// `_attachment_id`: the image's attachment, or `false`.
fn attachment_of(db: &Db, image_id: i64) -> Value {
    let row = db.row(IMAGE, image_id);
    let field = |name: &str| row.and_then(|r| r.get(name)).cloned();
    if let Some(id) = field("attachment_id").and_then(|v| v.as_i64()) {
        return json!(id);
    }
    field("storage_identifier")
        .and_then(|v| v.as_str().and_then(|s| s.parse::<i64>().ok()))
        .map_or(Value::Bool(false), |id| json!(id))
}

fn record_failure(
    db: &mut Db,
    env: &Env,
    id: i64,
    kind: Kind,
    error_details: &str,
) -> OdooResult<Value> {
    let current = status(db, id);
    if current == "completed" {
        let what = if kind == Kind::Rejected {
            "an unusable one"
        } else {
            "a failure"
        };
        return Ok(json!({"outcome": "conflict", "request_id": id,
                         "reason": format!("an image; {what} cannot replace it")}));
    }
    if current == "failed" && request_value(db, id, "error_details").as_str() == Some(error_details)
    {
        return Ok(json!({"outcome": "duplicate", "request_id": id}));
    }
    // The note before the write: its tracking message comes at the end of
    // the real addon's transaction.
    note(
        db,
        env,
        id,
        format!("AI image generation failed: {}", first_line(error_details)),
    );
    let vals = json!({"status": "failed", "error_details": error_details});
    orm::write::write(db, env, REQUEST, &[id], &vals)?;
    Ok(json!({"outcome": "failure_recorded", "request_id": id}))
}
