//! `create`, `write` and `unlink`, in Odoo's order of checks:
//! ACL → field names → value conversion → INSERT/UPDATE (NOT NULL, UNIQUE, FOREIGN KEY, which
//! consume the id sequence like PostgreSQL does even when the transaction rolls back) → record
//! rules. A failing call changes nothing (the transaction is rolled back).

use serde_json::{Map, Value, json};

use super::convert::convert;
use super::{Env, check_acl, check_attachment_target, check_rules, model};
use crate::access::{Op, UserAccess};
use crate::attachments::{b64decode, compute_mimetype, postprocess, sha1_hex, store_fname};
use crate::errors::{OdooError, OdooResult, py_type};
use crate::schema::{DefaultValue, FieldType, ModelDef};
use crate::store::{Credentials, Db, Row};

const LOG_FIELDS: &[&str] = &["create_uid", "create_date", "write_uid", "write_date"];
const ATTACHMENT_COMPUTED: &[&str] = &["checksum", "file_size", "store_fname"];

/// Inserts a row without any check (chatter messages, followers, seeds); returns its id.
pub fn raw_insert(db: &mut Db, model: &str, mut row: Row, uid: i64) -> i64 {
    let id = db.next_id(model);
    let now = crate::time::now();
    for (k, v) in [
        ("create_uid", json!(uid)),
        ("write_uid", json!(uid)),
        ("create_date", json!(now)),
        ("write_date", json!(now)),
    ] {
        row.entry(k).or_insert(v);
    }
    db.table_mut(model).rows.insert(id, row);
    id
}

/// A record to update: (id, old row, new row, new file contents, new password).
type Update = (i64, Row, Row, Option<Vec<u8>>, Option<String>);

/// A record about to be inserted.
struct Pending {
    row: Row,
    blob: Option<Vec<u8>>,
    password: Option<String>,
}

fn not_null_error(m: &ModelDef, fname: &str) -> OdooError {
    let string = m.field(fname).map_or(fname, |f| f.string.as_str());
    OdooError::validation_error(format!(
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({})\nField: {} ({})\n",
        m.description, m.name, string, fname
    ))
}

/// NOT NULL, UNIQUE and FOREIGN KEY checks of `row` (record `id`) against the table and the
/// other rows of the same statement.
fn check_constraints(
    db: &Db,
    env: &Env,
    m: &ModelDef,
    id: i64,
    row: &Row,
    batch: &[(i64, &Row)],
) -> OdooResult<()> {
    for f in m.fields.iter().filter(|f| f.required && f.store) {
        if row.get(&f.name).is_none_or(Value::is_null) {
            return Err(not_null_error(m, &f.name));
        }
    }
    for (fname, message) in &m.unique {
        let Some(v) = row.get(fname).filter(|v| !v.is_null()) else {
            continue;
        };
        // A record that keeps its value cannot become a duplicate by this write: only a new
        // value is looked for in the table, so writing other fields costs the same at any size.
        let unchanged = db.row(&m.name, id).and_then(|r| r.get(fname)) == Some(v);
        let stored = !unchanged
            && db.tables.get(&m.name).is_some_and(|t| {
                t.rows
                    .iter()
                    .any(|(oid, r)| *oid != id && r.get(fname) == Some(v))
            });
        let in_batch = batch
            .iter()
            .any(|(oid, r)| *oid != id && r.get(fname) == Some(v));
        if stored || in_batch {
            return Err(OdooError::validation_error(format!(
                "The operation cannot be completed: {message}"
            )));
        }
    }
    for f in &m.fields {
        let (FieldType::Many2one(rel), Some(target)) =
            (&f.ftype, row.get(&f.name).and_then(Value::as_i64))
        else {
            continue;
        };
        if !db.visible(rel, target, env.rpc) {
            return Err(OdooError::validation_error(format!(
                "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({})\nConstraint: {}_{}_fkey\n",
                m.description,
                m.name,
                m.table(),
                f.name
            )));
        }
    }
    Ok(())
}

fn vals_object(v: &Value) -> OdooResult<&Map<String, Value>> {
    v.as_object().ok_or_else(|| {
        OdooError::attribute_error(format!("'{}' object has no attribute 'items'", py_type(v)))
    })
}

