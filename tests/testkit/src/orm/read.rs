//! Reading: stored and computed field values, display names and the `read` output format.
//!
//! `read` returns `id` first, then the requested fields in the requested order (all fields in
//! `fields_get` order when none are given); many2one as `[id, display_name]`, unset values as
//! `false` (`0` / `0.0` for numbers), x2many as id lists, datetimes as `YYYY-MM-DD HH:MM:SS`.
//! Ids that do not exist (or are hidden from RPC callers) are silently skipped.

use base64::Engine;
use serde_json::{Value, json};

use super::{Env, check_acl, model};
use crate::access::{GROUPS, Op, UserAccess};
use crate::errors::{OdooError, OdooResult};
use crate::json::Ordered;
use crate::schema::{FieldDef, FieldType, ModelDef};
use crate::store::Db;

/// The display name of a record (`''` when it has none or does not exist).
pub fn display_name(db: &Db, model_name: &str, id: i64) -> String {
    let (Some(m), Some(row)) = (db.model(model_name), db.row(model_name, id)) else {
        return String::new();
    };
    match model_name {
        "mail.followers" => {
            return row
                .get("partner_id")
                .and_then(Value::as_i64)
                .map(|p| display_name(db, "res.partner", p))
                .unwrap_or_default();
        }
        "res.groups" => {
            if let Some((_, c, n)) = GROUPS.iter().find(|(gid, ..)| *gid == id) {
                return format!("{c} / {n}");
            }
        }
        _ => {}
    }
    match &m.rec_name {
        Some(f) => match row.get(f) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => {
                if f == "full_name" {
                    row.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                } else {
                    String::new()
                }
            }
            Some(other) => other.to_string(),
        },
        None => format!("{model_name},{id}"),
    }
}

fn ids_where(db: &Db, model: &str, pred: impl Fn(&crate::store::Row) -> bool) -> Vec<i64> {
    db.tables
        .get(model)
        .map(|t| {
            t.rows
                .iter()
                .filter(|(_, r)| pred(r))
                .map(|(id, _)| *id)
                .collect()
        })
        .unwrap_or_default()
}

fn attached_to(row: &crate::store::Row, model_key: &str, model: &str, id: i64) -> bool {
    row.get(model_key).and_then(Value::as_str) == Some(model)
        && row.get("res_id").and_then(Value::as_i64) == Some(id)
}

