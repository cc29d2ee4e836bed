//! The HTTP under both of Odoo's APIs: one reqwest client, one size bound
//! each way, one timeout, and every answer mapped to a result or to the
//! same [`OdooError`] kinds on both wires.
//!
//! * `/jsonrpc`: a JSON-RPC `call` of `{service, method, args}`; errors come
//!   as HTTP 200 with `error.data.name`, the Python exception; `None` comes
//!   as no `result` key.
//! * `/json/2`: `POST /json/2/<model>/<method>` of the named arguments
//!   ([`super::json2`]) with the key as bearer token; the answer is the bare
//!   result, or an error object (`name`, `message`) with a real HTTP status.
//!
//! The password and the key are never logged nor put in an error; redirects
//! are not followed (they would carry the key elsewhere).

use std::io::Write;
use std::time::Duration;

use http::HeaderValue;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::{OdooError, ServerErrorKind};

/// Largest request sent: Werkzeug 3's own limit, so the bridge never
/// refuses what Odoo would take (an image as base64 fits well within it).
pub const MAX_REQUEST_BYTES: usize = 128 * 1024 * 1024;
/// Largest answer read: the bridge never reads attachments back with their
/// data, so its largest answer (a page of requests) is far below this.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Characters of a body excerpt shown in messages.
const EXCERPT_CHARS: usize = 200;

/// Who calls, for the messages of refused logins and unknown databases.
#[derive(Debug, Clone)]
pub struct Caller {
    pub login: String,
    pub database: String,
}

impl Caller {
    /// The error of a login Odoo refused.
    pub fn refused(&self) -> OdooError {
        let (login, database) = (self.login.clone(), self.database.clone());
        OdooError::LoginRefused { login, database }
    }
}

/// An HTTP client to one Odoo.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    /// `odoo.url` without a trailing `/`.
    url: String,
    database: HeaderValue,
    pub caller: Caller,
}

/// `/jsonrpc`'s answer (without a `jsonrpc` key, it is not Odoo).
#[derive(Deserialize)]
struct Envelope<R> {
    #[serde(rename = "jsonrpc")]
    _version: IgnoredAny,
    result: Option<R>,
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(default)]
    message: String,
    data: Option<Exception>,
}

/// A Python exception: `/jsonrpc`'s `error.data`, `/json/2`'s error body.
#[derive(Deserialize)]
struct Exception {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
}

impl Exception {
    fn into_error(self, kind: Option<ServerErrorKind>) -> OdooError {
        OdooError::Server {
            kind: kind.unwrap_or_else(|| ServerErrorKind::from_name(&self.name)),
            name: self.name,
            message: self.message,
        }
    }
}

impl Transport {
    pub fn new(url: String, timeout: Duration, caller: Caller) -> Result<Self, OdooError> {
        crate::tls::install_crypto_provider();
        let setup = |what: String| OdooError::Unsupported(format!("an HTTP client ({what})"));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .retry(reqwest::retry::never())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| setup(e.to_string()))?;
        let database = HeaderValue::from_str(&caller.database)
            .map_err(|_| setup("odoo.database is not a valid HTTP header value".to_owned()))?;
        Ok(Self {
            client,
            url,
            database,
            caller,
        })
    }

    /// `service.method(*args)` over `/jsonrpc`; `None` for Python's `None`.
    pub async fn jsonrpc<A: Serialize, R: DeserializeOwned>(
        &self,
        service: &str,
        method: &str,
        args: &A,
    ) -> Result<Option<R>, OdooError> {
        // The arguments are written once, straight into the envelope.
        let (service, method) = (json!(service), json!(method));
        let head = format!(
            r#"{{"jsonrpc":"2.0","method":"call","id":1,"params":{{"service":{service},"method":{method},"args":"#
        );
        let mut call = head.into_bytes();
        call.append(&mut bounded_json(args)?);
        call.extend_from_slice(b"}}");
        let url = format!("{}/jsonrpc", self.url);
        let answer = self.send(self.post(&url).body(call)).await?;
        answer.jsonrpc(&self.caller)
    }

    /// A body of [`super::json2::body`], with `api_key` (read per call: a
    /// reload may replace it) as bearer token; a single create's `[id]` is
    /// unwrapped.
    pub async fn json2<R: DeserializeOwned>(
        &self,
        model: &str,
        method: &str,
        body: super::json2::Body,
        api_key: &SecretString,
    ) -> Result<Option<R>, OdooError> {
        let request = (self.post(&format!("{}/json/2/{model}/{method}", self.url)))
            .bearer_auth(api_key.expose_secret())
            .header("X-Odoo-Database", self.database.clone())
            .body(body.bytes);
        let answer = self.send(request).await?;
        if !body.single_create {
            return answer.result(&self.caller);
        }
        single(answer.result(&self.caller)?)
    }

    /// `GET path` (Odoo 19's `/web/version`); needs no credentials.
    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, OdooError> {
        let answer = self.send(self.client.get(format!("{}{path}", self.url)));
        answer.await?.result(&self.caller)
    }

    fn post(&self, url: &str) -> reqwest::RequestBuilder {
        let json = HeaderValue::from_static("application/json");
        self.client.post(url).header(CONTENT_TYPE, json)
    }

    /// Sends `request` and reads its answer, any status, refused beyond
    /// [`MAX_RESPONSE_BYTES`].
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, OdooError> {
        let mut response = request.send().await.map_err(transport_error)?;
        if (response.content_length()).is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(OdooError::ResponseTooLarge);
        }
        let content_type = response.headers().get(CONTENT_TYPE);
        let mut answer = Answer {
            status: response.status().as_u16(),
            content_type: (content_type.and_then(|v| v.to_str().ok())).map(str::to_ascii_lowercase),
            body: Vec::new(),
        };
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if answer.body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(OdooError::ResponseTooLarge);
            }
            answer.body.extend_from_slice(&chunk);
        }
        Ok(answer)
    }
}

