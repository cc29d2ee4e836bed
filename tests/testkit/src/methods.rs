//! Model methods callable through `execute_kw` (Odoo's `get_public_method` + `call_kw`).
//!
//! Method lookup follows `odoo/service/model.py`: a name that does not exist gives
//! `AttributeError: The method 'm.x' does not exist` (even for `_read`), an existing name with a
//! leading underscore gives `AccessError: Private methods (such as 'm._search') cannot be called
//! remotely.` Record methods (`read`, `write`, `unlink`, `has_access`, `message_post`, …) take the
//! ids as first positional argument, `@api.model` methods do not. A `context` keyword is accepted;
//! of its keys only `image_no_postprocess` has an effect (attachments stored as given). The
//! companion addon's methods are in [`crate::companion`].

use serde_json::{Map, Value, json};

use crate::access::Op;
use crate::catalog::{KNOWN_PRIVATE_METHODS, MAIL_PRIVATE_METHODS};
use crate::errors::{OdooError, OdooResult, py_repr, py_truthy};
use crate::json::{Ordered, Reply};
use crate::orm::meta::{default_get, fields_get};
use crate::orm::search::SearchSpec;
use crate::orm::{self, Env, check_acl, check_rules, model};
use crate::pyargs::{Sig, bind};
use crate::store::Db;

/// Public methods every model has.
const ORM_METHODS: &[&str] = &[
    "create",
    "read",
    "write",
    "unlink",
    "search",
    "search_read",
    "search_count",
    "fields_get",
    "check_access_rights",
    "has_access",
    "check_access",
    "exists",
    "default_get",
    "name_search",
    "web_save",
];

const fn sig<'a>(qual: &'a str, names: &'a [&'a str], required: usize) -> Sig<'a> {
    Sig {
        qual,
        names,
        required,
        kw_only: &[],
        var_kw: false,
        has_self: true,
    }
}

fn ids_of(v: &Value) -> OdooResult<Vec<i64>> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(|i| vec![i])
            .ok_or_else(|| OdooError::type_error(format!("Invalid id {}", py_repr(v)))),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_i64()
                    .ok_or_else(|| OdooError::type_error(format!("Invalid id {}", py_repr(i))))
            })
            .collect(),
        Value::Null | Value::Bool(false) => Ok(Vec::new()),
        other => Err(OdooError::type_error(format!(
            "Invalid ids {}",
            py_repr(other)
        ))),
    }
}

pub fn opt_usize(v: &Value) -> Option<usize> {
    v.as_u64().map(|u| u as usize).filter(|u| *u > 0)
}

fn field_list(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect()
    })
}

fn op_of(v: &Value) -> OdooResult<Op> {
    v.as_str()
        .and_then(Op::parse)
        .ok_or_else(|| OdooError::new("builtins.AssertionError", "Invalid access mode"))
}

fn rows(rows: Vec<Ordered>) -> Reply {
    Reply::List(rows.into_iter().map(Reply::Object).collect())
}

/// Checks that `method` can be called remotely on `model`.
pub fn check_public(db: &Db, model_name: &str, method: &str) -> OdooResult<()> {
    let m = model(db, model_name)?;
    let removed = db
        .removed_methods
        .contains(&(model_name.to_string(), method.to_string()));
    let exists = !removed
        && (ORM_METHODS.contains(&method)
            || m.extra_methods.iter().any(|x| x == method)
            || KNOWN_PRIVATE_METHODS.contains(&method)
            || (m.chatter && MAIL_PRIVATE_METHODS.contains(&method))
            || (method.starts_with("__") && method.ends_with("__") && method.len() > 4));
    if !exists {
        return Err(OdooError::attribute_error(format!(
            "The method '{model_name}.{method}' does not exist"
        ))
        .at("  File \"/srv/odoo/odoo/service/model.py\", line 38, in get_public_method\n    raise AttributeError(f\"The method '{model._name}.{name}' does not exist\")  # noqa: TRY004"));
    }
    if method.starts_with('_') {
        return Err(OdooError::access_error(format!(
            "Private methods (such as '{model_name}.{method}') cannot be called remotely."
        ))
        .at("  File \"/srv/odoo/odoo/service/model.py\", line 44, in get_public_method\n    raise AccessError(f\"Private methods (such as '{model._name}.{name}') cannot be called remotely.\")"));
    }
    Ok(())
}

/// Whether `method` runs on records (its first positional argument is the ids) rather than
/// being an `@api.model` method.
pub fn is_record_method(method: &str) -> bool {
    matches!(
        method,
        "read"
            | "write"
            | "unlink"
            | "has_access"
            | "check_access"
            | "exists"
            | "message_post"
            | "web_save"
    )
}

