//! Odoo 19's `/json/2` (`addons/rpc/controllers/json2.py` of 19.0), as the transcripts in
//! `tests/fixtures/odoo19/json2/` show it.
//!
//! The checks run in Odoo's order: the Content-Type (anything but `application/json` is a 415
//! HTML page), the `X-Odoo-Database` header (a name that is not the database is the 404 HTML
//! "No database is selected" page; no header is fine, there is one database), the route (only
//! `POST /json/2/<model>/<method>`; anything else under `/json/2` is a 404 JSON "Did you
//! mean…"), the bearer API key (401 JSON with `WWW-Authenticate`), the JSON body (400), the
//! model and the method (404, or 403 for private ones), `ids` on an `@api.model` method and
//! the keyword arguments (422), then the method itself through [`crate::methods::call`].
//!
//! Answers have no envelope: 200 with the bare result (`null` for `None`; a recordset, so also
//! the result of `create` and `message_post`, as a list of ids), or an HTTP status with the
//! 5-key error object `name`, `message`, `arguments`, `context`, `debug`.
//!
//! Like the real one, a record method called without `ids` runs on no record at all (`write`
//! answers `true` and changes nothing, transcript 47).

use serde_json::{Map, Value, json};

use crate::dispatch::CallInfo;
use crate::errors::{OdooError, py_str};
use crate::faults::CallKey;
use crate::json::{Ordered, Reply, to_python_string};
use crate::methods;
use crate::orm::Env;
use crate::protocol::{HTML_CT, HttpReply, JSON_CT};
use crate::store::Db;

/// The HTTP side of a request.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub http_method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub database: Option<String>,
    pub cookie: bool,
}

/// A call that passed every check before the method.
#[derive(Debug, Clone)]
pub struct Json2Call {
    pub uid: i64,
    pub model: String,
    pub method: String,
    pub ids: Option<Value>,
    /// The keyword arguments, without `ids` (`context` stays: [`methods::call`] reads it).
    pub kwargs: Map<String, Value>,
}

/// Whether `path` is served by the `/json/2` controller.
pub fn is_json2_path(path: &str) -> bool {
    path == "/json/2" || path.starts_with("/json/2/")
}

/// Whether `path` is Odoo 19's version route.
pub fn is_version_path(path: &str) -> bool {
    matches!(path, "/web/version" | "/json/version")
}

/// `GET /web/version` (transcript 00).
pub fn version_reply(db: &Db) -> HttpReply {
    let major = db.series.major();
    let mut o = Ordered::default();
    o.push("version_info", json!([major, 0, 0, "final", 0, ""]));
    o.push("version", json!(db.series.server_version()));
    HttpReply {
        status: 200,
        content_type: JSON_CT,
        body: to_python_string(&o),
    }
}

const NO_DATABASE_PAGE: &str = "<!DOCTYPE html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>No database is selected and the requested URL was not found in the server-wide controllers.</p>\n<p>Please verify the hostname, <a href=/web/login>login</a> and try again.</p>\n\n<!-- Alternatively, use the X-Odoo-Database header. -->\n";
const NOT_AUTHENTICATED: &str =
    "User not authenticated, use an API Key with a Bearer Authorization header.";

fn unsupported_media_type(rule: &str) -> HttpReply {
    let rule = rule.replace('<', "&lt;").replace('>', "&gt;");
    HttpReply {
        status: 415,
        content_type: HTML_CT,
        body: format!(
            "<!doctype html>\n<html lang=en>\n<title>415 Unsupported Media Type</title>\n<h1>Unsupported Media Type</h1>\n<p>Request inferred type is compatible with [&#39;http&#39;] but &#39;{rule}&#39; is type=&#39;json2&#39;.<br><br>Please verify the Content-Type request header and try again.</p>\n"
        ),
    }
}

/// A werkzeug HTTP exception: `arguments` is `[description, status]`.
fn werkzeug(class: &str, status: u16, message: &str) -> OdooError {
    let mut e = OdooError::new(format!("werkzeug.exceptions.{class}"), message);
    e.arguments = vec![json!(message), json!(status)];
    e
}

