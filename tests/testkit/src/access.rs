//! Users' rights: access-control lists (ACL, `ir.model.access`) and record rules (`ir.rule`).
//!
//! Instead of real groups, each user has a [`UserAccess`] level that stands for a set of groups:
//!
//! | level | groups | influence_gen models | ir.config_parameter |
//! |---|---|---|---|
//! | `Admin` | Internal User, Settings, Access Rights, Contact Creation | everything | everything |
//! | `User` | Internal User | read, write, create (ACL has no delete) | none |
//! | `ReadOnly` | Internal User, InfluenceGen/Read-only | read; a record rule forbids write/create/delete | none |
//! | `NoAccess` | none (portal-like) | none | none |
//!
//! Membership of the bridge group ([`BRIDGE_GROUP_ID`]) is kept apart, in the user's `groups_id`,
//! since it grants nothing the ACL does not: only the companion addon's methods look at it
//! ([`crate::store::Db::in_bridge_group`]).
//!
//! That reproduces the live server: the viewer (transcripts 41-47) passes the ACL for write and
//! create but trips the record rule ("Uh-oh! …"), and has no ACL for unlink ("You are not allowed
//! to delete …"). Error texts are built as Odoo 18 builds them (`ir.model.access._make_access_error`,
//! `ir.rule._make_access_error`).

use crate::errors::OdooError;
use crate::schema::{AclKind, ModelDef};

/// The rights of a user (see the module docs for what each level allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAccess {
    /// Member of `base.group_system` (like `admin`).
    Admin,
    /// Internal user without the InfluenceGen read-only group.
    User,
    /// Internal user in the InfluenceGen read-only group (like the transcripts' `viewer`).
    ReadOnly,
    /// No internal-user group: no ACL grants anything.
    NoAccess,
}

/// An access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Create,
    Unlink,
}

impl Op {
    /// Parses Odoo's operation names.
    pub fn parse(s: &str) -> Option<Op> {
        match s {
            "read" => Some(Op::Read),
            "write" => Some(Op::Write),
            "create" => Some(Op::Create),
            "unlink" => Some(Op::Unlink),
            _ => None,
        }
    }
    /// Odoo's name of the operation.
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Create => "create",
            Op::Unlink => "unlink",
        }
    }
}

/// Group ids of the seeded `res.groups` records: (id, category, name).
pub const GROUPS: &[(i64, &str, &str)] = &[
    (1, "User types", "Internal User"),
    (2, "Administration", "Access Rights"),
    (4, "Administration", "Settings"),
    (7, "Extra Rights", "Contact Creation"),
    (15, "InfluenceGen", "Read-only"),
    (BRIDGE_GROUP_ID, "InfluenceGen", "InfluenceGen Bridge"),
];

/// `influence_gen_base_models.group_influence_gen_bridge`: the bridge's service user. It implies
/// Internal User; the companion addon's methods refuse anyone outside it.
pub const BRIDGE_GROUP_ID: i64 = 16;

const INTERNAL: &str = "User types/Internal User";
const SETTINGS: &str = "Administration/Settings";
const READONLY_GROUP_ID: i64 = 15;

impl UserAccess {
    /// Group labels (`Category/Name`) of this level.
    fn groups(self) -> &'static [&'static str] {
        match self {
            UserAccess::Admin => &[
                INTERNAL,
                SETTINGS,
                "Administration/Access Rights",
                "Extra Rights/Contact Creation",
            ],
            UserAccess::User => &[INTERNAL],
            UserAccess::ReadOnly => &[INTERNAL, "InfluenceGen/Read-only"],
            UserAccess::NoAccess => &[],
        }
    }

    /// The `res.groups` ids of this level (as `groups_id` reads).
    pub fn group_ids(self) -> Vec<i64> {
        let labels = self.groups();
        GROUPS
            .iter()
            .filter(|(_, c, n)| labels.contains(&format!("{c}/{n}").as_str()))
            .map(|(id, ..)| *id)
            .collect()
    }

    /// The level a set of group ids stands for (as `res.users` `create` receives them).
    pub fn from_group_ids(ids: &[i64]) -> UserAccess {
        if ids.contains(&4) || ids.contains(&2) {
            UserAccess::Admin
        } else if ids.contains(&READONLY_GROUP_ID) {
            UserAccess::ReadOnly
        } else if ids.contains(&1) || ids.contains(&BRIDGE_GROUP_ID) {
            UserAccess::User
        } else {
            UserAccess::NoAccess
        }
    }
}

