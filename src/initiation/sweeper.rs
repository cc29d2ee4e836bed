//! The sweeper: every `initiation.sweep_interval`, the `queued` requests
//! older than `initiation.sweep_grace` are sent, oldest first.
//!
//! It is the safety net under the trigger route: a lost trigger (the rule
//! off, the bridge down, Odoo's 1 s wait run out) only delays a request by
//! one interval; the grace leaves young requests to their trigger. With the
//! companion addon it claims instead of searching, one atomic
//! `bridge_claim_queued` per request regardless of the grace, so racing a
//! trigger or another bridge sends nothing twice.
//!
//! It stops between requests on shutdown; a batch that made no progress
//! ends the sweep (a request Odoo refuses to change cannot make it spin);
//! and while no webhook URL and API key are known it leaves requests
//! `queued` (one asked for explicitly fails at once instead).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Initiator, Outcome, Via, odoo_datetime};
use crate::app::App;
use crate::config::Config;
use crate::odoo::records::REQUEST_MODEL;
use crate::odoo::{OdooError, Protocol, SearchOptions};

/// Requests per search (sweeper, watchdog, `initiate --all-queued`): one
/// Odoo answer of a few KiB, and short enough to stop promptly.
pub const SWEEP_BATCH: u32 = 50;
/// While the sweeper is off, how often the configuration is looked at again
/// (a reload may turn it on).
const OFF_RECHECK: Duration = Duration::from_secs(5);

/// Sweeps until `shutdown`, reading the configuration afresh before each
/// sweep (`sweep_interval = "0s"` pauses it).
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let mut said_unconfigured = false;
    loop {
        let config = app.config();
        let pause = match config.initiation.sweep_interval {
            Some(interval) => {
                let initiator = app.initiation().initiator();
                let n8n = initiator.parameters.effective(&config).await;
                let ready = n8n.webhook_url.is_some() && n8n.api_key.is_some();
                if ready {
                    sweep(initiator, &config, &shutdown).await;
                } else if !said_unconfigured {
                    tracing::warn!(
                        "sweeper: no N8N webhook URL or API key is configured (n8n.webhook_url / n8n.api_key or Odoo's \
                         influence_gen.n8n_webhook_url / influence_gen.n8n_api_key); queued requests stay queued until one is"
                    );
                }
                said_unconfigured = !ready;
                interval
            }
            None => OFF_RECHECK,
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// The next [`SWEEP_BATCH`] `queued` requests matching `leaf` too, oldest
/// first (`id` breaks ties within a second).
pub async fn queued_batch(initiator: &Initiator, leaf: Value) -> Result<Vec<i64>, OdooError> {
    let domain = json!([["status", "=", "queued"], leaf]);
    let options = SearchOptions {
        limit: Some(SWEEP_BATCH),
        order: Some("create_date asc, id asc".to_owned()),
        ..SearchOptions::default()
    };
    initiator
        .odoo()
        .search(REQUEST_MODEL, &domain, &options)
        .await
}

/// One sweep: until no queued request (past the grace, in the generic
/// protocol) is left.
async fn sweep(initiator: &Initiator, config: &Config, stop: &CancellationToken) {
    let companion = match initiator.odoo().protocol().await {
        Ok(protocol) => matches!(protocol, Protocol::Companion { .. }),
        Err(error) => {
            return tracing::warn!(%error, "sweeper: cannot learn Odoo's protocol; trying again at the next sweep");
        }
    };
    while !stop.is_cancelled() {
        if companion {
            match initiator.initiate_next(config, Via::Sweeper, stop).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "sweeper: trying again at the next sweep"),
            }
            break;
        }
        let cutoff = odoo_datetime(SystemTime::now() - config.initiation.sweep_grace);
        let ids = match queued_batch(initiator, json!(["create_date", "<=", cutoff])).await {
            Ok(ids) => ids,
            Err(error) => {
                return tracing::warn!(%error, "sweeper: cannot search for queued requests; trying again at the next sweep");
            }
        };
        let mut progress = 0;
        for &id in &ids {
            if stop.is_cancelled() {
                return;
            }
            let outcome = initiator.initiate(config, id, Via::Sweeper, stop).await;
            progress += usize::from(!matches!(outcome, Ok(Outcome::Deferred { .. }) | Err(_)));
        }
        if ids.len() < SWEEP_BATCH as usize || progress == 0 {
            break;
        }
    }
    tracing::debug!("sweeper: no queued request waits");
}
