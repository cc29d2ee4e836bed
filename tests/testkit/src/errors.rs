//! Odoo application errors as the emulator raises them.
//!
//! Real Odoo turns every exception raised while serving `/jsonrpc` into an HTTP 200 JSON-RPC error
//! whose `data` carries the exception's dotted class name (`builtins.ValueError`,
//! `odoo.exceptions.AccessError`, …), its message, its `args` and a Python traceback. This module
//! holds that error value, constructors for the exceptions the emulator raises (with the message
//! texts copied from Odoo 18), a plausible `debug` traceback, and `py_repr`, which renders JSON
//! values the way Python's `repr()` renders the decoded objects (messages such as
//! `Invalid field m.f in leaf ('f', '=', 1)` embed such reprs).

use serde_json::Value;

/// An exception raised while executing a JSON-RPC call.
#[derive(Debug, Clone, PartialEq)]
pub struct OdooError {
    /// Dotted class name, e.g. `odoo.exceptions.AccessError` or `builtins.ValueError`.
    pub name: String,
    /// `str(exception)`.
    pub message: String,
    /// `exception.args` (usually `[message]`; empty for `MemoryError` and Werkzeug's 413).
    pub arguments: Vec<Value>,
    /// The frame that raised it (file, line, function, source line) for the traceback.
    pub origin: Option<&'static str>,
    /// Answer with `"id": null` (the body was never parsed, as for Werkzeug's 413).
    pub null_id: bool,
}

impl OdooError {
    /// An error whose `args` is `[message]`.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        OdooError {
            name: name.into(),
            arguments: vec![Value::String(message.clone())],
            message,
            origin: None,
            null_id: false,
        }
    }

    /// Sets the traceback's last frame.
    pub fn at(mut self, origin: &'static str) -> Self {
        self.origin = Some(origin);
        self
    }

    /// `odoo.exceptions.AccessDenied: Access Denied`.
    pub fn access_denied() -> Self {
        Self::new("odoo.exceptions.AccessDenied", "Access Denied").at(
            "  File \"/srv/odoo/odoo/addons/base/models/res_users.py\", line 2306, in _check_credentials\n    raise AccessDenied()",
        )
    }
    /// `odoo.exceptions.AccessError`.
    pub fn access_error(message: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.AccessError", message)
            .at("  File \"/srv/odoo/odoo/models.py\", line 4422, in check_access\n    raise result[1]()")
    }
    /// `odoo.exceptions.UserError`.
    pub fn user_error(message: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.UserError", message)
    }
    /// `odoo.exceptions.ValidationError`.
    pub fn validation_error(message: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.ValidationError", message).at(
            "  File \"/srv/odoo/odoo/service/model.py\", line 175, in retrying\n    raise _as_validation_error(env, exc) from exc",
        )
    }
    /// `odoo.exceptions.MissingError` for `model(ids)` read by `uid`.
    pub fn missing(model: &str, ids: &[i64], uid: i64) -> Self {
        Self::new(
            "odoo.exceptions.MissingError",
            format!(
                "Record does not exist or has been deleted.\n(Record: {model}{}, User: {uid})",
                py_tuple_ids(ids)
            ),
        )
        .at("  File \"/srv/odoo/odoo/fields.py\", line 1272, in __get__\n    raise MissingError(\"\\n\".join([")
    }
    /// `builtins.ValueError`.
    pub fn value_error(message: impl Into<String>) -> Self {
        Self::new("builtins.ValueError", message)
    }
    /// `builtins.TypeError`.
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new("builtins.TypeError", message)
    }
    /// `builtins.KeyError` (its message is the missing key itself).
    pub fn key_error(message: impl Into<String>) -> Self {
        Self::new("builtins.KeyError", message)
    }
    /// `builtins.AttributeError`.
    pub fn attribute_error(message: impl Into<String>) -> Self {
        Self::new("builtins.AttributeError", message)
    }
    /// `builtins.IndexError: list index out of range`.
    pub fn index_error() -> Self {
        Self::new("builtins.IndexError", "list index out of range")
    }
    /// `ValueError: Invalid field 'f' on model 'm'`.
    pub fn invalid_field(model: &str, field: &str) -> Self {
        Self::value_error(format!(
            "Invalid field {} on model {}",
            py_str(field),
            py_str(model)
        ))
        .at("  File \"/srv/odoo/odoo/models.py\", line 4171, in _determine_fields_to_fetch\n    raise ValueError(f\"Invalid field {field_name!r} on model {self._name!r}\")")
    }
    /// `psycopg2.OperationalError` for a database that does not exist.
    pub fn unknown_database(db: &str, host: &str, port: u16) -> Self {
        Self::new(
            "psycopg2.OperationalError",
            format!(
                "connection to server at \"{host}\", port {port} failed: FATAL:  database \"{db}\" does not exist\n"
            ),
        )
        .at("  File \"/srv/venv/lib/python3.11/site-packages/psycopg2/__init__.py\", line 122, in connect\n    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)")
    }

    /// The class name as Python prints it on the traceback's last line (`ValueError`, but
    /// `odoo.exceptions.AccessError`).
    pub fn short_name(&self) -> &str {
        self.name.strip_prefix("builtins.").unwrap_or(&self.name)
    }

    /// A plausible Python traceback ending with `<name>: <message>` like Odoo's `debug`.
    pub fn traceback(&self) -> String {
        let mut tb = String::from(
            "Traceback (most recent call last):\n  File \"/srv/odoo/odoo/http.py\", line 1963, in _transactioning\n    return service_model.retrying(func, env=self.env)\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"/srv/odoo/odoo/service/model.py\", line 156, in retrying\n    result = func()\n             ^^^^^^\n  File \"/srv/odoo/odoo/http.py\", line 1930, in <lambda>\n    func = lambda: self._dispatch(endpoint)\n  File \"<odoo-emulator>\", line 1, in dispatch\n",
        );
        if let Some(origin) = self.origin {
            tb.push_str(origin);
            tb.push('\n');
        }
        tb.push_str(self.short_name());
        if !self.message.is_empty() {
            tb.push_str(": ");
            tb.push_str(&self.message);
        }
        tb.push('\n');
        tb
    }
}

