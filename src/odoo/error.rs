//! Everything that can go wrong talking to Odoo, sorted into the kinds callers
//! branch on: [`ServerErrorKind`] from the Python exception's name, the
//! rest by what the wire saw. [`OdooError::is_transient`] tells retry loops
//! whether the same call could succeed later; [`OdooError::refusal`] picks
//! out what says Odoo refuses the bridge itself: never the result's fault.

use std::fmt;

/// An error from a call to Odoo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OdooError {
    /// No connection could be made, or it broke before an answer arrived.
    #[error("Odoo is unreachable: {0}")]
    Unreachable(String),
    #[error("Odoo did not answer within the timeout")]
    Timeout,
    /// Any other status, typically a proxy's 502/503/504 while Odoo restarts.
    #[error("Odoo answered HTTP {status}{}", excerpt_suffix(.body_excerpt))]
    HttpStatus { status: u16, body_excerpt: String },
    /// Odoo's own refusal of a malformed request (HTML 400 of `/jsonrpc`,
    /// 400 or 415 of `/json/2`).
    #[error("Odoo refused the request as malformed{}", excerpt_suffix(.body_excerpt))]
    Protocol { body_excerpt: String },
    #[error(
        "Odoo refused the login of `{login}` on database `{database}` (wrong login, password or API key)"
    )]
    LoginRefused { login: String, database: String },
    #[error("{kind} from Odoo: {message}")]
    Server {
        kind: ServerErrorKind,
        name: String,
        message: String,
    },
    /// Not sent: larger than [`super::transport::MAX_REQUEST_BYTES`].
    #[error("the request to Odoo is larger than the bridge sends")]
    RequestTooLarge,
    /// Larger than [`super::transport::MAX_RESPONSE_BYTES`].
    #[error("the answer from Odoo is larger than the bridge reads")]
    ResponseTooLarge,
    /// A call the API in use cannot express (unknown `/json/2` parameter
    /// names, a record method without ids); nothing was sent.
    #[error("cannot call Odoo's {0}")]
    Unsupported(String),
    /// Not what Odoo sends (a wrong URL, a result of an unexpected shape).
    #[error("unexpected answer from Odoo: {0}")]
    InvalidResponse(String),
    /// `odoo.protocol = "companion"` and the addon is missing or unusable:
    /// transient, the work waits until an admin fixes the addon.
    #[error("odoo.protocol is \"companion\" but {0}")]
    CompanionUnavailable(String),
    /// A success that is not JSON: a maintenance or proxy page.
    #[error("Odoo answered with a page, not JSON-RPC (maintenance?){}", excerpt_suffix(.body_excerpt))]
    NotJsonRpc { body_excerpt: String },
}

/// Why Odoo refuses the bridge itself (see [`OdooError::refusal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Wrong login, password or API key (or Odoo 18's login cooldown).
    LoginRefused,
    /// `AccessDenied` even after a fresh login: revoked, or a cooldown.
    AccessDenied,
    /// A page instead of JSON-RPC: Odoo in maintenance, or a proxy answering.
    NotJsonRpc,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [Self::LoginRefused, Self::AccessDenied, Self::NotJsonRpc];

    pub fn label(self) -> &'static str {
        match self {
            Self::LoginRefused => "login_refused",
            Self::AccessDenied => "access_denied",
            Self::NotJsonRpc => "not_json_rpc",
        }
    }

    /// What it means and what to do, in words that reveal no secret.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::LoginRefused => {
                "Odoo refuses the bridge's login (wrong odoo.login or odoo.password, or a login cooldown); a new odoo.password takes effect on reload (SIGHUP)"
            }
            Self::AccessDenied => {
                "Odoo denies the bridge's session (credentials revoked, or a login cooldown after failures); a new odoo.password takes effect on reload (SIGHUP)"
            }
            Self::NotJsonRpc => {
                "Odoo answers with a page instead of JSON-RPC (maintenance, or a proxy in front of it)"
            }
        }
    }
}

/// The Python exception behind a [`OdooError::Server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// The credentials are not (or no longer) valid.
    AccessDenied,
    /// The user lacks a right (ACL or record rule).
    AccessError,
    MissingError,
    /// A constraint failed (required, unique, …).
    ValidationError,
    /// E.g. an unknown model.
    UserError,
    /// `ValueError`/`TypeError`: an unknown field or selection value, …
    InvalidInput,
    /// `AttributeError`/`NameError`/`KeyError`: no such method or service.
    NoSuchMethod,
    /// PostgreSQL is unavailable, or the database does not exist.
    Database,
    /// A serialization failure or deadlock: the transaction can be replayed.
    Concurrency,
    /// The request is too big for this Odoo.
    TooLarge,
    /// Any other exception; its name is in [`OdooError::Server::name`].
    Other,
}

