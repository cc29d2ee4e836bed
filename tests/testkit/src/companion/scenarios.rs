//! One list of companion scenarios, run over JSON-RPC against any Odoo with the companion addon:
//! the emulator (`tests/testkit/tests/companion.rs`) or a real Odoo (`tests/it/live_companion.rs`,
//! which runs both and compares them).
//!
//! Each scenario creates its own requests (as admin), calls the `bridge_*` methods as the bridge
//! user (or an outsider), and returns what it saw: every answer or error, and after each step the
//! request's status, error details, generated image and chatter notes, the image's fields and
//! whether the attachment holds the very bytes sent. Ids are replaced by roles (`request#1`,
//! `image#1`, …, numbered in order of appearance), UUIDs by `<uuid>` and the Odoo series of the
//! module version by `<series>`, so the observations of two databases compare equal when the two
//! behave alike.

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::catalog::{ATTACHMENT, IMAGE, REQUEST};
use crate::client::{RpcClient, RpcError};
use crate::images;

/// A user to call as.
#[derive(Debug, Clone)]
pub struct Account {
    pub uid: i64,
    pub password: String,
}

/// An Odoo with the companion addon and three users: an administrator (to set scenarios up and
/// look at the results), the bridge user (in the group InfluenceGen Bridge) and an internal user
/// outside that group.
#[derive(Debug)]
pub struct Target {
    pub client: RpcClient,
    pub database: String,
    pub admin: Account,
    pub bridge: Account,
    pub outsider: Account,
}

/// The scenarios, in the order [`run_all`] runs them.
pub const SCENARIOS: &[&str] = &[
    "protocol",
    "outsider_refused",
    "unknown_requests",
    "success_duplicate_conflicts",
    "failures",
    "campaign_retention",
    "bad_arguments",
    "claim_one",
    "claim_queued",
    "finish_initiation",
];

/// A request id that no test database reaches (but a valid PostgreSQL integer).
const NO_SUCH_ID: i64 = 2_000_000_000;

impl Target {
    /// A target at `addr`.
    pub fn new(
        addr: SocketAddr,
        database: &str,
        admin: Account,
        bridge: Account,
        outsider: Account,
    ) -> Self {
        Target {
            client: RpcClient::new(addr),
            database: database.to_owned(),
            admin,
            bridge,
            outsider,
        }
    }

    async fn call(
        &self,
        who: &Account,
        model: &str,
        method: &str,
        args: Value,
    ) -> Result<Value, RpcError> {
        let answer = self
            .client
            .execute_kw(
                &self.database,
                who.uid,
                &who.password,
                model,
                method,
                args,
                json!({}),
            )
            .await?;
        Ok(answer.unwrap_or(Value::Null))
    }

    /// A call as admin that must succeed.
    async fn admin(&self, model: &str, method: &str, args: Value) -> Value {
        match self.call(&self.admin, model, method, args).await {
            Ok(answer) => answer,
            Err(error) => panic!("admin {model}.{method} failed: {error:?}"),
        }
    }
}

/// Runs every scenario; (name, observation) in [`SCENARIOS`] order.
pub async fn run_all(target: &Target) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for name in SCENARIOS {
        out.push((*name, run(target, name).await));
    }
    out
}

/// Runs one scenario and returns its observation.
pub async fn run(target: &Target, name: &str) -> Value {
    let mut run = Run {
        target,
        roles: Vec::new(),
        steps: Vec::new(),
    };
    match name {
        "protocol" => protocol(&mut run).await,
        "outsider_refused" => outsider_refused(&mut run).await,
        "unknown_requests" => unknown_requests(&mut run).await,
        "success_duplicate_conflicts" => success_duplicate_conflicts(&mut run).await,
        "failures" => failures(&mut run).await,
        "campaign_retention" => campaign_retention(&mut run).await,
        "bad_arguments" => bad_arguments(&mut run).await,
        "claim_one" => claim_one(&mut run).await,
        "claim_queued" => claim_queued(&mut run).await,
        "finish_initiation" => finish_initiation(&mut run).await,
        other => panic!("no scenario {other}"),
    }
    Value::Array(run.steps)
}

