//! Conversion of `create` / `write` values to stored values, per field type, with the errors
//! Odoo 18 raises (`Wrong value for m.f: 'x'` for selections and many2one, Python's own
//! `int()` / `float()` errors for numbers).

use serde_json::{Value, json};

use crate::errors::{OdooError, OdooResult, py_float, py_repr, py_str, py_truthy, py_type};
use crate::schema::{FieldDef, FieldType, ModelDef};

fn wrong_value(m: &ModelDef, f: &FieldDef, v: &Value) -> OdooError {
    OdooError::value_error(format!(
        "Wrong value for {}.{}: {}",
        m.name,
        f.name,
        py_repr(v)
    ))
    .at("  File \"/srv/odoo/odoo/fields.py\", line 2992, in convert_to_cache\n    raise ValueError(\"Wrong value for %s: %r\" % (self, value))")
}

/// Python `str()` of a decoded JSON value.
fn py_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => py_float(n.as_f64().unwrap_or(0.0)),
        other => py_repr(other),
    }
}

fn to_int(v: &Value) -> OdooResult<i64> {
    match v {
        Value::Null | Value::Bool(false) => Ok(0),
        Value::Bool(true) => Ok(1),
        Value::Number(n) => Ok(n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .unwrap_or(0)),
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
            OdooError::value_error(format!(
                "invalid literal for int() with base 10: {}",
                py_str(s)
            ))
        }),
        other => Err(OdooError::type_error(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            py_type(other)
        ))),
    }
}

fn to_float(v: &Value) -> OdooResult<f64> {
    match v {
        Value::Null | Value::Bool(false) => Ok(0.0),
        Value::Bool(true) => Ok(1.0),
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
        Value::String(s) if s.is_empty() => Ok(0.0),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
            OdooError::value_error(format!("could not convert string to float: {}", py_str(s)))
        }),
        other => Err(OdooError::type_error(format!(
            "float() argument must be a string or a real number, not '{}'",
            py_type(other)
        ))),
    }
}

/// Applies x2many commands (or a plain id list) to the current ids.
fn x2many(m: &ModelDef, f: &FieldDef, current: &[i64], v: &Value) -> OdooResult<Vec<i64>> {
    let mut ids: Vec<i64> = current.to_vec();
    let items = match v {
        Value::Null | Value::Bool(false) => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(wrong_value(m, f, other)),
    };
    for item in items {
        match item {
            Value::Number(n) => {
                let id = n.as_i64().ok_or_else(|| wrong_value(m, f, item))?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Value::Array(cmd) => {
                let code = cmd.first().and_then(Value::as_i64);
                let arg = cmd.get(1).and_then(Value::as_i64);
                match (code, arg) {
                    (Some(4), Some(id)) => {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    (Some(3), Some(id)) | (Some(2), Some(id)) => ids.retain(|x| *x != id),
                    (Some(5), _) => ids.clear(),
                    (Some(6), _) => {
                        ids = cmd
                            .get(2)
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_i64).collect())
                            .unwrap_or_default();
                    }
                    _ => return Err(wrong_value(m, f, item)),
                }
            }
            other => return Err(wrong_value(m, f, other)),
        }
    }
    // a plain list of ids replaces the value (Command.set)
    if !items.is_empty() && items.iter().all(Value::is_number) {
        ids = items.iter().filter_map(Value::as_i64).collect();
    }
    Ok(ids)
}

/// Converts `v` for storing in field `f` of `m`. `current` is the stored value (for x2many
/// commands). Returns `null` for "unset".
pub fn convert(m: &ModelDef, f: &FieldDef, v: &Value, current: &Value) -> OdooResult<Value> {
    Ok(match &f.ftype {
        FieldType::Char | FieldType::Text | FieldType::Html => match v {
            Value::Null | Value::Bool(false) => Value::Null,
            other => json!(py_text(other)),
        },
        FieldType::Selection(opts) => match v {
            Value::String(s) if opts.iter().any(|(k, _)| k == s) => v.clone(),
            _ if !py_truthy(v) => Value::Null,
            _ => return Err(wrong_value(m, f, v)),
        },
        FieldType::Integer => json!(to_int(v)?),
        FieldType::Float => json!(to_float(v)?),
        FieldType::Boolean => json!(py_truthy(v)),
        FieldType::Many2one(_) => match v {
            Value::Null | Value::Bool(false) => Value::Null,
            Value::Number(n) => match n.as_i64() {
                Some(0) => Value::Null,
                Some(id) if !n.is_f64() => json!(id),
                _ => return Err(wrong_value(m, f, v)),
            },
            _ => return Err(wrong_value(m, f, v)),
        },
        FieldType::One2many(..) | FieldType::Many2many(_) => {
            let cur: Vec<i64> = current
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            json!(x2many(m, f, &cur, v)?)
        }
        FieldType::Datetime | FieldType::Date => match v {
            Value::Null | Value::Bool(false) => Value::Null,
            Value::String(s) if s.is_empty() => Value::Null,
            Value::String(s) => match crate::time::parse_datetime(s) {
                Some(dt) if matches!(f.ftype, FieldType::Date) => json!(&dt[..10]),
                Some(dt) => json!(dt),
                None => {
                    return Err(OdooError::value_error(format!(
                        "time data {} does not match format '%Y-%m-%d %H:%M:%S'",
                        py_str(s)
                    )));
                }
            },
            other => return Err(wrong_value(m, f, other)),
        },
        FieldType::Binary => match v {
            Value::Null | Value::Bool(false) => Value::Null,
            other => json!(py_text(other)),
        },
    })
}
