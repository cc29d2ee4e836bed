//! The answer table's 500 row against the real Odoo: a bridge user whose
//! writes Odoo refuses (the example addon's read-only "InfluenceGen Viewer"
//! group: its record rules forbid creating images and writing requests).
//! Both a success and a failure are answered 500 without internals, and the
//! request is left as it was.

use std::sync::Arc;

use futures_util::FutureExt;
use influence_gen_testkit::images;
use serde_json::{Value, json};

use influence_gen_bridge::odoo::Api;

use super::{Live, LiveScenario};
use crate::scenarios::{IMAGES, REQUESTS};
use crate::support::api_key::make_own_api_key;
use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{client, failure, post, success_inline};
use crate::support::config::TestConfig;

const INTERNAL_ERROR: &str = "internal error; see the bridge's log";

pub fn scenarios() -> Vec<LiveScenario> {
    vec![LiveScenario::new(
        "500: Odoo refuses the bridge user's writes (read-only group)",
        |live| refused_writes_are_500(live).boxed(),
    )]
}

/// Creates an internal user in the addon's viewer group; its login and
/// secret (unique per run, so the scenario can run again on one database):
/// its password, or on Odoo 19 (`/json/2`) an API key it made itself.
async fn viewer(live: &Live) -> (String, String) {
    let admin = live.admin();
    let mut groups = Vec::new();
    for (module, name) in [
        ("base", "group_user"),
        ("influence_gen_base_models", "group_influence_gen_viewer"),
    ] {
        let reference: Value = admin
            .execute_kw(
                "ir.model.data",
                "check_object_reference",
                &json!([module, name]),
                &json!({}),
            )
            .await
            .expect("look up the group")
            .expect("a group reference");
        groups.push(reference[1].clone());
    }
    let suffix = std::process::id() ^ rand_suffix();
    let login = format!("viewer-{suffix:x}");
    let password = format!("viewer-password-{suffix:x}");
    // Odoo 19 renamed res.users.groups_id to group_ids.
    let found: Option<Value> = admin
        .execute_kw(
            "res.users",
            "fields_get",
            &json!([["group_ids"]]),
            &json!({"attributes": ["type"]}),
        )
        .await
        .expect("res.users fields");
    let groups_field = if found.is_some_and(|f| f.get("group_ids").is_some()) {
        "group_ids"
    } else {
        "groups_id"
    };
    admin
        .create(
            "res.users",
            &json!({ "name": login, "login": login, "password": password,
                     "email": format!("{login}@example.com"), groups_field: [[6, 0, groups]] }),
        )
        .await
        .expect("create the viewer");
    let bridge = crate::scenarios::client(&live.odoo.bridge_config());
    if bridge.api().await.expect("the API is chosen") == Api::Json2 {
        let odoo = &live.odoo.bridge_config();
        let key = make_own_api_key(&odoo.odoo_url, &odoo.database, &login, &password, "1").await;
        return (login, key);
    }
    (login, password)
}

/// Some bits that differ between runs of the suite on one database.
fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default()
}

async fn refused_writes_are_500(live: Arc<Live>) {
    let (login, password) = viewer(&live).await;
    let config = TestConfig {
        login,
        password,
        ..live.target.config.clone()
    };
    let request = live.target.request(json!({ "prompt": "refused" })).await;
    let bridge = BridgeProcess::start(&config).await;
    let http = client();
    let image = success_inline(request.to_string(), &images::png(12, 12));
    for body in [image, failure(request, "quota", "")] {
        let (status, answer) = post(&http, &bridge.url(""), &body)
            .await
            .expect("the bridge answers");
        assert_eq!(status, 500, "{answer}");
        assert_eq!(answer["message"], INTERNAL_ERROR, "{answer}");
    }
    assert_eq!(live.statuses(&[request]).await, ["queued"]);
    let images: Vec<Value> = live
        .admin()
        .search_read(
            IMAGES,
            &json!([["request_id", "=", request]]),
            &["id"],
            &Default::default(),
        )
        .await
        .expect("read the images");
    assert!(images.is_empty(), "{images:?}");
    // Leave no queued request behind for later scenarios' sweepers and claims.
    live.admin()
        .write(REQUESTS, &[request], &json!({ "status": "failed" }))
        .await
        .expect("close the request");
}
