//! The initiation payload of SDS §4.1, built from a request as Odoo returns it.
//!
//! `params` holds only what is set: Odoo answers `false` for an empty text
//! field and `0` for an integer or float nobody filled in, and cannot tell
//! "unset" from a real zero. So empty texts are left out, and so are `seed`,
//! `inference_steps` and `cfg_scale` when they are 0: a zero step count or
//! CFG scale is never a valid request, and a provider that gets no seed picks
//! a random one, which is what an unset seed means. Numbers stay JSON numbers.

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::odoo::records::AiImageRequest;

/// Fields of the request read to build the payload (the UUID field is added
/// when it is what is sent).
pub const INITIATION_FIELDS: &[&str] = &[
    "id",
    "status",
    "prompt",
    "negative_prompt",
    "model_id",
    "resolution",
    "aspect_ratio",
    "seed",
    "inference_steps",
    "cfg_scale",
];

/// The body POSTed to the N8N webhook. `Debug` never shows the token.
#[derive(Debug, Serialize)]
pub struct InitiationPayload {
    pub ai_generation_request_id: String,
    pub params: Map<String, Value>,
    pub odoo_callback_url: String,
    /// The outbound token; an empty string when none is configured.
    #[serde(serialize_with = "expose")]
    pub security_token: SecretString,
}

fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// What identifies a request toward N8N (and so in its callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendIdAs {
    /// The Odoo id, as a decimal string.
    Id,
    /// The request's UUID field.
    Uuid,
}

/// The Odoo id: every request has one, and the callback's lookup takes it.
pub const SEND_ID_AS: SendIdAs = SendIdAs::Id;

/// What identifies `request` toward N8N; `None` when it is the UUID and the
/// request has none.
pub fn request_reference(
    request: &AiImageRequest,
    send_id_as: SendIdAs,
    uuid_field: &str,
) -> Option<String> {
    match send_id_as {
        SendIdAs::Id => Some(request.id.to_string()),
        SendIdAs::Uuid => request.uuid(uuid_field).map(str::to_owned),
    }
}

/// The generation parameters of `request` (see the module docs for what is
/// left out).
pub fn params(request: &AiImageRequest) -> Map<String, Value> {
    let mut params = Map::new();
    let texts = [
        ("prompt", &request.prompt),
        ("negative_prompt", &request.negative_prompt),
        ("model_id", &request.model_id),
        ("resolution", &request.resolution),
        ("aspect_ratio", &request.aspect_ratio),
    ];
    for (name, value) in texts {
        if let Some(text) = value {
            params.insert(name.to_owned(), Value::from(text.as_str()));
        }
    }
    for (name, value) in [
        ("seed", request.seed),
        ("inference_steps", request.inference_steps),
    ] {
        if let Some(number) = value.filter(|n| *n != 0) {
            params.insert(name.to_owned(), Value::from(number));
        }
    }
    if let Some(scale) = request.cfg_scale.filter(|x| *x != 0.0 && x.is_finite()) {
        params.insert("cfg_scale".to_owned(), Value::from(scale));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(value: Value) -> AiImageRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_field_set_goes_into_params_with_its_type() {
        let request = request(json!({
            "id": 1, "status": "queued", "prompt": "a cat", "negative_prompt": "blurry",
            "model_id": "sdxl-1.0", "resolution": "1024x1024", "aspect_ratio": "1:1",
            "seed": 42, "inference_steps": 30, "cfg_scale": 7.0
        }));
        let params = Value::Object(params(&request));
        assert_eq!(
            params,
            json!({
                "prompt": "a cat", "negative_prompt": "blurry", "model_id": "sdxl-1.0",
                "resolution": "1024x1024", "aspect_ratio": "1:1",
                "seed": 42, "inference_steps": 30, "cfg_scale": 7.0
            })
        );
        assert!(params["seed"].is_i64());
        assert!(params["cfg_scale"].is_f64());
        assert!(params.to_string().contains("\"cfg_scale\":7.0"));
    }

    #[test]
    fn false_blank_and_zero_are_left_out() {
        let request = request(json!({
            "id": 2, "status": "queued", "prompt": "a dog", "negative_prompt": false,
            "model_id": "", "resolution": false, "aspect_ratio": "  ",
            "seed": 0, "inference_steps": 0, "cfg_scale": 0.0
        }));
        assert_eq!(
            Value::Object(params(&request)),
            json!({ "prompt": "a dog" })
        );
    }

    #[test]
    fn negative_seeds_are_real_values() {
        let request = request(json!({ "id": 3, "status": "queued", "seed": -1 }));
        assert_eq!(Value::Object(params(&request)), json!({ "seed": -1 }));
    }

    #[test]
    fn the_reference_is_the_id_or_the_uuid() {
        let request = request(json!({ "id": 7, "status": "queued", "uuid": "u-1" }));
        assert_eq!(
            request_reference(&request, SendIdAs::Id, "uuid").as_deref(),
            Some("7")
        );
        assert_eq!(
            request_reference(&request, SendIdAs::Uuid, "uuid").as_deref(),
            Some("u-1")
        );
        assert_eq!(request_reference(&request, SendIdAs::Uuid, "x_uuid"), None);
    }

    #[test]
    fn the_payload_serializes_the_token_but_debug_hides_it() {
        let payload = InitiationPayload {
            ai_generation_request_id: "7".into(),
            params: Map::new(),
            odoo_callback_url: "https://b.example/cb".into(),
            security_token: SecretString::from("tok-123".to_owned()),
        };
        let value = serde_json::to_value(&payload).unwrap();
        assert_eq!(value["security_token"], "tok-123");
        assert!(!format!("{payload:?}").contains("tok-123"));
    }
}