/// The `(model, method)` of `POST /json/2/<model>/<method>`.
fn route(meta: &Meta) -> Option<(&str, &str)> {
    let rest = meta.path.strip_prefix("/json/2/")?;
    let (model, method) = rest.split_once('/')?;
    (meta.http_method == "POST" && !model.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((model, method))
}

/// Everything Odoo checks before it looks at the model, in its order.
pub fn accept(db: &Db, meta: &Meta, body: &[u8]) -> Result<Json2Call, HttpReply> {
    let routed = route(meta);
    let mime = meta
        .content_type
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if mime.as_deref() != Some("application/json") {
        let rule = if routed.is_some() {
            "/json/2/<__model__>/<__method__>"
        } else {
            "/json/2"
        };
        return Err(unsupported_media_type(rule));
    }
    if meta.database.as_deref().is_some_and(|d| d != db.database) {
        return Err(HttpReply {
            status: 404,
            content_type: HTML_CT,
            body: NO_DATABASE_PAGE.into(),
        });
    }
    let Some((model, method)) = routed else {
        let e = werkzeug(
            "NotFound",
            404,
            "Did you mean POST /json/2/<model>/<method>?",
        );
        return Err(error_reply(&e));
    };
    let uid = authenticate(db, meta).map_err(|e| error_reply(&e))?;
    let mut kwargs = parse_body(body).map_err(|e| error_reply(&e))?;
    let ids = kwargs.remove("ids");
    Ok(Json2Call {
        uid,
        model: model.to_owned(),
        method: method.to_owned(),
        ids,
        kwargs,
    })
}

fn authenticate(db: &Db, meta: &Meta) -> Result<i64, OdooError> {
    let Some(header) = meta.authorization.as_deref() else {
        let message = if meta.cookie {
            "Missing \"Authorization\" or Sec-headers for interactive usage."
        } else {
            NOT_AUTHENTICATED
        };
        return Err(werkzeug("Unauthorized", 401, message));
    };
    let (scheme, key) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(werkzeug("Unauthorized", 401, NOT_AUTHENTICATED));
    }
    db.uid_of_api_key(key.trim())
        .ok_or_else(|| werkzeug("Unauthorized", 401, "Invalid apikey"))
}

/// The body's keyword arguments: an empty body is none, a JSON value that is not an object is
/// ignored (transcripts 81-83), text that is not JSON is a 400.
fn parse_body(body: &[u8]) -> Result<Map<String, Value>, OdooError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(werkzeug(
            "BadRequest",
            400,
            &format!(
                "could not parse the body as json: {}",
                python_json_error(&e, body)
            ),
        )),
    }
}

/// serde's parse error worded as Python's `json.loads` words it.
fn python_json_error(e: &serde_json::Error, body: &[u8]) -> String {
    let (line, column) = (e.line(), e.column());
    let offset: usize = body
        .split(|b| *b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + column.saturating_sub(1);
    let text = e.to_string();
    let what = if text.starts_with("EOF") || text.starts_with("expected value") {
        "Expecting value"
    } else {
        "Expecting ',' delimiter"
    };
    format!("{what}: line {line} column {column} (char {offset})")
}

/// How the call shows in the call log and to fault rules: `object`/`json2` with the model and
/// method, the ids as the only positional argument (for a companion method, its arguments in
/// order, as the row locks of [`crate::companion::locks`] read them).
pub fn info(db: &Db, call: &Json2Call) -> CallInfo {
    let companion = crate::companion::METHODS.contains(&call.method.as_str());
    let args = if companion {
        crate::companion::parameters(&call.method)
            .iter()
            .map(|name| call.kwargs.get(*name).cloned().unwrap_or(Value::Null))
            .collect()
    } else {
        call.ids
            .clone()
            .map_or_else(|| json!([]), |ids| json!([ids]))
    };
    CallInfo {
        key: CallKey {
            service: Some("object".into()),
            method: Some("json2".into()),
            model: Some(call.model.clone()),
            model_method: Some(call.method.clone()),
        },
        db: Some(db.database.clone()),
        args,
        kwargs: Value::Object(call.kwargs.clone()),
        login: db
            .row("res.users", call.uid)
            .and_then(|r| r.get("login"))
            .and_then(Value::as_str)
            .map(str::to_string),
        uid: Some(call.uid),
    }
}

/// Methods that Odoo 19 marks `@api.private` although their name has no underscore.
const API_PRIVATE: &[&str] = &["check_access", "exists"];

/// Runs the call: model, method, `ids`, keyword arguments, then the method.
pub fn execute(db: &mut Db, call: &Json2Call) -> Result<Reply, OdooError> {
    let (model, method) = (call.model.as_str(), call.method.as_str());
    if db.model(model).is_none() {
        return Err(werkzeug(
            "NotFound",
            404,
            &format!("the model {} does not exist", py_str(model)),
        ));
    }
    if method.starts_with('_') || API_PRIVATE.contains(&method) {
        return Err(OdooError::access_error(format!(
            "Private methods (such as '{model}.{method}') cannot be called remotely."
        )));
    }
    methods::check_public(db, model, method).map_err(|e| {
        if e.name == "builtins.AttributeError" {
            werkzeug("NotFound", 404, &e.message)
        } else {
            e
        }
    })?;
    let record_method = methods::is_record_method(method);
    let has_ids = call.ids.as_ref().is_some_and(crate::errors::py_truthy);
    if !record_method && has_ids {
        return Err(werkzeug(
            "UnprocessableEntity",
            422,
            &format!("cannot call {model}.{method} with ids"),
        ));
    }
    bind_keywords(method, &call.kwargs)?;
    let args = if record_method {
        vec![call.ids.clone().unwrap_or_else(|| json!([]))]
    } else {
        Vec::new()
    };
    let env = Env::rpc(call.uid);
    let reply = methods::call(db, &env, model, method, &args, &call.kwargs)?;
    Ok(match (method, reply) {
        // A recordset comes back as its ids.
        ("create" | "message_post", Reply::Value(Value::Number(id))) => Reply::Value(json!([id])),
        (_, reply) => reply,
    })
}

/// Python's `inspect.signature(...).bind(records, **kwargs)` for the methods the emulator
/// knows: (parameter names, how many are required, whether `**kwargs` is accepted).
fn parameters(method: &str) -> Option<(&'static [&'static str], usize, bool)> {
    Some(match method {
        "create" => (&["vals_list"], 1, false),
        "read" => (&["fields", "load"], 0, false),
        "write" => (&["vals"], 1, false),
        "unlink" => (&[], 0, false),
        "search" => (&["domain", "offset", "limit", "order"], 1, false),
        "search_read" => (&["domain", "fields", "offset", "limit", "order"], 0, true),
        "search_count" => (&["domain", "limit"], 1, false),
        "fields_get" => (&["allfields", "attributes"], 0, false),
        "check_access_rights" => (&["operation", "raise_exception"], 1, false),
        "has_access" => (&["operation"], 1, false),
        "web_save" => (&["vals", "specification", "next_id"], 2, false),
        "name_search" => (&["name", "domain", "operator", "limit"], 0, false),
        "default_get" => (&["fields_list"], 1, false),
        "message_post" => (&[], 0, true),
        "context_get" => (&[], 0, false),
        _ => return None,
    })
}

