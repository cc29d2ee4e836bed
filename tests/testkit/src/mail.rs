//! The chatter (`mail.thread`): the "… created" note, followers, field tracking and
//! `message_post`.
//!
//! On create, a `mail.thread` record gets a `notification` message `<p>{description} created</p>`
//! (subtype Note) and its creator's partner as follower. A write that changes a tracked field
//! logs a `notification` message with an empty body and one `mail.tracking.value` per changed
//! field (transcript 29). `message_post(body=…)` escapes a plain-string body and wraps it in `<p>`
//! as `plaintext2html` does (transcripts 27/28; URLs are not turned into links here).

use serde_json::{Map, Value, json};

use crate::access::Op;
use crate::errors::{OdooError, OdooResult, py_truthy, py_tuple_ids};
use crate::json::Reply;
use crate::orm::Env;
use crate::orm::model;
use crate::orm::write::raw_insert;
use crate::pyargs::{Sig, bind};
use crate::schema::{FieldType, ModelDef};
use crate::store::{Db, Row};

/// Subtype ids of the seeded `mail.message.subtype` records.
const SUBTYPES: &[(&str, i64)] = &[
    ("mail.mt_comment", 1),
    ("mail.mt_note", 2),
    ("mail.mt_activities", 3),
];

fn new_message(db: &mut Db, env: &Env, model: &str, res_id: i64, vals: Value) -> i64 {
    let mut row: Row = match vals {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    row.insert("model".into(), json!(model));
    row.insert("res_id".into(), json!(res_id));
    row.insert("date".into(), json!(crate::time::now()));
    row.insert(
        "record_name".into(),
        json!(crate::orm::read::display_name(db, model, res_id)),
    );
    if !row.contains_key("author_id") {
        row.insert("author_id".into(), json!(db.user_partner(env.uid)));
    }
    raw_insert(db, "mail.message", row, env.uid)
}

/// Subscribes the partner of `env.uid` to the record.
pub fn subscribe(db: &mut Db, env: &Env, model: &str, res_id: i64) {
    let Some(partner) = db.user_partner(env.uid) else {
        return;
    };
    let already = db.tables.get("mail.followers").is_some_and(|t| {
        t.rows.values().any(|r| {
            r.get("res_model").and_then(Value::as_str) == Some(model)
                && r.get("res_id").and_then(Value::as_i64) == Some(res_id)
                && r.get("partner_id").and_then(Value::as_i64) == Some(partner)
        })
    });
    if !already {
        add_follower(db, env, model, res_id, partner);
    }
}

fn add_follower(db: &mut Db, env: &Env, model: &str, res_id: i64, partner: i64) {
    let row = json!({"res_model": model, "res_id": res_id, "partner_id": partner});
    if let Value::Object(r) = row {
        raw_insert(db, "mail.followers", r, env.uid);
    }
}

/// After `create` on a `mail.thread` model.
pub fn log_creation(db: &mut Db, env: &Env, m: &ModelDef, id: i64) {
    let body = format!("<p>{} created</p>", html_escape(&m.description));
    new_message(
        db,
        env,
        &m.name,
        id,
        json!({"body": body, "message_type": "notification", "subtype_id": 2}),
    );
    // A record just created has no followers yet: no need to look (which would cost a scan of
    // every follower of every record).
    if let Some(partner) = db.user_partner(env.uid) {
        add_follower(db, env, &m.name, id, partner);
    }
}

fn tracking_text(m: &ModelDef, fname: &str, v: &Value, db: &Db) -> Value {
    let Some(f) = m.field(fname) else {
        return Value::Null;
    };
    match (&f.ftype, v) {
        (_, Value::Null) => Value::Null,
        (FieldType::Selection(opts), Value::String(s)) => opts
            .iter()
            .find(|(k, _)| k == s)
            .map_or(json!(s), |(_, l)| json!(l)),
        (FieldType::Many2one(rel), Value::Number(n)) => {
            json!(crate::orm::read::display_name(
                db,
                rel,
                n.as_i64().unwrap_or(0)
            ))
        }
        (_, Value::String(s)) => json!(s),
        (_, other) => json!(other.to_string()),
    }
}

/// After `write`: logs the tracked fields whose value changed.
pub fn track(db: &mut Db, env: &Env, m: &ModelDef, id: i64, old: &Row, new: &Row) {
    let changed: Vec<(Value, Value)> = m
        .fields
        .iter()
        .filter(|f| f.tracked)
        .filter(|f| {
            new.contains_key(&f.name)
                && old.get(&f.name).unwrap_or(&Value::Null)
                    != new.get(&f.name).unwrap_or(&Value::Null)
        })
        .map(|f| {
            (
                tracking_text(m, &f.name, old.get(&f.name).unwrap_or(&Value::Null), db),
                tracking_text(m, &f.name, new.get(&f.name).unwrap_or(&Value::Null), db),
            )
        })
        .collect();
    if changed.is_empty() {
        return;
    }
    let msg = new_message(
        db,
        env,
        &m.name,
        id,
        json!({"body": "", "message_type": "notification", "subtype_id": 2}),
    );
    for (old_v, new_v) in changed {
        let row = json!({"mail_message_id": msg, "old_value_char": old_v, "new_value_char": new_v});
        if let Value::Object(r) = row {
            raw_insert(db, "mail.tracking.value", r, env.uid);
        }
    }
}

/// `markupsafe.escape`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `plaintext2html` without link detection.
pub fn plaintext2html(text: &str) -> String {
    let escaped = html_escape(text)
        .replace("\r\n", "<br/>")
        .replace(['\r', '\n'], "<br/>");
    let paragraphs: Vec<&str> = escaped
        .split("<br/><br/>")
        .map(|p| p.trim_start_matches("<br/>"))
        .collect();
    format!("<p>{}</p>", paragraphs.join("</p><p>"))
}

/// The keyword arguments of `message_post` the emulator honours.
#[derive(Debug, Default)]
pub struct PostArgs {
    pub body: Value,
    pub subject: Value,
    pub message_type: Value,
    pub subtype_xmlid: Value,
    pub subtype_id: Value,
    pub author_id: Value,
    pub partner_ids: Value,
    pub attachment_ids: Value,
    pub body_is_html: bool,
}

/// `message_post` on record `id`; returns the new `mail.message` id.
pub fn message_post(db: &mut Db, env: &Env, m: &ModelDef, id: i64, a: PostArgs) -> OdooResult<i64> {
    let body = match &a.body {
        Value::String(s) if a.body_is_html => s.clone(),
        Value::String(s) if !s.is_empty() => plaintext2html(s),
        _ => String::new(),
    };
    let message_type = a
        .message_type
        .as_str()
        .unwrap_or("notification")
        .to_string();
    let subtype = match a.subtype_id.as_i64().filter(|v| *v != 0) {
        Some(sid) => sid,
        None => {
            let mut xmlid = a
                .subtype_xmlid
                .as_str()
                .unwrap_or("mail.mt_note")
                .to_string();
            if !xmlid.contains('.') {
                xmlid = format!("mail.{xmlid}");
            }
            SUBTYPES
                .iter()
                .find(|(x, _)| *x == xmlid)
                .map(|(_, sid)| *sid)
                .ok_or_else(|| {
                    OdooError::value_error(format!("External ID not found in the system: {xmlid}"))
                })?
        }
    };
    let mut vals = json!({
        "body": body,
        "message_type": message_type,
        "subtype_id": subtype,
        "subject": if py_truthy(&a.subject) { a.subject.clone() } else { Value::Null },
        "partner_ids": a.partner_ids.as_array().cloned().unwrap_or_default(),
        "attachment_ids": a.attachment_ids.as_array().cloned().unwrap_or_default(),
    });
    if let (Some(author), Value::Object(map)) = (a.author_id.as_i64(), &mut vals) {
        map.insert("author_id".into(), json!(author));
    }
    Ok(new_message(db, env, &m.name, id, vals))
}

/// `message_post` called through RPC: binds its keyword-only arguments, needs exactly one
/// record and `write` access to it.
pub fn rpc_message_post(
    db: &mut Db,
    env: &Env,
    model_name: &str,
    ids: &[i64],
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<Reply> {
    let s = Sig {
        qual: "MailThread.message_post",
        names: &[],
        required: 0,
        kw_only: &[
            "body",
            "subject",
            "message_type",
            "email_from",
            "author_id",
            "parent_id",
            "subtype_xmlid",
            "subtype_id",
            "partner_ids",
            "attachments",
            "attachment_ids",
            "body_is_html",
        ],
        var_kw: true,
        has_self: true,
    };
    let b = bind(&s, args, kwargs)?;
    if ids.len() != 1 {
        return Err(OdooError::value_error(format!(
            "Expected singleton: {model_name}{}",
            py_tuple_ids(ids)
        )));
    }
    crate::methods::check_records(db, env, model_name, ids, Op::Write)?;
    let m = model(db, model_name)?.clone();
    let post = PostArgs {
        body: b.get(0, json!("")),
        subject: b.get(1, Value::Null),
        message_type: b.get(2, json!("notification")),
        author_id: b.get(4, Value::Null),
        subtype_xmlid: b.get(6, Value::Null),
        subtype_id: b.get(7, Value::Null),
        partner_ids: b.get(8, Value::Null),
        attachment_ids: b.get(10, Value::Null),
        body_is_html: py_truthy(&b.get(11, json!(false))),
    };
    let id = message_post(db, env, &m, ids[0], post)?;
    Ok(Reply::Value(json!(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_body_is_escaped_like_transcript_28() {
        assert_eq!(
            plaintext2html("Generation finished <b>OK</b>"),
            "<p>Generation finished &lt;b&gt;OK&lt;/b&gt;</p>"
        );
        assert_eq!(plaintext2html("a\nb\n\nc"), "<p>a<br/>b</p><p>c</p>");
    }
}