/// The one id of a list that must hold one.
fn single<R>(ids: Vec<R>) -> Result<Option<R>, OdooError> {
    match <[R; 1]>::try_from(ids) {
        Ok([id]) => Ok(Some(id)),
        Err(ids) => Err(OdooError::InvalidResponse(format!(
            "create of one record answered {} ids",
            ids.len()
        ))),
    }
}

struct Answer {
    status: u16,
    /// Lower-cased.
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    /// The result of a 2xx answer, or the error any other answer stands
    /// for. A 2xx that is not JSON (a maintenance page, a proxy's page) is
    /// [`OdooError::NotJsonRpc`]: a refusal of the bridge, so work waits.
    fn result<T: DeserializeOwned>(&self, caller: &Caller) -> Result<T, OdooError> {
        if !(200..300).contains(&self.status) {
            return Err(self.error(caller));
        }
        if !self.is_json() {
            return Err(OdooError::NotJsonRpc {
                body_excerpt: clean_excerpt(&self.body),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| OdooError::InvalidResponse(e.to_string()))
    }

    /// The result of a `/jsonrpc` answer, `None` for Python's `None`.
    fn jsonrpc<R: DeserializeOwned>(&self, caller: &Caller) -> Result<Option<R>, OdooError> {
        let envelope: Envelope<R> = self.result(caller)?;
        let Some(error) = envelope.error else {
            return Ok(envelope.result);
        };
        let exception = error.data.unwrap_or(Exception {
            name: String::new(),
            message: error.message,
        });
        Err(exception.into_error(None))
    }

    fn is_json(&self) -> bool {
        (self.content_type.as_ref()).is_none_or(|ct| ct.contains("json"))
    }

    /// The error a non-2xx answer stands for (tests/fixtures/odoo19/README.md):
    /// 401 (any bad key, or a password) a refused login; 400, and the HTML
    /// 400 or 415, a malformed request; 404 an unknown model (`UserError`)
    /// or method (`NoSuchMethod`), 422 `InvalidInput`, as on `/jsonrpc`; the
    /// HTML 404 "No database is selected" a permanent `Database` error;
    /// other werkzeug errors and pages an HTTP status.
    fn error(&self, caller: &Caller) -> OdooError {
        let exception = (self.is_json())
            .then(|| serde_json::from_slice::<Exception>(&self.body).ok())
            .flatten()
            .filter(|e| !e.name.is_empty());
        if let Some(exception) = exception {
            let kind = match exception.name.as_str() {
                "werkzeug.exceptions.Unauthorized" => return caller.refused(),
                "werkzeug.exceptions.BadRequest" => {
                    return OdooError::Protocol {
                        body_excerpt: exception.message,
                    };
                }
                "werkzeug.exceptions.NotFound" if exception.message.starts_with("the model ") => {
                    Some(ServerErrorKind::UserError)
                }
                "werkzeug.exceptions.NotFound" => Some(ServerErrorKind::NoSuchMethod),
                "werkzeug.exceptions.UnprocessableEntity" => Some(ServerErrorKind::InvalidInput),
                name if name.starts_with("werkzeug.")
                    && ServerErrorKind::from_name(name) == ServerErrorKind::Other =>
                {
                    return OdooError::HttpStatus {
                        status: self.status,
                        body_excerpt: exception.message,
                    };
                }
                _ => None,
            };
            return exception.into_error(kind);
        }
        let excerpt = clean_excerpt(&self.body);
        let html = (self.content_type.as_ref()).is_some_and(|ct| ct.starts_with("text/html"));
        match self.status {
            404 if html && excerpt.contains("No database is selected") => OdooError::Server {
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
            status => OdooError::HttpStatus {
                status,
                body_excerpt: excerpt,
            },
        }
    }
}

/// `value` as JSON, refused as [`OdooError::RequestTooLarge`] as soon as it
/// outgrows [`MAX_REQUEST_BYTES`] (so a huge request is never held whole).
pub fn bounded_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, OdooError> {
    struct Bounded(Vec<u8>);
    impl Write for Bounded {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + buf.len() > MAX_REQUEST_BYTES {
                return Err(std::io::ErrorKind::FileTooLarge.into());
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Bounded(Vec::new());
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => Ok(out.0),
        Err(e) if e.is_io() => Err(OdooError::RequestTooLarge),
        Err(e) => Err(OdooError::Unsupported(format!(
            "arguments that are not JSON: {e}"
        ))),
    }
}

/// A reqwest failure: a timeout, a request it cannot build (a password no
/// header can carry), or why Odoo could not be reached (the error chain
/// without the URL, e.g. "client error (Connect): tcp connect error").
fn transport_error(error: reqwest::Error) -> OdooError {
    if error.is_timeout() {
        return OdooError::Timeout;
    }
    let error = error.without_url();
    let causes = std::iter::successors(std::error::Error::source(&error), |e| e.source());
    let text = causes.fold(error.to_string(), |text, cause| match cause.to_string() {
        cause if text.contains(&cause) => text,
        cause => format!("{text}: {cause}"),
    });
    if error.is_builder() {
        return OdooError::Unsupported(format!("request ({text})"));
    }
    OdooError::Unreachable(text)
}

/// The start of `raw` as text: tags stripped, common entities decoded,
/// whitespace collapsed, at most [`EXCERPT_CHARS`] characters.
pub fn clean_excerpt(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(4096)]);
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                plain.push(' ');
            }
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let collapsed = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

#[cfg(test)]
mod tests;