/// The value of a computed (non-stored) field, in cache format.
fn computed(db: &Db, m: &ModelDef, id: i64, fname: &str, env: &Env) -> Value {
    let name = m.name.as_str();
    let messages = || {
        let mut ids = ids_where(db, "mail.message", |r| attached_to(r, "model", name, id));
        ids.reverse();
        ids
    };
    let followers = || {
        ids_where(db, "mail.followers", |r| {
            attached_to(r, "res_model", name, id)
        })
    };
    let follower_partners = || -> Vec<i64> {
        followers()
            .iter()
            .filter_map(|f| db.row("mail.followers", *f))
            .filter_map(|r| r.get("partner_id").and_then(Value::as_i64))
            .collect()
    };
    match fname {
        "message_ids" => json!(messages()),
        "website_message_ids" => {
            let ids: Vec<i64> = messages()
                .into_iter()
                .filter(|mid| {
                    let t = db
                        .row("mail.message", *mid)
                        .and_then(|r| r.get("message_type"))
                        .and_then(Value::as_str);
                    matches!(
                        t,
                        Some("comment" | "email" | "email_outgoing" | "auto_comment")
                    )
                })
                .collect();
            json!(ids)
        }
        "has_message" => json!(!messages().is_empty()),
        "message_follower_ids" => json!(followers()),
        "message_partner_ids" => json!(follower_partners()),
        "message_is_follower" => {
            let me = db.user_partner(env.uid);
            json!(me.is_some_and(|p| follower_partners().contains(&p)))
        }
        "message_attachment_count" => {
            json!(
                ids_where(db, "ir.attachment", |r| attached_to(
                    r,
                    "res_model",
                    name,
                    id
                ))
                .len()
            )
        }
        "message_needaction_counter" | "message_has_error_counter" => json!(0),
        "message_needaction" | "message_has_error" | "message_has_sms_error" => json!(false),
        "res_name" => {
            let row = db.row(name, id);
            let target = row
                .and_then(|r| r.get("res_model"))
                .and_then(Value::as_str)
                .zip(row.and_then(|r| r.get("res_id")).and_then(Value::as_i64));
            match target {
                Some((tm, tid)) if db.row(tm, tid).is_some() => json!(display_name(db, tm, tid)),
                _ => Value::Null,
            }
        }
        "datas" => match db.blobs.get(&id) {
            Some(bytes) if !bytes.is_empty() => {
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            _ => Value::Null,
        },
        "tracking_value_ids" => json!(ids_where(db, "mail.tracking.value", |r| {
            r.get("mail_message_id").and_then(Value::as_i64) == Some(id)
        })),
        "user_ids" => json!(ids_where(db, "res.users", |r| {
            r.get("partner_id").and_then(Value::as_i64) == Some(id)
        })),
        "share" => json!(db.access_of(id) == UserAccess::NoAccess),
        "password" => json!(""),
        _ => db
            .row(name, id)
            .and_then(|r| r.get(fname))
            .cloned()
            .unwrap_or(Value::Null),
    }
}

/// The value of field `fname` of record `id`, in cache format (`null` when unset).
pub fn field_value(db: &Db, m: &ModelDef, id: i64, fname: &str, env: &Env) -> Value {
    match fname {
        "id" => return json!(id),
        "display_name" => {
            let n = display_name(db, &m.name, id);
            return if n.is_empty() { Value::Null } else { json!(n) };
        }
        _ => {}
    }
    let Some(field) = m.field(fname) else {
        return Value::Null;
    };
    if field.store && fname != "password" {
        db.row(&m.name, id)
            .and_then(|r| r.get(fname))
            .cloned()
            .unwrap_or(Value::Null)
    } else {
        computed(db, m, id, fname, env)
    }
}

/// Converts a cache value to what `read` returns.
pub fn to_read(db: &Db, field: &FieldDef, v: Value, load_names: bool) -> Value {
    match (&field.ftype, v) {
        (FieldType::Integer, Value::Null) => json!(0),
        (FieldType::Float, Value::Null) => json!(0.0),
        (FieldType::Float, Value::Number(n)) => json!(n.as_f64().unwrap_or(0.0)),
        (t, Value::Null) if t.is_x2many() => json!([]),
        (_, Value::Null) => json!(false),
        (FieldType::Many2one(rel), Value::Number(n)) if load_names => {
            let id = n.as_i64().unwrap_or(0);
            let name = display_name(db, rel, id);
            if name.is_empty() {
                json!([id, false])
            } else {
                json!([id, name])
            }
        }
        (_, v) => v,
    }
}

/// Fields `read` returns when none are asked for (everything but `id`, which comes first).
pub fn default_fields(m: &ModelDef) -> Vec<String> {
    m.fields
        .iter()
        .filter(|f| f.name != "id" && f.name != "password")
        .map(|f| f.name.clone())
        .collect()
}

/// Checks that every name is a field of `m` (`ValueError: Invalid field 'x' on model 'm'`).
pub fn check_fields(m: &ModelDef, fields: &[String]) -> OdooResult<()> {
    for f in fields {
        if m.field(f).is_none() {
            return Err(OdooError::invalid_field(&m.name, f));
        }
    }
    Ok(())
}

/// `read(ids, fields, load)` as the caller `env`.
pub fn read(
    db: &Db,
    env: &Env,
    model_name: &str,
    ids: &[i64],
    fields: Option<&[String]>,
    load_names: bool,
) -> OdooResult<Vec<Ordered>> {
    let m = model(db, model_name)?;
    check_acl(db, env, m, Op::Read)?;
    let names = match fields {
        Some(f) if !f.is_empty() => {
            check_fields(m, f)?;
            f.to_vec()
        }
        _ => default_fields(m),
    };
    let mut out = Vec::new();
    for &id in ids {
        if !db.visible(model_name, id, env.rpc) {
            continue;
        }
        let mut row = Ordered::default();
        row.push("id", json!(id));
        for name in &names {
            if name == "id" || row.0.iter().any(|(k, _)| k == name) {
                continue;
            }
            let Some(field) = m.field(name) else { continue };
            let v = field_value(db, m, id, name, env);
            row.push(name.clone(), to_read(db, field, v, load_names));
        }
        out.push(row);
    }
    Ok(out)
}