fn bind_keywords(method: &str, kwargs: &Map<String, Value>) -> Result<(), OdooError> {
    let Some((names, required, var_kw)) = parameters(method) else {
        return Ok(());
    };
    let unprocessable = |message: String| werkzeug("UnprocessableEntity", 422, &message);
    if let Some(missing) = names[..required].iter().find(|n| !kwargs.contains_key(**n)) {
        return Err(unprocessable(format!(
            "missing a required argument: '{missing}'"
        )));
    }
    let unexpected = |k: &&String| k.as_str() != "context" && !names.contains(&k.as_str());
    if !var_kw && let Some(extra) = kwargs.keys().find(unexpected) {
        return Err(unprocessable(format!(
            "got an unexpected keyword argument '{extra}'"
        )));
    }
    Ok(())
}

/// The HTTP status Odoo 19 gives an exception (`http_status` of the exception class).
fn status_of(e: &OdooError) -> u16 {
    if e.name.starts_with("werkzeug.exceptions.") {
        return e
            .arguments
            .get(1)
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(500);
    }
    match e.name.as_str() {
        "odoo.exceptions.AccessError" | "odoo.exceptions.AccessDenied" => 403,
        "odoo.exceptions.MissingError" => 404,
        "odoo.exceptions.LockError" => 409,
        "odoo.exceptions.UserError"
        | "odoo.exceptions.ValidationError"
        | "odoo.exceptions.RedirectWarning" => 422,
        _ => 500,
    }
}

/// The success answer: the bare result.
pub fn result_reply(reply: Reply) -> HttpReply {
    HttpReply {
        status: 200,
        content_type: JSON_CT,
        body: match reply {
            Reply::None => "null".to_owned(),
            other => to_python_string(&other),
        },
    }
}

/// The error answer: the 5-key object at the top level, with the exception's status.
pub fn error_reply(e: &OdooError) -> HttpReply {
    let mut o = Ordered::default();
    o.push("name", json!(e.name));
    o.push("message", json!(e.message));
    o.push("arguments", Value::Array(e.arguments.clone()));
    o.push("context", json!({}));
    o.push("debug", json!(e.traceback()));
    HttpReply {
        status: status_of(e),
        content_type: JSON_CT,
        body: to_python_string(&o),
    }
}
