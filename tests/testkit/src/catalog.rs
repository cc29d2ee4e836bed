//! The models the emulator knows, with fields as the live Odoo 18 reported them.
//!
//! `influence_gen.ai_image_request` and `influence_gen.generated_image` follow transcripts 17 and
//! 18 field for field (order included). The standard models (`ir.attachment`,
//! `ir.config_parameter`, `mail.*`, `res.*`) carry only the fields a client of this project uses.

use serde_json::json;

use crate::schema::{
    AclKind, DefaultValue, FieldDef, FieldType, ModelDef, m2o, magic_fields, mail_thread_fields,
    selection,
};

/// Model name of AI image requests.
pub const REQUEST: &str = "influence_gen.ai_image_request";
/// Model name of generated images.
pub const IMAGE: &str = "influence_gen.generated_image";
/// Model name of attachments.
pub const ATTACHMENT: &str = "ir.attachment";
/// Model name of API keys (the key itself is not a field: Odoo keeps it in a column of its own).
pub const API_KEYS: &str = "res.users.apikeys";

fn model(name: &str, description: &str, own: Vec<FieldDef>, acl: AclKind) -> ModelDef {
    let mut fields = own;
    fields.extend(magic_fields());
    ModelDef {
        name: name.into(),
        description: description.into(),
        fields,
        order: "id".into(),
        rec_name: None,
        chatter: false,
        unique: Vec::new(),
        acl,
        extra_methods: Vec::new(),
    }
}

fn request() -> ModelDef {
    use FieldType::*;
    let mut own = mail_thread_fields();
    own.extend([
        FieldDef::new("prompt", "Prompt", Text).required(),
        FieldDef::new("negative_prompt", "Negative Prompt", Text),
        FieldDef::new("model_id", "AI Model", Char),
        FieldDef::new("resolution", "Resolution", Char),
        FieldDef::new("aspect_ratio", "Aspect Ratio", Char),
        FieldDef::new("seed", "Seed", Integer),
        FieldDef::new("inference_steps", "Inference Steps", Integer),
        FieldDef::new("cfg_scale", "CFG Scale", Float),
        FieldDef::new(
            "status",
            "Status",
            selection(&[
                ("queued", "Queued"),
                ("processing", "Processing"),
                ("completed", "Completed"),
                ("failed", "Failed"),
                ("initiation_failed", "Initiation Failed"),
            ]),
        )
        .required()
        .tracked()
        .default(DefaultValue::Value(json!("queued"))),
        FieldDef::new("error_details", "Error Details", Text),
        FieldDef::new(
            "generated_image_id",
            "Generated Image",
            m2o(crate::catalog::IMAGE),
        ),
        FieldDef::new("campaign_id", "Campaign", m2o("res.partner")),
        FieldDef::new(
            "intended_use",
            "Intended Use",
            selection(&[("personal", "Personal"), ("campaign", "Campaign")]),
        )
        .default(DefaultValue::Value(json!("personal"))),
        FieldDef::new("user_id", "User", m2o("res.users")).default(DefaultValue::CurrentUser),
        FieldDef::new("uuid", "UUID", Char)
            .readonly()
            .default(DefaultValue::Uuid),
    ]);
    let mut m = model(
        REQUEST,
        "AI Image Generation Request",
        own,
        AclKind::InfluenceGen,
    );
    m.order = "create_date desc, id desc".into();
    m.rec_name = Some("prompt".into());
    m.chatter = true;
    m.unique = vec![("uuid".into(), "The request UUID must be unique.".into())];
    m.extra_methods = vec!["message_post".into()];
    m
}

fn generated_image() -> ModelDef {
    use FieldType::*;
    let own = vec![
        FieldDef::new("request_id", "Request", m2o(REQUEST)),
        FieldDef::new("storage_identifier", "Storage Identifier", Char),
        FieldDef::new(
            "storage_type",
            "Storage Type",
            selection(&[
                ("ir.attachment", "Odoo Attachment"),
                ("external", "External Storage"),
            ]),
        ),
        FieldDef::new("file_format", "File Format", Char),
        FieldDef::new("file_size", "File Size", Integer),
        FieldDef::new("width", "Width", Integer),
        FieldDef::new("height", "Height", Integer),
        FieldDef::new("hash_value", "Hash Value", Char),
        FieldDef::new("retention_category", "Retention Category", Char),
        FieldDef::new("usage_rights", "Usage Rights", Char),
        FieldDef::new("attachment_id", "Attachment", m2o(ATTACHMENT)),
    ];
    let mut m = model(IMAGE, "AI Generated Image", own, AclKind::InfluenceGen);
    m.order = "create_date desc, id desc".into();
    m
}