/// A success result for `bytes` (a PNG of `width`×`height`).
pub fn success(bytes: &[u8], width: u32, height: u32) -> Value {
    let sha: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"kind": "success", "image_base64": STANDARD.encode(bytes), "sha256": sha,
           "mimetype": "image/png", "file_format": "png", "width": width, "height": height,
           "file_size": bytes.len()})
}

/// A reference by id.
pub fn by_id(id: i64) -> Value {
    json!({"field": "id", "value": id})
}

struct Run<'a> {
    target: &'a Target,
    /// (kind, id) in order of appearance; the role is `kind#n`.
    roles: Vec<(&'static str, i64)>,
    steps: Vec<Value>,
}

impl Run<'_> {
    fn role(&mut self, kind: &'static str, id: i64) -> String {
        let n = match self
            .roles
            .iter()
            .filter(|(k, _)| *k == kind)
            .position(|(_, i)| *i == id)
        {
            Some(n) => n,
            None => {
                self.roles.push((kind, id));
                self.roles.iter().filter(|(k, _)| *k == kind).count() - 1
            }
        };
        format!("{kind}#{}", n + 1)
    }

    /// Replaces ids by roles, by key: `id`/`request_id` requests, `image_id`/`generated_image_id`
    /// images, `attachment_id`/`storage_identifier` attachments; many2one pairs become the role.
    fn normalize(&mut self, key: &str, value: &Value) -> Value {
        let kind = match key {
            "id" | "request_id" => Some("request"),
            "image_id" | "generated_image_id" | "res_id" => Some("image"),
            "attachment_id" | "storage_identifier" => Some("attachment"),
            _ => None,
        };
        let id = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) if key == "storage_identifier" => s.parse().ok(),
            Value::Array(pair) if pair.len() == 2 => pair[0].as_i64(),
            _ => None,
        };
        match (kind, id) {
            (Some(kind), Some(id)) => return json!(self.role(kind, id)),
            _ if key == "uuid" && value.is_string() => return json!("<uuid>"),
            // "18.0.1.0.0" on Odoo 18, "19.0.1.0.0" on 19: the manifest's own part compares.
            _ if key == "module_version" => {
                let version = value.as_str().unwrap_or_default();
                let own = version.splitn(3, '.').nth(2).unwrap_or(version);
                return json!(format!("<series>.{own}"));
            }
            _ => {}
        }
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.normalize(k, v));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.normalize("", v)).collect())
            }
            other => other.clone(),
        }
    }

    fn observe(&mut self, label: &str, result: &Result<Value, RpcError>) {
        let seen = match result {
            Ok(answer) => self.normalize("", answer),
            Err(RpcError::Odoo { name, message }) => json!({"error": name, "message": message}),
            Err(other) => json!({"transport_error": format!("{other:?}")}),
        };
        self.steps.push(json!([label, seen]));
    }

    /// A new request (as admin), registered as the next `request#n`.
    async fn request(&mut self, vals: Value) -> i64 {
        let id = self.target.admin(REQUEST, "create", json!([vals])).await;
        let id = id
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_i64)
            .unwrap_or_else(|| id.as_i64().unwrap_or_default());
        self.role("request", id);
        id
    }

    /// Calls `method` as the bridge user and records the answer.
    async fn bridge(&mut self, label: &str, method: &str, args: Value) -> Result<Value, RpcError> {
        let target = self.target;
        let result = target.call(&target.bridge, REQUEST, method, args).await;
        self.observe(label, &result);
        result
    }

    /// Records the request's state: status, error details, generated image, notes.
    async fn state(&mut self, label: &str, id: i64) {
        let target = self.target;
        let fields = json!(["status", "error_details", "generated_image_id"]);
        let row = target.admin(REQUEST, "read", json!([[id], fields])).await;
        let domain = json!([
            ["model", "=", REQUEST],
            ["res_id", "=", id],
            ["message_type", "=", "comment"]
        ]);
        let notes = target
            .admin(
                "mail.message",
                "search_read",
                json!([domain, ["body"], 0, 0, "id asc"]),
            )
            .await;
        let notes: Vec<Value> = notes
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["body"].clone())
            .collect();
        let row = self.normalize("", &row[0]);
        self.steps
            .push(json!([label, {"request": row, "notes": notes}]));
    }

    /// Records the generated image and its attachment, and whether it holds `sent` exactly.
    async fn stored(&mut self, label: &str, image_id: i64, sent: &[u8]) {
        let target = self.target;
        let image_fields = json!([
            "request_id",
            "storage_type",
            "storage_identifier",
            "hash_value",
            "file_format",
            "file_size",
            "width",
            "height",
            "retention_category",
            "attachment_id"
        ]);
        let image = target
            .admin(IMAGE, "read", json!([[image_id], image_fields]))
            .await;
        let mut image = image[0].clone();
        let attachment_id = image["attachment_id"][0].as_i64().unwrap_or_default();
        let fields = json!([
            "name",
            "mimetype",
            "res_model",
            "res_id",
            "file_size",
            "checksum",
            "datas"
        ]);
        let attachment = target
            .admin(ATTACHMENT, "read", json!([[attachment_id], fields]))
            .await;
        let mut attachment = attachment[0].clone();
        let datas = attachment["datas"]
            .as_str()
            .and_then(|d| STANDARD.decode(d).ok());
        attachment["datas"] = json!(datas.as_deref() == Some(sent));
        let request = image["request_id"][0].as_i64().unwrap_or_default();
        let name = attachment["name"]
            .as_str()
            .unwrap_or_default()
            .replace(&format!("_{request}_"), "_<request>_");
        attachment["name"] = json!(name);
        for row in [&mut image, &mut attachment] {
            if let Value::Object(map) = row {
                map.remove("id");
            }
        }
        let image = self.normalize("", &image);
        let attachment = self.normalize("", &attachment);
        self.steps
            .push(json!([label, {"image": image, "attachment": attachment}]));
    }
}

