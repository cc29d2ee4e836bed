//! The log of calls the emulator received, for assertions in tests.
//!
//! Every HTTP request to the emulator is logged when it arrives (outcome `Pending`) and updated
//! when it is answered, so `calls()` lists them in arrival order, including calls still stalled.

use serde_json::Value;

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not answered yet (stalled or in progress).
    Pending,
    /// A JSON-RPC `result` (or no `result` key for Python `None`).
    Ok,
    /// A JSON-RPC error.
    Error { name: String, message: String },
    /// A non-200 HTTP answer (protocol errors, injected HTTP faults, `set_http_error`).
    Http(u16),
    /// The connection was closed without an answer.
    Closed,
}

impl Outcome {
    /// The error name, when the outcome is a JSON-RPC error.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Outcome::Error { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// One received call.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// Arrival order, from 0.
    pub seq: usize,
    /// `common`, `db`, `object`, … (empty when the body was not a JSON-RPC call).
    pub service: String,
    /// The service method: `login`, `authenticate`, `execute_kw`, … (empty when absent).
    pub method: String,
    /// The database argument (`args[0]` for `object` and `common.login/authenticate`).
    pub db: Option<String>,
    pub model: Option<String>,
    pub model_method: Option<String>,
    /// For `execute_kw`: the method's positional arguments; otherwise the service `args`.
    pub args: Value,
    /// For `execute_kw`: the keyword arguments (`{}` when absent).
    pub kwargs: Value,
    /// The login (for `common.login/authenticate`, or the caller's login for `execute_kw`).
    pub login: Option<String>,
    pub uid: Option<i64>,
    pub outcome: Outcome,
    /// Whether the call changed (or could have changed) the data: it reached the model method.
    pub applied: bool,
    /// Description of the injected fault, if one fired.
    pub fault: Option<String>,
}

impl RecordedCall {
    /// What was called, for counting: `model.method` for `execute_kw`, otherwise
    /// `service.method`, followed by ` -> …` unless the call was answered with a result
    /// (`ir.attachment.create -> HTTP 502`, `common.login -> odoo.exceptions.AccessDenied`).
    pub fn kind(&self) -> String {
        let what = match (&self.model, &self.model_method) {
            (Some(model), Some(method)) => format!("{model}.{method}"),
            _ => format!("{}.{}", self.service, self.method),
        };
        match &self.outcome {
            Outcome::Ok => what,
            Outcome::Pending => format!("{what} -> pending"),
            Outcome::Error { name, .. } => format!("{what} -> {name}"),
            Outcome::Http(status) => format!("{what} -> HTTP {status}"),
            Outcome::Closed => format!("{what} -> closed"),
        }
    }
}
