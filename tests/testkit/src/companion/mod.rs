//! The companion addon `influence_gen_bridge` (`examples/odoo/influence_gen_bridge`): its five
//! public methods on `influence_gen.ai_image_request`, with the real addon's answers, decisions
//! and error texts, so the fast suite can run the bridge's companion protocol.
//!
//! Off by default, as on an Odoo where nobody installed the addon: the methods then "do not
//! exist" (`AttributeError: The method 'influence_gen.ai_image_request.bridge_protocol' does not
//! exist`, exactly what real Odoo answers). On with
//! [`crate::EmulatorConfig::with_companion_addon`] or [`crate::OdooEmulator::install_companion_addon`].
//!
//! What must stay true (checked against the real addon by `tests/it/live_companion.rs`):
//! * arguments are bound like Python binds them (`TypeError` texts), then the caller must be in
//!   the bridge group ([`crate::access::BRIDGE_GROUP_ID`]) or gets an `AccessError`;
//! * each call is atomic (the emulator applies a call under its database mutex) and holds its
//!   request's row lock from its start to its end ([`locks`]);
//! * the rules are the bridge's generic pipeline's (`src/pipeline/mod.rs`).
//!
//! Parts: [`args`] (argument checks), [`apply`] (`bridge_apply_result`), [`claim`] (the claims
//! and `bridge_finish_initiation`), [`locks`] (row locks), [`scenarios`] (one scenario list for
//! the emulator and a real Odoo, compared by `tests/it/live_companion.rs`).

pub mod apply;
pub mod args;
pub mod claim;
pub mod locks;
pub mod scenarios;

use serde_json::{Map, Value, json};

use crate::catalog::REQUEST;
use crate::errors::{OdooError, OdooResult};
use crate::json::Reply;
use crate::mail::PostArgs;
use crate::orm::Env;
use crate::orm::search::{SearchSpec, search};
use crate::pyargs::{Sig, bind};
use crate::store::Db;

use args::Reference;

/// The addon's public methods.
pub const METHODS: &[&str] = &[
    "bridge_protocol",
    "bridge_apply_result",
    "bridge_claim_queued",
    "bridge_claim",
    "bridge_finish_initiation",
];

/// The group whose members may call them (its external id, as the error message names it).
pub const BRIDGE_GROUP: &str = "influence_gen_base_models.group_influence_gen_bridge";
/// `bridge_protocol()["version"]`.
pub const PROTOCOL_VERSION: i64 = 1;
/// The manifest version (`1.0.0`) as Odoo 18 reads it (Odoo 19 reads `19.0.1.0.0`, see
/// [`module_version`]).
pub const MODULE_VERSION: &str = "18.0.1.0.0";

/// The manifest version as the emulated Odoo reads it: its series, then `1.0.0`.
pub fn module_version(db: &Db) -> String {
    format!("{}.0.1.0.0", db.series.major())
}
/// `bridge_protocol()["capabilities"]`.
pub const CAPABILITIES: &[&str] = &["apply_result", "claim", "finish_initiation"];

/// Installs the addon: its methods become callable.
pub fn install(db: &mut Db) {
    if let Some(model) = db.models.get_mut(REQUEST) {
        for method in METHODS {
            if !model.extra_methods.iter().any(|m| m == method) {
                model.extra_methods.push((*method).to_owned());
            }
        }
    }
}

/// Uninstalls it: the methods no longer exist.
pub fn uninstall(db: &mut Db) {
    if let Some(model) = db.models.get_mut(REQUEST) {
        model
            .extra_methods
            .retain(|m| !METHODS.contains(&m.as_str()));
    }
}

/// Whether the addon is installed.
pub fn is_installed(db: &Db) -> bool {
    db.model(REQUEST)
        .is_some_and(|m| m.extra_methods.iter().any(|x| x == METHODS[0]))
}

/// The Python parameters of each method (after `self`).
/// The parameter names of a companion method (COMPANION_CONTRACT.md), in order.
pub fn parameters(method: &str) -> &'static [&'static str] {
    match method {
        "bridge_apply_result" => &["reference", "result"],
        "bridge_claim_queued" => &["limit", "fields"],
        "bridge_claim" => &["reference", "fields"],
        "bridge_finish_initiation" => &["request_id", "outcome", "details"],
        _ => &[],
    }
}