fn id_in(result: &Result<Value, RpcError>, key: &str) -> i64 {
    result
        .as_ref()
        .ok()
        .and_then(|v| v[key].as_i64())
        .unwrap_or_default()
}

async fn protocol(run: &mut Run<'_>) {
    run.bridge("bridge_protocol", "bridge_protocol", json!([]))
        .await
        .ok();
}

async fn outsider_refused(run: &mut Run<'_>) {
    // Not queued: nothing here may be sent to N8N by a bridge sweeping the same database.
    let id = run
        .request(json!({"prompt": "outsider", "status": "failed"}))
        .await;
    let calls = [
        ("bridge_protocol", json!([])),
        (
            "bridge_apply_result",
            json!([by_id(id), {"kind": "failure", "error_details": "x"}]),
        ),
        ("bridge_claim_queued", json!([1, ["id"]])),
        ("bridge_claim", json!([by_id(id), ["id"]])),
        ("bridge_finish_initiation", json!([id, "sent", ""])),
    ];
    let target = run.target;
    for (method, args) in calls {
        let result = target.call(&target.outsider, REQUEST, method, args).await;
        run.observe(method, &result);
    }
    run.state("untouched", id).await;
}

async fn unknown_requests(run: &mut Run<'_>) {
    let failure = json!({"kind": "failure", "error_details": "x"});
    let png = images::png(8, 8);
    run.bridge(
        "by id",
        "bridge_apply_result",
        json!([by_id(NO_SUCH_ID), failure]),
    )
    .await
    .ok();
    let reference = json!({"field": "uuid", "value": "00000000-0000-4000-8000-000000000000"});
    run.bridge(
        "by uuid",
        "bridge_apply_result",
        json!([reference, success(&png, 8, 8)]),
    )
    .await
    .ok();
    run.bridge(
        "beyond int4",
        "bridge_apply_result",
        json!([by_id(1_i64 << 40), failure]),
    )
    .await
    .ok();
    run.bridge("claim", "bridge_claim", json!([by_id(NO_SUCH_ID), ["id"]]))
        .await
        .ok();
    run.bridge(
        "finish",
        "bridge_finish_initiation",
        json!([NO_SUCH_ID, "sent", ""]),
    )
    .await
    .ok();
}