/// Converts `vals` into `target` (a new or existing row); returns (blob, password) side data.
fn apply_vals(
    env: &Env,
    m: &ModelDef,
    vals: &Map<String, Value>,
    target: &mut Row,
    creating: bool,
) -> OdooResult<(Option<Vec<u8>>, Option<String>)> {
    let mut blob = None;
    let mut password = None;
    for (k, v) in vals {
        let Some(field) = m.field(k) else {
            return Err(OdooError::value_error(format!(
                "Invalid field {} on model {}",
                crate::errors::py_str(k),
                crate::errors::py_str(&m.name)
            )));
        };
        if k == "id" || (!creating && LOG_FIELDS.contains(&k.as_str()) && !env.su) {
            continue;
        }
        if m.name == "ir.attachment" {
            if ATTACHMENT_COMPUTED.contains(&k.as_str()) {
                continue;
            }
            if k == "datas" {
                blob = Some(match v {
                    Value::String(s) => b64decode(s)?,
                    _ => Vec::new(),
                });
                continue;
            }
        }
        if m.name == "res.users" && k == "password" {
            password = v.as_str().map(str::to_string);
            continue;
        }
        if !field.store {
            continue; // computed without inverse: ignored
        }
        let current = target.get(k).cloned().unwrap_or(Value::Null);
        target.insert(k.clone(), convert(m, field, v, &current)?);
    }
    Ok((blob, password))
}

/// Attachment contents: mimetype, post-processing (unless the context says
/// `image_no_postprocess`), checksum, size and file name.
fn attachment_contents(db: &Db, env: &Env, row: &mut Row, raw: Vec<u8>) -> OdooResult<Vec<u8>> {
    let s = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_string);
    let mimetype = compute_mimetype(
        s("mimetype").as_deref(),
        s("name").as_deref(),
        s("url").as_deref(),
        Some(&raw),
    );
    let raw = if env.image_no_postprocess {
        raw
    } else {
        postprocess(db, &mimetype, raw)?
    };
    row.insert("mimetype".into(), json!(mimetype));
    if raw.is_empty() {
        for k in ATTACHMENT_COMPUTED {
            row.insert((*k).into(), Value::Null);
        }
    } else {
        let sha = sha1_hex(&raw);
        row.insert("file_size".into(), json!(raw.len()));
        row.insert("store_fname".into(), json!(store_fname(&sha)));
        row.insert("checksum".into(), json!(sha));
    }
    Ok(raw)
}

fn attachment_target(row: &Row) -> (Option<&str>, Option<i64>) {
    (
        row.get("res_model").and_then(Value::as_str),
        row.get("res_id").and_then(Value::as_i64),
    )
}

fn prepare(db: &mut Db, env: &Env, m: &ModelDef, vals: &Value) -> OdooResult<Pending> {
    let vals = vals_object(vals)?;
    let mut row = Row::new();
    let (blob, password) = apply_vals(env, m, vals, &mut row, true)?;
    for f in &m.fields {
        if !f.store || row.contains_key(&f.name) {
            continue;
        }
        let v = match &f.default {
            DefaultValue::None => continue,
            DefaultValue::Value(v) => v.clone(),
            DefaultValue::CurrentUser => json!(env.uid),
            DefaultValue::Uuid => json!(db.new_uuid()),
        };
        row.insert(f.name.clone(), v);
    }
    let blob = if m.name == "ir.attachment" {
        let raw = blob.unwrap_or_default();
        if raw.is_empty() && !row.contains_key("mimetype") {
            let s = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_string);
            let mt = compute_mimetype(None, s("name").as_deref(), s("url").as_deref(), None);
            row.insert("mimetype".into(), json!(mt));
        }
        Some(if raw.is_empty() {
            raw
        } else {
            attachment_contents(db, env, &mut row, raw)?
        })
    } else {
        None
    };
    if m.name == "res.users" && !row.contains_key("groups_id") {
        row.insert("groups_id".into(), json!([1]));
    }
    Ok(Pending {
        row,
        blob,
        password,
    })
}

