//! The emulator's companion addon (`influence_gen_bridge`) through its HTTP interface: the answers
//! recorded from the real addon, absence without it, the group check, row locks under
//! concurrency and slow calls, claims.

use std::sync::Arc;
use std::time::Duration;

use influence_gen_testkit::companion::scenarios::{self, Account, Target, by_id, success};
use influence_gen_testkit::{
    CallMatcher, EmulatorConfig, Fault, FaultRule, OdooEmulator, RpcClient, RpcError, UserAccess,
    images,
};
use serde_json::{Value, json};

const REQ: &str = "influence_gen.ai_image_request";
const IMAGE: &str = "influence_gen.generated_image";
const BRIDGE_PASSWORD: &str = "bridge-pass-789";
/// The scenarios' observations on a real Odoo 18 with the addon (`tests/it/live_companion.rs`
/// rewrites it when `IG_COMPANION_RECORD` is set).
const RECORDED: &str = include_str!("../../fixtures/odoo18/companion_scenarios.json");

async fn with_addon() -> (OdooEmulator, i64) {
    let odoo = OdooEmulator::start_with(EmulatorConfig::default().with_companion_addon()).await;
    let uid = odoo.add_bridge_user("bridge", BRIDGE_PASSWORD);
    (odoo, uid)
}

async fn bridge_call(
    client: &RpcClient,
    uid: i64,
    method: &str,
    args: Value,
) -> Result<Value, RpcError> {
    client
        .execute_kw("ig", uid, BRIDGE_PASSWORD, REQ, method, args, json!({}))
        .await
        .map(|v| v.unwrap_or(Value::Null))
}

fn outcome(result: &Result<Value, RpcError>) -> String {
    match result {
        Ok(v) => v["outcome"].as_str().unwrap_or("?").to_owned(),
        Err(e) => format!("{e:?}"),
    }
}

fn failure(details: &str) -> Value {
    json!({"kind": "failure", "error_details": details})
}

#[tokio::test]
async fn the_scenarios_answer_as_the_real_addon_recorded() {
    let (odoo, uid) = with_addon().await;
    let outsider = odoo.add_user("outsider", "outsider-pass-789", UserAccess::User);
    let account = |uid, password: &str| Account {
        uid,
        password: password.to_owned(),
    };
    let target = Target::new(
        odoo.addr(),
        "ig",
        account(2, "admin"),
        account(uid, BRIDGE_PASSWORD),
        account(outsider, "outsider-pass-789"),
    );
    let recorded: Value = serde_json::from_str(RECORDED).expect("the recording is JSON");
    for (name, seen) in scenarios::run_all(&target).await {
        assert_eq!(
            seen, recorded[name],
            "scenario {name}: emulator (left) differs from the real addon (right)"
        );
    }
}