async fn success_duplicate_conflicts(run: &mut Run<'_>) {
    let id = run.request(json!({"prompt": "a large image"})).await;
    let uuid = run
        .target
        .admin(REQUEST, "read", json!([[id], ["uuid"]]))
        .await[0]["uuid"]
        .clone();
    let by_uuid = json!({"field": "uuid", "value": uuid});
    // Beyond base.image_autoresize_max_px (1920): stored byte for byte all the same.
    let png = images::png(2100, 1200);
    let result = success(&png, 2100, 1200);
    let applied = run
        .bridge(
            "success by uuid",
            "bridge_apply_result",
            json!([by_uuid, result]),
        )
        .await;
    run.state("completed", id).await;
    run.stored("stored", id_in(&applied, "image_id"), &png)
        .await;
    run.bridge(
        "same again by id",
        "bridge_apply_result",
        json!([by_id(id), result]),
    )
    .await
    .ok();
    let other = images::png(16, 16);
    run.bridge(
        "another image",
        "bridge_apply_result",
        json!([by_id(id), success(&other, 16, 16)]),
    )
    .await
    .ok();
    let failure = json!({"kind": "failure", "error_details": "too late\n\ndetails"});
    run.bridge(
        "a failure",
        "bridge_apply_result",
        json!([by_id(id), failure]),
    )
    .await
    .ok();
    let rejected = json!({"kind": "rejected", "error_details": "Image unusable: too late"});
    run.bridge(
        "a rejection",
        "bridge_apply_result",
        json!([by_id(id), rejected]),
    )
    .await
    .ok();
    run.state("still completed", id).await;
}

async fn failures(run: &mut Run<'_>) {
    let id = run.request(json!({"prompt": "failing"})).await;
    let failure = json!({"kind": "failure", "error_details": "N8N failed\r\n\nstack trace"});
    run.bridge(
        "failure",
        "bridge_apply_result",
        json!([by_id(id), failure]),
    )
    .await
    .ok();
    run.bridge(
        "same failure",
        "bridge_apply_result",
        json!([by_id(id), failure]),
    )
    .await
    .ok();
    run.state("failed", id).await;
    let rejected = json!({"kind": "rejected", "error_details": "Image unusable: not a PNG"});
    run.bridge(
        "rejected",
        "bridge_apply_result",
        json!([by_id(id), rejected]),
    )
    .await
    .ok();
    run.bridge(
        "same rejection",
        "bridge_apply_result",
        json!([by_id(id), rejected]),
    )
    .await
    .ok();
    run.state("failed again", id).await;
    let png = images::png(32, 24);
    let applied = run
        .bridge(
            "success after all",
            "bridge_apply_result",
            json!([by_id(id), success(&png, 32, 24)]),
        )
        .await;
    run.state("completed", id).await;
    run.stored("stored", id_in(&applied, "image_id"), &png)
        .await;
}

async fn campaign_retention(run: &mut Run<'_>) {
    // Partner 1 is the company's own partner on every database.
    let id = run
        .request(json!({"prompt": "campaign", "campaign_id": 1, "intended_use": "campaign"}))
        .await;
    let png = images::png(20, 10);
    let applied = run
        .bridge(
            "success",
            "bridge_apply_result",
            json!([by_id(id), success(&png, 20, 10)]),
        )
        .await;
    run.stored("stored", id_in(&applied, "image_id"), &png)
        .await;
}

