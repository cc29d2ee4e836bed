//! Typed views of the models the bridge works with, and the fields it
//! needs on each (what `check` verifies with `fields_get`); see
//! docs/protocol.md#applying-a-result.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::value::{Many2one, blank_as_none, false_as_none};

/// The request model of the InfluenceGen module.
pub const REQUEST_MODEL: &str = "influence_gen.ai_image_request";
/// The generated image model of the InfluenceGen module.
pub const IMAGE_MODEL: &str = "influence_gen.generated_image";
/// The request's UUID field; a callback reference that is not a number names it.
pub const UUID_FIELD: &str = "uuid";
pub const ATTACHMENT_MODEL: &str = "ir.attachment";
pub const CONFIG_PARAMETER_MODEL: &str = "ir.config_parameter";

/// Fields of the request model the bridge reads or writes.
pub const REQUEST_FIELDS: &[&str] = &[
    "status",
    "error_details",
    "generated_image_id",
    "campaign_id",
    "prompt",
    "negative_prompt",
    "model_id",
    "resolution",
    "aspect_ratio",
    "seed",
    "inference_steps",
    "cfg_scale",
];

/// The `status` values the bridge sets or expects (docs/protocol.md#request-states).
pub const REQUEST_STATUSES: &[&str] = &[
    "queued",
    "processing",
    "completed",
    "failed",
    "initiation_failed",
];

/// Fields of the generated image model the bridge writes.
pub const IMAGE_FIELDS: &[&str] = &[
    "request_id",
    "storage_identifier",
    "storage_type",
    "file_format",
    "file_size",
    "width",
    "height",
    "hash_value",
    "retention_category",
];

/// The lifecycle of a request: queued → processing → completed | failed, or
/// initiation_failed (docs/protocol.md#request-states).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Queued,
    Processing,
    Completed,
    Failed,
    InitiationFailed,
    /// A value an extended addon added; kept so a read never fails on it.
    #[serde(untagged)]
    Other(String),
}

impl RequestStatus {
    /// The selection value Odoo stores.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::InitiationFailed => "initiation_failed",
            Self::Other(value) => value,
        }
    }
}

/// An `influence_gen.ai_image_request` as `read` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct AiImageRequest {
    pub id: i64,
    pub status: RequestStatus,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub error_details: Option<String>,
    #[serde(default, deserialize_with = "false_as_none")]
    pub generated_image_id: Option<Many2one>,
    #[serde(default, deserialize_with = "false_as_none")]
    pub campaign_id: Option<Many2one>,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub prompt: Option<String>,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub negative_prompt: Option<String>,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub model_id: Option<String>,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub resolution: Option<String>,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub aspect_ratio: Option<String>,
    #[serde(default, deserialize_with = "false_as_none")]
    pub seed: Option<i64>,
    #[serde(default, deserialize_with = "false_as_none")]
    pub inference_steps: Option<i64>,
    #[serde(default, deserialize_with = "false_as_none")]
    pub cfg_scale: Option<f64>,
    /// Every other field read, such as [`UUID_FIELD`].
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AiImageRequest {
    /// The value of the UUID field `field`, when it was read and is set.
    pub fn uuid(&self, field: &str) -> Option<&str> {
        self.extra
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// What the bridge reads back of an `ir.attachment` it stored.
#[derive(Debug, Clone, Deserialize)]
pub struct Attachment {
    pub id: i64,
    /// SHA-1 hex of the bytes Odoo stored.
    #[serde(default, deserialize_with = "blank_as_none")]
    pub checksum: Option<String>,
    #[serde(default, deserialize_with = "false_as_none")]
    pub file_size: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request of transcript 11, as a real Odoo 18 returned it.
    const TRANSCRIPT_11: &str = r#"{"id": 1, "prompt": "A neon-lit city street at night, cinematic", "negative_prompt": "blurry, lowres", "model_id": "sdxl-1.0", "resolution": "1024x1024", "aspect_ratio": "1:1", "seed": 42, "inference_steps": 30, "cfg_scale": 7.5, "status": "queued", "error_details": false, "generated_image_id": false, "campaign_id": false, "intended_use": "personal", "user_id": [2, "Administrator"], "uuid": "81fbb39d-5411-4204-b2af-d6f45dafde7a", "create_date": "2026-11-29 12:39:37", "write_date": "2026-11-29 12:39:37", "display_name": "A neon-lit city street at night, cinematic"}"#;

    #[test]
    fn a_recorded_request_decodes() {
        let request: AiImageRequest = serde_json::from_str(TRANSCRIPT_11).unwrap();
        assert_eq!(request.id, 1);
        assert_eq!(request.status, RequestStatus::Queued);
        assert_eq!(request.error_details, None);
        assert_eq!(request.generated_image_id, None);
        assert_eq!(request.seed, Some(42));
        assert_eq!(request.cfg_scale, Some(7.5));
        assert_eq!(
            request.uuid("uuid"),
            Some("81fbb39d-5411-4204-b2af-d6f45dafde7a")
        );
        assert_eq!(request.uuid("x_uuid"), None);
    }

    #[test]
    fn a_recorded_attachment_decodes() {
        // Transcript 24.
        let text = r#"{"id": 20, "name": "ig_request_1.png", "checksum": "9289badb9ec8fe6b8539295e2561b0c7670dde5b", "file_size": 74, "mimetype": "image/png", "type": "binary", "store_fname": "92/9289badb9ec8fe6b8539295e2561b0c7670dde5b", "res_model": "influence_gen.generated_image", "res_id": 1, "res_name": "influence_gen.generated_image,1", "public": false}"#;
        let attachment: Attachment = serde_json::from_str(text).unwrap();
        assert_eq!(attachment.file_size, Some(74));
        assert_eq!(
            attachment.checksum.as_deref(),
            Some("9289badb9ec8fe6b8539295e2561b0c7670dde5b")
        );
    }

    #[test]
    fn unknown_status_values_survive() {
        let request: AiImageRequest =
            serde_json::from_str(r#"{"id": 2, "status": "archived"}"#).unwrap();
        assert_eq!(request.status, RequestStatus::Other("archived".into()));
        assert_eq!(request.status.as_str(), "archived");
        assert_eq!(
            serde_json::to_value(RequestStatus::InitiationFailed).unwrap(),
            "initiation_failed"
        );
    }
}
