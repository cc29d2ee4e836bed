//! The emulated database: one table per model, id sequences, attachment file store, users'
//! credentials, and the emulator's per-model tweaks (removed methods, hidden records).
//!
//! Rows hold values in "cache format": `null` for NULL, strings for char/text/selection/datetime,
//! numbers, booleans, an id for many2one, a list of ids for many2many. Computed fields are not
//! stored (see `orm::read`). Everything is behind one `std::sync::Mutex` in the emulator.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::access::{BRIDGE_GROUP_ID, GROUPS, UserAccess};
use crate::catalog::builtin_models;
use crate::companion::locks::RowLocks;
use crate::schema::ModelDef;

/// One stored record.
pub type Row = Map<String, Value>;

/// The rows of one model.
#[derive(Debug, Default, Clone)]
pub struct Table {
    /// The next id the sequence gives (PostgreSQL sequences never go back, even on rollback).
    pub next_id: i64,
    pub rows: BTreeMap<i64, Row>,
}

/// What a user logs in with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub password: String,
    pub api_keys: Vec<String>,
    pub access: UserAccess,
}

/// The whole emulated database.
#[derive(Debug)]
pub struct Db {
    /// Name of the single database (`ig`).
    pub database: String,
    /// Host and port shown in `psycopg2.OperationalError` messages.
    pub host: String,
    pub port: u16,
    pub models: BTreeMap<String, ModelDef>,
    pub tables: HashMap<String, Table>,
    /// Attachment id → raw bytes (the file store).
    pub blobs: HashMap<i64, Vec<u8>>,
    pub creds: HashMap<i64, Credentials>,
    /// Records invisible to RPC calls until the given instant (an uncommitted create).
    pub hidden: HashMap<(String, i64), Instant>,
    /// (model, method) pairs that behave as if the method did not exist.
    pub removed_methods: HashSet<(String, String)>,
    /// Which Odoo this database plays.
    pub series: Series,
    /// API key → its expiration (`YYYY-MM-DD HH:MM:SS` UTC); keys not listed never expire.
    pub api_key_expirations: HashMap<String, String>,
    /// Requests locked by companion calls in flight ([`crate::companion::locks`]).
    pub row_locks: RowLocks,
    uuid_state: (RandomState, u64),
}

/// The Odoo release the emulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Series {
    /// Odoo 18: `/jsonrpc` only (transcripts in `tests/fixtures/odoo18`).
    #[default]
    Odoo18,
    /// Odoo 19: `/json/2` with API keys beside the deprecated `/jsonrpc`, `GET /web/version`
    /// (transcripts in `tests/fixtures/odoo19`).
    Odoo19,
}

impl Series {
    /// `server_version` as `common.version` and `/web/version` give it.
    pub fn server_version(self) -> &'static str {
        match self {
            Series::Odoo18 => "18.0-20250421",
            Series::Odoo19 => "19.0",
        }
    }

    /// The major version.
    pub fn major(self) -> i64 {
        match self {
            Series::Odoo18 => 18,
            Series::Odoo19 => 19,
        }
    }
}

/// The superuser (`__system__`, OdooBot).
pub const SUPERUSER_ID: i64 = 1;
/// The `admin` user.
pub const ADMIN_UID: i64 = 2;

impl Db {
    /// An empty database with the built-in models, groups, subtypes, OdooBot and `admin`.
    pub fn new(database: &str, host: &str, port: u16) -> Db {
        let models: BTreeMap<String, ModelDef> = builtin_models()
            .into_iter()
            .map(|m| (m.name.clone(), m))
            .collect();
        let tables = models
            .keys()
            .map(|k| {
                let t = Table {
                    next_id: 1,
                    rows: BTreeMap::new(),
                };
                (k.clone(), t)
            })
            .collect();
        let mut db = Db {
            database: database.into(),
            host: host.into(),
            port,
            models,
            tables,
            blobs: HashMap::new(),
            creds: HashMap::new(),
            hidden: HashMap::new(),
            removed_methods: HashSet::new(),
            series: Series::Odoo18,
            api_key_expirations: HashMap::new(),
            row_locks: RowLocks::default(),
            uuid_state: (RandomState::new(), 0),
        };
        db.seed();
        db
    }

