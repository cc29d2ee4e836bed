//! Search domains: parsing (with Odoo's validation errors) and evaluation on records.
//!
//! A domain is a list in prefix notation: leaves `[field, operator, value]` and the operators
//! `&`, `|`, `!`, with an implicit `&` between consecutive terms. Supported operators: `=`, `!=`
//! (`<>`), `in`, `not in`, `<`, `<=`, `>`, `>=`, `like`, `ilike`, `=like`, `=ilike`, `not like`,
//! `not ilike`, `=?`, `any`, `not any`, and `child_of`/`parent_of` (treated as `in`: the emulated
//! models have no hierarchy). Dotted paths (`user_id.login`) go through relational fields.
//!
//! Semantics follow the SQL Odoo generates: many2one compares ids (a string value matches the
//! display name), `false` matches unset values (and `''` for text fields), negative operators
//! (`!=`, `not in`, `not like`, `not ilike`) also match unset values, `like`/`ilike` wrap the value
//! in `%…%` without escaping `%`/`_`.

use std::cmp::Ordering;

use serde_json::Value;

use crate::errors::{OdooError, OdooResult, py_repr, py_tuple};
use crate::orm::Env;
use crate::schema::{FieldType, ModelDef};
use crate::store::Db;

/// A parsed domain.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    True,
    False,
    And(Box<Domain>, Box<Domain>),
    Or(Box<Domain>, Box<Domain>),
    Not(Box<Domain>),
    Leaf(Leaf),
}

/// One condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub field: String,
    pub op: String,
    pub value: Value,
    /// For `any`/`not any` and dotted paths: the condition on the comodel.
    pub sub: Option<Box<Domain>>,
}

const OPERATORS: &[&str] = &[
    "=",
    "!=",
    "<=",
    "<",
    ">",
    ">=",
    "=?",
    "=like",
    "=ilike",
    "like",
    "not like",
    "ilike",
    "not ilike",
    "in",
    "not in",
    "child_of",
    "parent_of",
    "any",
    "not any",
];

fn is_bool_leaf(items: &[Value]) -> Option<bool> {
    if items.len() == 3 && items[1] == "=" && items[2] == 1 {
        match items[0].as_i64() {
            Some(1) => return Some(true),
            Some(0) => return Some(false),
            _ => {}
        }
    }
    None
}

/// Parses and validates `domain` against `model`.
pub fn parse(db: &Db, model: &ModelDef, domain: &Value) -> OdooResult<Domain> {
    let items = match domain {
        Value::Array(items) => items,
        Value::Null | Value::Bool(false) => return Ok(Domain::True),
        _ => {
            return Err(OdooError::new(
                "builtins.AssertionError",
                "Domains to normalize must have a 'domain' form: a list or tuple of domain components",
            ));
        }
    };
    if items.is_empty() {
        return Ok(Domain::True);
    }
    // normalize: make the implicit '&' explicit, and check arity
    let mut tokens: Vec<Token> = Vec::new();
    let mut expected = 1i64;
    for token in items {
        if expected == 0 {
            tokens.insert(0, Token::ImplicitAnd);
            expected = 1;
        }
        match token {
            Value::Array(_) => expected -= 1,
            Value::String(s) => {
                expected += match s.as_str() {
                    "!" => 1,
                    "&" | "|" => 2,
                    _ => 0,
                } - 1
            }
            _ => expected -= 1,
        }
        tokens.push(Token::Item(token));
    }
    if expected != 0 {
        return Err(OdooError::value_error(format!(
            "Domain {} is syntactically not correct.",
            py_repr(domain)
        )));
    }
    let mut pos = 0;
    build(db, model, &tokens, &mut pos)
}

/// A normalized domain token.
#[derive(Clone, Copy)]
enum Token<'a> {
    ImplicitAnd,
    Item(&'a Value),
}

