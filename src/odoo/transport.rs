//! The wire: jsonrpsee's HTTP client against `{odoo.url}/jsonrpc`, method
//! `call`, named params `{service, method, args}`.
//!
//! Odoo deviates from JSON-RPC 2.0 in two ways that jsonrpsee cannot take
//! as they are, so one small HTTP middleware ([`OdooCompatLayer`]) mends the
//! answers before jsonrpsee parses them:
//!
//! * a method that returns Python `None` yields a response with **no
//!   `result` key**; jsonrpsee would report a parse error. Such answers are
//!   tiny, so only bodies of at most [`SMALL_RESPONSE_BYTES`] are inspected
//!   and given `"result": null`; large answers stream through untouched.
//! * a non-200 answer (Odoo's HTML 400 for protocol errors, a proxy's 502)
//!   would become a bare status code with its body dropped. The middleware
//!   turns it into a JSON-RPC error carrying the status and a short,
//!   tag-stripped excerpt, so the caller can say what happened.
//! * a 200 answer that is not JSON (a maintenance page, a proxy's login
//!   page) would be a parse error like any malformed result; the middleware
//!   marks it, by its `Content-Type`, so it becomes
//!   [`OdooError::NotJsonRpc`].
//!
//! jsonrpsee's default RPC logger is replaced by nothing: it would log
//! request params, and `execute_kw` params carry the password.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::core::http_helpers::HttpError;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::http_client::transport::{Error as TransportError, HttpBackend};
use jsonrpsee::http_client::{
    HttpClient, HttpClientBuilder, HttpRequest, HttpResponse, RpcService, RpcServiceBuilder,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::error::{OdooError, ServerErrorKind};

/// Responses up to this size are checked for a missing `result` key.
/// Odoo's `{"jsonrpc": "2.0", "id": 123456}` is about 30 bytes.
pub const SMALL_RESPONSE_BYTES: usize = 256;
/// How much of a non-200 body is kept for the error message.
const EXCERPT_BYTES: usize = 4096;
/// Characters of the excerpt shown in messages.
const EXCERPT_CHARS: usize = 200;
/// Marks the JSON-RPC errors the middleware makes out of HTTP statuses.
const HTTP_STATUS_ERROR_NAME: &str = "influence_gen_bridge.http_status";

type Client = HttpClient<RpcService<OdooCompat<HttpBackend>>>;

/// A JSON-RPC connection to one Odoo endpoint.
#[derive(Debug, Clone)]
pub struct Transport {
    client: Client,
}

/// Limits applied to every call.
#[derive(Debug, Clone, Copy)]
pub struct TransportLimits {
    pub timeout: Duration,
    pub max_request_bytes: u32,
    pub max_response_bytes: u32,
}

impl Transport {
    /// A client for `endpoint` (the full `/jsonrpc` URL).
    pub fn new(endpoint: &str, limits: TransportLimits) -> Result<Self, OdooError> {
        crate::tls::install_crypto_provider();
        let client = HttpClientBuilder::new()
            .request_timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .max_request_size(limits.max_request_bytes)
            .max_response_size(limits.max_response_bytes)
            .set_rpc_middleware(RpcServiceBuilder::new())
            .set_http_middleware(tower::ServiceBuilder::new().layer(OdooCompatLayer))
            .build(endpoint)
            .map_err(map_client_error)?;
        Ok(Self { client })
    }

    /// Calls `service.method(*args)`; `Ok(None)` when Odoo returned `None`.
    pub async fn call<A, R>(
        &self,
        service: &str,
        method: &str,
        args: &A,
    ) -> Result<Option<R>, OdooError>
    where
        A: Serialize + Sync,
        R: DeserializeOwned,
    {
        let params = CallParams {
            service,
            method,
            args,
        };
        self.client
            .request::<Option<R>, _>("call", params)
            .await
            .map_err(map_client_error)
    }
}

/// `{"service": …, "method": …, "args": […]}`, serialized once, straight
/// into the raw params jsonrpsee sends.
#[derive(Serialize)]
struct CallParams<'a, A> {
    service: &'a str,
    method: &'a str,
    args: &'a A,
}

impl<A: Serialize> ToRpcParams for CallParams<'_, A> {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        serde_json::value::to_raw_value(&self).map(Some)
    }
}

/// The `data` object of an Odoo error (and of the middleware's own).
#[derive(serde::Deserialize)]
struct ErrorData {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    http_status: u16,
    #[serde(default)]
    html: bool,
    #[serde(default)]
    not_json: bool,
}