fn attachment() -> ModelDef {
    use FieldType::*;
    let mut datas = FieldDef::new("datas", "File Content (base64)", Binary);
    datas.store = false; // computed from the file store, with an inverse
    let own = vec![
        FieldDef::new("name", "Name", Char).required(),
        FieldDef::new("description", "Description", Text),
        FieldDef::new("res_name", "Resource Name", Char).computed(),
        FieldDef::new("res_model", "Resource Model", Char),
        FieldDef::new("res_field", "Resource Field", Char),
        FieldDef::new("res_id", "Resource ID", Integer),
        FieldDef::new(
            "type",
            "Type",
            selection(&[("url", "URL"), ("binary", "File")]),
        )
        .required()
        .default(DefaultValue::Value(json!("binary"))),
        FieldDef::new("url", "Url", Char),
        FieldDef::new("public", "Is public document", Boolean),
        FieldDef::new("access_token", "Access Token", Char),
        datas,
        FieldDef::new("store_fname", "Stored Filename", Char).readonly(),
        FieldDef::new("file_size", "File Size", Integer).readonly(),
        FieldDef::new("checksum", "Checksum/SHA1", Char).readonly(),
        FieldDef::new("mimetype", "Mime Type", Char),
    ];
    let mut m = model(ATTACHMENT, "Attachment", own, AclKind::Attachment);
    m.order = "id desc".into();
    m.rec_name = Some("name".into());
    m
}

fn config_parameter() -> ModelDef {
    let own = vec![
        FieldDef::new("key", "Key", FieldType::Char).required(),
        FieldDef::new("value", "Value", FieldType::Text).required(),
    ];
    let mut m = model(
        "ir.config_parameter",
        "System Parameter",
        own,
        AclKind::SystemOnly,
    );
    m.order = "key".into();
    m.rec_name = Some("key".into());
    m.unique = vec![("key".into(), "Key must be unique.".into())];
    m
}

fn mail_message() -> ModelDef {
    use FieldType::*;
    let own = vec![
        FieldDef::new("subject", "Subject", Char),
        FieldDef::new("date", "Date", Datetime),
        FieldDef::new("body", "Contents", Html),
        FieldDef::new(
            "attachment_ids",
            "Attachments",
            Many2many(ATTACHMENT.into()),
        ),
        FieldDef::new("parent_id", "Parent Message", m2o("mail.message")),
        FieldDef::new("model", "Related Document Model", Char),
        FieldDef::new("res_id", "Related Document ID", Integer),
        FieldDef::new("record_name", "Message Record Name", Char),
        FieldDef::new(
            "message_type",
            "Type",
            selection(&[
                ("email", "Incoming Email"),
                ("comment", "Comment"),
                ("email_outgoing", "Outgoing Email"),
                ("notification", "System notification"),
                ("auto_comment", "Automated Targeted Notification"),
                ("user_notification", "User Specific Notification"),
            ]),
        )
        .required()
        .default(DefaultValue::Value(json!("comment"))),
        FieldDef::new("subtype_id", "Subtype", m2o("mail.message.subtype")),
        FieldDef::new("author_id", "Author", m2o("res.partner")),
        FieldDef::new("partner_ids", "Recipients", Many2many("res.partner".into())),
        FieldDef::new(
            "tracking_value_ids",
            "Tracking values",
            One2many("mail.tracking.value".into(), "mail_message_id".into()),
        )
        .computed(),
        FieldDef::new("email_from", "From", Char),
    ];
    let mut m = model("mail.message", "Message", own, AclKind::Users);
    m.order = "id desc".into();
    m
}