fn build(db: &Db, model: &ModelDef, tokens: &[Token], pos: &mut usize) -> OdooResult<Domain> {
    let Some(token) = tokens.get(*pos) else {
        return Err(OdooError::value_error(
            "Domain is syntactically not correct.",
        ));
    };
    *pos += 1;
    let token = match token {
        Token::ImplicitAnd => {
            let a = build(db, model, tokens, pos)?;
            let b = build(db, model, tokens, pos)?;
            return Ok(Domain::And(Box::new(a), Box::new(b)));
        }
        Token::Item(v) => *v,
    };
    match token {
        Value::String(s) if s == "&" || s == "|" => {
            let a = build(db, model, tokens, pos)?;
            let b = build(db, model, tokens, pos)?;
            Ok(if s == "&" {
                Domain::And(Box::new(a), Box::new(b))
            } else {
                Domain::Or(Box::new(a), Box::new(b))
            })
        }
        Value::String(s) if s == "!" => Ok(Domain::Not(Box::new(build(db, model, tokens, pos)?))),
        Value::Array(items) => parse_leaf(db, model, items),
        other => Err(OdooError::value_error(format!(
            "Invalid leaf {}",
            py_repr(other)
        ))),
    }
}

fn parse_leaf(db: &Db, model: &ModelDef, items: &[Value]) -> OdooResult<Domain> {
    if let Some(b) = is_bool_leaf(items) {
        return Ok(if b { Domain::True } else { Domain::False });
    }
    if items.len() < 3 {
        return Err(OdooError::value_error(format!(
            "not enough values to unpack (expected 3, got {})",
            items.len()
        )));
    }
    if items.len() > 3 {
        return Err(OdooError::value_error(
            "too many values to unpack (expected 3)",
        ));
    }
    let invalid_leaf = || OdooError::value_error(format!("Invalid leaf {}", py_tuple(items)));
    let Some(left) = items[0].as_str().filter(|s| !s.is_empty()) else {
        return Err(invalid_leaf());
    };
    let (head, rest) = match left.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (left, None),
    };
    let Some(field) = model.field(head) else {
        return Err(OdooError::value_error(format!(
            "Invalid field {}.{head} in leaf {}",
            model.name,
            py_tuple(items)
        ))
        .at("  File \"/srv/odoo/odoo/osv/expression.py\", line 374, in _anyfy_leaves\n    raise ValueError(f\"Invalid field {model._name}.{path[0]} in leaf {item}\")"));
    };
    let Some(raw_op) = items[1].as_str() else {
        return Err(invalid_leaf());
    };
    let mut op = raw_op.to_lowercase();
    if op == "<>" {
        op = "!=".into();
    }
    if !OPERATORS.contains(&op.as_str()) {
        return Err(invalid_leaf());
    }
    let mut value = items[2].clone();
    if value.is_boolean() && (op == "in" || op == "not in") {
        op = if op == "in" { "=" } else { "!=" }.into();
    }
    if value.is_array() && (op == "=" || op == "!=") && field.ftype.relation().is_some() {
        op = if op == "=" { "in" } else { "not in" }.into();
    }
    if op == "child_of" || op == "parent_of" {
        op = "in".into();
    }
    if let (FieldType::Datetime, Some(s)) = (
        &field.ftype,
        value.as_str().and_then(crate::time::parse_datetime),
    ) {
        value = Value::String(s);
    }
    if let Some(rest) = rest {
        let Some(comodel) = field.ftype.relation().and_then(|r| db.model(r)) else {
            return Err(invalid_leaf());
        };
        let sub = parse(
            db,
            comodel,
            &Value::Array(vec![vec![Value::from(rest), Value::from(op), value].into()]),
        )?;
        return Ok(Domain::Leaf(Leaf {
            field: head.into(),
            op: "any".into(),
            value: Value::Null,
            sub: Some(Box::new(sub)),
        }));
    }
    if op == "any" || op == "not any" {
        let Some(comodel) = field.ftype.relation().and_then(|r| db.model(r)) else {
            return Err(invalid_leaf());
        };
        let sub = parse(db, comodel, &value)?;
        return Ok(Domain::Leaf(Leaf {
            field: head.into(),
            op,
            value: Value::Null,
            sub: Some(Box::new(sub)),
        }));
    }
    Ok(Domain::Leaf(Leaf {
        field: head.into(),
        op,
        value,
        sub: None,
    }))
}