fn map_client_error(error: ClientError) -> OdooError {
    match error {
        ClientError::Call(object) => {
            let data: Option<ErrorData> = object
                .data()
                .and_then(|raw| serde_json::from_str(raw.get()).ok());
            match data {
                Some(data) if data.name == HTTP_STATUS_ERROR_NAME => {
                    if data.not_json {
                        OdooError::NotJsonRpc {
                            body_excerpt: data.message,
                        }
                    } else if data.http_status == 400 && data.html {
                        OdooError::Protocol {
                            body_excerpt: data.message,
                        }
                    } else {
                        OdooError::HttpStatus {
                            status: data.http_status,
                            body_excerpt: data.message,
                        }
                    }
                }
                Some(data) => OdooError::Server {
                    kind: ServerErrorKind::from_name(&data.name),
                    name: data.name,
                    message: data.message,
                },
                None => OdooError::Server {
                    kind: ServerErrorKind::Other,
                    name: String::new(),
                    message: object.message().to_owned(),
                },
            }
        }
        ClientError::RequestTimeout => OdooError::Timeout,
        ClientError::ParseError(e) => OdooError::InvalidResponse(e.to_string()),
        ClientError::Transport(boxed) => match boxed.downcast::<TransportError>() {
            Ok(transport) => match *transport {
                TransportError::RequestTooLarge => OdooError::RequestTooLarge,
                TransportError::Http(HttpError::TooLarge) => OdooError::ResponseTooLarge,
                TransportError::Rejected { status_code } => OdooError::HttpStatus {
                    status: status_code,
                    body_excerpt: String::new(),
                },
                other => OdooError::Unreachable(error_chain(&other)),
            },
            Err(other) => OdooError::Unreachable(error_chain(other.as_ref())),
        },
        other => OdooError::InvalidResponse(other.to_string()),
    }
}

/// "client error (Connect): tcp connect error: Connection refused (os error 111)"
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

// --- the middleware ----------------------------------------------------------

/// The tower layer that makes Odoo's answers digestible for jsonrpsee.
#[derive(Debug, Clone, Copy)]
pub struct OdooCompatLayer;

impl<S> tower::Layer<S> for OdooCompatLayer {
    type Service = OdooCompat<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OdooCompat { inner }
    }
}

/// See [`OdooCompatLayer`].
#[derive(Debug, Clone)]
pub struct OdooCompat<S> {
    inner: S,
}

type CompatBody = Either<Incoming, Full<Bytes>>;

impl<S> tower::Service<HttpRequest> for OdooCompat<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse<Incoming>, Error = TransportError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse<CompatBody>;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move { mend(response.await?).await })
    }
}

async fn mend(
    response: HttpResponse<Incoming>,
) -> Result<HttpResponse<CompatBody>, TransportError> {
    if !response.status().is_success() || !is_json(&response) {
        return Ok(status_as_jsonrpc_error(response).await);
    }
    let is_small = content_length(&response).is_some_and(|len| len <= SMALL_RESPONSE_BYTES);
    if !is_small {
        return Ok(response.map(Either::Left));
    }
    let (mut parts, body) = response.into_parts();
    let bytes = http_body_util::Limited::new(body, SMALL_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| TransportError::Http(HttpError::Stream(e)))?
        .to_bytes();
    let bytes = with_result_key(bytes);
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(bytes.len()),
    );
    Ok(HttpResponse::from_parts(
        parts,
        Either::Right(Full::new(bytes)),
    ))
}

/// Whether the answer may be JSON-RPC: a JSON `Content-Type`, or none.
fn is_json<B>(response: &HttpResponse<B>) -> bool {
    match response.headers().get(http::header::CONTENT_TYPE) {
        None => true,
        Some(value) => value
            .to_str()
            .map(|ct| ct.to_ascii_lowercase().contains("json"))
            .unwrap_or(false),
    }
}

fn content_length<B>(response: &HttpResponse<B>) -> Option<usize> {
    response
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Adds `"result": null` to a JSON-RPC response object that has neither
/// `result` nor `error`; anything else is returned unchanged.
pub fn with_result_key(bytes: Bytes) -> Bytes {
    let Ok(serde_json::Value::Object(mut object)) =
        serde_json::from_slice::<serde_json::Value>(&bytes)
    else {
        return bytes;
    };
    if object.contains_key("result")
        || object.contains_key("error")
        || !object.contains_key("jsonrpc")
    {
        return bytes;
    }
    object.insert("result".to_owned(), serde_json::Value::Null);
    serde_json::to_vec(&object)
        .map(Bytes::from)
        .unwrap_or(bytes)
}

async fn status_as_jsonrpc_error(response: HttpResponse<Incoming>) -> HttpResponse<CompatBody> {
    let status = response.status();
    let not_json = status.is_success();
    let is_html = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    let (mut parts, body) = response.into_parts();
    let excerpt = clean_excerpt(&read_prefix(body, EXCERPT_BYTES).await);
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": status.as_u16(),
            "message": format!("HTTP {status}"),
            "data": {
                "name": HTTP_STATUS_ERROR_NAME,
                "message": excerpt,
                "http_status": status.as_u16(),
                "html": is_html,
                "not_json": not_json,
            },
        },
    });
    let bytes = Bytes::from(error.to_string());
    parts.status = http::StatusCode::OK;
    parts.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(bytes.len()),
    );
    HttpResponse::from_parts(parts, Either::Right(Full::new(bytes)))
}

