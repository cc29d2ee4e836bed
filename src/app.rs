//! The state every part of the running daemon shares: the configuration and
//! the clients built from it.
//!
//! Built once at start by [`App::new`]; handlers get it as `Arc<App>`. The
//! configuration is held in an [`ArcSwap`] so a reload (SIGHUP) can replace
//! it while requests run: each unit of work takes one snapshot with
//! [`App::config`] and uses it throughout, so it never sees half of an old
//! and half of a new configuration.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::image::{ImageError, ImageFetcher};
use crate::metrics::Metrics;
use crate::odoo::{OdooClient, OdooError};
use crate::pipeline::Pipeline;
use crate::readiness::{self, Readiness};
use crate::spool::{self, Queue, SpoolError};
use crate::{reload, telemetry};

/// Shared state of a running daemon.
#[derive(Debug)]
pub struct App {
    config: ArcSwap<Config>,
    odoo: OdooClient,
    initiation: crate::initiation::Initiation,
    pipeline: Pipeline,
    spool: Arc<Queue>,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    auth: Authenticator,
}

/// Why the shared state could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("cannot set up the Odoo client: {0}")]
    Odoo(#[from] OdooError),
    #[error(transparent)]
    N8n(#[from] crate::n8n::N8nError),
    #[error("cannot set up the image downloader: {0}")]
    Image(#[from] ImageError),
    #[error("cannot open the spool: {0}")]
    Spool(#[from] SpoolError),
}

impl App {
    /// Builds the clients of `config`; nothing is sent to Odoo yet.
    pub fn new(config: Config) -> Result<Self, AppError> {
        let metrics = Arc::new(Metrics::new());
        let odoo = OdooClient::observed(&config.odoo, Some(Arc::clone(&metrics)))?;
        let fetcher = ImageFetcher::new(&config.images)?;
        let pipeline = Pipeline::new(odoo.clone(), fetcher, Arc::clone(&metrics));
        let spool = Arc::new(Queue::new(
            Arc::new(spool::open(&config.spool)?),
            config.odoo.timeout,
        )?);
        Ok(Self {
            // First: it borrows what the fields below take over. It shares
            // the pipeline's locks, so a result never races its initiation.
            initiation: crate::initiation::Initiation::new(
                odoo.clone(),
                pipeline.request_locks(),
                &config,
                Arc::clone(&metrics),
            )?,
            config: ArcSwap::from_pointee(config),
            odoo,
            pipeline,
            spool,
            metrics,
            readiness: Readiness::default(),
            auth: Authenticator,
        })
    }

    /// Sends queued requests to N8N; holds the N8N settings in force.
    pub fn initiation(&self) -> &crate::initiation::Initiation {
        &self.initiation
    }

    /// A snapshot of the current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Takes over a new configuration (SIGHUP): everything that can change
    /// at run time changes now; the keys that need a restart are returned
    /// (and keep their running values). A new Odoo password is logged in
    /// with at the next call, and spool entries waiting because Odoo
    /// refused the bridge are tried again at once.
    pub async fn reload(&self, new: Config) -> Vec<&'static str> {
        let old = self.config();
        let plan = reload::plan(&old, new);
        if reload::password_changed(&old, &plan.effective) {
            self.odoo
                .set_password(plan.effective.odoo.password.clone())
                .await;
            self.spool.resume();
        }
        if reload::images_changed(&old, &plan.effective) {
            match ImageFetcher::new(&plan.effective.images) {
                Ok(fetcher) => self.pipeline.set_fetcher(fetcher),
                Err(error) => {
                    tracing::error!(%error, "cannot rebuild the image downloader; keeping the old one")
                }
            }
        }
        if plan.effective.log.level != old.log.level
            && let Err(error) = telemetry::set_level(&plan.effective.log.level)
        {
            tracing::error!(%error, "cannot change the log level");
        }
        self.config.store(Arc::new(plan.effective));
        plan.needs_restart
    }

    /// The Odoo session.
    pub fn odoo(&self) -> &OdooClient {
        &self.odoo
    }

    /// Whether the daemon can do its job now (cached briefly).
    pub async fn readiness(&self) -> readiness::Report {
        self.readiness
            .check(&self.odoo, crate::odoo::records::REQUEST_MODEL, &self.spool)
            .await
    }

    /// The daemon's metrics, with the spool's gauges brought up to date.
    pub fn metrics_text(&self) -> String {
        let spool = self.spool.gauges();
        let metrics = &self.metrics;
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        metrics.spool_pending.set(gauge(spool.pending));
        metrics
            .spool_oldest_age
            .set(gauge(spool.oldest_age_ms.unwrap_or(0) / 1000));
        metrics.spool_bytes.set(gauge(spool.bytes));
        metrics.spool_dead.set(gauge(spool.dead));
        metrics.encode()
    }

    /// The daemon's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The spool of accepted callbacks.
    pub fn spool(&self) -> &Queue {
        &self.spool
    }

    /// The spool, shareable with blocking tasks.
    pub fn spool_arc(&self) -> &Arc<Queue> {
        &self.spool
    }

    /// Authenticates callbacks; remembers signed ones against replays.
    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// Applies callback results to Odoo.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}
