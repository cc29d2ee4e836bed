//! The companion addon on a real Odoo against the emulator's twin: one scenario list
//! (`influence_gen_testkit::companion::scenarios`) run on both, answers compared with ids
//! replaced by roles. Also: a user outside the bridge group gets an AccessError from every
//! `bridge_*` method of the real addon.
//!
//! Runs when a real Odoo with `influence_gen_base_models` and `influence_gen_bridge` installed is
//! named: `IG_LIVE_ODOO_URL`, `IG_LIVE_ODOO_DB`, `IG_LIVE_ODOO_LOGIN` / `IG_LIVE_ODOO_PASSWORD`
//! (the bridge user, in the group InfluenceGen Bridge) and `IG_LIVE_ODOO_ADMIN_LOGIN` /
//! `IG_LIVE_ODOO_ADMIN_PASSWORD` (an administrator, to set scenarios up). Without
//! `IG_LIVE_ODOO_URL` the tests pass, and one line says they were skipped.
//! `IG_COMPANION_RECORD=1` also rewrites `tests/fixtures/odoo18/companion_scenarios.json`, the
//! recording the emulator's own tests compare against.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Once;

use influence_gen_testkit::companion::scenarios::{self, Account, Target};
use influence_gen_testkit::{EmulatorConfig, OdooEmulator, RpcClient, RpcError, UserAccess};
use serde_json::{Value, json};

const REQUESTS: &str = "influence_gen.ai_image_request";
const OUTSIDER_LOGIN: &str = "ig-companion-outsider";
const OUTSIDER_PASSWORD: &str = "ig-companion-outsider-pass-4d2f";
const RECORDING: &str = "tests/fixtures/odoo18/companion_scenarios.json";
static SKIPPED: Once = Once::new();

/// The real Odoo named by the environment, or `None` (said once) to skip.
struct Live {
    addr: SocketAddr,
    database: String,
    bridge: (String, String),
    admin: (String, String),
}

fn live() -> Option<Live> {
    let Ok(url) = std::env::var("IG_LIVE_ODOO_URL") else {
        SKIPPED.call_once(|| {
            eprintln!("skipped live_companion: set IG_LIVE_ODOO_URL (and _DB, _LOGIN, _PASSWORD, _ADMIN_LOGIN, _ADMIN_PASSWORD) to compare the companion addon with the emulator");
        });
        return None;
    };
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("IG_LIVE_ODOO_URL is set but {name} is not"))
    };
    let host = url
        .trim_end_matches('/')
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("IG_LIVE_ODOO_URL must be http://host:port, not {url}"));
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("cannot resolve {host}"));
    Some(Live {
        addr,
        database: var("IG_LIVE_ODOO_DB"),
        bridge: (var("IG_LIVE_ODOO_LOGIN"), var("IG_LIVE_ODOO_PASSWORD")),
        admin: (
            var("IG_LIVE_ODOO_ADMIN_LOGIN"),
            var("IG_LIVE_ODOO_ADMIN_PASSWORD"),
        ),
    })
}

async fn login(
    client: &RpcClient,
    database: &str,
    (login, password): &(String, String),
) -> Account {
    let uid = client
        .call("common", "login", json!([database, login, password]))
        .await
        .ok()
        .flatten()
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("{login} cannot log in to the live Odoo"));
    Account {
        uid,
        password: password.clone(),
    }
}

async fn admin_call(
    client: &RpcClient,
    live: &Live,
    admin: &Account,
    model: &str,
    method: &str,
    args: Value,
) -> Value {
    client
        .execute_kw(
            &live.database,
            admin.uid,
            &admin.password,
            model,
            method,
            args,
            json!({}),
        )
        .await
        .unwrap_or_else(|e| panic!("admin {model}.{method}: {e:?}"))
        .unwrap_or(Value::Null)
}

/// An internal user outside the bridge group, created once per database (by whichever test gets
/// there first).
async fn outsider(client: &RpcClient, live: &Live, admin: &Account) -> Account {
    let found = admin_call(
        client,
        live,
        admin,
        "res.users",
        "search",
        json!([[["login", "=", OUTSIDER_LOGIN]]]),
    )
    .await;
    if found.as_array().is_none_or(Vec::is_empty) {
        let reference = json!(["base", "group_user"]);
        let internal = admin_call(
            client,
            live,
            admin,
            "ir.model.data",
            "check_object_reference",
            reference,
        )
        .await;
        // Odoo 19 renamed res.users.groups_id to group_ids.
        let version = client
            .call("common", "version", json!([]))
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let groups = match version["server_version_info"][0].as_i64() {
            Some(major) if major >= 19 => "group_ids",
            _ => "groups_id",
        };
        let mut vals = json!({"name": "InfluenceGen outsider", "login": OUTSIDER_LOGIN, "password": OUTSIDER_PASSWORD,
                              "email": "outsider@example.com"});
        vals[groups] = json!([[6, 0, [internal[1]]]]);
        let created = client
            .execute_kw(
                &live.database,
                admin.uid,
                &admin.password,
                "res.users",
                "create",
                json!([vals]),
                json!({}),
            )
            .await;
        if let Err(error) = created {
            // Another test created it meanwhile (the login is unique); the login below says.
            eprintln!("creating {OUTSIDER_LOGIN}: {error:?}");
        }
    }
    login(
        client,
        &live.database,
        &(OUTSIDER_LOGIN.to_owned(), OUTSIDER_PASSWORD.to_owned()),
    )
    .await
}