/// Up to `limit` bytes of `body`; read errors end the excerpt early.
async fn read_prefix(mut body: Incoming, limit: usize) -> Vec<u8> {
    let mut prefix = Vec::new();
    while prefix.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let room = limit - prefix.len();
                    prefix.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    prefix
}

/// Tags stripped, common entities decoded, whitespace collapsed, trimmed to
/// [`EXCERPT_CHARS`] characters.
pub fn clean_excerpt(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
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
mod tests {
    use super::*;

    #[test]
    fn a_response_without_result_gets_a_null_result() {
        let mended = with_result_key(Bytes::from_static(br#"{"jsonrpc": "2.0", "id": 20}"#));
        let value: serde_json::Value = serde_json::from_slice(&mended).unwrap();
        assert_eq!(value["result"], serde_json::Value::Null);
        assert_eq!(value["id"], 20);
    }

    #[test]
    fn complete_responses_are_left_alone() {
        for body in [
            &br#"{"jsonrpc": "2.0", "id": 19, "result": true}"#[..],
            br#"{"jsonrpc": "2.0", "id": 1, "error": {"code": 200, "message": "x"}}"#,
            b"not json",
            b"[1, 2]",
        ] {
            assert_eq!(
                with_result_key(Bytes::copy_from_slice(body)),
                Bytes::copy_from_slice(body)
            );
        }
    }

    #[test]
    fn werkzeug_html_becomes_a_readable_excerpt() {
        let html = b"<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n<p>Request inferred type is compatible with [&#39;http&#39;] but &#39;/jsonrpc&#39; is type=&#39;json&#39;.</p>\n";
        assert_eq!(
            clean_excerpt(html),
            "400 Bad Request Bad Request Request inferred type is compatible with ['http'] but '/jsonrpc' is type='json'."
        );
        assert_eq!(clean_excerpt(b"Invalid JSON data"), "Invalid JSON data");
        let long = "x".repeat(500);
        assert_eq!(
            clean_excerpt(long.as_bytes()).chars().count(),
            EXCERPT_CHARS + 1
        );
    }

    #[test]
    fn synthetic_http_errors_map_to_their_kinds() {
        let error = |status: u16, html: bool| {
            let data = serde_json::json!({"name": HTTP_STATUS_ERROR_NAME, "message": "m", "http_status": status, "html": html});
            let object =
                jsonrpsee::types::ErrorObject::owned(i32::from(status), "HTTP", Some(data));
            map_client_error(ClientError::Call(object))
        };
        assert!(matches!(error(400, true), OdooError::Protocol { .. }));
        assert!(matches!(
            error(502, true),
            OdooError::HttpStatus { status: 502, .. }
        ));
        assert!(matches!(
            error(400, false),
            OdooError::HttpStatus { status: 400, .. }
        ));
        let data = serde_json::json!({"name": HTTP_STATUS_ERROR_NAME, "message": "Down for maintenance", "http_status": 200, "html": true, "not_json": true});
        let object = jsonrpsee::types::ErrorObject::owned(200, "HTTP", Some(data));
        assert!(matches!(
            map_client_error(ClientError::Call(object)),
            OdooError::NotJsonRpc { .. }
        ));
    }

    #[test]
    fn odoo_errors_map_by_exception_name() {
        let data = serde_json::json!({
            "name": "odoo.exceptions.MissingError",
            "debug": "Traceback…",
            "message": "Record does not exist or has been deleted.",
            "arguments": ["Record does not exist or has been deleted."],
            "context": {},
        });
        let object = jsonrpsee::types::ErrorObject::owned(200, "Odoo Server Error", Some(data));
        match map_client_error(ClientError::Call(object)) {
            OdooError::Server {
                kind,
                name,
                message,
            } => {
                assert_eq!(kind, ServerErrorKind::MissingError);
                assert_eq!(name, "odoo.exceptions.MissingError");
                assert_eq!(message, "Record does not exist or has been deleted.");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
