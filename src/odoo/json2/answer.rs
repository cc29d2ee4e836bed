//! `/json/2` answers as results or as the same [`OdooError`] kinds the
//! `/jsonrpc` transport gives, so `is_transient` means the same on both.
//!
//! `/json/2` has real HTTP statuses and no envelope: 200 carries the bare
//! result (`null` for Python `None`); an error is a JSON object with `name`,
//! `message`, `arguments`, `context`, `debug` at the top level. Two answers
//! are HTML, never JSON: 404 "No database is selected" and 415 (the request
//! had no JSON Content-Type); the Content-Type decides, never a guess.
//!
//! Mapping (README of ../shared/odoo19 for the cases):
//! - `werkzeug.exceptions.Unauthorized` (401: no, unknown, expired or
//!   revoked key, or a password as the token) → [`OdooError::LoginRefused`];
//! - `werkzeug.exceptions.BadRequest` (400: body not JSON) and the HTML 415
//!   → [`OdooError::Protocol`], as `/jsonrpc`'s HTML 400;
//! - `werkzeug.exceptions.NotFound` (404): an unknown method is
//!   `NoSuchMethod` and an unknown model `UserError`, as on `/jsonrpc`;
//! - `werkzeug.exceptions.UnprocessableEntity` (422: arguments that do not
//!   bind) → `InvalidInput`, `/jsonrpc`'s `TypeError`;
//! - HTML 404 "No database is selected" → a `Database` error saying the
//!   database does not exist (permanent, as `/jsonrpc`'s OperationalError);
//! - any other Odoo exception → [`ServerErrorKind::from_name`];
//! - a 2xx answer that is not JSON (a maintenance page) →
//!   [`OdooError::NotJsonRpc`], as over `/jsonrpc`;
//! - other werkzeug errors and non-JSON answers → [`OdooError::HttpStatus`]
//!   (transient for 5xx, 408, 429).

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::odoo::transport::clean_excerpt;
use crate::odoo::{OdooError, ServerErrorKind};

/// Odoo 19's page for a database header that selects no database.
const NO_DATABASE_PAGE_MARK: &str = "No database is selected";

/// Who the call was made as, for messages.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub login: &'a str,
    pub database: &'a str,
}

/// The 5-key error object of `/json/2`.
#[derive(Deserialize)]
struct ErrorBody {
    name: String,
    #[serde(default)]
    message: String,
}

/// The result of a 2xx answer, or the error any other answer stands for.
pub fn decode<R: DeserializeOwned>(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    single_create: bool,
    caller: Caller<'_>,
) -> Result<Option<R>, OdooError> {
    if !(200..300).contains(&status) {
        return Err(error(status, content_type, body, caller));
    }
    if !is_json(content_type) {
        // A maintenance page or a proxy's page in place of Odoo: a refusal of
        // the bridge, as over /jsonrpc, so work waits rather than dies.
        return Err(OdooError::NotJsonRpc {
            body_excerpt: clean_excerpt(&body[..body.len().min(4096)]),
        });
    }
    if single_create {
        let ids: Vec<serde_json::Value> = parse(body)?;
        return match <[serde_json::Value; 1]>::try_from(ids) {
            Ok([id]) => serde_json::from_value(id)
                .map(Some)
                .map_err(|e| OdooError::InvalidResponse(format!("create answered an id: {e}"))),
            Err(ids) => Err(OdooError::InvalidResponse(format!(
                "create of one record answered {} ids",
                ids.len()
            ))),
        };
    }
    parse(body)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, OdooError> {
    serde_json::from_slice(body).map_err(|e| OdooError::InvalidResponse(e.to_string()))
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The error a non-2xx answer stands for.
pub fn error(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    caller: Caller<'_>,
) -> OdooError {
    if is_json(content_type)
        && let Ok(odoo) = serde_json::from_slice::<ErrorBody>(body)
    {
        return from_odoo(status, odoo, caller);
    }
    let excerpt = clean_excerpt(&body[..body.len().min(4096)]);
    let html = content_type.is_some_and(|ct| ct.trim_start().starts_with("text/html"));
    match status {
        404 if html && excerpt.contains(NO_DATABASE_PAGE_MARK) => OdooError::Server {
            kind: ServerErrorKind::Database,
            name: "werkzeug.exceptions.NotFound".to_owned(),
            message: format!(
                "database \"{}\" does not exist on this Odoo, or its dbfilter hides it ({excerpt})",
                caller.database
            ),
        },
        400 | 415 if html => OdooError::Protocol {
            body_excerpt: excerpt,
        },
        _ => OdooError::HttpStatus {
            status,
            body_excerpt: excerpt,
        },
    }
}

fn from_odoo(status: u16, odoo: ErrorBody, caller: Caller<'_>) -> OdooError {
    let server = |kind| OdooError::Server {
        kind,
        name: odoo.name.clone(),
        message: odoo.message.clone(),
    };
    match odoo.name.as_str() {
        "werkzeug.exceptions.Unauthorized" => OdooError::LoginRefused {
            login: caller.login.to_owned(),
            database: caller.database.to_owned(),
        },
        "werkzeug.exceptions.BadRequest" => OdooError::Protocol {
            body_excerpt: odoo.message,
        },
        "werkzeug.exceptions.NotFound" if odoo.message.starts_with("the model ") => {
            server(ServerErrorKind::UserError)
        }
        "werkzeug.exceptions.NotFound" => server(ServerErrorKind::NoSuchMethod),
        "werkzeug.exceptions.UnprocessableEntity" => server(ServerErrorKind::InvalidInput),
        name if name.starts_with("werkzeug.")
            && ServerErrorKind::from_name(name) == ServerErrorKind::Other =>
        {
            OdooError::HttpStatus {
                status,
                body_excerpt: odoo.message,
            }
        }
        name => server(ServerErrorKind::from_name(name)),
    }
}

#[cfg(test)]
mod tests;
