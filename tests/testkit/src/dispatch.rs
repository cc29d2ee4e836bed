//! The `/jsonrpc` services: `common`, `db` and `object` (Odoo's `dispatch_rpc`).
//!
//! * `common`: `version`, `login`, `authenticate`, `about`, `set_loglevel`; anything else is
//!   `builtins.Exception: Method not found: x`.
//! * `db`: `list`, `server_version`, `db_exist`, `list_lang`; the master-password methods answer
//!   `AccessDenied`; anything else is `builtins.KeyError: Method not found: x`.
//! * `object`: `execute_kw(db, uid, password, model, method, args, kwargs?)` and
//!   `execute(db, uid, password, model, method, *args)`; anything else is
//!   `builtins.NameError: Method not available x`.
//! * any other service: `builtins.KeyError` with the service name.
//!
//! A database other than the emulator's gives `psycopg2.OperationalError`; a wrong uid or
//! password (or API key) gives `odoo.exceptions.AccessDenied`.

use serde_json::{Map, Value, json};

use crate::errors::{OdooError, OdooResult, py_join_names, py_repr, py_type};
use crate::faults::CallKey;
use crate::json::Reply;
use crate::orm::Env;
use crate::pyargs::{Sig, bind};
use crate::store::Db;

/// `server_version` of the emulated Odoo (transcript 01).
pub const SERVER_VERSION: &str = "18.0-20250421";

/// What a call is, as far as it can be told without executing it (for matching and logging).
#[derive(Debug, Clone, Default)]
pub struct CallInfo {
    pub key: CallKey,
    pub db: Option<String>,
    pub args: Value,
    pub kwargs: Value,
    pub login: Option<String>,
    pub uid: Option<i64>,
}

/// Describes the call in a JSON-RPC `params` object.
pub fn describe(db: &Db, params: &Map<String, Value>) -> CallInfo {
    let s = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
    let args = params.get("args").cloned().unwrap_or(Value::Null);
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let mut info = CallInfo {
        key: CallKey {
            service: s("service"),
            method: s("method"),
            ..CallKey::default()
        },
        db: arg(0).as_str().map(str::to_string),
        args: args.clone(),
        kwargs: json!({}),
        ..CallInfo::default()
    };
    match (info.key.service.as_deref(), info.key.method.as_deref()) {
        (Some("object"), Some(m)) if m == "execute_kw" || m == "execute" => {
            info.uid = arg(1).as_i64();
            info.login = info
                .uid
                .and_then(|u| db.row("res.users", u))
                .and_then(|r| r.get("login"))
                .and_then(Value::as_str)
                .map(str::to_string);
            info.key.model = arg(3).as_str().map(str::to_string);
            info.key.model_method = arg(4).as_str().map(str::to_string);
            if m == "execute_kw" {
                info.args = arg(5);
                info.kwargs = match arg(6) {
                    Value::Null => json!({}),
                    v => v,
                };
            } else {
                info.args = Value::Array(
                    args.as_array()
                        .map(|a| a.iter().skip(5).cloned().collect())
                        .unwrap_or_default(),
                );
            }
        }
        (Some("common"), Some("login" | "authenticate")) => {
            info.login = arg(1).as_str().map(str::to_string);
        }
        _ => {}
    }
    info
}

/// `*params` in Python: the positional arguments of a service method.
fn star_args(args: &Value) -> OdooResult<Vec<Value>> {
    match args {
        Value::Array(a) => Ok(a.clone()),
        Value::Object(o) => Ok(o.keys().map(|k| json!(k)).collect()),
        Value::String(s) => Ok(s.chars().map(|c| json!(c.to_string())).collect()),
        other => Err(OdooError::type_error(format!(
            "odoo.http.dispatch_rpc() argument after * must be an iterable, not {}",
            py_type(other)
        ))),
    }
}

