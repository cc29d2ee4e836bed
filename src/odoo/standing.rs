//! Whether Odoo refuses the bridge itself right now ([`Refusal`]).
//!
//! A refusal sets it, an authenticated call that succeeds clears it. Only a
//! change writes a log line (why, and what to do) and sets the
//! `odoo_refused{reason}` gauge, so a spool full of waiting entries logs
//! one line, not one per entry and attempt.

use std::sync::{Arc, Mutex, MutexGuard};

use super::error::Refusal;
use crate::metrics::{Metrics, ReasonLabels};

/// The current refusal, if any.
#[derive(Debug, Default)]
pub struct Standing {
    // std Mutex: never held across an await.
    refusal: Mutex<Option<Refusal>>,
    metrics: Option<Arc<Metrics>>,
}

impl Standing {
    pub fn new(metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            refusal: Mutex::new(None),
            metrics,
        }
    }

    pub fn current(&self) -> Option<Refusal> {
        *self.lock()
    }

    pub fn refused(&self, refusal: Refusal) {
        if self.lock().replace(refusal) != Some(refusal) {
            tracing::error!(
                reason = refusal.label(),
                "{}; accepted callbacks wait in the spool until it is fixed",
                refusal.explanation()
            );
            self.publish(Some(refusal));
        }
    }

    pub fn accepted(&self) {
        if let Some(previous) = self.lock().take() {
            tracing::info!(
                previous = previous.label(),
                "Odoo accepts the bridge again; waiting callbacks resume"
            );
            self.publish(None);
        }
    }

    fn publish(&self, current: Option<Refusal>) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        for refusal in Refusal::ALL {
            let reason = refusal.label();
            let gauge = metrics.odoo_refused.get_or_create(&ReasonLabels { reason });
            gauge.set(i64::from(current == Some(refusal)));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Refusal>> {
        self.refusal.lock().unwrap_or_else(|e| e.into_inner())
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