#[tokio::test]
async fn without_the_addon_its_methods_do_not_exist_as_real_odoo_says() {
    let odoo = OdooEmulator::start().await;
    let uid = odoo.add_bridge_user("bridge", BRIDGE_PASSWORD);
    let client = odoo.client();
    for method in influence_gen_testkit::companion::METHODS {
        let answer = bridge_call(&client, uid, method, json!([])).await;
        // Transcript 55: the answer of real Odoo 18 to a method nobody defined.
        assert_eq!(
            answer,
            Err(RpcError::Odoo {
                name: "builtins.AttributeError".into(),
                message: format!("The method '{REQ}.{method}' does not exist"),
            })
        );
    }
    odoo.install_companion_addon();
    let answer = bridge_call(&client, uid, "bridge_protocol", json!([])).await;
    assert_eq!(answer.expect("installed")["version"], 1);
    odoo.uninstall_companion_addon();
    assert!(
        bridge_call(&client, uid, "bridge_protocol", json!([]))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn only_members_of_the_bridge_group_may_call() {
    let (odoo, _) = with_addon().await;
    let client = odoo.client();
    let call = |uid: i64, password: &'static str| {
        let client = &client;
        async move {
            client
                .execute_kw(
                    "ig",
                    uid,
                    password,
                    REQ,
                    "bridge_protocol",
                    json!([]),
                    json!({}),
                )
                .await
        }
    };
    let refused = |r: Result<Option<Value>, RpcError>| match r {
        Err(RpcError::Odoo { name, message }) => {
            name == "odoo.exceptions.AccessError"
                && message
                    == format!(
                        "Only members of the group influence_gen_base_models.group_influence_gen_bridge may call {REQ}.bridge_protocol."
                    )
        }
        _ => false,
    };
    assert!(refused(call(2, "admin").await), "admin is not in the group");
    odoo.set_in_bridge_group(2, true);
    assert!(call(2, "admin").await.is_ok());
    odoo.set_in_bridge_group(2, false);
    assert!(refused(call(2, "admin").await));
    // Created over RPC with the group's id, as an administrator does.
    let created = client
        .execute_kw(
            "ig",
            2,
            "admin",
            "res.users",
            "create",
            json!([{"name": "B2", "login": "b2", "password": "b2-pass-789", "groups_id": [[6, 0, [1, 16]]]}]),
            json!({}),
        )
        .await
        .expect("created")
        .and_then(|v| v.as_i64())
        .expect("an id");
    assert!(call(created, "b2-pass-789").await.is_ok());
}

#[tokio::test]
async fn ten_identical_results_at_once_store_one_image() {
    let (odoo, uid) = with_addon().await;
    let id = odoo.seed_request(json!({"prompt": "ten at once"}));
    let png = images::png(64, 48);
    let client = Arc::new(odoo.client());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (client, result) = (client.clone(), success(&png, 64, 48));
        calls.spawn(async move {
            outcome(
                &bridge_call(
                    &client,
                    uid,
                    "bridge_apply_result",
                    json!([by_id(id), result]),
                )
                .await,
            )
        });
    }
    let mut outcomes = calls.join_all().await;
    outcomes.sort();
    let mut expected = vec!["duplicate".to_owned(); 9];
    expected.insert(0, "completed".to_owned());
    assert_eq!(outcomes, expected);
    assert_eq!(odoo.records(IMAGE).len(), 1);
    assert_eq!(
        odoo.count(REQ, "bridge_apply_result"),
        10,
        "one Odoo call per delivery"
    );
}

#[tokio::test]
async fn a_slow_call_holds_its_row_and_a_retry_waits_then_answers_duplicate() {
    let (odoo, uid) = with_addon().await;
    let id = odoo.seed_request(json!({"prompt": "slow"}));
    let png = images::png(40, 30);
    // The first delivery is slow (a busy worker): it holds the request's row all along.
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQ, "bridge_apply_result"),
        Fault::Stall(Duration::from_millis(400)),
    ));
    let client = Arc::new(odoo.client());
    let first = {
        let (client, result) = (client.clone(), success(&png, 40, 30));
        tokio::spawn(async move {
            let answer = bridge_call(
                &client,
                uid,
                "bridge_apply_result",
                json!([by_id(id), result]),
            )
            .await;
            (outcome(&answer), tokio::time::Instant::now())
        })
    };
    assert!(
        odoo.wait_for_arrival(REQ, "bridge_apply_result", 1, Duration::from_secs(5))
            .await
    );
    // A retry (the bridge timed out): it waits for the row, then sees the committed image.
    let retry = bridge_call(
        &client,
        uid,
        "bridge_apply_result",
        json!([by_id(id), success(&png, 40, 30)]),
    )
    .await;
    let retried_at = tokio::time::Instant::now();
    let (first, first_at) = first.await.expect("first call");
    assert_eq!(first, "completed");
    assert_eq!(outcome(&retry), "duplicate");
    assert!(
        first_at <= retried_at,
        "the retry answered only after the slow call"
    );
    assert_eq!(odoo.records(IMAGE).len(), 1);
}