async fn bad_arguments(run: &mut Run<'_>) {
    let id = run
        .request(json!({"prompt": "bad arguments", "status": "failed"}))
        .await;
    let png = images::png(8, 8);
    let good = success(&png, 8, 8);
    let failure = json!({"kind": "failure", "error_details": "x"});
    for (label, reference) in [
        (
            "ref by prompt",
            json!({"field": "prompt", "value": "bad arguments"}),
        ),
        ("ref unknown field", json!({"field": "nope", "value": "x"})),
        (
            "ref id as string",
            json!({"field": "id", "value": id.to_string()}),
        ),
        ("ref id zero", json!({"field": "id", "value": 0})),
        ("ref without value", json!({"field": "id"})),
        ("ref empty uuid", json!({"field": "uuid", "value": ""})),
        ("ref a list", json!([id])),
    ] {
        run.bridge(label, "bridge_apply_result", json!([reference, failure]))
            .await
            .ok();
    }
    let mut bad: Vec<(&str, Value)> = Vec::new();
    for (key, value) in [
        ("sha256", json!("0".repeat(64))),
        ("sha256", json!("ABC")),
        ("file_size", json!(1)),
        ("width", json!(0)),
        ("height", json!(2.5)),
        ("mimetype", json!("image/svg+xml")),
        ("mimetype", json!("text/html")),
        ("file_format", json!("P N G")),
        ("image_base64", json!("not base64!")),
        ("image_base64", json!("")),
    ] {
        let mut result = good.clone();
        result[key] = value;
        bad.push((key, result));
    }
    let mut extra = good.clone();
    extra["extra"] = json!(1);
    bad.push(("extra key", extra));
    bad.push(("no kind", json!({"error_details": "x"})));
    bad.push((
        "kind unknown",
        json!({"kind": "partial", "error_details": "x"}),
    ));
    bad.push((
        "kind a list",
        json!({"kind": ["failure"], "error_details": "x"}),
    ));
    bad.push((
        "failure, empty details",
        json!({"kind": "failure", "error_details": ""}),
    ));
    bad.push(("failure, missing details", json!({"kind": "failure"})));
    bad.push(("result a string", json!("success")));
    for (label, result) in bad {
        run.bridge(label, "bridge_apply_result", json!([by_id(id), result]))
            .await
            .ok();
    }
    run.bridge("one argument", "bridge_apply_result", json!([by_id(id)]))
        .await
        .ok();
    run.bridge(
        "three arguments",
        "bridge_claim",
        json!([by_id(id), ["id"], 1]),
    )
    .await
    .ok();
    run.bridge("protocol with an argument", "bridge_protocol", json!([1]))
        .await
        .ok();
    run.state("untouched", id).await;
}

async fn claim_one(run: &mut Run<'_>) {
    // Fields are checked before the lookup. (Queued requests live as short as possible here: a
    // bridge sweeping the same database could take them.)
    for (label, fields) in [
        ("fields empty", json!([])),
        ("fields not a list", json!("id")),
        ("fields not names", json!([1])),
    ] {
        run.bridge(label, "bridge_claim", json!([by_id(NO_SUCH_ID), fields]))
            .await
            .ok();
    }
    let id = run.request(json!({"prompt": "claim me", "seed": 7})).await;
    run.bridge(
        "unknown field",
        "bridge_claim",
        json!([by_id(id), ["id", "nope"]]),
    )
    .await
    .ok();
    run.state("still queued", id).await;
    let fields = json!([
        "id",
        "status",
        "prompt",
        "seed",
        "uuid",
        "error_details",
        "campaign_id"
    ]);
    run.bridge("claim", "bridge_claim", json!([by_id(id), fields]))
        .await
        .ok();
    run.bridge("claim again", "bridge_claim", json!([by_id(id), ["id"]]))
        .await
        .ok();
    run.bridge(
        "claim again, unknown field",
        "bridge_claim",
        json!([by_id(id), ["nope"]]),
    )
    .await
    .ok();
    run.state("processing", id).await;
}

