//! The companion methods' argument checks, in the real addon's order and with its messages (all
//! `odoo.exceptions.UserError`): references, results, claim limits and field lists.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::catalog::REQUEST;
use crate::errors::{OdooError, OdooResult};
use crate::schema::FieldType;
use crate::store::Db;

/// The most requests one `bridge_claim_queued` may claim.
pub const MAX_CLAIM: i64 = 100;
/// Ids are PostgreSQL integers: a larger one names no request.
const MAX_ID: i64 = 2_147_483_647;
const SUCCESS_KEYS: &[&str] = &[
    "file_format",
    "file_size",
    "height",
    "image_base64",
    "kind",
    "mimetype",
    "sha256",
    "width",
];
const FAILURE_KEYS: &[&str] = &["error_details", "kind"];

/// What a reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `{"field": "id", "value": 42}`.
    Id(i64),
    /// `{"field": "<char field>", "value": "…"}`.
    Field(String, String),
    /// An id too large to exist.
    Impossible,
}

/// The kind of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Success,
    Failure,
    Rejected,
}

fn refuse(message: impl Into<String>) -> OdooError {
    OdooError::user_error(message)
}

/// A Python `int` (not a `bool`, not a `float`): `Some(value)`, saturated at `i64::MAX`.
pub fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .filter(|_| !n.is_f64()),
        _ => None,
    }
}

