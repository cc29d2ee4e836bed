//! Claims (`queued` → `processing`, skipping rows another call holds, like `FOR UPDATE SKIP
//! LOCKED`) and `bridge_finish_initiation` (the end of a claimed request's initiation).

use serde_json::{Value, json};

use super::args;
use super::{find, first_line, note, status};
use crate::catalog::REQUEST;
use crate::errors::{OdooError, OdooResult};
use crate::json::{Ordered, Reply};
use crate::orm::{self, Env, model};
use crate::store::Db;

const FINISH_OUTCOMES: &[&str] = &["sent", "failed", "retry", "unknown"];

/// Claims `ids` and reads them back (the fields were checked by [`known_fields`]).
fn claim_rows(db: &mut Db, env: &Env, ids: &[i64], fields: &[String]) -> OdooResult<Vec<Ordered>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let vals = json!({"status": "processing", "error_details": false});
    orm::write::write(db, env, REQUEST, ids, &vals)?;
    orm::read::read(db, env, REQUEST, ids, Some(fields), true)
}

/// `_field_names(model, fields)`: a list of names, each a field of the request model, checked
/// before anything is claimed (the addon words this itself, the same on every Odoo series).
fn known_fields(db: &Db, fields: &Value) -> OdooResult<Vec<String>> {
    let fields = args::field_names(fields)?;
    let m = model(db, REQUEST)?;
    let unknown: Vec<&str> = fields
        .iter()
        .filter(|f| m.field(f).is_none())
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(fields);
    }
    Err(OdooError::user_error(format!(
        "unknown fields of {REQUEST}: {}.",
        unknown.join(", ")
    )))
}

/// `bridge_claim_queued(limit, fields)`.
pub fn claim_queued(db: &mut Db, env: &Env, limit: &Value, fields: &Value) -> OdooResult<Reply> {
    let limit = args::claim_limit(limit)?;
    let fields = known_fields(db, fields)?;
    let ids: Vec<i64> = db
        .ids(REQUEST, env.rpc)
        .into_iter()
        .filter(|id| status(db, *id) == "queued" && !db.row_locks.held_by_another(*id))
        .take(limit)
        .collect();
    let rows = claim_rows(db, env, &ids, &fields)?;
    Ok(Reply::List(rows.into_iter().map(Reply::Object).collect()))
}

/// `bridge_claim(reference, fields)`.
pub fn claim(db: &mut Db, env: &Env, reference: &Value, fields: &Value) -> OdooResult<Reply> {
    let fields = known_fields(db, fields)?;
    let Some(id) = find(db, env, reference)? else {
        return Ok(Reply::Value(json!({"outcome": "unknown_request"})));
    };
    let current = status(db, id);
    if db.row_locks.held_by_another(id) || current != "queued" {
        return Ok(Reply::Value(
            json!({"outcome": "not_queued", "status": current}),
        ));
    }
    let row = claim_rows(db, env, &[id], &fields)?.remove(0);
    let mut answer = Ordered::default();
    answer.push("outcome", json!("claimed"));
    answer.push("request", Reply::Object(row));
    Ok(Reply::Object(answer))
}

/// `bridge_finish_initiation(request_id, outcome, details)`.
pub fn finish_initiation(
    db: &mut Db,
    env: &Env,
    request_id: &Value,
    outcome: &Value,
    details: &Value,
) -> OdooResult<Value> {
    let Some(request_id) = args::int(request_id).filter(|id| *id > 0) else {
        return Err(OdooError::user_error(
            "request_id must be a positive integer.",
        ));
    };
    let Some(outcome) = outcome.as_str().filter(|o| FINISH_OUTCOMES.contains(o)) else {
        return Err(OdooError::user_error(format!(
            "outcome must be one of {}.",
            FINISH_OUTCOMES.join(", ")
        )));
    };
    let details = match details {
        Value::String(s) => s.as_str(),
        Value::Null | Value::Bool(false) => "",
        _ => return Err(OdooError::user_error("details must be a string.")),
    };
    let Some(id) = find(db, env, &json!({"field": "id", "value": request_id}))? else {
        return Ok(json!({"outcome": "unknown_request"}));
    };
    let current = status(db, id);
    if current != "processing" {
        return Ok(json!({"outcome": "not_processing", "status": current}));
    }
    match outcome {
        "failed" => {
            let error_details = if details.is_empty() {
                json!(false)
            } else {
                json!(details)
            };
            let vals = json!({"status": "initiation_failed", "error_details": error_details});
            orm::write::write(db, env, REQUEST, &[id], &vals)?;
            let body = format!(
                "AI image generation could not be started: {}",
                first_line(details)
            );
            note(db, env, id, body);
        }
        "retry" => orm::write::write(db, env, REQUEST, &[id], &json!({"status": "queued"}))?,
        "unknown" => {
            let body = format!(
                "N8N may or may not have started the AI image generation: {}",
                first_line(details)
            );
            note(db, env, id, body);
        }
        _ => {}
    }
    Ok(json!({"outcome": "finished", "status": status(db, id)}))
}
