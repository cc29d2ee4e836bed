//! Outages in the middle of 50 callbacks, against the real Odoo: Odoo
//! stopped and restarted (the kit's `stop --odoo-only`, then `start --dir
//! --port`, so it comes back at the same URL), and the bridge killed with
//! SIGKILL and started again on the same spool. Every accepted callback
//! (2xx) must end applied exactly once, counted from Odoo itself: one
//! generated image and one attachment per request.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use influence_gen_testkit::images;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{Live, LiveScenario};
use crate::scenarios::{ATTACHMENTS, IMAGES, REQUESTS};
use crate::support::bridge::{BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, post, success_inline};

const CALLBACKS: usize = 50;
/// Callbacks in flight at once, like a busy N8N.
const CONCURRENCY: usize = 4;
/// How long the spool may take to apply everything after an outage.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);

pub fn scenarios() -> Vec<LiveScenario> {
    vec![
        LiveScenario::new(
            "outage: Odoo stopped and restarted in the middle of 50 callbacks",
            |live| odoo_restarted_mid_way(live).boxed(),
        )
        .needing_the_kit(),
        LiveScenario::new(
            "outage: the bridge killed (SIGKILL) in the middle of 50 callbacks",
            |live| bridge_killed_mid_way(live).boxed(),
        ),
    ]
}

/// 50 new requests and a distinct image for each.
async fn fifty(live: &Live, prompt: &str) -> Vec<(i64, Value)> {
    let vals: Vec<Value> = (0..CALLBACKS)
        .map(|n| json!({ "prompt": format!("{prompt} {n}") }))
        .collect();
    let ids = live
        .admin()
        .create_many(REQUESTS, &vals)
        .await
        .expect("create the requests");
    ids.into_iter()
        .enumerate()
        .map(|(n, id)| {
            let png = images::png(16 + n as u32, 16);
            (id, success_inline(id.to_string(), &png))
        })
        .collect()
}

/// Delivers every body to `url`, [`CONCURRENCY`] at a time, counting
/// answers in `answered`; each request's HTTP status, or `None` when the
/// connection failed (the bridge died).
async fn deliver_all(
    url: String,
    bodies: Vec<(i64, Value)>,
    answered: Arc<AtomicUsize>,
) -> BTreeMap<i64, Option<u16>> {
    let http = client();
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (id, body) in bodies {
        let permit = Arc::clone(&permits).acquire_owned().await.expect("permit");
        let (http, url, answered) = (http.clone(), url.clone(), Arc::clone(&answered));
        tasks.spawn(async move {
            let status = post(&http, &url, &body).await.ok().map(|(s, _)| s);
            answered.fetch_add(1, Ordering::SeqCst);
            drop(permit);
            (id, status)
        });
    }
    let mut statuses = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (id, status) = done.expect("a delivery task");
        statuses.insert(id, status);
    }
    statuses
}