/// `create(vals_list)`; returns the new ids in order.
pub fn create(
    db: &mut Db,
    env: &Env,
    model_name: &str,
    vals_list: &[Value],
) -> OdooResult<Vec<i64>> {
    let m = model(db, model_name)?.clone();
    check_acl(db, env, &m, Op::Create)?;
    let mut pending = Vec::with_capacity(vals_list.len());
    for vals in vals_list {
        pending.push(prepare(db, env, &m, vals)?);
    }
    // INSERT: the sequence is consumed even if a constraint then fails
    let ids: Vec<i64> = pending.iter().map(|_| db.next_id(model_name)).collect();
    if m.name == "res.users" {
        for p in &mut pending {
            if !p.row.contains_key("partner_id") {
                let name = p.row.get("name").cloned().unwrap_or(Value::Null);
                let partner = json!({"name": name, "active": true});
                if let Value::Object(r) = partner {
                    let pid = raw_insert(db, "res.partner", r, env.uid);
                    p.row.insert("partner_id".into(), json!(pid));
                }
            }
        }
    }
    let now = crate::time::now();
    for p in &mut pending {
        for (k, v) in [
            ("create_uid", json!(env.uid)),
            ("write_uid", json!(env.uid)),
            ("create_date", json!(now)),
            ("write_date", json!(now)),
        ] {
            p.row.entry(k).or_insert(v);
        }
    }
    let batch: Vec<(i64, &Row)> = ids
        .iter()
        .copied()
        .zip(pending.iter().map(|p| &p.row))
        .collect();
    for (id, row) in &batch {
        check_constraints(db, env, &m, *id, row, &batch)?;
    }
    check_rules(db, env, &m, Op::Create)?;
    if m.name == "ir.attachment" {
        for p in &pending {
            let (rm, rid) = attachment_target(&p.row);
            check_attachment_target(db, env, rm, rid, Op::Create)?;
        }
    }
    for (id, p) in ids.iter().zip(pending) {
        db.table_mut(model_name).rows.insert(*id, p.row);
        if let Some(blob) = p.blob.filter(|b| !b.is_empty()) {
            db.blobs.insert(*id, blob);
        }
        if m.name == "res.users" {
            let groups: Vec<i64> = db
                .row("res.users", *id)
                .and_then(|r| r.get("groups_id"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            db.creds.insert(
                *id,
                Credentials {
                    password: p.password.unwrap_or_default(),
                    api_keys: Vec::new(),
                    access: UserAccess::from_group_ids(&groups),
                },
            );
        }
        if m.chatter {
            crate::mail::log_creation(db, env, &m, *id);
        }
    }
    Ok(ids)
}

/// `write(ids, vals)`.
pub fn write(
    db: &mut Db,
    env: &Env,
    model_name: &str,
    ids: &[i64],
    vals: &Value,
) -> OdooResult<()> {
    let m = model(db, model_name)?.clone();
    check_acl(db, env, &m, Op::Write)?;
    let vals = vals_object(vals)?;
    if let Some(k) = vals.keys().find(|k| m.field(k).is_none()) {
        return Err(OdooError::value_error(format!(
            "Invalid field {} on model {}",
            crate::errors::py_str(k),
            crate::errors::py_str(&m.name)
        )));
    }
    if let Some(missing) = ids.iter().find(|id| !db.visible(model_name, **id, env.rpc)) {
        return Err(OdooError::missing(model_name, &[*missing], env.uid));
    }
    if ids.is_empty() {
        return Ok(());
    }
    check_rules(db, env, &m, Op::Write)?;
    let mut updated: Vec<Update> = Vec::new();
    for &id in ids {
        let old = db.row(model_name, id).cloned().unwrap_or_default();
        let mut new = old.clone();
        let (blob, password) = apply_vals(env, &m, vals, &mut new, false)?;
        let blob = match blob {
            Some(raw) if m.name == "ir.attachment" => {
                Some(attachment_contents(db, env, &mut new, raw)?)
            }
            _ => None,
        };
        if !(env.su && vals.contains_key("write_date")) {
            new.insert("write_date".into(), json!(crate::time::now()));
        }
        if !(env.su && vals.contains_key("write_uid")) {
            new.insert("write_uid".into(), json!(env.uid));
        }
        updated.push((id, old, new, blob, password));
    }
    let batch: Vec<(i64, &Row)> = updated.iter().map(|(id, _, new, ..)| (*id, new)).collect();
    for (id, row) in &batch {
        check_constraints(db, env, &m, *id, row, &batch)?;
    }
    if m.name == "ir.attachment" {
        for (_, old, new, ..) in &updated {
            for r in [old, new] {
                let (rm, rid) = attachment_target(r);
                check_attachment_target(db, env, rm, rid, Op::Write)?;
            }
        }
    }
    for (id, old, new, blob, password) in updated {
        let changed: Row = new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        db.table_mut(model_name).rows.insert(id, new);
        if let Some(blob) = blob {
            if blob.is_empty() {
                db.blobs.remove(&id);
            } else {
                db.blobs.insert(id, blob);
            }
        }
        if m.name == "res.users" {
            let groups: Option<Vec<i64>> = changed
                .get("groups_id")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect());
            if let Some(c) = db.creds.get_mut(&id) {
                if let Some(p) = password {
                    c.password = p;
                }
                if let Some(g) = groups {
                    c.access = UserAccess::from_group_ids(&g);
                }
            }
        }
        if m.chatter {
            crate::mail::track(db, env, &m, id, &old, &changed);
        }
    }
    Ok(())
}

/// `unlink(ids)`: deletes the records, their attachments and chatter, and empties the many2one
/// fields that pointed to them (`ondelete='set null'`).
pub fn unlink(db: &mut Db, env: &Env, model_name: &str, ids: &[i64]) -> OdooResult<()> {
    let m = model(db, model_name)?.clone();
    check_acl(db, env, &m, Op::Unlink)?;
    let existing: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| db.visible(model_name, *id, env.rpc))
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    check_rules(db, env, &m, Op::Unlink)?;
    if m.name == "ir.attachment" {
        for id in &existing {
            let target = db.row(model_name, *id).map(|r| {
                let (rm, rid) = attachment_target(r);
                (rm.map(str::to_string), rid)
            });
            if let Some((rm, rid)) = target {
                check_attachment_target(db, env, rm.as_deref(), rid, Op::Unlink)?;
            }
        }
    }
    if m.name == "res.users" && existing.iter().any(|id| *id <= 2) {
        return Err(OdooError::user_error(
            "You can not remove the admin user as it is used internally for resources created by Odoo (updates, module installation, ...)",
        ));
    }
    for id in existing {
        delete_cascade(db, model_name, id);
    }
    Ok(())
}

