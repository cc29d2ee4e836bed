//! Model introspection and helpers: `fields_get`, `default_get`, `name_search`.

use serde_json::{Map, Value, json};

use super::{Env, model};
use crate::errors::OdooResult;
use crate::json::{Ordered, Reply};
use crate::methods::opt_usize;
use crate::orm::{self, search::SearchSpec};
use crate::schema::DefaultValue;
use crate::store::Db;

/// `fields_get(allfields, attributes)`.
pub fn fields_get(
    db: &Db,
    model_name: &str,
    allfields: Option<Vec<String>>,
    attributes: Option<Vec<String>>,
) -> OdooResult<Reply> {
    let m = model(db, model_name)?;
    let mut out = Ordered::default();
    for f in &m.fields {
        if allfields
            .as_ref()
            .is_some_and(|a| !a.is_empty() && !a.contains(&f.name))
            || f.name == "password"
        {
            continue;
        }
        let mut desc = f.description();
        if let Some(attrs) = &attributes {
            desc.retain(|k, _| attrs.contains(k));
        }
        out.push(f.name.clone(), Value::Object(desc));
    }
    Ok(Reply::Object(out))
}

pub fn default_get(
    db: &mut Db,
    env: &Env,
    model_name: &str,
    fields: Vec<String>,
) -> OdooResult<Reply> {
    let m = model(db, model_name)?.clone();
    let mut out = Map::new();
    for name in fields {
        let Some(f) = m.field(&name) else { continue };
        let v = match &f.default {
            DefaultValue::None => continue,
            DefaultValue::Value(v) => v.clone(),
            DefaultValue::CurrentUser => json!(env.uid),
            DefaultValue::Uuid => json!(db.new_uuid()),
        };
        out.insert(name, v);
    }
    Ok(Reply::Value(Value::Object(out)))
}

pub fn name_search(
    db: &Db,
    env: &Env,
    model_name: &str,
    name: &Value,
    domain: Value,
    operator: &Value,
    limit: &Value,
) -> OdooResult<Reply> {
    let spec = SearchSpec {
        domain,
        ..SearchSpec::default()
    };
    let ids = orm::search::search(db, env, model_name, &spec)?;
    let needle = name.as_str().unwrap_or("").to_string();
    let op = operator.as_str().unwrap_or("ilike").to_string();
    let max = opt_usize(limit).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for id in ids {
        let dn = orm::read::display_name(db, model_name, id);
        let hit = needle.is_empty()
            || match op.as_str() {
                "=" => dn == needle,
                "like" => dn.contains(&needle),
                "=ilike" => dn.to_lowercase() == needle.to_lowercase(),
                _ => dn.to_lowercase().contains(&needle.to_lowercase()),
            };
        if hit {
            out.push(json!([id, dn]));
        }
        if out.len() >= max {
            break;
        }
    }
    Ok(Reply::Value(Value::Array(out)))
}