/// `_bridge_find`'s checks.
pub fn reference(db: &Db, reference: &Value) -> OdooResult<Reference> {
    let Some((field, value)) = reference
        .as_object()
        .filter(|o| o.len() == 2)
        .and_then(|o| Some((o.get("field")?, o.get("value")?)))
    else {
        return Err(refuse(r#"A reference is {"field": ..., "value": ...}."#));
    };
    if field == "id" {
        return match int(value) {
            Some(id) if id > MAX_ID => Ok(Reference::Impossible),
            Some(id) if id > 0 => Ok(Reference::Id(id)),
            _ => Err(refuse("A reference by id needs a positive integer value.")),
        };
    }
    let char_field = field.as_str().filter(|name| {
        db.model(REQUEST)
            .and_then(|m| m.field(name))
            .is_some_and(|f| f.ftype == FieldType::Char)
    });
    let Some(field) = char_field else {
        return Err(refuse(format!(
            "A reference field must be id or a char field of {REQUEST}."
        )));
    };
    match value.as_str().filter(|v| !v.is_empty()) {
        Some(value) => Ok(Reference::Field(field.to_owned(), value.to_owned())),
        None => Err(refuse(format!(
            "A reference by {field} needs a non-empty string value."
        ))),
    }
}

/// `_result_kind`: the kind, once the keys are exactly the kind's.
pub fn result_kind(result: &Value) -> OdooResult<Kind> {
    let kind = result.get("kind").and_then(Value::as_str);
    let (kind, keys) = match kind {
        Some("success") => (Kind::Success, SUCCESS_KEYS),
        Some("failure") => (Kind::Failure, FAILURE_KEYS),
        Some("rejected") => (Kind::Rejected, FAILURE_KEYS),
        _ => {
            return Err(refuse(
                r#"A result is a dict whose "kind" is success, failure or rejected."#,
            ));
        }
    };
    let object = result.as_object().map(Map::len).unwrap_or_default();
    if object != keys.len() || keys.iter().any(|k| result.get(*k).is_none()) {
        let name = result
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(refuse(format!(
            "A {name} result has exactly the keys {}.",
            keys.join(", ")
        )));
    }
    Ok(kind)
}

/// `_error_details`.
pub fn error_details(result: &Value) -> OdooResult<String> {
    match result.get("error_details").and_then(Value::as_str) {
        Some(details) if !details.is_empty() => Ok(details.to_owned()),
        _ => Err(refuse("error_details must be a non-empty string.")),
    }
}

/// A success result, checked: the fields the addon stores.
#[derive(Debug, Clone)]
pub struct Image {
    pub base64: String,
    pub sha256: String,
    pub mimetype: String,
    pub file_format: String,
    pub width: i64,
    pub height: i64,
    pub file_size: i64,
}

/// `_verified_image`: the image, once its bytes match `file_size` and `sha256`.
pub fn verified_image(result: &Value) -> OdooResult<Image> {
    let text = |key: &str| -> OdooResult<String> {
        match result.get(key).and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(refuse(format!("{key} must be a non-empty string."))),
        }
    };
    let (base64, sha256, mimetype, file_format) = (
        text("image_base64")?,
        text("sha256")?,
        text("mimetype")?,
        text("file_format")?,
    );
    let positive = |key: &str| -> OdooResult<i64> {
        match result.get(key).and_then(int) {
            Some(n) if n > 0 => Ok(n),
            _ => Err(refuse(format!("{key} must be a positive integer."))),
        }
    };
    let (width, height, file_size) = (
        positive("width")?,
        positive("height")?,
        positive("file_size")?,
    );
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if sha256.len() != 64 || !sha256.chars().all(hex) {
        return Err(refuse("sha256 must be 64 lower-case hexadecimal digits."));
    }
    let format_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if file_format.len() > 10 || !file_format.chars().all(format_char) {
        return Err(refuse(
            "file_format must be 1 to 10 lower-case letters or digits.",
        ));
    }
    if !mimetype.starts_with("image/") || mimetype.contains("svg") {
        return Err(refuse("mimetype must be an image type other than SVG."));
    }
    let Ok(bytes) = STANDARD.decode(base64.as_bytes()) else {
        return Err(refuse("image_base64 is not valid base64."));
    };
    if i64::try_from(bytes.len()).ok() != Some(file_size) {
        return Err(refuse(format!(
            "image_base64 holds {} bytes, file_size says {file_size}.",
            bytes.len()
        )));
    }
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != sha256 {
        return Err(refuse("The image's SHA-256 is not the sha256 given."));
    }
    Ok(Image {
        base64,
        sha256,
        mimetype,
        file_format,
        width,
        height,
        file_size,
    })
}

/// `bridge_claim_queued`'s `limit`.
pub fn claim_limit(limit: &Value) -> OdooResult<usize> {
    match int(limit) {
        Some(n) if (1..=MAX_CLAIM).contains(&n) => Ok(n as usize),
        _ => Err(refuse(format!(
            "limit must be an integer from 1 to {MAX_CLAIM}."
        ))),
    }
}

/// `_field_names`.
pub fn field_names(fields: &Value) -> OdooResult<Vec<String>> {
    let names: Option<Vec<String>> = fields
        .as_array()
        .filter(|a| !a.is_empty())
        .and_then(|a| a.iter().map(|f| f.as_str().map(str::to_owned)).collect());
    names.ok_or_else(|| refuse("fields must be a non-empty list of field names."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ints_like_python() {
        assert_eq!(int(&json!(42)), Some(42));
        assert_eq!(int(&json!(42.0)), None, "a float is not an int");
        assert_eq!(int(&json!(true)), None, "nor is a bool");
        assert_eq!(int(&json!(u64::MAX)), Some(i64::MAX));
    }

    #[test]
    fn references() {
        let db = Db::new("ig", "127.0.0.1", 8069);
        let r = |v: Value| reference(&db, &v);
        assert_eq!(
            r(json!({"field": "id", "value": 7})).ok(),
            Some(Reference::Id(7))
        );
        assert_eq!(
            r(json!({"field": "id", "value": 4_000_000_000_i64})).ok(),
            Some(Reference::Impossible)
        );
        assert_eq!(
            r(json!({"field": "uuid", "value": "u"})).ok(),
            Some(Reference::Field("uuid".into(), "u".into()))
        );
        for bad in [
            json!({"field": "id", "value": "7"}),
            json!({"field": "prompt", "value": "x"}),
            json!({"field": "id"}),
            json!({"field": "uuid", "value": ""}),
            json!([1]),
        ] {
            assert_eq!(
                r(bad).map_err(|e| e.name).unwrap_err(),
                "odoo.exceptions.UserError"
            );
        }
    }

    #[test]
    fn results_are_checked_in_the_addons_order() {
        let bytes = b"\x89PNG fake";
        let sha: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let good = json!({"kind": "success", "image_base64": STANDARD.encode(bytes), "sha256": sha,
            "mimetype": "image/png", "file_format": "png", "width": 1, "height": 1,
            "file_size": bytes.len()});
        assert_eq!(result_kind(&good).ok(), Some(Kind::Success));
        assert!(verified_image(&good).is_ok());
        let message = |v: Value| verified_image(&v).map(|_| ()).unwrap_err().message;
        let mut wrong = good.clone();
        wrong["file_size"] = json!(1);
        assert_eq!(
            message(wrong),
            format!(
                "image_base64 holds {} bytes, file_size says 1.",
                bytes.len()
            )
        );
        let mut wrong = good.clone();
        wrong["sha256"] = json!("0".repeat(64));
        assert_eq!(
            message(wrong),
            "The image's SHA-256 is not the sha256 given."
        );
        let mut extra = good.clone();
        extra["x"] = json!(1);
        assert!(result_kind(&extra).is_err());
    }
}