fn no_self(qual: &'static str, names: &'static [&'static str], required: usize) -> Sig<'static> {
    Sig {
        qual,
        names,
        required,
        kw_only: &[],
        var_kw: false,
        has_self: false,
    }
}

fn check_db(db: &Db, name: &Value) -> OdooResult<()> {
    if name.as_str() == Some(db.database.as_str()) {
        Ok(())
    } else {
        let shown = match name {
            Value::String(s) => s.clone(),
            other => py_repr(other),
        };
        Err(OdooError::unknown_database(&shown, &db.host, db.port))
    }
}

/// Runs one JSON-RPC call (`params` of the request) and returns its result.
pub fn dispatch(db: &mut Db, params: &Map<String, Value>) -> OdooResult<Reply> {
    let missing: Vec<&str> = ["service", "method", "args"]
        .into_iter()
        .filter(|k| !params.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let plural = if missing.len() == 1 {
            "argument"
        } else {
            "arguments"
        };
        return Err(OdooError::type_error(format!(
            "RPC.jsonrpc() missing {} required positional {plural}: {}",
            missing.len(),
            py_join_names(&missing)
        )));
    }
    let service = params.get("service").cloned().unwrap_or(Value::Null);
    let method = params
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let args = star_args(params.get("args").unwrap_or(&Value::Null))?;
    match service.as_str() {
        Some("common") => common(db, &method, &args),
        Some("db") => db_service(db, &method, &args),
        Some("object") => object(db, &method, &args),
        _ => Err(OdooError::key_error(match service {
            Value::String(s) => s,
            other => py_repr(&other),
        })),
    }
}

fn authenticate(db: &Db, login: &Value, password: &Value) -> Value {
    let uid = login.as_str().and_then(|l| db.uid_of_login(l));
    match (uid, password.as_str()) {
        (Some(uid), Some(pw)) if db.check_credentials(uid, pw) => json!(uid),
        _ => json!(false),
    }
}

fn common(db: &mut Db, method: &str, args: &[Value]) -> OdooResult<Reply> {
    match method {
        "version" => {
            bind(&no_self("exp_version", &[], 0), args, &Map::new())?;
            let major = db.series.major();
            Ok(Reply::Value(json!({
                "server_version": db.series.server_version(),
                "server_version_info": [major, 0, 0, "final", 0, ""],
                "server_serie": format!("{major}.0"),
                "protocol_version": 1
            })))
        }
        "login" => {
            let b = bind(
                &no_self("exp_login", &["db", "login", "password"], 3),
                args,
                &Map::new(),
            )?;
            check_db(db, &b.get(0, Value::Null))?;
            Ok(Reply::Value(authenticate(
                db,
                &b.get(1, Value::Null),
                &b.get(2, Value::Null),
            )))
        }
        "authenticate" => {
            let names = &["db", "login", "password", "user_agent_env"];
            let b = bind(&no_self("exp_authenticate", names, 4), args, &Map::new())?;
            check_db(db, &b.get(0, Value::Null))?;
            Ok(Reply::Value(authenticate(
                db,
                &b.get(1, Value::Null),
                &b.get(2, Value::Null),
            )))
        }
        "about" => {
            let b = bind(&no_self("exp_about", &["extended"], 0), args, &Map::new())?;
            let info = "See http://openerp.com";
            Ok(Reply::Value(
                if crate::errors::py_truthy(&b.get(0, json!(false))) {
                    json!([info, SERVER_VERSION])
                } else {
                    json!(info)
                },
            ))
        }
        "set_loglevel" => {
            bind(
                &no_self("exp_set_loglevel", &["loglevel", "logger"], 1),
                args,
                &Map::new(),
            )?;
            Ok(Reply::Value(json!(true)))
        }
        other => Err(OdooError::new(
            "builtins.Exception",
            format!("Method not found: {other}"),
        )),
    }
}

const DB_SUPER_METHODS: &[&str] = &[
    "create_database",
    "duplicate_database",
    "drop",
    "dump",
    "restore",
    "rename",
    "change_admin_password",
    "migrate_databases",
];

fn db_service(db: &mut Db, method: &str, args: &[Value]) -> OdooResult<Reply> {
    match method {
        "list" => {
            bind(&no_self("exp_list", &["document"], 0), args, &Map::new())?;
            Ok(Reply::Value(json!([db.database])))
        }
        "server_version" => {
            bind(&no_self("exp_server_version", &[], 0), args, &Map::new())?;
            Ok(Reply::Value(json!(db.series.server_version())))
        }
        "db_exist" => {
            let b = bind(&no_self("exp_db_exist", &["db_name"], 1), args, &Map::new())?;
            Ok(Reply::Value(json!(
                b.get(0, Value::Null).as_str() == Some(db.database.as_str())
            )))
        }
        "list_lang" => {
            bind(&no_self("exp_list_lang", &[], 0), args, &Map::new())?;
            Ok(Reply::Value(json!([["en_US", "English (US)"]])))
        }
        m if DB_SUPER_METHODS.contains(&m) => Err(OdooError::access_denied()),
        other => Err(OdooError::key_error(format!("Method not found: {other}"))),
    }
}

fn py_int(v: &Value) -> OdooResult<i64> {
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => Ok(n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .unwrap_or(0)),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
            OdooError::value_error(format!(
                "invalid literal for int() with base 10: {}",
                crate::errors::py_str(s)
            ))
        }),
        other => Err(OdooError::type_error(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            py_type(other)
        ))),
    }
}

