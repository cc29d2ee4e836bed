//! Which protocol the bridge speaks toward Odoo: the companion addon's
//! one-call-per-unit methods, or generic ORM calls.
//!
//! The addon (`examples/odoo/influence_gen_bridge`) answers
//! `bridge_protocol()` with its name, version and capabilities. `odoo.protocol`
//! decides: `generic` never asks, `auto` takes a usable addon else generic,
//! `companion` the addon or [`OdooError::CompanionUnavailable`]. An
//! `AccessError` is never taken for an absent addon: falling back would
//! mix protocols between bridges of one database.

use serde::Deserialize;
use serde_json::json;

use super::{OdooClient, OdooError, ServerErrorKind};
use crate::config::ProtocolMode;

/// The addon method that describes the protocol.
pub const PROTOCOL_METHOD: &str = "bridge_protocol";
/// The name `bridge_protocol()` answers with.
pub const COMPANION_NAME: &str = "influence_gen_bridge";
/// The protocol version this bridge speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Capabilities this bridge uses; an addon must offer all of them.
pub const REQUIRED_CAPABILITIES: &[&str] = &["apply_result", "claim", "finish_initiation"];

/// The protocol in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The companion addon: Odoo applies each unit of work in one
    /// transaction under a row lock.
    Companion { version: u32 },
    /// Plain `search`/`create`/`write`: exactly-once rests on the bridge.
    Generic,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Companion { version } => write!(f, "companion (protocol version {version})"),
            Self::Generic => f.write_str("generic"),
        }
    }
}

/// What `bridge_protocol()` answered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CompanionInfo {
    pub name: String,
    pub version: u32,
    /// The addon's manifest version, e.g. `1.0.0`.
    #[serde(default, deserialize_with = "super::value::blank_as_none")]
    pub module_version: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

impl CompanionInfo {
    /// Why this bridge cannot use the addon, if it cannot.
    pub fn unusable_because(&self) -> Option<String> {
        let (version, name) = (self.version, &self.name);
        let missing: Vec<&str> = (REQUIRED_CAPABILITIES.iter().copied())
            .filter(|needed| !self.capabilities.iter().any(|c| c == needed))
            .collect();
        let why = if *name != COMPANION_NAME {
            format!("{PROTOCOL_METHOD}() names `{name}`, not `{COMPANION_NAME}`")
        } else if version != PROTOCOL_VERSION {
            format!("the addon speaks protocol version {version}, this bridge {PROTOCOL_VERSION}")
        } else if !missing.is_empty() {
            format!("the addon lacks the capabilities {}", missing.join(", "))
        } else {
            return None;
        };
        Some(why)
    }
}

/// What asking Odoo found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    /// The addon answered (usable or not: see [`CompanionInfo::unusable_because`]).
    Companion(CompanionInfo),
    /// The method does not exist: no addon.
    Absent,
}

/// Asks Odoo for `bridge_protocol()` on `request_model`. Transport errors and
/// refusals (`AccessError`) are returned; only "no such method" is absence.
pub async fn detect(odoo: &OdooClient, request_model: &str) -> Result<Detection, OdooError> {
    let answer = (odoo.execute_kw(request_model, PROTOCOL_METHOD, &json!([]), &json!({}))).await;
    match answer {
        Ok(value) => serde_json::from_value(value.unwrap_or_default())
            .map(Detection::Companion)
            .map_err(|e| OdooError::InvalidResponse(format!("{PROTOCOL_METHOD}() answered {e}"))),
        Err(error) if error.server_kind() == Some(ServerErrorKind::NoSuchMethod) => {
            Ok(Detection::Absent)
        }
        Err(error) => Err(error),
    }
}

/// The protocol `mode` allows for what was detected.
pub fn choose(mode: ProtocolMode, detection: &Detection) -> Result<Protocol, OdooError> {
    match (fallback_reason(detection), detection) {
        (None, Detection::Companion(info)) => Ok(Protocol::Companion {
            version: info.version,
        }),
        (Some(problem), _) if mode == ProtocolMode::Companion => {
            Err(OdooError::CompanionUnavailable(problem))
        }
        _ => Ok(Protocol::Generic),
    }
}

/// Why the addon cannot be used, if it cannot (`auto` logs it once).
pub fn fallback_reason(detection: &Detection) -> Option<String> {
    match detection {
        Detection::Companion(info) => info.unusable_because(),
        Detection::Absent => Some(format!(
            "the companion addon `{COMPANION_NAME}` is not installed (no {PROTOCOL_METHOD}())"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(value: serde_json::Value) -> CompanionInfo {
        serde_json::from_value(value).unwrap()
    }

    fn contract_answer() -> CompanionInfo {
        info(json!({
            "name": "influence_gen_bridge",
            "version": 1,
            "module_version": "1.0.0",
            "capabilities": ["apply_result", "claim", "finish_initiation"],
        }))
    }

    #[test]
    fn the_contract_answer_is_companion_version_1() {
        let detection = Detection::Companion(contract_answer());
        for mode in [ProtocolMode::Auto, ProtocolMode::Companion] {
            assert_eq!(
                choose(mode, &detection).unwrap(),
                Protocol::Companion { version: 1 }
            );
        }
        assert_eq!(contract_answer().module_version.as_deref(), Some("1.0.0"));
    }

    #[test]
    fn no_addon_is_generic_in_auto_and_an_error_in_companion() {
        assert_eq!(
            choose(ProtocolMode::Auto, &Detection::Absent).unwrap(),
            Protocol::Generic
        );
        let error = choose(ProtocolMode::Companion, &Detection::Absent).unwrap_err();
        assert!(matches!(error, OdooError::CompanionUnavailable(_)));
        assert!(error.to_string().contains("not installed"), "{error}");
    }

    #[test]
    fn an_addon_this_bridge_cannot_use_is_refused_by_companion_mode() {
        let mut newer = contract_answer();
        newer.version = 2;
        let mut partial = contract_answer();
        partial.capabilities = vec!["apply_result".into()];
        let mut other = contract_answer();
        other.name = "something_else".into();
        for (unusable, says) in [
            (newer, "version 2"),
            (partial, "claim, finish_initiation"),
            (other, "something_else"),
        ] {
            let reason = unusable.unusable_because().expect("unusable");
            assert!(reason.contains(says), "{reason}");
            let detection = Detection::Companion(unusable);
            assert_eq!(
                choose(ProtocolMode::Auto, &detection).unwrap(),
                Protocol::Generic
            );
            assert!(choose(ProtocolMode::Companion, &detection).is_err());
        }
    }

    #[test]
    fn odoo_false_for_the_module_version_is_none() {
        let answer = info(json!({
            "name": "influence_gen_bridge", "version": 1, "module_version": false,
            "capabilities": ["apply_result", "claim", "finish_initiation"],
        }));
        assert_eq!(answer.module_version, None);
        assert_eq!(answer.unusable_because(), None);
    }
}
