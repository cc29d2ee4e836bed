//! The inbound contract (docs/protocol.md#callback-contract): what N8N posts
//! to the callback route, as the bare contract object or in Odoo's JSON-RPC
//! envelope (answered in the same style, [`BodyStyle`]).
//!
//! An unauthenticated caller costs no more than reading its body: [`parse`]
//! borrows everything and decodes nothing; [`ParsedCallback::validate`], once
//! the caller is authenticated, refuses what can never be applied (400) and
//! decodes the image once. Whether an image is usable is the pipeline's call.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::image;

/// Longest `ai_generation_request_id` accepted (a UUID is 36 characters).
const MAX_REQUEST_REF_CHARS: usize = 128;
/// Longest failure message and details kept; longer ones end in an ellipsis.
const MAX_ERROR_MESSAGE_CHARS: usize = 2_000;
const MAX_ERROR_DETAILS_CHARS: usize = 8_000;

/// How the caller wrapped the contract, so the answer uses the same style.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BodyStyle {
    Bare,
    /// Odoo's JSON-RPC envelope; `id` is echoed back verbatim.
    JsonRpc {
        id: Box<RawValue>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackResult {
    /// `ai_generation_request_id` as sent: an Odoo id in decimal or a UUID.
    pub request_ref: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Success {
        image: ImagePayload,
        claims: Claims,
    },
    Failure {
        message: String,
        details: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImagePayload {
    /// Decoded from `image_data`.
    Inline(
        #[serde(
            serialize_with = "serialize_base64",
            deserialize_with = "deserialize_base64"
        )]
        Bytes,
    ),
    /// To be downloaded from `image_url`.
    Url(String),
    /// Valid base64 but unusable (too large): the request fails with this reason.
    Refused(String),
}

/// What the payload says about the image; checked against the real bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub file_format: Option<String>,
    pub mimetype: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub file_size: Option<u64>,
}

/// A parsed body and the token it carried, if any.
pub struct ParsedCallback<'a> {
    pub style: BodyStyle,
    pub security_token: Option<Cow<'a, str>>,
    contract: Wire<'a>,
}

/// Why a callback body can never be applied (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCallback(pub String);

/// The body is not JSON, or not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedBody(pub String);

/// Both styles at once, so the body is parsed a single time: the contract's
/// fields, or a JSON-RPC envelope whose `params` has them.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default)]
    params: Option<Box<Wire<'a>>>,
    #[serde(default)]
    id: Option<Box<RawValue>>,
    #[serde(borrow, default)]
    ai_generation_request_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    security_token: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result_payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WirePayload<'a> {
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error_data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireData<'a> {
    #[serde(borrow, default)]
    image_data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    image_url: Option<Cow<'a, str>>,
    file_format: Option<Value>,
    mimetype: Option<Value>,
    width: Option<Value>,
    height: Option<Value>,
    file_size: Option<Value>,
}

#[derive(Deserialize)]
struct WireErrorData {
    message: Option<Value>,
    details: Option<Value>,
}

/// Parses `body` in either style, decoding nothing. Only a non-object is
/// [`MalformedBody`]: a broken contract is authenticated and answered in style.
pub fn parse(body: &[u8]) -> Result<ParsedCallback<'_>, MalformedBody> {
    let text = std::str::from_utf8(body)
        .map_err(|_| MalformedBody("the body is not UTF-8 text".into()))?;
    if !text.trim_start().starts_with('{') {
        return Err(MalformedBody("the body must be a JSON object".into()));
    }
    let wire: Wire<'_> = serde_json::from_str(text)
        .map_err(|e| MalformedBody(format!("the body is not valid JSON ({e})")))?;
    let (style, contract) = match (wire.jsonrpc, wire.params) {
        (Some(_), Some(params)) => {
            let id = wire
                .id
                .unwrap_or_else(|| RawValue::from_string("null".into()).expect("null is JSON"));
            (BodyStyle::JsonRpc { id }, *params)
        }
        (_, params) => (BodyStyle::Bare, Wire { params, ..wire }),
    };
    // Borrowed when the JSON string has no escapes.
    let security_token = (contract.security_token)
        .and_then(|raw| serde_json::from_str::<Cow<'_, str>>(raw.get()).ok());
    Ok(ParsedCallback {
        style,
        security_token,
        contract,
    })
}

impl ParsedCallback<'_> {
    /// Validates the contract and decodes `image_data`, once authenticated.
    pub fn validate(&self, max_image_bytes: u64) -> Result<CallbackResult, InvalidCallback> {
        let request_ref = request_ref(self.contract.ai_generation_request_id)?;
        let raw_payload =
            (self.contract.result_payload).ok_or_else(|| invalid("missing result_payload"))?;
        let payload: WirePayload<'_> = serde_json::from_str(raw_payload.get())
            .map_err(|_| invalid("result_payload must be an object"))?;
        let outcome = match payload.status.as_deref() {
            None => return Err(invalid("missing result_payload.status")),
            Some("success") => success(payload.data, max_image_bytes)?,
            Some("failure" | "failed" | "error") => failure(payload.error_data)?,
            Some(_) => {
                let message = "result_payload.status must be \"success\" or \"failure\"";
                return Err(invalid(message));
            }
        };
        Ok(CallbackResult {
            request_ref,
            outcome,
        })
    }
}

