//! The two protocols toward Odoo against the emulator: detection
//! (`odoo.protocol`, [`detection`]), the generic protocol's wait after a
//! create of unknown outcome, also across a crash or restart
//! ([`generic`]), and the companion protocol's one call per result, counted
//! by the emulator, with two bridges and a dead bridge's spool
//! ([`companion`]).

mod companion;
mod detection;
mod generic;

use std::time::{Duration, Instant};

use influence_gen_testkit::{EmulatorConfig, OdooEmulator};
use serde_json::Value;

use crate::support::config::{ODOO_LOGIN, ODOO_PASSWORD, TestConfig};

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const ATTACHMENTS: &str = "ir.attachment";

/// Waits until `done` holds, polling the emulator's state.
pub(super) async fn eventually(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) fn images_of(odoo: &OdooEmulator, request: i64) -> Vec<Value> {
    odoo.records(IMAGES)
        .into_iter()
        .filter(|image| image["request_id"][0] == request)
        .collect()
}

pub(super) fn status_of(odoo: &OdooEmulator, request: i64) -> String {
    odoo.record(REQUESTS, request).expect("the request")["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Exactly one image and one attachment, and the request completed.
pub(super) fn assert_one_image(odoo: &OdooEmulator, request: i64) {
    assert_eq!(status_of(odoo, request), "completed");
    let images = images_of(odoo, request);
    assert_eq!(images.len(), 1, "request {request} has images {images:?}");
    let attachments: Vec<Value> = odoo
        .records(ATTACHMENTS)
        .into_iter()
        .filter(|a| a["res_id"] == images[0]["id"])
        .collect();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
}

/// An emulator, with the companion addon installed or not, the bridge's
/// user in the addon's group, and a configuration pointing at it.
pub(super) async fn bridge_user_odoo(addon: bool) -> (OdooEmulator, TestConfig) {
    let emulator = if addon {
        EmulatorConfig::default().with_companion_addon()
    } else {
        EmulatorConfig::default()
    };
    let odoo = OdooEmulator::start_with(emulator).await;
    odoo.add_bridge_user(ODOO_LOGIN, ODOO_PASSWORD);
    let config = TestConfig::new(&odoo.url());
    (odoo, config)
}

/// [`bridge_user_odoo`] with the addon, speaking the companion protocol.
pub(super) async fn companion_odoo() -> (OdooEmulator, TestConfig) {
    let (odoo, config) = bridge_user_odoo(true).await;
    let config = config
        .with("odoo", "protocol = \"companion\"")
        .with("initiation", "sweep_interval = \"0s\"");
    (odoo, config)
}

/// `model.method` of the `execute_kw` calls the emulator received since `since`.
pub(super) fn object_calls(odoo: &OdooEmulator, since: usize) -> Vec<String> {
    odoo.calls()
        .into_iter()
        .skip(since)
        .filter(|call| call.service == "object")
        .map(|call| {
            format!(
                "{}.{}",
                call.model.unwrap_or_default(),
                call.model_method.unwrap_or_default()
            )
        })
        .collect()
}