impl ServerErrorKind {
    /// Classifies an exception by its fully qualified Python name.
    pub fn from_name(name: &str) -> Self {
        match name {
            "odoo.exceptions.AccessDenied" => Self::AccessDenied,
            "odoo.exceptions.AccessError" => Self::AccessError,
            "odoo.exceptions.MissingError" => Self::MissingError,
            "odoo.exceptions.ValidationError" => Self::ValidationError,
            "odoo.exceptions.UserError" | "odoo.exceptions.RedirectWarning" => Self::UserError,
            "builtins.ValueError" | "builtins.TypeError" => Self::InvalidInput,
            "builtins.AttributeError" | "builtins.NameError" | "builtins.KeyError" => {
                Self::NoSuchMethod
            }
            "odoo.exceptions.ConcurrencyError"
            | "odoo.exceptions.LockError"
            | "psycopg2.errors.SerializationFailure"
            | "psycopg2.errors.DeadlockDetected"
            | "psycopg2.errors.LockNotAvailable" => Self::Concurrency,
            "werkzeug.exceptions.RequestEntityTooLarge" | "builtins.MemoryError" => Self::TooLarge,
            name if name.starts_with("psycopg2.") => Self::Database,
            _ => Self::Other,
        }
    }

    /// The metrics label and the words for messages.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::AccessDenied => ("access_denied", "access denied"),
            Self::AccessError => ("access_error", "access error"),
            Self::MissingError => ("missing_error", "missing record"),
            Self::ValidationError => ("validation_error", "validation error"),
            Self::UserError => ("user_error", "user error"),
            Self::InvalidInput => ("invalid_input", "invalid input"),
            Self::NoSuchMethod => ("no_such_method", "no such method"),
            Self::Database => ("database", "database error"),
            Self::Concurrency => ("concurrency", "concurrency error"),
            Self::TooLarge => ("too_large", "request too large"),
            Self::Other => ("other", "server error"),
        }
    }
}

impl fmt::Display for ServerErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.names().1)
    }
}

