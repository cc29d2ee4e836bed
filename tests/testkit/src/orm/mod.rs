//! The emulated ORM: `create`, `write`, `read`, `search`, `unlink`, `fields_get` and access
//! checks, over [`crate::store::Db`], with Odoo's validation order and error texts.
//!
//! * [`read`]: field values (stored and computed), display names, `read` output format.
//! * [`write`]: `create`, `write`, `unlink` with conversions and database constraints.
//! * [`convert`]: input value conversion per field type (`ValueError`s as Odoo raises them).
//! * [`search`]: `search` with domains, `order`, `limit`, `offset`.
//! * [`meta`]: `fields_get`, `default_get`, `name_search`.

pub mod convert;
pub mod meta;
pub mod read;
pub mod search;
pub mod write;

use crate::access::{Op, UserAccess, acl_allows, acl_error, rule_error, rules_allow};
use crate::errors::{OdooError, OdooResult};
use crate::schema::ModelDef;
use crate::store::{ADMIN_UID, Db};

/// Who is calling, as Odoo's `env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    pub uid: i64,
    /// Superuser mode: no ACL nor record rules.
    pub su: bool,
    /// An RPC caller: hidden (uncommitted) records are invisible.
    pub rpc: bool,
    /// The context key `image_no_postprocess`: attachments are stored as given, never resized.
    pub image_no_postprocess: bool,
}

impl Env {
    /// An RPC call by `uid`.
    pub fn rpc(uid: i64) -> Env {
        Env {
            uid,
            su: false,
            rpc: true,
            image_no_postprocess: false,
        }
    }

    /// The test-control API: acts as `admin` in sudo mode and sees hidden records.
    pub fn control() -> Env {
        Env {
            uid: ADMIN_UID,
            su: true,
            rpc: false,
            image_no_postprocess: false,
        }
    }

    /// The same caller with the context `image_no_postprocess=True`.
    pub fn with_image_no_postprocess(self) -> Env {
        Env {
            image_no_postprocess: true,
            ..self
        }
    }
}

/// The model called `name`, or Odoo's "Object X doesn't exist".
pub fn model<'a>(db: &'a Db, name: &str) -> OdooResult<&'a ModelDef> {
    db.model(name).ok_or_else(|| {
        OdooError::user_error(format!("Object {name} doesn't exist")).at(
            "  File \"/srv/odoo/odoo/service/model.py\", line 70, in execute_cr\n    raise UserError(env._(\"Object %s doesn't exist\", obj))",
        )
    })
}

/// The caller's access level.
pub fn access(db: &Db, env: &Env) -> UserAccess {
    if env.su {
        UserAccess::Admin
    } else {
        db.access_of(env.uid)
    }
}

/// `check_access_rights(op)`: the ACL check.
pub fn check_acl(db: &Db, env: &Env, model: &ModelDef, op: Op) -> OdooResult<()> {
    if env.su || acl_allows(access(db, env), model, op) {
        Ok(())
    } else {
        Err(acl_error(model, op))
    }
}

/// Record-rule check for `op` on records of `model`.
pub fn check_rules(db: &Db, env: &Env, model: &ModelDef, op: Op) -> OdooResult<()> {
    if env.su || rules_allow(access(db, env), model, op) {
        Ok(())
    } else {
        Err(rule_error(model, op, &db.user_name(env.uid), env.uid))
    }
}

/// `ir.attachment.check(mode)`: creating, changing or deleting an attachment needs `write`
/// access to the record it is attached to, reading it needs `read`.
pub fn check_attachment_target(
    db: &Db,
    env: &Env,
    res_model: Option<&str>,
    res_id: Option<i64>,
    op: Op,
) -> OdooResult<()> {
    let (Some(res_model), Some(res_id)) = (res_model, res_id) else {
        return Ok(());
    };
    let Some(target) = db.model(res_model) else {
        return Ok(());
    };
    if res_id == 0 || !db.visible(res_model, res_id, env.rpc) {
        return Ok(());
    }
    let mode = if op == Op::Read { Op::Read } else { Op::Write };
    check_acl(db, env, target, mode)?;
    check_rules(db, env, target, mode)
}