/// ACL rows of a model: (group label, [read, write, create, unlink]).
fn acl_rows(kind: AclKind) -> Vec<(&'static str, [bool; 4])> {
    match kind {
        AclKind::InfluenceGen => vec![(SETTINGS, [true; 4]), (INTERNAL, [true, true, true, false])],
        AclKind::Attachment | AclKind::Users => vec![(INTERNAL, [true; 4])],
        AclKind::SystemOnly => vec![(SETTINGS, [true; 4])],
        AclKind::ReadForUsers { manager } => {
            vec![
                (manager, [true; 4]),
                (INTERNAL, [true, false, false, false]),
            ]
        }
    }
}

fn op_index(op: Op) -> usize {
    match op {
        Op::Read => 0,
        Op::Write => 1,
        Op::Create => 2,
        Op::Unlink => 3,
    }
}

/// Whether the ACL lets `access` do `op` on `model`.
pub fn acl_allows(access: UserAccess, model: &ModelDef, op: Op) -> bool {
    let groups = access.groups();
    acl_rows(model.acl)
        .iter()
        .any(|(g, perms)| perms[op_index(op)] && groups.contains(g))
}

/// Whether record rules let `access` do `op` on records of `model` (the read-only group has a
/// rule that matches no record for write, create and unlink on the influence_gen models).
pub fn rules_allow(access: UserAccess, model: &ModelDef, op: Op) -> bool {
    !(access == UserAccess::ReadOnly && model.acl == AclKind::InfluenceGen && op != Op::Read)
}

/// The ACL error (`ir.model.access._make_access_error`).
pub fn acl_error(model: &ModelDef, op: Op) -> OdooError {
    let header = match op {
        Op::Read => "You are not allowed to access",
        Op::Write => "You are not allowed to modify",
        Op::Create => "You are not allowed to create",
        Op::Unlink => "You are not allowed to delete",
    };
    let mut groups: Vec<&str> = acl_rows(model.acl)
        .into_iter()
        .filter(|(_, p)| p[op_index(op)])
        .map(|(g, _)| g)
        .collect();
    groups.sort_unstable();
    let group_info = if groups.is_empty() {
        "No group currently allows this operation.".to_string()
    } else {
        let list: Vec<String> = groups.iter().map(|g| format!("\t- {g}")).collect();
        format!(
            "This operation is allowed for the following groups:\n{}",
            list.join("\n")
        )
    };
    OdooError::access_error(format!(
        "{header} '{}' ({}) records.\n\n{group_info}\n\nContact your administrator to request access if necessary.",
        model.description, model.name
    ))
}

/// The record-rule error (`ir.rule._make_access_error`, non-debug variant).
pub fn rule_error(model: &ModelDef, op: Op, user_name: &str, uid: i64) -> OdooError {
    OdooError::access_error(format!(
        "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, {user_name} (id={uid}) doesn't have '{}' access to:\n- {} ({})\n\nIf you really, really need access, perhaps you can win over your friendly administrator with a batch of freshly baked cookies.",
        op.name(),
        model.description,
        model.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::builtin_models;

    fn model(name: &str) -> ModelDef {
        builtin_models()
            .into_iter()
            .find(|m| m.name == name)
            .expect("model")
    }

    #[test]
    fn acl_texts_match_odoo() {
        let req = model("influence_gen.ai_image_request");
        assert_eq!(
            acl_error(&req, Op::Unlink).message,
            "You are not allowed to delete 'AI Image Generation Request' (influence_gen.ai_image_request) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Settings\n\nContact your administrator to request access if necessary."
        );
        let icp = model("ir.config_parameter");
        assert!(!acl_allows(UserAccess::ReadOnly, &icp, Op::Read));
        assert!(acl_allows(UserAccess::Admin, &icp, Op::Read));
        assert!(acl_allows(UserAccess::ReadOnly, &req, Op::Write));
        assert!(!rules_allow(UserAccess::ReadOnly, &req, Op::Write));
        assert_eq!(UserAccess::from_group_ids(&[1, 15]), UserAccess::ReadOnly);
    }
}