#[tokio::test]
async fn claims_skip_a_row_another_call_holds() {
    let (odoo, uid) = with_addon().await;
    let held = odoo.seed_request(json!({"prompt": "held"}));
    let free = odoo.seed_request(json!({"prompt": "free"}));
    // A slow result for `held` (it ends up failed) holds its row while both claims run.
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQ, "bridge_apply_result"),
        Fault::Stall(Duration::from_millis(400)),
    ));
    let client = Arc::new(odoo.client());
    let slow = {
        let client = client.clone();
        tokio::spawn(async move {
            let args = json!([by_id(held), failure("N8N failed")]);
            bridge_call(&client, uid, "bridge_apply_result", args).await
        })
    };
    assert!(
        odoo.wait_for_arrival(REQ, "bridge_apply_result", 1, Duration::from_secs(5))
            .await
    );
    // Not ours to take, though it still reads as last committed: queued.
    let claim = bridge_call(&client, uid, "bridge_claim", json!([by_id(held), ["id"]])).await;
    assert_eq!(
        claim.expect("answered"),
        json!({"outcome": "not_queued", "status": "queued"})
    );
    let claimed = bridge_call(&client, uid, "bridge_claim_queued", json!([10, ["id"]])).await;
    assert_eq!(claimed.expect("answered"), json!([{"id": free}]));
    let slow = slow.await.expect("slow call").expect("answered");
    assert_eq!(slow["outcome"], "failure_recorded");
    assert_eq!(odoo.record(REQ, held).expect("request")["status"], "failed");
}

#[tokio::test]
async fn claim_queued_takes_the_oldest_first_up_to_the_limit() {
    let (odoo, uid) = with_addon().await;
    let ids: Vec<i64> = (0..3)
        .map(|i| odoo.seed_request(json!({"prompt": format!("q{i}")})))
        .collect();
    odoo.seed_request(json!({"prompt": "done", "status": "completed"}));
    let client = odoo.client();
    let claim = |limit: i64| {
        bridge_call(
            &client,
            uid,
            "bridge_claim_queued",
            json!([limit, ["id", "status"]]),
        )
    };
    let rows = |ids: &[i64]| {
        Value::Array(
            ids.iter()
                .map(|id| json!({"id": id, "status": "processing"}))
                .collect(),
        )
    };
    assert_eq!(claim(2).await.expect("claimed"), rows(&ids[..2]));
    assert_eq!(claim(2).await.expect("claimed"), rows(&ids[2..]));
    assert_eq!(claim(2).await.expect("claimed"), json!([]));
    for id in ids {
        assert_eq!(
            odoo.record(REQ, id).expect("request")["error_details"],
            false
        );
    }
}

#[tokio::test]
async fn an_attachment_created_with_image_no_postprocess_is_stored_as_sent() {
    let odoo = OdooEmulator::start().await;
    // A small limit keeps the resize quick (the default is 1920x1920).
    odoo.set_param("base.image_autoresize_max_px", "64x64");
    let client = odoo.client();
    let png = images::png(100, 80);
    let vals = json!({"name": "big.png", "datas": influence_gen_testkit::attachments::b64encode(&png), "mimetype": "image/png"});
    let create = |context: Value| {
        client.execute_kw(
            "ig",
            2,
            "admin",
            "ir.attachment",
            "create",
            json!([vals.clone()]),
            json!({"context": context}),
        )
    };
    let plain = create(json!({}))
        .await
        .expect("created")
        .and_then(|v| v.as_i64())
        .expect("id");
    let raw = create(json!({"image_no_postprocess": true}))
        .await
        .expect("created")
        .and_then(|v| v.as_i64())
        .expect("id");
    assert_ne!(
        odoo.attachment_bytes(plain),
        Some(png.clone()),
        "resized to 64 px"
    );
    assert_eq!(odoo.attachment_bytes(raw), Some(png));
}

#[tokio::test]
async fn a_failure_never_replaces_an_image_and_writes_one_note() {
    let (odoo, uid) = with_addon().await;
    let id = odoo.seed_request(json!({"prompt": "once"}));
    let client = odoo.client();
    let png = images::png(10, 10);
    let apply = |result: Value| {
        bridge_call(
            &client,
            uid,
            "bridge_apply_result",
            json!([by_id(id), result]),
        )
    };
    assert_eq!(outcome(&apply(success(&png, 10, 10)).await), "completed");
    let late = apply(failure("late")).await.expect("answered");
    assert_eq!(late["outcome"], "conflict");
    let record = odoo.record(REQ, id).expect("request");
    assert_eq!(record["status"], "completed");
    let notes: Vec<Value> = odoo
        .records("mail.message")
        .into_iter()
        .filter(|m| m["res_id"] == id && m["message_type"] == "comment")
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .as_str()
            .unwrap_or("")
            .starts_with("<p>AI image stored: 10×10 PNG,")
    );
}