/// `call_kw` of one of [`METHODS`] (already known to be installed and public).
pub fn call(
    db: &mut Db,
    env: &Env,
    method: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> OdooResult<Reply> {
    let names = parameters(method);
    let qual = format!("AiImageRequest.{method}");
    let sig = Sig {
        qual: &qual,
        names,
        required: names.len(),
        kw_only: &[],
        var_kw: false,
        has_self: true,
    };
    let bound = bind(&sig, args, kwargs)?;
    let arg = |i: usize| bound.get(i, Value::Null);
    check_caller(db, env, method)?;
    match method {
        "bridge_protocol" => Ok(Reply::Value(json!({
            "name": "influence_gen_bridge",
            "version": PROTOCOL_VERSION,
            "module_version": module_version(db),
            "capabilities": CAPABILITIES,
        }))),
        "bridge_apply_result" => apply::apply_result(db, env, &arg(0), &arg(1)).map(Reply::Value),
        "bridge_claim_queued" => claim::claim_queued(db, env, &arg(0), &arg(1)),
        "bridge_claim" => claim::claim(db, env, &arg(0), &arg(1)),
        "bridge_finish_initiation" => {
            claim::finish_initiation(db, env, &arg(0), &arg(1), &arg(2)).map(Reply::Value)
        }
        other => Err(OdooError::attribute_error(format!(
            "The method '{REQUEST}.{other}' does not exist"
        ))),
    }
}

/// `_bridge_check_caller`: only members of the bridge group.
fn check_caller(db: &Db, env: &Env, method: &str) -> OdooResult<()> {
    if db.in_bridge_group(env.uid) {
        return Ok(());
    }
    Err(OdooError::access_error(format!(
        "Only members of the group {BRIDGE_GROUP} may call {REQUEST}.{method}."
    ))
    .at("  File \"/srv/addons/influence_gen_bridge/models/ai_image_request.py\", line 195, in _bridge_check_caller\n    raise AccessError("))
}

/// `_bridge_find`: the request a reference names, as the caller may read it.
pub fn find(db: &Db, env: &Env, reference: &Value) -> OdooResult<Option<i64>> {
    let domain = match args::reference(db, reference)? {
        Reference::Impossible => return Ok(None),
        Reference::Id(id) => json!([["id", "=", id]]),
        Reference::Field(field, value) => json!([[field, "=", value]]),
    };
    let spec = SearchSpec {
        domain,
        limit: Some(1),
        order: Some("id".into()),
        ..SearchSpec::default()
    };
    Ok(search(db, env, REQUEST, &spec)?.first().copied())
}

/// A stored value of request `id`.
fn request_value(db: &Db, id: i64, field: &str) -> Value {
    db.row(REQUEST, id)
        .and_then(|r| r.get(field))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The request's status.
fn status(db: &Db, id: i64) -> String {
    request_value(db, id, "status")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `_bridge_note`: an internal note (the real addon's `_message_log`, which needs no sender email
/// and cannot fail the call).
fn note(db: &mut Db, env: &Env, id: i64, body: String) {
    let Some(model) = db.model(REQUEST).cloned() else {
        return;
    };
    let post = PostArgs {
        body: json!(body),
        message_type: json!("comment"),
        subtype_xmlid: json!("mail.mt_note"),
        ..PostArgs::default()
    };
    let _ignored = crate::mail::message_post(db, env, &model, id, post);
}

/// `_first_line`: up to the first `\n`, without a trailing `\r`.
fn first_line(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or(text);
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_like_python() {
        assert_eq!(first_line("boom\r\n\ndetails"), "boom");
        assert_eq!(first_line("one"), "one");
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn install_and_uninstall() {
        let mut db = Db::new("ig", "127.0.0.1", 8069);
        assert!(!is_installed(&db));
        install(&mut db);
        install(&mut db);
        assert!(is_installed(&db));
        let count = db.model(REQUEST).map_or(0, |m| m.extra_methods.len());
        assert_eq!(
            count,
            1 + METHODS.len(),
            "message_post and the five, once each"
        );
        uninstall(&mut db);
        assert!(!is_installed(&db));
    }
}
