//! Two results for one request at the same time (issue 15, item 1): a late
//! failure must never overwrite a completed request, whether the two name
//! the request the same way or one by id and the other by UUID.
//!
//! One test drives the pipeline in-process, to make its Odoo read overlap
//! the other delivery exactly; the other drives the real daemon, whose
//! spool must keep arrival order per request even across reference styles.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use influence_gen_bridge::callback::{CallbackResult, Claims, ImagePayload, Outcome};
use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::image::ImageFetcher;
use influence_gen_bridge::metrics::Metrics;
use influence_gen_bridge::odoo::OdooClient;
use influence_gen_bridge::pipeline::{Applied, Pipeline, PipelineError};
use influence_gen_testkit::{CallMatcher, Fault, FaultRule, OdooEmulator, images};
use serde_json::{Value, json};

use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{self, success_inline};
use crate::support::odoo;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const WAIT: Duration = Duration::from_secs(10);

fn failure_by(reference: &str) -> Value {
    json!({
        "ai_generation_request_id": reference,
        "result_payload": { "status": "failure", "error_data": { "message": "provider timed out" } }
    })
}

fn assert_completed_once(odoo: &OdooEmulator, request: i64) {
    let record = odoo.record(REQUESTS, request).unwrap();
    assert_eq!(record["status"], "completed", "{record}");
    let images: Vec<Value> = odoo
        .records(IMAGES)
        .into_iter()
        .filter(|image| image["request_id"][0] == request)
        .collect();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(record["generated_image_id"][0], images[0]["id"]);
}

fn uuid_of(odoo: &OdooEmulator, request: i64) -> String {
    odoo.record(REQUESTS, request).unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_failure_whose_read_overlapped_a_success_does_not_overwrite_it() {
    let (odoo, test_config) = odoo().await;
    influence_gen_bridge::tls::install_crypto_provider();
    let config = Config::from_toml(
        &test_config.toml(),
        Path::new("t.toml"),
        Path::new("/tmp"),
        &Environment::default(),
    )
    .unwrap();
    let pipeline = Arc::new(Pipeline::new(
        OdooClient::new(&config.odoo).unwrap(),
        ImageFetcher::new(&config.images).unwrap(),
        Arc::new(Metrics::new()),
    ));
    let config = Arc::new(config);
    let request = odoo.seed_request(json!({ "prompt": "a lighthouse" }));
    // The failure's read of the request is carried out at once (the request
    // is still queued) but its answer arrives only after the success went
    // through completely.
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQUESTS, "search_read"),
        Fault::AnswerLate(Duration::from_millis(1500)),
    ));
    let failure = CallbackResult {
        request_ref: uuid_of(&odoo, request),
        outcome: Outcome::Failure {
            message: "provider timed out".into(),
            details: None,
        },
    };
    let late = {
        let (pipeline, config) = (Arc::clone(&pipeline), Arc::clone(&config));
        tokio::spawn(async move { pipeline.apply(&config, &failure).await })
    };
    assert!(
        odoo.wait_for_arrival(REQUESTS, "search_read", 1, WAIT)
            .await
    );
    let success = CallbackResult {
        request_ref: request.to_string(),
        outcome: Outcome::Success {
            image: ImagePayload::Inline(images::png(8, 8).into()),
            claims: Claims::default(),
        },
    };
    let applied = pipeline.apply(&config, &success).await.unwrap();
    assert!(matches!(applied, Applied::Completed { .. }), "{applied:?}");
    let late = late.await.unwrap();
    assert!(
        matches!(
            late,
            Ok(Applied::FailureRecorded { .. }) | Err(PipelineError::Conflict { .. })
        ),
        "{late:?}"
    );
    assert_completed_once(&odoo, request);
}

#[tokio::test]
async fn a_late_failure_by_id_waits_for_a_success_by_uuid_and_is_refused() {
    let (odoo, config) = odoo().await;
    let config = config
        .with("spool", "wait = \"10s\"")
        .with("initiation", "sweep_interval = \"0s\"");
    let bridge = BridgeProcess::start(&config).await;
    let http = callbacks::client();
    let request = odoo.seed_request(json!({ "prompt": "a lighthouse" }));
    // Resolving the success's UUID takes a while: meanwhile the failure,
    // sent later by id, must not overtake it.
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQUESTS, "search"),
        Fault::Stall(Duration::from_millis(700)),
    ));
    let success = success_inline(uuid_of(&odoo, request), &images::png(8, 8));
    let first = {
        let (http, url) = (http.clone(), bridge.url(""));
        tokio::spawn(async move { callbacks::post(&http, &url, &success).await.unwrap() })
    };
    assert!(odoo.wait_for_arrival(REQUESTS, "search", 1, WAIT).await);
    let (status, body) = callbacks::post(&http, &bridge.url(""), &failure_by(&request.to_string()))
        .await
        .unwrap();
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(status, 409, "{body}");
    assert_completed_once(&odoo, request);
}
