//! HTTP-level protocol of Odoo's `/jsonrpc` route: request validation and response bodies.
//!
//! * Path other than `/jsonrpc` → 404 Werkzeug page.
//! * `Content-Type` other than `application/json` / `application/json-rpc` (or none) → 400 with
//!   Werkzeug's "Request inferred type is compatible with ['http'] …" page (transcript 53).
//! * Body not JSON → 400 `Invalid JSON data`; JSON but not an object → 400
//!   `Invalid JSON-RPC data` (transcripts 50, 52). Both `text/html; charset=utf-8`.
//! * Otherwise HTTP 200 `application/json; charset=utf-8`, either
//!   `{"jsonrpc": "2.0", "id": …, "result": …}` (no `result` key for Python `None`) or the error
//!   envelope with exactly `name`, `debug`, `message`, `arguments`, `context` in `data`.

use serde_json::{Map, Value, json};

use crate::errors::OdooError;
use crate::json::{Ordered, Reply, to_python_string};

/// An HTTP answer, or a dropped connection.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// `Content-Type` of JSON-RPC answers.
pub const JSON_CT: &str = "application/json; charset=utf-8";
/// `Content-Type` of Werkzeug's HTML answers.
pub const HTML_CT: &str = "text/html; charset=utf-8";

const WRONG_TYPE_PAGE: &str = "<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n<p>Request inferred type is compatible with [&#39;http&#39;] but &#39;/jsonrpc&#39; is type=&#39;json&#39;.</p>\n";
const NOT_FOUND_PAGE: &str = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n";

fn bad_request(body: &str) -> HttpReply {
    HttpReply {
        status: 400,
        content_type: HTML_CT,
        body: body.into(),
    }
}

/// A parsed JSON-RPC request: its `id` and `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcRequest {
    pub id: Value,
    pub params: Map<String, Value>,
}

/// Why a request never reached a service.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejected {
    /// Protocol error answered by Werkzeug/Odoo before dispatching.
    Http(HttpReply),
    /// `params` could not be turned into keyword arguments (a JSON-RPC error).
    Rpc(Value, Box<OdooError>),
}

/// Validates path, content type and body like Odoo's `JsonRPCDispatcher`.
pub fn parse_request(
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<RpcRequest, Rejected> {
    if path != "/jsonrpc" {
        return Err(Rejected::Http(HttpReply {
            status: 404,
            content_type: HTML_CT,
            body: NOT_FOUND_PAGE.into(),
        }));
    }
    let mimetype = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if !matches!(
        mimetype.as_deref(),
        Some("application/json" | "application/json-rpc")
    ) {
        return Err(Rejected::Http(bad_request(WRONG_TYPE_PAGE)));
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(Rejected::Http(bad_request("Invalid JSON data")));
    };
    let Value::Object(obj) = value else {
        return Err(Rejected::Http(bad_request("Invalid JSON-RPC data")));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let params = match obj.get("params") {
        None => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(Value::Array(a)) if a.is_empty() => Map::new(),
        Some(Value::Array(a)) => {
            let len = match &a[0] {
                Value::Array(inner) => inner.len(),
                Value::String(s) => s.chars().count(),
                _ => {
                    let e = OdooError::type_error(
                        "cannot convert dictionary update sequence element #0 to a sequence",
                    );
                    return Err(Rejected::Rpc(id, Box::new(e)));
                }
            };
            let e = OdooError::value_error(format!(
                "dictionary update sequence element #0 has length {len}; 2 is required"
            ));
            return Err(Rejected::Rpc(id, Box::new(e)));
        }
        Some(other) => {
            let e = OdooError::type_error(format!(
                "'{}' object is not iterable",
                crate::errors::py_type(other)
            ));
            return Err(Rejected::Rpc(id, Box::new(e)));
        }
    };
    Ok(RpcRequest { id, params })
}

fn envelope(id: &Value) -> Ordered {
    let mut o = Ordered::default();
    o.push("jsonrpc", json!("2.0"));
    o.push("id", id.clone());
    o
}

/// The success answer (no `result` key for `Reply::None`).
pub fn rpc_result(id: &Value, reply: Reply) -> HttpReply {
    let mut o = envelope(id);
    if reply != Reply::None {
        o.push("result", reply);
    }
    HttpReply {
        status: 200,
        content_type: JSON_CT,
        body: to_python_string(&o),
    }
}

/// The error answer.
pub fn rpc_error(id: &Value, err: &OdooError) -> HttpReply {
    let id = if err.null_id { Value::Null } else { id.clone() };
    let mut data = Ordered::default();
    data.push("name", json!(err.name));
    data.push("debug", json!(err.traceback()));
    data.push("message", json!(err.message));
    data.push("arguments", Value::Array(err.arguments.clone()));
    data.push("context", json!({}));
    let mut error = Ordered::default();
    error.push("code", json!(200));
    error.push("message", json!("Odoo Server Error"));
    error.push("data", Reply::Object(data));
    let mut o = envelope(&id);
    o.push("error", Reply::Object(error));
    HttpReply {
        status: 200,
        content_type: JSON_CT,
        body: to_python_string(&o),
    }
}

/// Werkzeug 3's refusal of a body over `MAX_CONTENT_LENGTH` (README, transcript 61).
pub fn too_large() -> OdooError {
    let mut e = OdooError::new(
        "werkzeug.exceptions.RequestEntityTooLarge",
        "413 Request Entity Too Large: The data value transmitted exceeds the capacity limit.",
    );
    e.arguments = Vec::new();
    e.null_id = true;
    e
}

/// An HTML error page as a reverse proxy in front of Odoo would send it.
pub fn proxy_page(status: u16) -> HttpReply {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    HttpReply {
        status,
        content_type: "text/html",
        body: format!(
            "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_like_odoo() {
        let r = parse_request("/jsonrpc", Some("text/plain"), b"{}").unwrap_err();
        assert!(matches!(r, Rejected::Http(HttpReply { status: 400, .. })));
        let r = parse_request("/jsonrpc", Some("application/json"), b"{").unwrap_err();
        assert_eq!(r, Rejected::Http(bad_request("Invalid JSON data")));
        let r = parse_request("/jsonrpc", Some("application/json"), b"[]").unwrap_err();
        assert_eq!(r, Rejected::Http(bad_request("Invalid JSON-RPC data")));
        let ok = parse_request(
            "/jsonrpc",
            Some("application/json; charset=utf-8"),
            br#"{"id":3,"params":{"a":1}}"#,
        )
        .expect("valid");
        assert_eq!(ok.id, json!(3));
    }

    #[test]
    fn none_has_no_result_key() {
        let r = rpc_result(&json!(20), Reply::None);
        assert_eq!(r.body, r#"{"jsonrpc": "2.0", "id": 20}"#);
        let e = rpc_error(&json!(1), &OdooError::value_error("x"));
        let v: Value = serde_json::from_str(&e.body).expect("json");
        let data = v["error"]["data"].as_object().expect("data");
        assert_eq!(data.len(), 5);
        assert_eq!(v["error"]["code"], json!(200));
    }
}