/// Whether record `id` of `model` satisfies `domain`.
pub fn matches(db: &Db, model: &ModelDef, id: i64, domain: &Domain, env: &Env) -> bool {
    match domain {
        Domain::True => true,
        Domain::False => false,
        Domain::And(a, b) => matches(db, model, id, a, env) && matches(db, model, id, b, env),
        Domain::Or(a, b) => matches(db, model, id, a, env) || matches(db, model, id, b, env),
        Domain::Not(a) => !matches(db, model, id, a, env),
        Domain::Leaf(leaf) => leaf_matches(db, model, id, leaf, env),
    }
}

fn is_textual(t: &FieldType) -> bool {
    matches!(t, FieldType::Char | FieldType::Text | FieldType::Html)
}

fn is_unset(t: &FieldType, v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(false) => true,
        Value::String(s) => s.is_empty() && is_textual(t),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn leaf_matches(db: &Db, model: &ModelDef, id: i64, leaf: &Leaf, env: &Env) -> bool {
    let Some(field) = model.field(&leaf.field) else {
        return false;
    };
    let current = crate::orm::read::field_value(db, model, id, &leaf.field, env);
    if let Some(sub) = &leaf.sub {
        let related: Vec<i64> = match &current {
            Value::Number(n) => n.as_i64().into_iter().collect(),
            Value::Array(a) => a.iter().filter_map(Value::as_i64).collect(),
            _ => Vec::new(),
        };
        let comodel = field.ftype.relation().and_then(|r| db.model(r));
        let any = comodel.is_some_and(|cm| {
            related
                .iter()
                .any(|rid| db.visible(&cm.name, *rid, env.rpc) && matches(db, cm, *rid, sub, env))
        });
        return if leaf.op == "not any" { !any } else { any };
    }
    let unset = is_unset(&field.ftype, &current);
    let eq = |v: &Value| -> bool {
        if matches!(v, Value::Bool(false) | Value::Null) {
            return unset;
        }
        if unset {
            return false;
        }
        match (&field.ftype, &current, v) {
            (FieldType::Boolean, c, v) => {
                crate::errors::py_truthy(c) == crate::errors::py_truthy(v)
            }
            (FieldType::Many2one(rel), Value::Number(c), Value::String(name)) => c
                .as_i64()
                .is_some_and(|rid| crate::orm::read::display_name(db, rel, rid) == *name),
            (t, Value::Array(ids), v) if t.is_x2many() => ids.iter().any(|i| num_eq(i, v)),
            (_, c, v) => num_eq(c, v) || c == v,
        }
    };
    let as_list = || match &leaf.value {
        Value::Array(a) => a.clone(),
        v => vec![v.clone()],
    };
    match leaf.op.as_str() {
        "=" => eq(&leaf.value),
        "!=" => !eq(&leaf.value),
        "=?" => !crate::errors::py_truthy(&leaf.value) || eq(&leaf.value),
        "in" => as_list().iter().any(eq),
        "not in" => !as_list().iter().any(eq),
        "<" | "<=" | ">" | ">=" => {
            if unset || leaf.value.is_null() || leaf.value == Value::Bool(false) {
                return false;
            }
            match compare(&current, &leaf.value) {
                Some(ord) => match leaf.op.as_str() {
                    "<" => ord == Ordering::Less,
                    "<=" => ord != Ordering::Greater,
                    ">" => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                },
                None => false,
            }
        }
        op => {
            // like family
            let negative = op.starts_with("not ");
            let insensitive = op.contains("ilike");
            let exact = op.starts_with('=');
            let needle = match &leaf.value {
                Value::String(s) => s.clone(),
                Value::Null | Value::Bool(false) => String::new(),
                other => py_repr(other),
            };
            let pattern = if exact { needle } else { format!("%{needle}%") };
            let hay = match (&field.ftype, &current) {
                (FieldType::Many2one(rel), Value::Number(n)) => n
                    .as_i64()
                    .map(|rid| crate::orm::read::display_name(db, rel, rid)),
                (_, Value::String(s)) => Some(s.clone()),
                (_, Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let hit = hay.is_some_and(|h| {
                if insensitive {
                    like(&h.to_lowercase(), &pattern.to_lowercase())
                } else {
                    like(&h, &pattern)
                }
            });
            if negative { !hit } else { hit }
        }
    }
}

fn num_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Orders two stored values (numbers numerically, strings lexically, booleans false < true).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::String(y)) => x.as_f64()?.partial_cmp(&y.parse::<f64>().ok()?),
        _ => None,
    }
}

