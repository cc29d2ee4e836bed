//! `execute_kw`'s positional arguments as the keyword arguments of `/json/2`,
//! whose body is one object keyed by the method's Python parameter names
//! (Odoo 19's signatures, and the companion addon's), plus `ids` and
//! `context`.
//!
//! What must stay true:
//! - a record method always gets `ids`: called without, Odoo runs it on an
//!   empty recordset and answers success (`write` → `true`, nothing written);
//! - a method missing from [`SIGNATURES`] is refused before anything is
//!   sent, rather than guessed at;
//! - arguments are serialized once and copied once into the body, as raw
//!   JSON: an attachment's base64 `datas` is never parsed into a tree.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

use super::OdooError;
use super::transport::bounded_json;

/// Every method the bridge calls, with its positional parameter names in
/// order. A record method's first is `ids` (an `@api.model` method refuses
/// `ids` with a 422).
pub const SIGNATURES: &[(&str, &[&str])] = &[
    ("create", &["vals_list"]),
    ("search", &["domain", "offset", "limit", "order"]),
    (
        "search_read",
        &["domain", "fields", "offset", "limit", "order"],
    ),
    ("search_count", &["domain", "limit"]),
    ("fields_get", &["allfields", "attributes"]),
    ("check_access_rights", &["operation", "raise_exception"]),
    ("context_get", &[]),
    ("read", &["ids", "fields", "load"]),
    ("write", &["ids", "vals"]),
    ("unlink", &["ids"]),
    ("has_access", &["ids", "operation"]),
    ("web_save", &["ids", "vals", "specification", "next_id"]),
    // Every other parameter of message_post is keyword-only.
    ("message_post", &["ids"]),
    // The companion addon.
    ("bridge_protocol", &[]),
    ("bridge_apply_result", &["reference", "result"]),
    ("bridge_claim_queued", &["limit", "fields"]),
    ("bridge_claim", &["reference", "fields"]),
    (
        "bridge_finish_initiation",
        &["request_id", "outcome", "details"],
    ),
];

/// A ready `/json/2` request body.
#[derive(Debug)]
pub struct Body {
    pub bytes: Vec<u8>,
    /// `create` got one dict: Odoo 19 answers `[id]` where `/jsonrpc`
    /// answers `id`, so the caller unwraps the list.
    pub single_create: bool,
}

