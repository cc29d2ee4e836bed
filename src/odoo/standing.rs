//! Whether Odoo currently refuses the bridge itself: its login, its
//! session, or JSON-RPC altogether (a maintenance page). See
//! [`Refusal`].
//!
//! Every call's outcome updates it: a refusal sets it, an authenticated call
//! that succeeds clears it. Each change — and only a change — writes one
//! log line that says why and what to do, and sets the
//! `odoo_refused{reason}` gauge, so a spool full of waiting entries logs one
//! line, not one per entry and attempt. `/readyz` and the spool's worker
//! read it.

use std::sync::{Arc, Mutex};

use super::error::Refusal;
use crate::metrics::Metrics;

/// The current refusal, if any.
#[derive(Debug, Default)]
pub struct Standing {
    // std Mutex: held to compare and swap, never across an await.
    refusal: Mutex<Option<Refusal>>,
    metrics: Option<Arc<Metrics>>,
}

impl Standing {
    /// A standing that reports its changes to `metrics`.
    pub fn new(metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            refusal: Mutex::new(None),
            metrics,
        }
    }

    /// The refusal in force, if Odoo refuses the bridge now.
    pub fn current(&self) -> Option<Refusal> {
        *self.lock()
    }

    /// Odoo refused the bridge with `refusal`.
    pub fn refused(&self, refusal: Refusal) {
        let previous = self.lock().replace(refusal);
        if previous == Some(refusal) {
            return;
        }
        tracing::error!(
            reason = refusal.label(),
            "{}; accepted callbacks wait in the spool until it is fixed",
            refusal.explanation()
        );
        self.publish(Some(refusal));
    }

    /// An authenticated call succeeded: Odoo accepts the bridge.
    pub fn accepted(&self) {
        let Some(previous) = self.lock().take() else {
            return;
        };
        tracing::info!(
            previous = previous.label(),
            "Odoo accepts the bridge again; waiting callbacks resume"
        );
        self.publish(None);
    }

    fn publish(&self, current: Option<Refusal>) {
        if let Some(metrics) = &self.metrics {
            for refusal in Refusal::ALL {
                metrics
                    .odoo_refused
                    .get_or_create(&crate::metrics::ReasonLabels {
                        reason: refusal.label(),
                    })
                    .set(i64::from(current == Some(refusal)));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Refusal>> {
        self.refusal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_published() {
        let metrics = Arc::new(Metrics::new());
        let standing = Standing::new(Some(Arc::clone(&metrics)));
        assert_eq!(standing.current(), None);
        standing.refused(Refusal::LoginRefused);
        standing.refused(Refusal::LoginRefused);
        assert_eq!(standing.current(), Some(Refusal::LoginRefused));
        let text = metrics.encode();
        assert!(
            text.contains("influence_gen_bridge_odoo_refused{reason=\"login_refused\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("influence_gen_bridge_odoo_refused{reason=\"not_json_rpc\"} 0"),
            "{text}"
        );
        standing.accepted();
        assert_eq!(standing.current(), None);
        assert!(
            metrics
                .encode()
                .contains("influence_gen_bridge_odoo_refused{reason=\"login_refused\"} 0")
        );
    }
}