/// `call_kw(model, method, args, kwargs)`.
pub fn call(
    db: &mut Db,
    env: &Env,
    model_name: &str,
    method: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<Reply> {
    check_public(db, model_name, method)?;
    let mut kwargs = kwargs.clone();
    let context = kwargs.remove("context");
    let no_postprocess = context
        .as_ref()
        .and_then(|c| c.get("image_no_postprocess"))
        .is_some_and(py_truthy);
    let env = &if no_postprocess {
        env.with_image_no_postprocess()
    } else {
        *env
    };
    if model_name == crate::catalog::REQUEST && crate::companion::METHODS.contains(&method) {
        return crate::companion::call(db, env, method, args, &kwargs);
    }
    let (ids, args) = if is_record_method(method) {
        let Some(first) = args.first() else {
            return Err(OdooError::index_error());
        };
        (ids_of(first)?, &args[1..])
    } else {
        (Vec::new(), args)
    };
    match method {
        "create" => {
            let b = bind(&sig("BaseModel.create", &["vals_list"], 1), args, &kwargs)?;
            match b.get(0, Value::Null) {
                Value::Array(list) => {
                    let ids = orm::write::create(db, env, model_name, &list)?;
                    Ok(Reply::Value(json!(ids)))
                }
                single => {
                    let ids = orm::write::create(db, env, model_name, &[single])?;
                    Ok(Reply::Value(json!(ids.first())))
                }
            }
        }
        "read" => {
            let b = bind(
                &sig("BaseModel.read", &["fields", "load"], 0),
                args,
                &kwargs,
            )?;
            let fields = field_list(&b.get(0, Value::Null));
            let load = b.get(1, json!("_classic_read"));
            let out = orm::read::read(
                db,
                env,
                model_name,
                &ids,
                fields.as_deref(),
                py_truthy(&load),
            )?;
            Ok(rows(out))
        }
        "write" => {
            let b = bind(&sig("BaseModel.write", &["vals"], 1), args, &kwargs)?;
            orm::write::write(db, env, model_name, &ids, &b.get(0, Value::Null))?;
            Ok(Reply::Value(json!(true)))
        }
        "web_save" => {
            // addons/web/models/models.py: write or create, then web_read the
            // specification's fields (load=None), all in one transaction.
            let b = bind(
                &sig(
                    "BaseModel.web_save",
                    &["vals", "specification", "next_id"],
                    2,
                ),
                args,
                &kwargs,
            )?;
            let vals = b.get(0, Value::Null);
            let saved = if ids.is_empty() {
                orm::write::create(db, env, model_name, &[vals])?
            } else {
                orm::write::write(db, env, model_name, &ids, &vals)?;
                ids.clone()
            };
            let fields: Vec<String> = match b.get(1, Value::Null) {
                Value::Object(spec) if !spec.is_empty() => spec.keys().cloned().collect(),
                _ => vec!["id".to_owned()],
            };
            let out = orm::read::read(db, env, model_name, &saved, Some(&fields), false)?;
            Ok(rows(out))
        }
        "unlink" => {
            bind(&sig("BaseModel.unlink", &[], 0), args, &kwargs)?;
            orm::write::unlink(db, env, model_name, &ids)?;
            Ok(Reply::Value(json!(true)))
        }
        "search" | "search_read" | "search_count" => {
            search_family(db, env, model_name, method, args, &kwargs)
        }
        "fields_get" => {
            let b = bind(
                &sig("BaseModel.fields_get", &["allfields", "attributes"], 0),
                args,
                &kwargs,
            )?;
            Ok(fields_get(
                db,
                model_name,
                field_list(&b.get(0, Value::Null)),
                field_list(&b.get(1, Value::Null)),
            )?)
        }
        "check_access_rights" => {
            let b = bind(
                &sig(
                    "BaseModel.check_access_rights",
                    &["operation", "raise_exception"],
                    1,
                ),
                args,
                &kwargs,
            )?;
            let op = op_of(&b.get(0, Value::Null))?;
            let m = model(db, model_name)?;
            let res = check_acl(db, env, m, op);
            if py_truthy(&b.get(1, json!(true))) {
                res.map(|()| Reply::None)
            } else {
                Ok(Reply::Value(json!(res.is_ok())))
            }
        }
        "has_access" | "check_access" => {
            let qual = if method == "has_access" {
                "BaseModel.has_access"
            } else {
                "BaseModel.check_access"
            };
            let b = bind(&sig(qual, &["operation"], 1), args, &kwargs)?;
            let op = op_of(&b.get(0, Value::Null))?;
            let res = check_records(db, env, model_name, &ids, op);
            if method == "has_access" {
                Ok(Reply::Value(json!(res.is_ok())))
            } else {
                res.map(|()| Reply::None)
            }
        }
        "exists" => {
            bind(&sig("BaseModel.exists", &[], 0), args, &kwargs)?;
            let found: Vec<i64> = ids
                .into_iter()
                .filter(|i| db.visible(model_name, *i, env.rpc))
                .collect();
            Ok(Reply::Value(json!(found)))
        }
        "default_get" => {
            let b = bind(
                &sig("BaseModel.default_get", &["fields_list"], 1),
                args,
                &kwargs,
            )?;
            default_get(
                db,
                env,
                model_name,
                field_list(&b.get(0, Value::Null)).unwrap_or_default(),
            )
        }
        "name_search" => {
            let b = bind(
                &sig(
                    "BaseModel.name_search",
                    &["name", "domain", "operator", "limit"],
                    0,
                ),
                args,
                &kwargs,
            )?;
            orm::meta::name_search(
                db,
                env,
                model_name,
                &b.get(0, json!("")),
                b.get(1, json!([])),
                &b.get(2, json!("ilike")),
                &b.get(3, json!(100)),
            )
        }
        "message_post" => crate::mail::rpc_message_post(db, env, model_name, &ids, args, &kwargs),
        "context_get" => {
            // res.users.context_get: the caller's language, timezone and uid (transcript
            // json2/01 of Odoo 19).
            bind(&sig("ResUsers.context_get", &[], 0), args, &kwargs)?;
            let mut context = Ordered::default();
            context.push("lang", json!("en_US"));
            context.push("tz", json!(false));
            context.push("uid", json!(env.uid));
            Ok(Reply::Object(context))
        }
        _ => Err(OdooError::attribute_error(format!(
            "The method '{model_name}.{method}' does not exist"
        ))),
    }
}

fn search_family(
    db: &mut Db,
    env: &Env,
    model_name: &str,
    method: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<Reply> {
    match method {
        "search" => {
            let b = bind(
                &sig(
                    "BaseModel.search",
                    &["domain", "offset", "limit", "order"],
                    1,
                ),
                args,
                kwargs,
            )?;
            let spec = SearchSpec {
                domain: b.get(0, json!([])),
                offset: b.get(1, json!(0)).as_u64().unwrap_or(0) as usize,
                limit: opt_usize(&b.get(2, Value::Null)),
                order: b.get(3, Value::Null).as_str().map(str::to_string),
            };
            Ok(Reply::Value(json!(orm::search::search(
                db, env, model_name, &spec
            )?)))
        }
        "search_count" => {
            let b = bind(
                &sig("BaseModel.search_count", &["domain", "limit"], 1),
                args,
                kwargs,
            )?;
            let spec = SearchSpec {
                domain: b.get(0, json!([])),
                limit: opt_usize(&b.get(1, Value::Null)),
                ..SearchSpec::default()
            };
            Ok(Reply::Value(json!(
                orm::search::search(db, env, model_name, &spec)?.len()
            )))
        }
        _ => {
            let mut s = sig(
                "BaseModel.search_read",
                &["domain", "fields", "offset", "limit", "order"],
                0,
            );
            s.var_kw = true;
            let b = bind(&s, args, kwargs)?;
            if let Some(k) = b.extra.keys().find(|k| *k != "load") {
                return Err(OdooError::type_error(format!(
                    "BaseModel.read() got an unexpected keyword argument '{k}'"
                )));
            }
            let spec = SearchSpec {
                domain: b.get(0, json!([])),
                offset: b.get(2, json!(0)).as_u64().unwrap_or(0) as usize,
                limit: opt_usize(&b.get(3, Value::Null)),
                order: b.get(4, Value::Null).as_str().map(str::to_string),
            };
            let fields = field_list(&b.get(1, Value::Null));
            if let Some(f) = &fields {
                orm::read::check_fields(model(db, model_name)?, f)?;
            }
            let ids = orm::search::search(db, env, model_name, &spec)?;
            let load = b
                .extra
                .get("load")
                .cloned()
                .unwrap_or(json!("_classic_read"));
            Ok(rows(orm::read::read(
                db,
                env,
                model_name,
                &ids,
                fields.as_deref(),
                py_truthy(&load),
            )?))
        }
    }
}

/// ACL + record rules for `op` on existing records (`MissingError` for missing ones).
pub fn check_records(db: &Db, env: &Env, model_name: &str, ids: &[i64], op: Op) -> OdooResult<()> {
    let m = model(db, model_name)?;
    check_acl(db, env, m, op)?;
    if let Some(missing) = ids.iter().find(|i| !db.visible(model_name, **i, env.rpc)) {
        return Err(OdooError::missing(model_name, &[*missing], env.uid));
    }
    if ids.is_empty() {
        return Ok(());
    }
    check_rules(db, env, m, op)
}