async fn wait_for_answers(answered: &AtomicUsize, n: usize) {
    while answered.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn accepted(status: Option<u16>) -> bool {
    matches!(status, Some(200 | 202))
}

async fn odoo_restarted_mid_way(live: Arc<Live>) {
    let (kit, dir) = match (&live.odoo.kit, &live.odoo.dir) {
        (Some(kit), Some(dir)) => (kit.clone(), dir.clone()),
        _ => unreachable!("needing_the_kit"),
    };
    let port = live.odoo.url.rsplit(':').next().expect("a port").to_owned();
    let work = fifty(&live, "odoo restart").await;
    let ids: Vec<i64> = work.iter().map(|(id, _)| *id).collect();
    // A short spool wait: callbacks during the outage answer 202 quickly.
    let config = live.target.config.clone().with("spool", "wait = \"1s\"");
    let bridge = BridgeProcess::start(&config).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let delivery = tokio::spawn(deliver_all(bridge.url(""), work, Arc::clone(&answered)));
    wait_for_answers(&answered, CALLBACKS / 4).await;
    kit_command(&kit, &["stop", "--odoo-only"], &dir, &[]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    kit_command(&kit, &["start", "--dir"], &dir, &["--port", &port]).await;
    let statuses = delivery.await.expect("the deliveries");
    let refused: Vec<_> = statuses.iter().filter(|(_, s)| !accepted(**s)).collect();
    assert!(refused.is_empty(), "callbacks not accepted: {refused:?}");
    assert!(
        statuses.values().any(|s| *s == Some(202)),
        "no callback arrived during the outage (all answered 200)"
    );
    live.wait_for_status(&ids, "completed", DRAIN_TIMEOUT).await;
    assert_applied_once(&live, &ids).await;
}

async fn bridge_killed_mid_way(live: Arc<Live>) {
    let work = fifty(&live, "bridge killed").await;
    let ids: Vec<i64> = work.iter().map(|(id, _)| *id).collect();
    let file = ConfigFile::write(&live.target.config);
    let first = BridgeProcess::start_with_file(&file.path, &[]).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let delivery = tokio::spawn(deliver_all(
        first.url(""),
        work.clone(),
        Arc::clone(&answered),
    ));
    wait_for_answers(&answered, CALLBACKS / 3).await;
    first.signal("KILL");
    let statuses = delivery.await.expect("the deliveries");
    drop(first);
    let (accepted_ids, lost): (Vec<i64>, Vec<i64>) =
        ids.iter().partition(|id| accepted(statuses[*id]));
    assert!(!lost.is_empty(), "the kill came after every callback");
    // The restarted bridge finishes what the first one accepted, from its spool.
    let second = BridgeProcess::start_with_file(&file.path, &[]).await;
    live.wait_for_status(&accepted_ids, "completed", DRAIN_TIMEOUT)
        .await;
    // N8N retries what got no answer.
    let retries: Vec<(i64, Value)> = work
        .into_iter()
        .filter(|(id, _)| lost.contains(id))
        .collect();
    let statuses = deliver_all(second.url(""), retries, Arc::default()).await;
    assert!(
        statuses.values().all(|s| accepted(*s)),
        "retries not accepted: {statuses:?}"
    );
    live.wait_for_status(&ids, "completed", DRAIN_TIMEOUT).await;
    assert_applied_once(&live, &ids).await;
}

/// Counted from Odoo: each request has one generated image, linked from the
/// request, with one attachment.
async fn assert_applied_once(live: &Live, ids: &[i64]) {
    let options = Default::default();
    let images: Vec<Value> = live
        .admin()
        .search_read(
            IMAGES,
            &json!([["request_id", "in", ids]]),
            &["request_id"],
            &options,
        )
        .await
        .expect("read the images");
    let mut per_request: BTreeMap<i64, usize> = BTreeMap::new();
    for image in &images {
        *per_request
            .entry(image["request_id"][0].as_i64().unwrap_or_default())
            .or_default() += 1;
    }
    let wrong: Vec<_> = ids
        .iter()
        .filter(|id| per_request.get(*id) != Some(&1))
        .map(|id| (id, per_request.get(id).copied().unwrap_or(0)))
        .collect();
    assert!(
        wrong.is_empty(),
        "requests without exactly one image (id, images): {wrong:?}"
    );
    let image_ids: Vec<i64> = images.iter().filter_map(|i| i["id"].as_i64()).collect();
    let attachments: i64 = live
        .admin()
        .execute_kw(
            ATTACHMENTS,
            "search_count",
            &json!([[["res_model", "=", IMAGES], ["res_id", "in", image_ids]]]),
            &json!({}),
        )
        .await
        .expect("count the attachments")
        .expect("a count");
    assert_eq!(attachments, ids.len() as i64, "attachments of the images");
}

/// Runs `KIT/<command> <args…> DIR <more…>` (the kit's `stop` or `start`).
async fn kit_command(kit: &Path, command: &[&str], dir: &Path, more: &[&str]) {
    let output = tokio::process::Command::new(kit.join(command[0]))
        .args(&command[1..])
        .arg(dir)
        .args(more)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run the kit");
    assert!(
        output.status.success(),
        "{} {:?} failed:\n{}",
        command[0],
        dir,
        String::from_utf8_lossy(&output.stderr)
    );
}