async fn claim_queued(run: &mut Run<'_>) {
    for limit in [json!(0), json!(101), json!(true), json!("5"), json!(2.0)] {
        run.bridge(
            &format!("limit {limit}"),
            "bridge_claim_queued",
            json!([limit, ["id"]]),
        )
        .await
        .ok();
    }
    run.bridge("fields empty", "bridge_claim_queued", json!([1, []]))
        .await
        .ok();
    run.bridge("unknown field", "bridge_claim_queued", json!([1, ["nope"]]))
        .await
        .ok();
    // The queue is shared with whatever else uses the database: claim everything, look at ours
    // only, and give the rest back at once. (The limit itself is held by the emulator's tests.)
    let target = run.target;
    let ours = [
        run.request(json!({"prompt": "queued a"})).await,
        run.request(json!({"prompt": "queued b"})).await,
    ];
    let fields = json!(["id", "status", "prompt"]);
    let first = target
        .call(
            &target.bridge,
            REQUEST,
            "bridge_claim_queued",
            json!([100, fields]),
        )
        .await;
    give_back_foreign(target, &first, &ours).await;
    let second = target
        .call(
            &target.bridge,
            REQUEST,
            "bridge_claim_queued",
            json!([100, ["id"]]),
        )
        .await;
    give_back_foreign(target, &second, &ours).await;
    for (label, result) in [("claim all", first), ("claim all again", second)] {
        let mine = result.map(|rows| {
            let rows = rows.as_array().cloned().unwrap_or_default();
            let mine = rows
                .into_iter()
                .filter(|row| ours.contains(&row["id"].as_i64().unwrap_or_default()));
            Value::Array(mine.collect())
        });
        run.observe(label, &mine);
    }
    for id in ours {
        run.state("claimed", id).await;
    }
}

/// Puts back in the queue what a claim took that is not ours (another test's request).
async fn give_back_foreign(target: &Target, result: &Result<Value, RpcError>, ours: &[i64]) {
    let claimed = result
        .as_ref()
        .ok()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for row in claimed {
        let id = row["id"].as_i64().unwrap_or_default();
        if !ours.contains(&id) {
            let args = json!([id, "retry", ""]);
            let _ = target
                .call(&target.bridge, REQUEST, "bridge_finish_initiation", args)
                .await;
        }
    }
}

async fn finish_initiation(run: &mut Run<'_>) {
    let id = run.request(json!({"prompt": "initiate me"})).await;
    run.bridge(
        "not processing",
        "bridge_finish_initiation",
        json!([id, "sent", ""]),
    )
    .await
    .ok();
    run.bridge("claim", "bridge_claim", json!([by_id(id), ["id"]]))
        .await
        .ok();
    for (label, args) in [
        ("bad outcome", json!([id, "done", ""])),
        ("bad id", json!([0, "sent", ""])),
        ("id as string", json!([id.to_string(), "sent", ""])),
        ("details a number", json!([id, "failed", 5])),
    ] {
        run.bridge(label, "bridge_finish_initiation", args)
            .await
            .ok();
    }
    run.bridge("sent", "bridge_finish_initiation", json!([id, "sent", ""]))
        .await
        .ok();
    let details = "timed out after 30 s\nwhile sending";
    run.bridge(
        "unknown",
        "bridge_finish_initiation",
        json!([id, "unknown", details]),
    )
    .await
    .ok();
    run.bridge(
        "retry",
        "bridge_finish_initiation",
        json!([id, "retry", false]),
    )
    .await
    .ok();
    run.state("queued again", id).await;
    run.bridge(
        "claim again",
        "bridge_claim",
        json!([by_id(id), ["status"]]),
    )
    .await
    .ok();
    let details = "N8N answered 500\n\n<html>oops</html>";
    run.bridge(
        "failed",
        "bridge_finish_initiation",
        json!([id, "failed", details]),
    )
    .await
    .ok();
    run.bridge(
        "failed again",
        "bridge_finish_initiation",
        json!([id, "failed", details]),
    )
    .await
    .ok();
    run.state("initiation failed", id).await;
}