fn small_models() -> Vec<ModelDef> {
    use FieldType::*;
    let mut subtype = model(
        "mail.message.subtype",
        "Message subtypes",
        vec![
            FieldDef::new("name", "Message Type", Char).required(),
            FieldDef::new("internal", "Internal Only", Boolean),
            FieldDef::new("res_model", "Model", Char),
            FieldDef::new("sequence", "Sequence", Integer),
        ],
        AclKind::ReadForUsers {
            manager: "Administration/Settings",
        },
    );
    subtype.order = "sequence, id".into();
    subtype.rec_name = Some("name".into());

    let followers = model(
        "mail.followers",
        "Document Followers",
        vec![
            FieldDef::new("res_model", "Related Document Model Name", Char).required(),
            FieldDef::new("res_id", "Related Document ID", Integer),
            FieldDef::new("partner_id", "Related Partner", m2o("res.partner")).required(),
        ],
        AclKind::Users,
    );

    let tracking = model(
        "mail.tracking.value",
        "Mail Tracking Value",
        vec![
            FieldDef::new("old_value_char", "Old Value Char", Char),
            FieldDef::new("new_value_char", "New Value Char", Char),
            FieldDef::new("old_value_integer", "Old Value Integer", Integer),
            FieldDef::new("new_value_integer", "New Value Integer", Integer),
            FieldDef::new("mail_message_id", "Message ID", m2o("mail.message")).required(),
        ],
        AclKind::SystemOnly,
    );

    let mut partner = model(
        "res.partner",
        "Contact",
        vec![
            FieldDef::new("name", "Name", Char),
            FieldDef::new("email", "Email", Char),
            FieldDef::new("is_company", "Is a Company", Boolean),
            FieldDef::new("active", "Active", Boolean).default(DefaultValue::Value(json!(true))),
            FieldDef::new(
                "user_ids",
                "Users",
                One2many("res.users".into(), "partner_id".into()),
            )
            .computed(),
        ],
        AclKind::ReadForUsers {
            manager: "Extra Rights/Contact Creation",
        },
    );
    partner.order = "name, id desc".into();
    partner.rec_name = Some("name".into());

    let mut users = model(
        "res.users",
        "User",
        vec![
            FieldDef::new("name", "Name", Char).required(),
            FieldDef::new("login", "Login", Char).required(),
            FieldDef::new("password", "Password", Char),
            FieldDef::new("active", "Active", Boolean).default(DefaultValue::Value(json!(true))),
            FieldDef::new("partner_id", "Related Partner", m2o("res.partner")).required(),
            FieldDef::new("groups_id", "Groups", Many2many("res.groups".into())),
            FieldDef::new("share", "Share User", Boolean).computed(),
        ],
        AclKind::ReadForUsers {
            manager: "Administration/Access Rights",
        },
    );
    users.order = "name, login".into();
    users.rec_name = Some("name".into());
    users.extra_methods = vec!["context_get".into()];
    users.unique = vec![(
        "login".into(),
        "You can not have two users with the same login!".into(),
    )];

    let mut groups = model(
        "res.groups",
        "Access Groups",
        vec![
            FieldDef::new("name", "Name", Char).required(),
            FieldDef::new("full_name", "Group Name", Char).computed(),
        ],
        AclKind::ReadForUsers {
            manager: "Administration/Access Rights",
        },
    );
    groups.order = "name".into();
    groups.rec_name = Some("full_name".into());

    let mut api_keys = model(
        API_KEYS,
        "Users API Keys",
        vec![
            FieldDef::new("name", "Description", Char)
                .required()
                .readonly(),
            FieldDef::new("user_id", "User", m2o("res.users"))
                .required()
                .readonly(),
            FieldDef::new("scope", "Scope", Char).readonly(),
            FieldDef::new("expiration_date", "Expiration Date", Datetime).readonly(),
        ],
        AclKind::Users,
    );
    api_keys.rec_name = Some("name".into());

    vec![
        subtype, followers, tracking, partner, users, groups, api_keys,
    ]
}

/// Every model the emulator serves, keyed by name.
pub fn builtin_models() -> Vec<ModelDef> {
    let mut all = vec![
        request(),
        generated_image(),
        attachment(),
        config_parameter(),
        mail_message(),
    ];
    all.extend(small_models());
    all
}

/// Private methods that exist on real Odoo models: calling them gives Odoo's "Private methods …
/// cannot be called remotely" AccessError rather than "does not exist" (transcripts 54 / 54b).
pub const KNOWN_PRIVATE_METHODS: &[&str] = &[
    "_search",
    "_read_group",
    "_create",
    "_write",
    "_fetch_field",
    "_compute_display_name",
    "_check_company",
    "_filter_access_rules",
    "_name_search",
    "_order_to_sql",
    "_where_calc",
    "_flush_search",
    "_validate_fields",
    "_check_access",
    "_read_format",
    "_search_display_name",
    "_rec_names_search",
    "_auto_init",
    "_register_hook",
];

/// Private methods that only `mail.thread` models have.
pub const MAIL_PRIVATE_METHODS: &[&str] = &[
    "_message_log",
    "_message_create",
    "_message_subscribe",
    "_track_subtype",
    "_get_mail_thread_data",
    "_message_get_suggested_recipients",
];