    fn seed(&mut self) {
        let now = crate::time::now();
        for (id, category, name) in GROUPS {
            self.put(
                "res.groups",
                *id,
                json!({"name": name, "full_name": format!("{category} / {name}")}),
                &now,
            );
        }
        for (id, name, company) in [
            (1, "My Company", true),
            (2, "OdooBot", false),
            (3, "Administrator", false),
        ] {
            self.put(
                "res.partner",
                id,
                json!({"name": name, "is_company": company, "active": true}),
                &now,
            );
        }
        for (id, name, internal, seq) in [
            (1, "Discussions", false, 0),
            (2, "Note", true, 100),
            (3, "Activities", false, 90),
        ] {
            self.put(
                "mail.message.subtype",
                id,
                json!({"name": name, "internal": internal, "sequence": seq}),
                &now,
            );
        }
        let admin_groups = UserAccess::Admin.group_ids();
        self.put(
            "res.users",
            SUPERUSER_ID,
            json!({"name": "OdooBot", "login": "__system__", "active": false, "partner_id": 2,
                   "groups_id": admin_groups}),
            &now,
        );
        self.put(
            "res.users",
            ADMIN_UID,
            json!({"name": "Administrator", "login": "admin", "active": true, "partner_id": 3,
                   "groups_id": admin_groups}),
            &now,
        );
        // uids 3-5 are Odoo's public user and user templates, which the emulator leaves out.
        self.table_mut("res.users").next_id = 6;
        self.creds.insert(
            SUPERUSER_ID,
            Credentials {
                password: String::new(),
                api_keys: Vec::new(),
                access: UserAccess::Admin,
            },
        );
        self.creds.insert(
            ADMIN_UID,
            Credentials {
                password: "admin".into(),
                api_keys: Vec::new(),
                access: UserAccess::Admin,
            },
        );
    }