impl OdooError {
    /// Whether the same call may succeed later: not when it depends on the
    /// request or the models; yes for outages, conflicts and every
    /// [`OdooError::refusal`] (fixed credentials or Odoo back end those).
    pub fn is_transient(&self) -> bool {
        match self {
            _ if self.refusal().is_some() => true,
            Self::Unreachable(_) | Self::Timeout | Self::CompanionUnavailable(_) => true,
            Self::HttpStatus { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Server { kind, message, .. } => match kind {
                ServerErrorKind::Concurrency => true,
                // A database that "does not exist" is configuration; any
                // other is PostgreSQL being down or restarting.
                ServerErrorKind::Database => !message.contains("does not exist"),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether Odoo refuses the bridge itself rather than the call (a
    /// refused login, `AccessDenied` after a fresh login, a page instead of
    /// JSON-RPC): work that meets one waits, never given up.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::LoginRefused { .. } => Some(Refusal::LoginRefused),
            Self::Server {
                kind: ServerErrorKind::AccessDenied,
                ..
            } => Some(Refusal::AccessDenied),
            Self::NotJsonRpc { .. } => Some(Refusal::NotJsonRpc),
            _ => None,
        }
    }

    /// Whether the call may be running or committed in Odoo although no
    /// answer came: a create that ended so must not be repeated before Odoo
    /// has finished or killed it.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Timeout => true,
            // hyper reports a connection never made (refused, DNS) as
            // `client error (Connect)`: then nothing reached Odoo.
            Self::Unreachable(reason) => !reason.contains("(Connect)"),
            Self::HttpStatus { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// Whether the connection to Odoo was lost: what Odoo offers (its
    /// addons) may have changed meanwhile.
    pub fn connection_lost(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::HttpStatus { status, .. } => matches!(status, 502 | 503),
            _ => false,
        }
    }

    pub fn server_kind(&self) -> Option<ServerErrorKind> {
        match self {
            Self::Server { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// A short label for metrics and logs (`timeout`, `access_error`, …).
    pub fn kind_label(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Timeout => "timeout",
            Self::HttpStatus { .. } => "http_status",
            Self::Protocol { .. } => "protocol",
            Self::LoginRefused { .. } => "login_refused",
            Self::RequestTooLarge => "request_too_large",
            Self::ResponseTooLarge => "response_too_large",
            Self::InvalidResponse(_) => "invalid_response",
            Self::Unsupported(_) => "unsupported",
            Self::CompanionUnavailable(_) => "companion_unavailable",
            Self::NotJsonRpc { .. } => "not_json_rpc",
            Self::Server { kind, .. } => kind.names().0,
        }
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    let separator = if excerpt.is_empty() { "" } else { ": " };
    format!("{separator}{excerpt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, message: &str) -> OdooError {
        OdooError::Server {
            kind: ServerErrorKind::from_name(name),
            name: name.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn kinds_follow_the_recorded_exception_names() {
        let cases = [
            (
                "odoo.exceptions.AccessDenied",
                ServerErrorKind::AccessDenied,
            ),
            ("odoo.exceptions.AccessError", ServerErrorKind::AccessError),
            (
                "odoo.exceptions.MissingError",
                ServerErrorKind::MissingError,
            ),
            (
                "odoo.exceptions.ValidationError",
                ServerErrorKind::ValidationError,
            ),
            ("odoo.exceptions.UserError", ServerErrorKind::UserError),
            ("builtins.ValueError", ServerErrorKind::InvalidInput),
            ("builtins.AttributeError", ServerErrorKind::NoSuchMethod),
            ("builtins.KeyError", ServerErrorKind::NoSuchMethod),
            ("builtins.NameError", ServerErrorKind::NoSuchMethod),
            ("psycopg2.OperationalError", ServerErrorKind::Database),
            (
                "psycopg2.errors.SerializationFailure",
                ServerErrorKind::Concurrency,
            ),
            (
                "werkzeug.exceptions.RequestEntityTooLarge",
                ServerErrorKind::TooLarge,
            ),
            ("builtins.MemoryError", ServerErrorKind::TooLarge),
            ("odoo.addons.x.SomethingElse", ServerErrorKind::Other),
        ];
        for (name, kind) in cases {
            assert_eq!(ServerErrorKind::from_name(name), kind, "{name}");
        }
    }

    #[test]
    fn transient_errors_are_the_ones_worth_retrying() {
        assert!(OdooError::Unreachable("refused".into()).is_transient());
        assert!(OdooError::Timeout.is_transient());
        assert!(
            OdooError::HttpStatus {
                status: 502,
                body_excerpt: String::new()
            }
            .is_transient()
        );
        assert!(
            OdooError::HttpStatus {
                status: 429,
                body_excerpt: String::new()
            }
            .is_transient()
        );
        assert!(
            !OdooError::HttpStatus {
                status: 404,
                body_excerpt: String::new()
            }
            .is_transient()
        );
        assert!(
            !OdooError::Protocol {
                body_excerpt: "Invalid JSON data".into()
            }
            .is_transient()
        );
        assert!(
            server(
                "psycopg2.OperationalError",
                "connection to server failed: Connection refused"
            )
            .is_transient()
        );
        assert!(
            !server(
                "psycopg2.OperationalError",
                "FATAL:  database \"x\" does not exist"
            )
            .is_transient()
        );
        assert!(
            server(
                "psycopg2.errors.SerializationFailure",
                "could not serialize"
            )
            .is_transient()
        );
        assert!(!server("odoo.exceptions.AccessError", "no").is_transient());
        assert!(!server("odoo.exceptions.MissingError", "gone").is_transient());
        assert!(!server("builtins.ValueError", "Invalid field").is_transient());
        assert!(!OdooError::RequestTooLarge.is_transient());
    }

    #[test]
    fn refusals_of_the_bridge_itself_are_transient_and_named() {
        let refused = OdooError::LoginRefused {
            login: "a".into(),
            database: "b".into(),
        };
        let denied = server("odoo.exceptions.AccessDenied", "Too many login failures");
        let page = OdooError::NotJsonRpc {
            body_excerpt: "Down for maintenance".into(),
        };
        for (error, refusal) in [
            (refused, Refusal::LoginRefused),
            (denied, Refusal::AccessDenied),
            (page, Refusal::NotJsonRpc),
        ] {
            assert_eq!(error.refusal(), Some(refusal), "{error}");
            assert!(error.is_transient(), "{error}");
        }
        assert_eq!(server("odoo.exceptions.AccessError", "no").refusal(), None);
        assert_eq!(OdooError::InvalidResponse("x".into()).refusal(), None);
    }

    #[test]
    fn messages_are_short_and_say_what_happened() {
        let error = server(
            "odoo.exceptions.MissingError",
            "Record does not exist or has been deleted.",
        );
        assert_eq!(
            error.to_string(),
            "missing record from Odoo: Record does not exist or has been deleted."
        );
        let error = OdooError::HttpStatus {
            status: 502,
            body_excerpt: "Bad Gateway".into(),
        };
        assert_eq!(error.to_string(), "Odoo answered HTTP 502: Bad Gateway");
        assert_eq!(error.kind_label(), "http_status");
    }
}
