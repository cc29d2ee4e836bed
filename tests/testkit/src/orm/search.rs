//! `search`: domain filtering, `order` (validated as Odoo's `regex_order`), `offset`, `limit`.
//!
//! Sorting follows PostgreSQL: `NULL`s last when ascending and first when descending, unless
//! `nulls first|last` says otherwise; many2one fields sort by the related record's display name;
//! ties are broken by ascending id (the physical order an unindexed PostgreSQL scan gives).

use std::cmp::Ordering;

use serde_json::Value;

use super::read::{display_name, field_value};
use super::{Env, check_acl, model};
use crate::access::Op;
use crate::domain::{self, Domain, Leaf, compare};
use crate::errors::{OdooError, OdooResult};
use crate::schema::{FieldType, ModelDef};
use crate::store::Db;

/// One `ORDER BY` term.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTerm {
    pub field: String,
    pub desc: bool,
    pub nulls_first: bool,
}

fn invalid_order(order: &str) -> OdooError {
    OdooError::user_error(format!(
        "Invalid \"order\" specified ({order}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)"
    ))
}

/// Parses and validates an `order` specification.
pub fn parse_order(m: &ModelDef, order: &str) -> OdooResult<Vec<OrderTerm>> {
    let mut terms = Vec::new();
    for part in order.split(',') {
        let words: Vec<String> = part.split_whitespace().map(str::to_lowercase).collect();
        let Some(first) = words.first() else {
            return Err(invalid_order(order));
        };
        let raw_name = part.split_whitespace().next().unwrap_or("");
        let name = raw_name.trim_matches('"');
        let valid_name = !name.is_empty()
            && name.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' || c == ':'
            });
        if !valid_name || first.is_empty() {
            return Err(invalid_order(order));
        }
        let rest: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let (desc, nulls) = match rest.as_slice() {
            [] => (false, None),
            ["asc"] => (false, None),
            ["desc"] => (true, None),
            ["nulls", "first"] => (false, Some(true)),
            ["nulls", "last"] => (false, Some(false)),
            ["asc", "nulls", "first"] => (false, Some(true)),
            ["asc", "nulls", "last"] => (false, Some(false)),
            ["desc", "nulls", "first"] => (true, Some(true)),
            ["desc", "nulls", "last"] => (true, Some(false)),
            _ => return Err(invalid_order(order)),
        };
        let fname = name.split(['.', ':']).next().unwrap_or(name);
        if m.field(fname).is_none() {
            return Err(OdooError::value_error(format!(
                "Invalid field {} on model {}",
                crate::errors::py_str(fname),
                crate::errors::py_str(&m.name)
            )));
        }
        terms.push(OrderTerm {
            field: fname.to_string(),
            desc,
            nulls_first: nulls.unwrap_or(desc),
        });
    }
    Ok(terms)
}

fn sort_key(db: &Db, m: &ModelDef, id: i64, fname: &str, env: &Env) -> Value {
    let v = field_value(db, m, id, fname, env);
    match (m.field(fname).map(|f| &f.ftype), &v) {
        (Some(FieldType::Many2one(rel)), Value::Number(n)) => {
            let has_name = db.model(rel).is_some_and(|cm| cm.rec_name.is_some());
            if has_name {
                Value::String(display_name(db, rel, n.as_i64().unwrap_or(0)))
            } else {
                v
            }
        }
        (Some(FieldType::Boolean), Value::Null) => Value::Bool(false),
        _ => v,
    }
}

fn cmp_terms(db: &Db, m: &ModelDef, a: i64, b: i64, terms: &[OrderTerm], env: &Env) -> Ordering {
    for t in terms {
        let (va, vb) = (
            sort_key(db, m, a, &t.field, env),
            sort_key(db, m, b, &t.field, env),
        );
        let ord = match (va.is_null(), vb.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if t.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if t.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = compare(&va, &vb).unwrap_or(Ordering::Equal);
                if t.desc { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.cmp(&b)
}

/// Parameters of a search.
#[derive(Debug, Clone, Default)]
pub struct SearchSpec {
    pub domain: Value,
    pub offset: usize,
    pub limit: Option<usize>,
    pub order: Option<String>,
}

/// `search(domain, offset, limit, order)`; returns ids.
pub fn search(db: &Db, env: &Env, model_name: &str, spec: &SearchSpec) -> OdooResult<Vec<i64>> {
    let m = model(db, model_name)?;
    check_acl(db, env, m, Op::Read)?;
    let dom = domain::parse(db, m, &spec.domain)?;
    let order = spec
        .order
        .as_deref()
        .filter(|o| !o.trim().is_empty())
        .unwrap_or(&m.order);
    let terms = parse_order(m, order)?;
    let mut ids: Vec<i64> = candidates(db, model_name, env.rpc, &dom)
        .into_iter()
        .filter(|id| domain::matches(db, m, *id, &dom, env))
        .filter(|id| own_api_key(db, env, model_name, *id))
        .collect();
    ids.sort_by(|a, b| cmp_terms(db, m, *a, *b, &terms, env));
    let ids = ids.into_iter().skip(spec.offset);
    Ok(match spec.limit {
        Some(l) => ids.take(l).collect(),
        None => ids.collect(),
    })
}

/// The record rule of `res.users.apikeys`: a user sees only its own keys.
fn own_api_key(db: &Db, env: &Env, model_name: &str, id: i64) -> bool {
    model_name != crate::catalog::API_KEYS
        || env.su
        || db
            .row(model_name, id)
            .and_then(|r| r.get("user_id"))
            .and_then(Value::as_i64)
            == Some(env.uid)
}

/// The records a search has to look at: every record of the model, or only those that a
/// top-level `id =` / `id in` condition names (as a primary-key index would), so that looking a
/// record up by id costs the same in a table of ten rows or of a hundred thousand (the load
/// harness seeds that many). The whole domain is still evaluated on each candidate.
fn candidates(db: &Db, model_name: &str, rpc: bool, dom: &Domain) -> Vec<i64> {
    match pinned_ids(dom) {
        Some(mut ids) => {
            ids.sort_unstable();
            ids.dedup();
            ids.retain(|id| db.visible(model_name, *id, rpc));
            ids
        }
        None => db.ids(model_name, rpc),
    }
}

/// The ids an `id =` / `id in` condition that the whole domain depends on allows, if any.
fn pinned_ids(dom: &Domain) -> Option<Vec<i64>> {
    match dom {
        Domain::Leaf(Leaf {
            field,
            op,
            value,
            sub: None,
        }) if field == "id" => match (op.as_str(), value) {
            ("=", Value::Number(n)) => n.as_i64().map(|id| vec![id]),
            ("in", Value::Array(items)) => items.iter().map(Value::as_i64).collect(),
            _ => None,
        },
        Domain::And(a, b) => pinned_ids(a).or_else(|| pinned_ids(b)),
        _ => None,
    }
}
