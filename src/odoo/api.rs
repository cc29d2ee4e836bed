//! Which external API of Odoo the bridge speaks.
//!
//! Odoo 16-18 have only the JSON-RPC `/jsonrpc`; Odoo 19 adds `/json/2`
//! (API keys as bearer tokens, keyword arguments, real HTTP statuses) and
//! deprecates `/jsonrpc`, which Odoo 20 removes. A server of major version
//! [`FIRST_JSON2_MAJOR`] or later is spoken to over `/json/2`.

use std::fmt;

use serde_json::Value;

/// The first Odoo major version with `/json/2`.
pub const FIRST_JSON2_MAJOR: u32 = 19;

/// The API a client uses once the choice is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST /jsonrpc`, `object.execute_kw` with a login and a password or key.
    JsonRpc,
    /// `POST /json/2/<model>/<method>` with an API key as bearer token.
    Json2,
}

impl Api {
    /// The API for a server of major version `major` (unknown: the legacy
    /// API every version up to 19 has).
    pub fn for_major(major: Option<u32>) -> Self {
        match major {
            Some(major) if major >= FIRST_JSON2_MAJOR => Self::Json2,
            _ => Self::JsonRpc,
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::JsonRpc => "/jsonrpc",
            Self::Json2 => "/json/2",
        })
    }
}

/// The answer of `common.version`, or of `GET /web/version` (the aliases).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ServerVersion {
    #[serde(alias = "version")]
    pub server_version: String,
    /// `[19, 0, 0, "final", 0, ""]`, or `["saas~18", 3, …]` on SaaS releases.
    #[serde(default, alias = "version_info")]
    pub server_version_info: Vec<Value>,
}

impl ServerVersion {
    /// The major version, from `server_version_info`, else from the text
    /// (`"19.0"`, `"18.0-20250421"`, `"saas~18.3+e"`).
    pub fn major(&self) -> Option<u32> {
        let leading_number = |text: &str| {
            let mut runs = text.split(|c: char| !c.is_ascii_digit());
            runs.find(|run| !run.is_empty())?.parse().ok()
        };
        match self.server_version_info.first() {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Some(Value::String(s)) => leading_number(s),
            _ => leading_number(&self.server_version),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn major_version(info: &[Value], version: &str) -> Option<u32> {
        let server_version = version.to_owned();
        let server_version_info = info.to_vec();
        ServerVersion {
            server_version,
            server_version_info,
        }
        .major()
    }

    #[test]
    fn recorded_versions_give_their_major() {
        // ../shared/odoo19 json2/00 and odoo18 jsonrpc/01.
        assert_eq!(major_version(&[json!(19), json!(0)], "19.0"), Some(19));
        assert_eq!(
            major_version(&[json!(18), json!(0)], "18.0-20250421"),
            Some(18)
        );
        assert_eq!(major_version(&[], "18.0-20250421"), Some(18));
        assert_eq!(
            major_version(&[json!("saas~18"), json!(3)], "saas~18.3"),
            Some(18)
        );
        assert_eq!(major_version(&[], "saas~19.1+e"), Some(19));
        assert_eq!(major_version(&[], "master"), None);
    }

    #[test]
    fn json2_from_19_on() {
        assert_eq!(Api::for_major(Some(18)), Api::JsonRpc);
        assert_eq!(Api::for_major(Some(19)), Api::Json2);
        assert_eq!(Api::for_major(Some(20)), Api::Json2);
        assert_eq!(Api::for_major(None), Api::JsonRpc);
        assert_eq!(Api::Json2.to_string(), "/json/2");
    }
}
