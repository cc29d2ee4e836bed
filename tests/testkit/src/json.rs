//! JSON output as Odoo writes it.
//!
//! Odoo answers with Python's `json.dumps(..., ensure_ascii=False)`: `", "` and `": "` separators
//! and dict keys in insertion order. [`Ordered`] keeps the key order of `read` rows and
//! `fields_get` (without turning on serde_json's `preserve_order` for the whole build), and
//! [`to_python_string`] writes with Python's separators.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// A JSON object whose keys keep the order they were pushed in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ordered(pub Vec<(String, Reply)>);

impl Ordered {
    /// Appends a key.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<Reply>) {
        self.0.push((key.into(), value.into()));
    }

    /// Converts to a plain (unordered) `serde_json::Value` object.
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect(),
        )
    }
}

/// The value a model method returns: Python `None` (no `result` key), or JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Python `None`: the JSON-RPC response has no `result` key.
    None,
    Value(Value),
    Object(Ordered),
    List(Vec<Reply>),
}

impl Reply {
    /// The reply as a `serde_json::Value` (`None` becomes `null`).
    pub fn to_value(&self) -> Value {
        match self {
            Reply::None => Value::Null,
            Reply::Value(v) => v.clone(),
            Reply::Object(o) => o.to_value(),
            Reply::List(items) => Value::Array(items.iter().map(Reply::to_value).collect()),
        }
    }
}

impl From<Value> for Reply {
    fn from(v: Value) -> Self {
        Reply::Value(v)
    }
}

impl From<Ordered> for Reply {
    fn from(o: Ordered) -> Self {
        Reply::Object(o)
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Reply::None => s.serialize_none(),
            Reply::Value(v) => v.serialize(s),
            Reply::Object(o) => o.serialize(s),
            Reply::List(items) => items.serialize(s),
        }
    }
}

/// serde_json formatter with Python's default separators.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Serializes like Python's `json.dumps(value, ensure_ascii=False)`.
pub fn to_python_string<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    if value.serialize(&mut ser).is_err() {
        return "null".into();
    }
    String::from_utf8(out).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_separators_and_order() {
        let mut o = Ordered::default();
        o.push("id", json!(1));
        o.push("b", json!([1, 2.5]));
        o.push("a", json!(false));
        assert_eq!(
            to_python_string(&o),
            r#"{"id": 1, "b": [1, 2.5], "a": false}"#
        );
    }
}
