//! Model and field definitions (the emulator's `ir.model` / `ir.model.fields`).
//!
//! A [`ModelDef`] lists its fields in the order Odoo's `fields_get` returns them, plus the few
//! class attributes the ORM needs: description (used in error messages), `_order`, `_rec_name`,
//! whether it inherits `mail.thread`, SQL unique constraints and which fields are tracked. The
//! concrete models live in [`crate::catalog`].

use serde_json::{Map, Value, json};

/// The type of a field, with its comodel or selection where it has one.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    Char,
    Text,
    Html,
    Integer,
    Float,
    Boolean,
    Selection(Vec<(String, String)>),
    Many2one(String),
    /// comodel, inverse field
    One2many(String, String),
    Many2many(String),
    Datetime,
    Date,
    Binary,
}

impl FieldType {
    /// Odoo's `type` string.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Char => "char",
            FieldType::Text => "text",
            FieldType::Html => "html",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Boolean => "boolean",
            FieldType::Selection(_) => "selection",
            FieldType::Many2one(_) => "many2one",
            FieldType::One2many(..) => "one2many",
            FieldType::Many2many(_) => "many2many",
            FieldType::Datetime => "datetime",
            FieldType::Date => "date",
            FieldType::Binary => "binary",
        }
    }

    /// The comodel of a relational field.
    pub fn relation(&self) -> Option<&str> {
        match self {
            FieldType::Many2one(m) | FieldType::One2many(m, _) | FieldType::Many2many(m) => Some(m),
            _ => None,
        }
    }

    /// Whether the field holds a list of ids.
    pub fn is_x2many(&self) -> bool {
        matches!(self, FieldType::One2many(..) | FieldType::Many2many(_))
    }
}

/// How a field gets its value when `create` does not give one.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    None,
    Value(Value),
    /// The calling user's id.
    CurrentUser,
    /// A fresh version-4 UUID.
    Uuid,
}

/// One field of a model.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: String,
    /// Label (`string`), used in `fields_get` and in NOT NULL error messages.
    pub string: String,
    pub ftype: FieldType,
    /// NOT NULL in the database.
    pub required: bool,
    pub readonly: bool,
    /// Stored column (false for computed fields: their value comes from `orm::read`).
    pub store: bool,
    pub default: DefaultValue,
    /// `tracking=True`: changes are logged in the chatter.
    pub tracked: bool,
    pub help: Option<String>,
}

