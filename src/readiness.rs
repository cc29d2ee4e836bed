//! Readiness (`/readyz`): Odoo accepts the login and the spool is writable.
//! A verdict is cached for [`CACHE_FOR`]; it names what is not ready without
//! an address, path or secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::odoo::records::REQUEST_MODEL;
use crate::odoo::{AccessOperation, OdooClient, OdooError};
use crate::spool::Queue;

pub const CACHE_FOR: Duration = Duration::from_secs(2);
const ODOO_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub ready: bool,
    pub failing: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Readiness {
    cached: Mutex<Option<(Instant, Report)>>,
}

impl Readiness {
    pub async fn check(&self, odoo: &OdooClient, spool: &Arc<Queue>) -> Report {
        let mut cached = self.cached.lock().await;
        if let Some((at, report)) = cached.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return report.clone();
        }
        let mut failing = Vec::new();
        if let Some(problem) = odoo_problem(odoo).await {
            failing.push(format!("odoo: {problem}"));
        }
        let store = Arc::clone(spool.store());
        let writable = tokio::task::spawn_blocking(move || store.probe_writable()).await;
        if !matches!(writable, Ok(Ok(()))) {
            failing.push("spool: not writable".to_owned());
        }
        let report = Report {
            ready: failing.is_empty(),
            failing,
        };
        *cached = Some((Instant::now(), report.clone()));
        report
    }
}

/// A cheap read proves the login; the protocol, a required companion addon.
async fn odoo_problem(odoo: &OdooClient) -> Option<&'static str> {
    let probe = async {
        let readable = odoo
            .check_access_rights(REQUEST_MODEL, AccessOperation::Read)
            .await?;
        if readable {
            odoo.protocol().await?;
        }
        Ok(readable)
    };
    match tokio::time::timeout(ODOO_PROBE_TIMEOUT, probe).await {
        Err(_) => Some("no answer in time"),
        Ok(Ok(true)) => None,
        Ok(Ok(false)) => Some("the bridge's user may not read requests"),
        Ok(Err(OdooError::CompanionUnavailable(_))) => {
            Some("the companion addon is missing or unusable (odoo.protocol = \"companion\")")
        }
        Ok(Err(error)) => match error.refusal() {
            Some(refusal) => Some(refusal.explanation()),
            None if error.is_transient() => Some("unreachable"),
            None => Some("answers with errors"),
        },
    }
}