/// SQL `LIKE`: `%` any run, `_` one character, `\` escapes.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let mut p: Vec<(char, bool)> = Vec::new(); // (char, is_literal)
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                p.push((n, true));
            }
        } else {
            p.push((c, false));
        }
    }
    // dp[j] = pattern[..j] matches text[..i]
    let mut dp = vec![false; p.len() + 1];
    dp[0] = true;
    for j in 1..=p.len() {
        dp[j] = dp[j - 1] && p[j - 1] == ('%', false);
    }
    for tc in &t {
        let mut next = vec![false; p.len() + 1];
        for j in 1..=p.len() {
            next[j] = match p[j - 1] {
                ('%', false) => next[j - 1] || dp[j],
                ('_', false) => dp[j - 1],
                (c, _) => dp[j - 1] && c == *tc,
            };
        }
        dp = next;
    }
    dp[p.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sql_like() {
        assert!(like("green_cat 100%", "%cat 100\\%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(like("", "%"));
    }

    #[test]
    fn parse_errors_and_normalisation() {
        let db = Db::new("ig", "127.0.0.1", 8069);
        let m = db
            .model("influence_gen.ai_image_request")
            .expect("model")
            .clone();
        let d = parse(&db, &m, &json!([["seed", "=", 1], ["seed", "<>", 2]])).expect("valid");
        assert!(matches!(d, Domain::And(..)));
        let e = parse(&db, &m, &json!([["nope", "=", 1]])).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid field influence_gen.ai_image_request.nope in leaf ('nope', '=', 1)"
        );
        let e = parse(&db, &m, &json!(["&", ["seed", "=", 1]])).unwrap_err();
        assert!(e.message.ends_with("is syntactically not correct."));
        assert_eq!(parse(&db, &m, &json!([])).expect("empty"), Domain::True);
    }

    #[test]
    fn evaluation_on_rows() {
        let mut db = Db::new("ig", "127.0.0.1", 8069);
        let env = crate::orm::Env::control();
        let ids = crate::orm::write::create(
            &mut db,
            &env,
            "influence_gen.ai_image_request",
            &[json!({"prompt": "x", "seed": 3}), json!({"prompt": "y"})],
        )
        .expect("created");
        let m = db
            .model("influence_gen.ai_image_request")
            .expect("model")
            .clone();
        let dom = parse(
            &db,
            &m,
            &json!(["|", ["seed", ">", 2], ["prompt", "=", "y"]]),
        )
        .expect("ok");
        assert!(ids.iter().all(|id| matches(&db, &m, *id, &dom, &env)));
        let dom = parse(&db, &m, &json!([["seed", "=", false]])).expect("ok");
        assert!(!matches(&db, &m, ids[0], &dom, &env));
        assert!(matches(&db, &m, ids[1], &dom, &env));
    }
}