    /// Stores a seed row with log-access fields, bumping the sequence past `id`.
    fn put(&mut self, model: &str, id: i64, vals: Value, now: &str) {
        let mut row = match vals {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        row.insert("create_uid".into(), json!(SUPERUSER_ID));
        row.insert("write_uid".into(), json!(SUPERUSER_ID));
        row.insert("create_date".into(), json!(now));
        row.insert("write_date".into(), json!(now));
        let t = self.table_mut(model);
        t.rows.insert(id, row);
        t.next_id = t.next_id.max(id + 1);
    }

    /// The definition of `model`.
    pub fn model(&self, model: &str) -> Option<&ModelDef> {
        self.models.get(model)
    }

    /// The table of `model` (created empty if the model has none yet).
    pub fn table_mut(&mut self, model: &str) -> &mut Table {
        self.tables
            .entry(model.to_string())
            .or_insert_with(|| Table {
                next_id: 1,
                rows: BTreeMap::new(),
            })
    }

    /// The stored row, hidden or not.
    pub fn row(&self, model: &str, id: i64) -> Option<&Row> {
        self.tables.get(model).and_then(|t| t.rows.get(&id))
    }

    /// Whether the record exists and, for RPC callers, is not hidden.
    pub fn visible(&self, model: &str, id: i64, rpc: bool) -> bool {
        if self.row(model, id).is_none() {
            return false;
        }
        if !rpc {
            return true;
        }
        match self.hidden.get(&(model.to_string(), id)) {
            Some(until) => Instant::now() >= *until,
            None => true,
        }
    }

    /// Ids of all records of `model`, visible to the caller, ascending.
    pub fn ids(&self, model: &str, rpc: bool) -> Vec<i64> {
        self.tables
            .get(model)
            .map(|t| {
                t.rows
                    .keys()
                    .copied()
                    .filter(|id| self.visible(model, *id, rpc))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes the next value of the model's id sequence.
    pub fn next_id(&mut self, model: &str) -> i64 {
        let t = self.table_mut(model);
        let id = t.next_id;
        t.next_id += 1;
        id
    }

    /// A fresh random version-4 UUID (not cryptographic; test data only).
    pub fn new_uuid(&mut self) -> String {
        let (state, counter) = &mut self.uuid_state;
        let mut word = |salt: u64| {
            *counter += 1;
            let mut h = state.build_hasher();
            h.write_u64(*counter);
            h.write_u64(salt);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            h.finish()
        };
        let hi = word(0x5151);
        let lo = word(0xa3a3);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// `ir.config_parameter` value of `key`.
    pub fn param(&self, key: &str) -> Option<String> {
        self.tables.get("ir.config_parameter").and_then(|t| {
            t.rows.values().find_map(|r| {
                (r.get("key").and_then(Value::as_str) == Some(key))
                    .then(|| r.get("value").and_then(Value::as_str).map(str::to_string))
                    .flatten()
            })
        })
    }

    /// The user's name (for record-rule messages).
    pub fn user_name(&self, uid: i64) -> String {
        self.row("res.users", uid)
            .and_then(|r| r.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// The user's partner id.
    pub fn user_partner(&self, uid: i64) -> Option<i64> {
        self.row("res.users", uid)
            .and_then(|r| r.get("partner_id"))
            .and_then(Value::as_i64)
    }

    /// The user's access level (`NoAccess` for unknown users).
    pub fn access_of(&self, uid: i64) -> UserAccess {
        self.creds
            .get(&uid)
            .map_or(UserAccess::NoAccess, |c| c.access)
    }

    /// Whether the user is in the group InfluenceGen Bridge (its `groups_id`).
    pub fn in_bridge_group(&self, uid: i64) -> bool {
        self.row("res.users", uid)
            .and_then(|r| r.get("groups_id"))
            .and_then(Value::as_array)
            .is_some_and(|groups| groups.iter().any(|g| g.as_i64() == Some(BRIDGE_GROUP_ID)))
    }

    /// The uid of an active user called `login`.
    pub fn uid_of_login(&self, login: &str) -> Option<i64> {
        self.tables.get("res.users").and_then(|t| {
            t.rows.iter().find_map(|(id, r)| {
                (r.get("login").and_then(Value::as_str) == Some(login)
                    && r.get("active").and_then(Value::as_bool) == Some(true))
                .then_some(*id)
            })
        })
    }

    /// The active user an unexpired API key belongs to (`/json/2`'s bearer check; a password is
    /// never a key).
    pub fn uid_of_api_key(&self, key: &str) -> Option<i64> {
        if let Some(expiry) = self.api_key_expirations.get(key)
            && *expiry <= crate::time::now()
        {
            return None;
        }
        let (uid, _) = self
            .creds
            .iter()
            .find(|(_, c)| c.api_keys.iter().any(|k| k == key))?;
        let active = self
            .row("res.users", *uid)
            .and_then(|r| r.get("active"))
            .and_then(Value::as_bool)
            == Some(true);
        active.then_some(*uid)
    }

    /// Checks a password or API key for `uid` (active users only).
    pub fn check_credentials(&self, uid: i64, secret: &str) -> bool {
        let active = self
            .row("res.users", uid)
            .and_then(|r| r.get("active"))
            .and_then(Value::as_bool)
            == Some(true);
        active
            && self.creds.get(&uid).is_some_and(|c| {
                (!c.password.is_empty() && c.password == secret)
                    || c.api_keys.iter().any(|k| k == secret)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_distinct() {
        let mut db = Db::new("ig", "127.0.0.1", 8069);
        let a = db.new_uuid();
        let b = db.new_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn admin_logs_in_with_password_only() {
        let db = Db::new("ig", "127.0.0.1", 8069);
        assert_eq!(db.uid_of_login("admin"), Some(2));
        assert!(db.check_credentials(2, "admin"));
        assert!(!db.check_credentials(2, "nope"));
        assert!(!db.check_credentials(1, ""));
    }
}
