//! Readiness: can this daemon do its job right now? Odoo accepts its login,
//! the spool is writable, the configuration is loaded.
//!
//! Probes come often (load balancers, systemd, monitoring), so a verdict is
//! cached for [`CACHE_FOR`] and Odoo is asked at most that often. The report
//! names what is not ready in words that reveal no address, path or secret;
//! when Odoo refuses the bridge itself (its login, its session, or a page
//! instead of JSON-RPC) it says which and what to do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::odoo::{AccessOperation, OdooClient, OdooError};
use crate::spool::Queue;

/// How long a verdict is reused.
pub const CACHE_FOR: Duration = Duration::from_secs(2);
/// How long the Odoo probe may take.
const ODOO_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub ready: bool,
    /// One line per check that failed, e.g. "odoo: the login is refused".
    pub failing: Vec<String>,
}

/// Cached readiness checks.
#[derive(Debug, Default)]
pub struct Readiness {
    cached: Mutex<Option<(Instant, Report)>>,
}

impl Readiness {
    /// The current verdict (cached for [`CACHE_FOR`]).
    pub async fn check(
        &self,
        odoo: &OdooClient,
        request_model: &str,
        spool: &Arc<Queue>,
    ) -> Report {
        let mut cached = self.cached.lock().await;
        if let Some((at, report)) = cached.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return report.clone();
        }
        let mut failing = Vec::new();
        if let Some(problem) = odoo_problem(odoo, request_model).await {
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

/// An authenticated, read-only, cheap call proves the login and the database;
/// the protocol (cached per session) proves the companion addon where
/// `odoo.protocol = "companion"` requires it.
async fn odoo_problem(odoo: &OdooClient, request_model: &str) -> Option<&'static str> {
    let probe = async {
        let readable = odoo
            .check_access_rights(request_model, AccessOperation::Read)
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
