//! Decoding Odoo's field values, which are not plain JSON types.
//!
//! Odoo answers `false` for every unset field whatever its type (a string, a
//! many2one, a date), many2one values as `[id, "display name"]` in `read`
//! but as a bare id in webhook payloads, and never `null`. These helpers turn
//! all of that into `Option`s without panicking on a surprise.

use serde::{Deserialize, Deserializer};

/// A many2one value, of which the bridge needs only the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Many2one {
    pub id: i64,
}

impl<'de> Deserialize<'de> for Many2one {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Pair(i64, serde::de::IgnoredAny),
            Id(i64),
        }
        let (Wire::Pair(id, _) | Wire::Id(id)) = Wire::deserialize(deserializer)?;
        Ok(Self { id })
    }
}

/// A field Odoo reports as `false` (or `null`) when unset; use with
/// `#[serde(default, deserialize_with = "false_as_none")]`.
pub fn false_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Field<T> {
        Set(T),
        Unset(bool),
        Null(()),
    }
    match Field::<T>::deserialize(deserializer)? {
        Field::Set(value) => Ok(Some(value)),
        Field::Unset(false) | Field::Null(()) => Ok(None),
        Field::Unset(true) => Err(serde::de::Error::custom(
            "expected a value or false, found true",
        )),
    }
}

/// Like [`false_as_none`], and an empty or blank string also counts as unset.
pub fn blank_as_none<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value: Option<String> = false_as_none(deserializer)?;
    Ok(value.filter(|s| !s.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Row {
        #[serde(default, deserialize_with = "false_as_none")]
        name: Option<String>,
        #[serde(default, deserialize_with = "false_as_none")]
        partner: Option<Many2one>,
        #[serde(default, deserialize_with = "false_as_none")]
        seed: Option<i64>,
        #[serde(default, deserialize_with = "blank_as_none")]
        note: Option<String>,
    }

    fn row(json: &str) -> Row {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn false_null_and_absent_are_unset() {
        let r = row(r#"{"name": false, "partner": false, "seed": null}"#);
        assert_eq!(
            (r.name, r.partner, r.seed, r.note),
            (None, None, None, None)
        );
    }

    #[test]
    fn values_come_through() {
        let r = row(r#"{"name": "x", "partner": [3, "Acme"], "seed": 42, "note": "hi"}"#);
        assert_eq!(r.name.as_deref(), Some("x"));
        assert_eq!(r.partner, Some(Many2one { id: 3 }));
        assert_eq!(r.seed, Some(42));
        assert_eq!(r.note.as_deref(), Some("hi"));
    }

    #[test]
    fn many2one_as_bare_id_from_webhooks() {
        let r = row(r#"{"partner": 7}"#);
        assert_eq!(r.partner, Some(Many2one { id: 7 }));
    }

    #[test]
    fn blank_strings_are_unset_where_asked() {
        assert_eq!(row(r#"{"note": "  "}"#).note, None);
    }

    #[test]
    fn surprises_are_errors_not_panics() {
        assert!(serde_json::from_str::<Row>(r#"{"name": true}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"partner": "x"}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"seed": [1]}"#).is_err());
    }
}
