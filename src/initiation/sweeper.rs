//! The sweeper, the safety net under the trigger route: every
//! `initiation.sweep_interval` it sends the `queued` requests older than
//! `initiation.sweep_grace`, oldest first; with the companion addon it
//! claims them one atomic `bridge_claim_queued` at a time, at any age.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{InitiationError, Initiator, Outcome, odoo_datetime};
use crate::app::App;
use crate::config::Config;
use crate::odoo::records::REQUEST_MODEL;
use crate::odoo::{Protocol, SearchOptions};

/// Requests per search (sweeper, watchdog, `initiate --all-queued`): one
/// Odoo answer of a few KiB, and short enough to stop promptly.
pub const SWEEP_BATCH: u32 = 50;
/// How often an off sweeper looks again (a reload may turn it on).
const OFF_RECHECK: Duration = Duration::from_secs(5);

/// Sweeps until `shutdown`, each time under the configuration of the moment.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let mut said_unconfigured = false;
    loop {
        let config = app.config();
        let initiator = &app.initiation().initiator;
        if config.initiation.sweep_interval.is_some() {
            let n8n = initiator.parameters.effective(&config).await;
            let ready = n8n.webhook_url.is_some() && n8n.api_key.is_some();
            if ready {
                // Each outcome is logged by the initiator.
                let grace = config.initiation.sweep_grace;
                let swept = sweep(initiator, &config, grace, "sweeper", &shutdown, drop);
                if let Err(error) = swept.await {
                    tracing::warn!(%error, "sweeper: trying again at the next sweep");
                }
            } else if !said_unconfigured {
                tracing::warn!(
                    "sweeper: no N8N webhook URL or API key is configured (n8n.webhook_url / n8n.api_key or Odoo's \
                     influence_gen.n8n_webhook_url / influence_gen.n8n_api_key); queued requests stay queued until one is"
                );
            }
            said_unconfigured = !ready;
        }
        let pause = config.initiation.sweep_interval.unwrap_or(OFF_RECHECK);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Sends the `queued` requests older than `grace`, until none is left or a
/// batch made no progress (a request Odoo refuses to change cannot make it
/// spin); `each` sees every outcome. An error finding the next one ends it.
pub async fn sweep(
    initiator: &Initiator,
    config: &Config,
    grace: Duration,
    via: &'static str,
    stop: &CancellationToken,
    mut each: impl FnMut(Result<Outcome, InitiationError>),
) -> Result<(), InitiationError> {
    let protocol = initiator.odoo().protocol().await;
    let protocol = protocol.map_err(InitiationError::Search)?;
    let options = SearchOptions {
        limit: Some(SWEEP_BATCH),
        order: Some("create_date asc, id asc".to_owned()),
        ..SearchOptions::default()
    };
    while !stop.is_cancelled() {
        if let Protocol::Companion { .. } = protocol {
            match initiator.initiate_next(config, via, stop).await? {
                Some(outcome) => each(Ok(outcome)),
                None => return Ok(()),
            }
            continue;
        }
        let cutoff = odoo_datetime(SystemTime::now() - grace);
        let domain = json!([["status", "=", "queued"], ["create_date", "<=", cutoff]]);
        let search = initiator.odoo().search(REQUEST_MODEL, &domain, &options);
        let ids = search.await.map_err(InitiationError::Search)?;
        let mut progress = 0;
        for &id in &ids {
            if stop.is_cancelled() {
                return Ok(());
            }
            let result = initiator.initiate(config, id, via, stop).await;
            progress += usize::from(!matches!(result, Ok(Outcome::Deferred { .. }) | Err(_)));
            each(result);
        }
        if ids.len() < SWEEP_BATCH as usize || progress == 0 {
            return Ok(());
        }
    }
    Ok(())
}
