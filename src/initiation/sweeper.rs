//! The sweeper: every `initiation.sweep_interval`, the `queued` requests
//! older than `initiation.sweep_grace` are sent, oldest first, in batches of
//! [`super::SWEEP_BATCH`].
//!
//! It is the safety net under the trigger route: a trigger Odoo never sent
//! (the automation rule is off, the bridge was down, Odoo's 1 s wait ran
//! out) only delays a request by one interval. The grace period leaves young
//! requests to their trigger. A request an admin puts back to `queued` is
//! swept too (its `create_date` is old).
//!
//! With the companion addon the sweeper claims instead of searching: one
//! `bridge_claim_queued` call per request, oldest id first, regardless of
//! the grace (a claim is atomic, so racing a trigger or another bridge
//! sends nothing twice).
//!
//! What must stay true: the sweeper stops between requests on shutdown;
//! a batch that made no progress (every request stayed `queued`) ends the
//! sweep, so a request Odoo refuses to change cannot make it spin; and while
//! neither the configuration nor Odoo names a webhook URL and API key, the
//! sweeper sends nothing and leaves requests `queued` (a request asked for
//! explicitly, by trigger or `initiate`, fails at once instead).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Initiator, Via};
use crate::app::App;
use crate::config::Config;
use crate::odoo::{Protocol, SearchOptions};

/// Oldest first, as the SDS's users expect; `id` breaks ties within a second.
pub const QUEUED_ORDER: &str = "create_date asc, id asc";
/// While the sweeper is off, how often the configuration is looked at again
/// (a reload may turn it on).
const OFF_RECHECK: Duration = Duration::from_secs(5);

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepSummary {
    pub sent: usize,
    pub failed: usize,
    /// Sent, but N8N may or may not have started it.
    pub unknown: usize,
    pub other: usize,
}

/// Sweeps until `shutdown`, reading the configuration afresh before each
/// sweep (`sweep_interval = "0s"` pauses it).
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let mut said_unconfigured = false;
    loop {
        let config = app.config();
        let pause = match config.initiation.sweep_interval {
            Some(interval) => {
                let initiator = app.initiation().initiator();
                if configured(initiator, &config, &mut said_unconfigured).await {
                    sweep(initiator, &config, &shutdown).await;
                }
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

/// Whether a webhook URL and API key are known; says so once when not.
async fn configured(initiator: &Initiator, config: &Config, said: &mut bool) -> bool {
    let n8n = initiator.parameters().effective(config).await;
    let ready = n8n.webhook_url.is_some() && n8n.api_key.is_some();
    if !ready && !*said {
        tracing::warn!(
            "sweeper: no N8N webhook URL or API key is configured (n8n.webhook_url / n8n.api_key or Odoo's \
             influence_gen.n8n_webhook_url / influence_gen.n8n_api_key); queued requests stay queued until one is"
        );
    }
    *said = !ready;
    ready
}

/// The next batch of `queued` requests matching `leaf` too, oldest first.
pub async fn queued_batch(
    initiator: &Initiator,
    _config: &Config,
    leaf: serde_json::Value,
) -> Result<Vec<i64>, crate::odoo::OdooError> {
    let domain = json!([["status", "=", "queued"], leaf]);
    let options = SearchOptions {
        limit: Some(super::SWEEP_BATCH),
        order: Some(QUEUED_ORDER.to_owned()),
        ..SearchOptions::default()
    };
    initiator
        .odoo()
        .search(crate::odoo::records::REQUEST_MODEL, &domain, &options)
        .await
}

/// One sweep: until no queued request (past the grace, in the generic
/// protocol) is left.
pub async fn sweep(
    initiator: &Initiator,
    config: &Config,
    stop: &CancellationToken,
) -> SweepSummary {
    match initiator.odoo().protocol().await {
        Ok(Protocol::Companion { .. }) => sweep_claiming(initiator, config, stop).await,
        Ok(Protocol::Generic) => sweep_searching(initiator, config, stop).await,
        Err(error) => {
            tracing::warn!(%error, "sweeper: cannot learn Odoo's protocol; trying again at the next sweep");
            SweepSummary::default()
        }
    }
}

/// Companion protocol: claims the oldest queued request and sends it, one
/// at a time, until none is left. Each claim is one atomic Odoo call, so
/// any number of bridges sweep one database without sending a request
/// twice, and racing a trigger is harmless: `sweep_grace` is not needed.
async fn sweep_claiming(
    initiator: &Initiator,
    config: &Config,
    stop: &CancellationToken,
) -> SweepSummary {
    let mut summary = SweepSummary::default();
    while !stop.is_cancelled() {
        match initiator.initiate_next(config, Via::Sweeper, stop).await {
            Ok(Some(outcome)) => summary.count(&outcome),
            Ok(None) => {
                tracing::debug!("sweeper: no queued request waits");
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "sweeper: trying again at the next sweep");
                summary.other += 1;
                break;
            }
        }
    }
    summary
}

impl SweepSummary {
    fn count(&mut self, outcome: &super::Outcome) {
        match outcome {
            super::Outcome::Sent { .. } => self.sent += 1,
            super::Outcome::Failed { .. } => self.failed += 1,
            super::Outcome::Unknown { .. } => self.unknown += 1,
            _ => self.other += 1,
        }
    }
}

/// Generic protocol: searches batches of queued requests past the grace,
/// oldest first, and sends each.
async fn sweep_searching(
    initiator: &Initiator,
    config: &Config,
    stop: &CancellationToken,
) -> SweepSummary {
    let mut summary = SweepSummary::default();
    loop {
        let cutoff = odoo_datetime(SystemTime::now() - config.initiation.sweep_grace);
        let ids = match queued_batch(initiator, config, json!(["create_date", "<=", cutoff])).await
        {
            Ok(ids) => ids,
            Err(error) => {
                tracing::warn!(%error, "sweeper: cannot search for queued requests; trying again at the next sweep");
                return summary;
            }
        };
        if ids.is_empty() {
            tracing::debug!("sweeper: no queued request waits");
            return summary;
        }
        tracing::info!(
            count = ids.len(),
            "sweeper: sending queued requests that had no trigger"
        );
        let mut progress = 0;
        for &id in &ids {
            if stop.is_cancelled() {
                return summary;
            }
            match initiator.initiate(config, id, Via::Sweeper, stop).await {
                Ok(outcome) => {
                    summary.count(&outcome);
                    progress += usize::from(outcome.settled());
                }
                Err(_) => summary.other += 1,
            }
        }
        let full = ids.len() >= super::SWEEP_BATCH as usize;
        if !full || progress == 0 {
            return summary;
        }
    }
}

/// `t` as Odoo stores datetimes: UTC, `YYYY-MM-DD HH:MM:SS`.
pub fn odoo_datetime(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a date.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> String {
        odoo_datetime(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn datetimes_are_odoo_utc_text() {
        assert_eq!(at(0), "1970-01-01 00:00:00");
        // The create_date of transcript 11.
        assert_eq!(at(1_795_955_977), "2026-11-29 12:39:37");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(at(4_107_542_399), "2100-02-28 23:59:59");
        assert_eq!(at(1_709_251_199), "2024-02-29 23:59:59");
    }
}