impl FieldDef {
    /// A stored, optional, writable field.
    pub fn new(name: &str, string: &str, ftype: FieldType) -> Self {
        FieldDef {
            name: name.into(),
            string: string.into(),
            ftype,
            required: false,
            readonly: false,
            store: true,
            default: DefaultValue::None,
            tracked: false,
            help: None,
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn readonly(mut self) -> Self {
        self.readonly = true;
        self
    }
    /// A computed, non-stored, read-only field.
    pub fn computed(mut self) -> Self {
        self.store = false;
        self.readonly = true;
        self
    }
    pub fn default(mut self, d: DefaultValue) -> Self {
        self.default = d;
        self
    }
    pub fn tracked(mut self) -> Self {
        self.tracked = true;
        self
    }
    pub fn help(mut self, h: &str) -> Self {
        self.help = Some(h.into());
        self
    }

    /// The full `fields_get` description of this field (attribute keys in alphabetical order).
    pub fn description(&self) -> Map<String, Value> {
        let mut d = Map::new();
        d.insert("change_default".into(), json!(false));
        d.insert("company_dependent".into(), json!(false));
        d.insert("depends".into(), json!([]));
        d.insert("exportable".into(), json!(true));
        d.insert(
            "groupable".into(),
            json!(self.store && !self.ftype.is_x2many()),
        );
        d.insert("manual".into(), json!(false));
        d.insert("name".into(), json!(self.name));
        d.insert("readonly".into(), json!(self.readonly));
        d.insert("required".into(), json!(self.required));
        d.insert("searchable".into(), json!(true));
        d.insert(
            "sortable".into(),
            json!(self.store && !self.ftype.is_x2many()),
        );
        d.insert("store".into(), json!(self.store));
        d.insert("string".into(), json!(self.string));
        d.insert("type".into(), json!(self.ftype.name()));
        if let Some(h) = &self.help {
            d.insert("help".into(), json!(h));
        }
        match &self.ftype {
            FieldType::Selection(opts) => {
                let sel: Vec<Value> = opts.iter().map(|(k, l)| json!([k, l])).collect();
                d.insert("selection".into(), Value::Array(sel));
            }
            FieldType::Many2one(m) | FieldType::Many2many(m) => {
                d.insert("relation".into(), json!(m));
                d.insert("domain".into(), json!([]));
                d.insert("context".into(), json!({}));
            }
            FieldType::One2many(m, inv) => {
                d.insert("relation".into(), json!(m));
                d.insert("relation_field".into(), json!(inv));
                d.insert("domain".into(), json!([]));
                d.insert("context".into(), json!({}));
            }
            FieldType::Char | FieldType::Text => {
                d.insert("translate".into(), json!(false));
                d.insert("trim".into(), json!(true));
            }
            FieldType::Html => {
                d.insert("sanitize".into(), json!(true));
                d.insert("translate".into(), json!(false));
            }
            FieldType::Binary => {
                d.insert("attachment".into(), json!(true));
            }
            _ => {}
        }
        if matches!(self.ftype, FieldType::Many2one(_)) {
            d.insert("sortable".into(), json!(true));
        }
        d
    }
}

/// Which built-in access-control list a model uses (see [`crate::access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclKind {
    /// `influence_gen.*`: internal users read/write/create, Settings also delete.
    InfluenceGen,
    /// `ir.attachment`: internal users everything, checked against the attached record.
    Attachment,
    /// Settings only (`ir.config_parameter`, `mail.tracking.value`).
    SystemOnly,
    /// Internal users read; `manager` group everything (`res.partner`, `res.users`, …).
    ReadForUsers { manager: &'static str },
    /// Internal users everything (`mail.message`, `mail.followers`).
    Users,
}

/// One model.
#[derive(Debug, Clone)]
pub struct ModelDef {
    pub name: String,
    /// `_description`, e.g. "AI Image Generation Request".
    pub description: String,
    /// Fields in `fields_get` order (including `id`, `display_name` and the log-access fields).
    pub fields: Vec<FieldDef>,
    /// `_order`.
    pub order: String,
    /// `_rec_name` (display name source); `None` gives `model,id`.
    pub rec_name: Option<String>,
    /// Inherits `mail.thread` (chatter, `message_post`, tracking).
    pub chatter: bool,
    /// SQL unique constraints: (field, message).
    pub unique: Vec<(String, String)>,
    pub acl: AclKind,
    /// Public methods beyond the ORM ones every model has (e.g. `message_post`).
    pub extra_methods: Vec<String>,
}

impl ModelDef {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The database table name (`influence_gen_ai_image_request`).
    pub fn table(&self) -> String {
        self.name.replace('.', "_")
    }
}

/// Helper: a selection type from `(value, label)` pairs.
pub fn selection(opts: &[(&str, &str)]) -> FieldType {
    FieldType::Selection(
        opts.iter()
            .map(|(k, l)| ((*k).to_string(), (*l).to_string()))
            .collect(),
    )
}

/// Helper: a many2one type.
pub fn m2o(model: &str) -> FieldType {
    FieldType::Many2one(model.into())
}

/// The fields every model ends with: `id`, `display_name` and the log-access fields.
pub fn magic_fields() -> Vec<FieldDef> {
    vec![
        FieldDef::new("id", "ID", FieldType::Integer).readonly(),
        FieldDef::new("display_name", "Display Name", FieldType::Char).computed(),
        FieldDef::new("create_uid", "Created by", m2o("res.users")).readonly(),
        FieldDef::new("create_date", "Created on", FieldType::Datetime).readonly(),
        FieldDef::new("write_uid", "Last Updated by", m2o("res.users")).readonly(),
        FieldDef::new("write_date", "Last Updated on", FieldType::Datetime).readonly(),
    ]
}

/// The computed fields `mail.thread` adds in front of a model's own fields.
pub fn mail_thread_fields() -> Vec<FieldDef> {
    let o2m = |m: &str, inv: &str| FieldType::One2many(m.into(), inv.into());
    vec![
        FieldDef::new("message_is_follower", "Is Follower", FieldType::Boolean).computed(),
        FieldDef::new(
            "message_follower_ids",
            "Followers",
            o2m("mail.followers", "res_id"),
        )
        .computed(),
        FieldDef::new(
            "message_partner_ids",
            "Followers (Partners)",
            FieldType::Many2many("res.partner".into()),
        )
        .computed(),
        FieldDef::new("message_ids", "Messages", o2m("mail.message", "res_id")).computed(),
        FieldDef::new("has_message", "Has Message", FieldType::Boolean).computed(),
        FieldDef::new("message_needaction", "Action Needed", FieldType::Boolean).computed(),
        FieldDef::new(
            "message_needaction_counter",
            "Number of Actions",
            FieldType::Integer,
        )
        .computed(),
        FieldDef::new(
            "message_has_error",
            "Message Delivery error",
            FieldType::Boolean,
        )
        .computed(),
        FieldDef::new(
            "message_has_error_counter",
            "Number of errors",
            FieldType::Integer,
        )
        .computed(),
        FieldDef::new(
            "message_attachment_count",
            "Attachment Count",
            FieldType::Integer,
        )
        .computed(),
        FieldDef::new(
            "website_message_ids",
            "Website Messages",
            o2m("mail.message", "res_id"),
        )
        .computed(),
        FieldDef::new(
            "message_has_sms_error",
            "SMS Delivery error",
            FieldType::Boolean,
        )
        .computed(),
    ]
}