fn object(db: &mut Db, method: &str, params: &[Value]) -> OdooResult<Reply> {
    if params.len() < 3 {
        return Err(OdooError::index_error());
    }
    let uid = py_int(&params[1])?;
    check_db(db, &params[0])?;
    let secret = params[2].as_str().unwrap_or("");
    if !db.check_credentials(uid, secret) {
        return Err(OdooError::access_denied());
    }
    let env = Env::rpc(uid);
    let rest = &params[3..];
    let (model, mname, args, kwargs) = match method {
        "execute_kw" => {
            let names = &["db", "uid", "obj", "method", "args", "kw"];
            let sig = no_self("execute_kw", names, 5);
            let mut all = vec![params[0].clone(), json!(uid)];
            all.extend_from_slice(rest);
            let b = bind(&sig, &all, &Map::new())?;
            let args = star_args(&b.get(4, Value::Null)).map_err(|_| {
                OdooError::type_error(format!(
                    "odoo.service.model.execute() argument after * must be an iterable, not {}",
                    py_type(&b.get(4, Value::Null))
                ))
            })?;
            let kwargs = match b.get(5, Value::Null) {
                Value::Object(o) => o,
                v if !crate::errors::py_truthy(&v) => Map::new(),
                v => {
                    return Err(OdooError::type_error(format!(
                        "odoo.service.model.execute() argument after ** must be a mapping, not {}",
                        py_type(&v)
                    )));
                }
            };
            (b.get(2, Value::Null), b.get(3, Value::Null), args, kwargs)
        }
        "execute" => {
            if rest.len() < 2 {
                let missing = &["obj", "method"][rest.len()..];
                return Err(OdooError::type_error(format!(
                    "execute() missing {} required positional argument{}: {}",
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" },
                    py_join_names(missing)
                )));
            }
            (
                rest[0].clone(),
                rest[1].clone(),
                rest[2..].to_vec(),
                Map::new(),
            )
        }
        other => {
            return Err(OdooError::new(
                "builtins.NameError",
                format!("Method not available {other}"),
            ));
        }
    };
    let Some(model) = model.as_str() else {
        return Err(OdooError::user_error(format!(
            "Object {} doesn't exist",
            py_repr(&model)
        )));
    };
    let Some(mname) = mname.as_str() else {
        return Err(OdooError::type_error(format!(
            "attribute name must be string, not '{}'",
            py_type(&mname)
        )));
    };
    crate::methods::call(db, &env, model, mname, &args, &kwargs)
}