/// Builds the body of `model.method(*args, **kwargs)`.
pub fn body<A, K>(model: &str, method: &str, args: &A, kwargs: &K) -> Result<Body, OdooError>
where
    A: Serialize + ?Sized,
    K: Serialize + ?Sized,
{
    let unsupported = |why: &str| OdooError::Unsupported(format!("{model}.{method}: {why}"));
    let Some(&(_, params)) = SIGNATURES.iter().find(|(name, _)| *name == method) else {
        return Err(unsupported(
            "its /json/2 parameter names are unknown to the bridge",
        ));
    };
    let args_json = bounded_json(args)?;
    let kwargs_json = bounded_json(kwargs)?;
    let positional: Vec<&RawValue> = serde_json::from_slice(&args_json)
        .map_err(|_| unsupported("the positional arguments are not a list"))?;
    let keywords: BTreeMap<String, &RawValue> = match &kwargs_json[..] {
        b"null" => BTreeMap::new(),
        json => serde_json::from_slice(json)
            .map_err(|_| unsupported("the keyword arguments are not an object"))?,
    };
    if params.first() == Some(&"ids") && positional.is_empty() {
        return Err(unsupported("a record method needs the record ids first"));
    }
    let (given, takes) = (positional.len(), params.len());
    if given > takes {
        return Err(unsupported(&format!(
            "{given} positional arguments given, it takes {takes}"
        )));
    }
    let mut named: BTreeMap<&str, &RawValue> = params.iter().copied().zip(positional).collect();
    for (name, value) in &keywords {
        if named.insert(name, value).is_some() {
            return Err(unsupported(&format!("`{name}` is given twice")));
        }
    }
    let vals = named.get("vals_list").map(|vals| vals.get());
    let single_create = method == "create" && vals.is_some_and(|vals| vals.starts_with('{'));
    // Raw values are copied as they are: nothing is parsed again.
    let bytes = bounded_json(&named)?;
    Ok(Body {
        bytes,
        single_create,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn json_body(method: &str, args: Value, kwargs: Value) -> Value {
        let body = body("m", method, &args, &kwargs).unwrap();
        serde_json::from_slice(&body.bytes).unwrap()
    }

    #[test]
    fn the_bridges_calls_become_the_recorded_bodies() {
        // Transcripts 10, 12, 13, 16, 19, 21, 24 and 41 of ../shared/odoo19/json2.
        assert_eq!(
            json_body("create", json!([{"prompt": "p"}]), json!({})),
            json!({"vals_list": {"prompt": "p"}})
        );
        assert_eq!(
            json_body(
                "search_read",
                json!([[["status", "in", ["queued"]]]]),
                json!({"fields": ["id"], "limit": 2, "order": "id desc"})
            ),
            json!({"domain": [["status", "in", ["queued"]]], "fields": ["id"], "limit": 2, "order": "id desc"})
        );
        assert_eq!(
            json_body("read", json!([[1], ["status"]]), json!({})),
            json!({"ids": [1], "fields": ["status"]})
        );
        assert_eq!(
            json_body("read", json!([[1]]), json!({"fields": ["status"]})),
            json!({"ids": [1], "fields": ["status"]})
        );
        assert_eq!(
            json_body("write", json!([[1], {"status": "processing"}]), json!({})),
            json!({"ids": [1], "vals": {"status": "processing"}})
        );
        assert_eq!(
            json_body(
                "web_save",
                json!([[], {"seed": 7}]),
                json!({"specification": {"checksum": {}}})
            ),
            json!({"ids": [], "vals": {"seed": 7}, "specification": {"checksum": {}}})
        );
        assert_eq!(
            json_body(
                "message_post",
                json!([[1]]),
                json!({"body": "b", "message_type": "comment", "context": {"lang": "en_US"}})
            ),
            json!({"ids": [1], "body": "b", "message_type": "comment", "context": {"lang": "en_US"}})
        );
        assert_eq!(
            json_body("fields_get", json!([]), json!({"attributes": ["type"]})),
            json!({"attributes": ["type"]})
        );
        assert_eq!(
            json_body("has_access", json!([[3], "write"]), json!({})),
            json!({"ids": [3], "operation": "write"})
        );
        assert_eq!(
            json_body(
                "check_access_rights",
                json!(["write"]),
                json!({"raise_exception": false})
            ),
            json!({"operation": "write", "raise_exception": false})
        );
    }

    #[test]
    fn the_companion_methods_take_the_contracts_names() {
        assert_eq!(
            json_body(
                "bridge_apply_result",
                json!([{"field": "id", "value": 42}, {"kind": "failure"}]),
                json!({})
            ),
            json!({"reference": {"field": "id", "value": 42}, "result": {"kind": "failure"}})
        );
        assert_eq!(
            json_body("bridge_claim_queued", json!([10, ["id"]]), json!({})),
            json!({"limit": 10, "fields": ["id"]})
        );
        assert_eq!(
            json_body(
                "bridge_finish_initiation",
                json!([7, "sent", ""]),
                json!({})
            ),
            json!({"request_id": 7, "outcome": "sent", "details": ""})
        );
        assert_eq!(
            json_body("bridge_protocol", json!([]), json!({})),
            json!({})
        );
    }

    #[test]
    fn a_record_method_is_never_sent_without_ids() {
        let error = body("m", "write", &json!([]), &json!({"vals": {}})).unwrap_err();
        assert!(matches!(error, OdooError::Unsupported(_)), "{error}");
        assert!(error.to_string().contains("record ids"), "{error}");
    }

    #[test]
    fn unknown_methods_and_bad_arguments_are_refused_before_sending() {
        for (method, args, kwargs) in [
            ("frobnicate", json!([]), json!({})),
            ("search", json!([[], 0, 10, "id", "extra"]), json!({})),
            ("search", json!([[]]), json!({"domain": []})),
            ("search", json!({"domain": []}), json!({})),
            ("search", json!([[]]), json!([1])),
        ] {
            let error = body("m", method, &args, &kwargs).unwrap_err();
            assert!(
                matches!(error, OdooError::Unsupported(_)),
                "{method}: {error}"
            );
            assert!(!error.is_transient());
        }
    }

    #[test]
    fn only_create_with_one_dict_is_unwrapped() {
        let one = body("m", "create", &json!([{"a": 1}]), &json!({})).unwrap();
        let many = body("m", "create", &json!([[{"a": 1}]]), &json!({})).unwrap();
        let named = body("m", "create", &json!([]), &json!({"vals_list": {"a": 1}})).unwrap();
        assert!(one.single_create && named.single_create && !many.single_create);
    }

    #[test]
    fn large_values_are_copied_verbatim() {
        let datas = "QUJD".repeat(100_000);
        let vals = json!({"name": "x\"y", "datas": datas});
        let body = body("ir.attachment", "create", &(&vals,), &json!({})).unwrap();
        let parsed: Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(parsed["vals_list"], vals);
        assert!(body.bytes.len() < datas.len() + 100);
    }
}