impl std::fmt::Display for OdooError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for OdooError {}

/// Result of an emulated Odoo operation.
pub type OdooResult<T> = Result<T, OdooError>;

/// Python `repr()` of a string.
pub fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python `repr()` of a float (`7.5`, `1.0`, `1e+16`).
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{f:e}");
        return match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        };
    }
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Python `repr()` of the object that a JSON value decodes to.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => py_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => py_str(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python `repr()` of a tuple made of the given JSON values (`('f', '=', 1)`, `(1,)`).
pub fn py_tuple(items: &[Value]) -> String {
    let inner: Vec<String> = items.iter().map(py_repr).collect();
    if inner.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

/// `(1,)`, `(1, 2)`: the id tuple of a recordset's repr.
pub fn py_tuple_ids(ids: &[i64]) -> String {
    let vals: Vec<Value> = ids.iter().map(|i| Value::from(*i)).collect();
    py_tuple(&vals)
}

/// Python's type name of a decoded JSON value (`int`, `str`, `list`, …).
pub fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's truthiness of a decoded JSON value.
pub fn py_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Joins names the way Python's "missing N required positional arguments" does:
/// `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`.
pub fn py_join_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        2 => format!("{} and {}", quoted[0], quoted[1]),
        n => format!("{}, and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reprs_match_python() {
        assert_eq!(
            py_tuple(&[json!("no_such_field"), json!("="), json!(1)]),
            "('no_such_field', '=', 1)"
        );
        assert_eq!(py_tuple_ids(&[999999]), "(999999,)");
        assert_eq!(
            py_repr(&json!([true, null, 7.5, 1.0])),
            "[True, None, 7.5, 1.0]"
        );
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(
            py_join_names(&["service", "method", "args"]),
            "'service', 'method', and 'args'"
        );
    }

    #[test]
    fn traceback_ends_with_python_line() {
        let e = OdooError::value_error("boom");
        assert!(e.traceback().ends_with("\nValueError: boom\n"));
        let e = OdooError::access_denied();
        assert!(
            e.traceback()
                .ends_with("odoo.exceptions.AccessDenied: Access Denied\n")
        );
    }
}