async fn live_target(live: &Live) -> Target {
    let client = RpcClient::new(live.addr);
    let admin = login(&client, &live.database, &live.admin).await;
    let bridge = login(&client, &live.database, &live.bridge).await;
    let outsider = outsider(&client, live, &admin).await;
    Target::new(live.addr, &live.database, admin, bridge, outsider)
}

async fn emulator_target(odoo: &OdooEmulator) -> Target {
    let bridge = odoo.add_bridge_user("bridge", "bridge-pass-789");
    let outsider = odoo.add_user(OUTSIDER_LOGIN, OUTSIDER_PASSWORD, UserAccess::User);
    let account = |uid, password: &str| Account {
        uid,
        password: password.to_owned(),
    };
    Target::new(
        odoo.addr(),
        odoo.database(),
        account(2, "admin"),
        account(bridge, "bridge-pass-789"),
        account(outsider, OUTSIDER_PASSWORD),
    )
}

#[tokio::test]
async fn the_emulators_companion_answers_as_the_real_addon() {
    let Some(live) = live() else {
        return;
    };
    let _alone = crate::live::exclusive().await;
    let real = scenarios::run_all(&live_target(&live).await).await;
    // The emulator plays the same series as the real Odoo of this run (the addon's
    // module_version names it).
    let series = match crate::support::TestApi::of_run() {
        crate::support::TestApi::Json2 => influence_gen_testkit::Series::Odoo19,
        crate::support::TestApi::JsonRpc => influence_gen_testkit::Series::Odoo18,
    };
    let odoo = OdooEmulator::start_with(EmulatorConfig {
        series,
        ..EmulatorConfig::default().with_companion_addon()
    })
    .await;
    let emulated = scenarios::run_all(&emulator_target(&odoo).await).await;
    if std::env::var_os("IG_COMPANION_RECORD").is_some() {
        let recording: serde_json::Map<String, Value> = real
            .iter()
            .map(|(name, seen)| ((*name).to_owned(), seen.clone()))
            .collect();
        let text = serde_json::to_string_pretty(&recording).expect("JSON") + "\n";
        std::fs::write(RECORDING, text).expect("write the recording");
    }
    let differing: Vec<&str> = real
        .iter()
        .zip(&emulated)
        .filter(|((_, r), (_, e))| r != e)
        .map(|((name, _), _)| *name)
        .collect();
    for ((name, r), (_, e)) in real.iter().zip(&emulated) {
        if r != e {
            eprintln!("scenario {name}\n  real:     {r}\n  emulator: {e}");
        }
    }
    assert!(
        differing.is_empty(),
        "the emulator differs from the real addon in {differing:?}"
    );
}

#[tokio::test]
async fn every_bridge_method_refuses_a_user_outside_the_group() {
    let Some(live) = live() else {
        return;
    };
    let _alone = crate::live::exclusive().await;
    let target = live_target(&live).await;
    let client = RpcClient::new(live.addr);
    let reference = json!({"field": "id", "value": 1});
    for (method, args) in [
        ("bridge_protocol", json!([])),
        (
            "bridge_apply_result",
            json!([reference, {"kind": "failure", "error_details": "x"}]),
        ),
        ("bridge_claim_queued", json!([1, ["id"]])),
        ("bridge_claim", json!([reference, ["id"]])),
        ("bridge_finish_initiation", json!([1, "sent", ""])),
    ] {
        let answer = client
            .execute_kw(
                &live.database,
                target.outsider.uid,
                OUTSIDER_PASSWORD,
                REQUESTS,
                method,
                args,
                json!({}),
            )
            .await;
        let Err(RpcError::Odoo { name, message }) = answer else {
            panic!("{method} answered an outsider: {answer:?}");
        };
        assert_eq!(name, "odoo.exceptions.AccessError", "{method}: {message}");
        assert!(
            message.contains("group_influence_gen_bridge"),
            "{method}: {message}"
        );
    }
}

#[tokio::test]
async fn ten_identical_results_at_once_store_one_image_on_the_real_addon() {
    let Some(live) = live() else {
        return;
    };
    let _alone = crate::live::exclusive().await;
    let target = std::sync::Arc::new(live_target(&live).await);
    let client = RpcClient::new(live.addr);
    let admin = &target.admin;
    let created = admin_call(
        &client,
        &live,
        admin,
        REQUESTS,
        "create",
        json!([{"prompt": "ten at once", "status": "processing"}]),
    )
    .await;
    let id = created
        .as_i64()
        .or_else(|| created[0].as_i64())
        .expect("an id");
    let png = influence_gen_testkit::images::png(300, 200);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (target, result) = (target.clone(), scenarios::success(&png, 300, 200));
        let database = live.database.clone();
        calls.spawn(async move {
            let args = json!([scenarios::by_id(id), result]);
            let answer = target
                .client
                .execute_kw(
                    &database,
                    target.bridge.uid,
                    &target.bridge.password,
                    REQUESTS,
                    "bridge_apply_result",
                    args,
                    json!({}),
                )
                .await;
            match answer {
                Ok(Some(v)) => v["outcome"].as_str().unwrap_or("?").to_owned(),
                other => format!("{other:?}"),
            }
        });
    }
    let mut outcomes = calls.join_all().await;
    outcomes.sort();
    let mut expected = vec!["duplicate".to_owned(); 9];
    expected.insert(0, "completed".to_owned());
    assert_eq!(outcomes, expected);
    let images = admin_call(
        &client,
        &live,
        admin,
        "influence_gen.generated_image",
        "search_count",
        json!([[["request_id", "=", id]]]),
    )
    .await;
    assert_eq!(images, json!(1));
}