fn delete_cascade(db: &mut Db, model_name: &str, id: i64) {
    db.table_mut(model_name).rows.remove(&id);
    db.hidden.remove(&(model_name.to_string(), id));
    if model_name == "ir.attachment" {
        db.blobs.remove(&id);
    }
    if model_name == "res.users" {
        db.creds.remove(&id);
    }
    if model_name == "mail.message" {
        let dead: Vec<i64> = db
            .tables
            .get("mail.tracking.value")
            .map(|t| {
                t.rows
                    .iter()
                    .filter(|(_, r)| r.get("mail_message_id").and_then(Value::as_i64) == Some(id))
                    .map(|(i, _)| *i)
                    .collect()
            })
            .unwrap_or_default();
        for d in dead {
            db.table_mut("mail.tracking.value").rows.remove(&d);
        }
    }
    // ondelete='set null' on every many2one pointing here
    let refs: Vec<(String, String)> = db
        .models
        .values()
        .flat_map(|m| {
            m.fields.iter().filter_map(move |f| match &f.ftype {
                FieldType::Many2one(rel) if rel == model_name && f.store => {
                    Some((m.name.clone(), f.name.clone()))
                }
                _ => None,
            })
        })
        .collect();
    for (rm, fname) in refs {
        for row in db.table_mut(&rm).rows.values_mut() {
            if row.get(&fname).and_then(Value::as_i64) == Some(id) {
                row.insert(fname.clone(), Value::Null);
            }
        }
    }
    // attachments, messages and followers of the record
    for (dep, key) in [
        ("ir.attachment", "res_model"),
        ("mail.message", "model"),
        ("mail.followers", "res_model"),
    ] {
        let dead: Vec<i64> = db
            .tables
            .get(dep)
            .map(|t| {
                t.rows
                    .iter()
                    .filter(|(_, r)| {
                        r.get(key).and_then(Value::as_str) == Some(model_name)
                            && r.get("res_id").and_then(Value::as_i64) == Some(id)
                    })
                    .map(|(i, _)| *i)
                    .collect()
            })
            .unwrap_or_default();
        for d in dead {
            delete_cascade(db, dep, d);
        }
    }
}