fn request_ref(raw: Option<&RawValue>) -> Result<String, InvalidCallback> {
    let raw = raw.ok_or_else(|| invalid("missing ai_generation_request_id"))?;
    let value = match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(s)) => s.trim().to_owned(),
        Ok(Value::Number(n)) if n.is_u64() => n.to_string(),
        _ => {
            return Err(invalid(
                "ai_generation_request_id must be a string or a positive integer",
            ));
        }
    };
    if value.is_empty() {
        return Err(invalid("missing ai_generation_request_id"));
    }
    if value.chars().count() > MAX_REQUEST_REF_CHARS || value.chars().any(char::is_control) {
        return Err(invalid("ai_generation_request_id is not an id or a UUID"));
    }
    Ok(value)
}

fn success(data: Option<&RawValue>, max_image_bytes: u64) -> Result<Outcome, InvalidCallback> {
    let data = data.ok_or_else(|| invalid("missing result_payload.data"))?;
    let data: WireData<'_> = serde_json::from_str(data.get()).map_err(|_| {
        invalid("result_payload.data must be an object whose image_data and image_url are strings")
    })?;
    let image = match (data.image_data.as_deref(), data.image_url.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "result_payload.data has both image_data and image_url; send one, not both",
            ));
        }
        (Some(encoded), None) => match image::decode_base64(encoded, max_image_bytes) {
            Ok(bytes) => ImagePayload::Inline(Bytes::from(bytes)),
            Err(error) if error.is_client_error() => {
                return Err(invalid(&format!("image_data: {error}")));
            }
            Err(error) => ImagePayload::Refused(error.to_string()),
        },
        (None, Some(url)) => ImagePayload::Url(image_url(url)?),
        (None, None) => return Err(invalid("result_payload.data needs image_data or image_url")),
    };
    let claims = Claims {
        file_format: claim_text(data.file_format, "file_format")?,
        mimetype: claim_text(data.mimetype, "mimetype")?,
        width: claim_number(data.width, "width")?,
        height: claim_number(data.height, "height")?,
        file_size: claim_number(data.file_size, "file_size")?,
    };
    Ok(Outcome::Success { image, claims })
}

fn image_url(url: &str) -> Result<String, InvalidCallback> {
    let url = url.trim();
    match url::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() =>
        {
            Ok(url.to_owned())
        }
        _ => Err(invalid(
            "result_payload.data.image_url must be an http(s) URL",
        )),
    }
}

fn failure(error_data: Option<&RawValue>) -> Result<Outcome, InvalidCallback> {
    let Some(raw) = error_data.filter(|raw| raw.get() != "null") else {
        return Ok(Outcome::Failure {
            message: "N8N reported a failure without error_data".into(),
            details: None,
        });
    };
    let error: WireErrorData = serde_json::from_str(raw.get())
        .map_err(|_| invalid("result_payload.error_data must be an object"))?;
    let message = error
        .message
        .and_then(text_or_json)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "N8N reported a failure without a message".into());
    let details = error
        .details
        .and_then(text_or_json)
        .filter(|d| !d.trim().is_empty());
    Ok(Outcome::Failure {
        message: truncate(message.trim(), MAX_ERROR_MESSAGE_CHARS),
        details: details.map(|d| truncate(d.trim(), MAX_ERROR_DETAILS_CHARS)),
    })
}

fn claim_text(value: Option<Value>, key: &str) -> Result<Option<String>, InvalidCallback> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() <= 100 => Ok(Some(s.trim().to_owned())),
        _ => Err(invalid(&format!(
            "result_payload.data.{key} must be a short string"
        ))),
    }
}

fn claim_number(value: Option<Value>, key: &str) -> Result<Option<u64>, InvalidCallback> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().ok()),
        _ => Err(invalid(&format!(
            "result_payload.data.{key} must be a non-negative integer"
        ))),
    }
}

/// A JSON string as its text; any other JSON value as compact JSON text.
fn text_or_json(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn invalid(message: &str) -> InvalidCallback {
    InvalidCallback(message.to_owned())
}

/// Serializes bytes as base64 text, without an intermediate string.
pub(crate) fn serialize_base64<B: AsRef<[u8]>, S: serde::Serializer>(
    bytes: &B,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let display = base64::display::Base64Display::new(bytes.as_ref(), &STANDARD);
    serializer.collect_str(&display)
}

fn deserialize_base64<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Bytes, D::Error> {
    let text = <Cow<'de, str>>::deserialize(deserializer)?;
    STANDARD
        .decode(text.as_bytes())
        .map(Bytes::from)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests;
