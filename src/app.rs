//! The state every part of the running daemon shares: the configuration and
//! the clients built from it, as `Arc<App>`.
//!
//! The configuration sits in an [`ArcSwap`] so a reload (SIGHUP) can replace
//! it while requests run: each unit of work takes one snapshot with
//! [`App::config`], so it never sees half of an old and half of a new one.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::image::{ImageError, ImageFetcher};
use crate::initiation::Initiation;
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
    initiation: Initiation,
    pipeline: Pipeline,
    spool: Arc<Queue>,
    metrics: Arc<Metrics>,
    readiness: Readiness,
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
        let store = Arc::new(spool::open(&config.spool)?);
        let spool = Arc::new(Queue::new(store, config.odoo.timeout)?);
        // The initiation shares the pipeline's locks, so a result never
        // races the initiation of its request.
        let locks = pipeline.request_locks();
        let initiation = Initiation::new(odoo.clone(), locks, &config, Arc::clone(&metrics))?;
        Ok(Self {
            config: ArcSwap::from_pointee(config),
            odoo,
            initiation,
            pipeline,
            spool,
            metrics,
            readiness: Readiness::default(),
        })
    }

    /// A snapshot of the current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Takes over a new configuration (SIGHUP) and returns the keys that
    /// keep their running value until a restart. A new Odoo password is used
    /// at the next call, and spool entries held because Odoo refused the
    /// bridge are tried again at once.
    pub async fn reload(&self, new: Config) -> Vec<&'static str> {
        let old = self.config();
        let plan = reload::plan(&old, new);
        let new = &plan.effective;
        if reload::password_changed(&old, new) {
            self.odoo.set_password(new.odoo.password.clone()).await;
            self.spool.resume();
        }
        if reload::images_changed(&old, new) {
            match ImageFetcher::new(&new.images) {
                Ok(fetcher) => self.pipeline.set_fetcher(fetcher),
                Err(error) => {
                    tracing::error!(%error, "cannot rebuild the image downloader; keeping the old one")
                }
            }
        }
        if new.log.level != old.log.level
            && let Err(error) = telemetry::set_level(&new.log.level)
        {
            tracing::error!(%error, "cannot change the log level");
        }
        self.config.store(Arc::new(plan.effective));
        plan.needs_restart
    }

    /// Whether the daemon can do its job now (cached briefly).
    pub async fn readiness(&self) -> readiness::Report {
        self.readiness.check(&self.odoo, &self.spool).await
    }

    /// The metrics text, with the spool's gauges brought up to date.
    pub fn metrics_text(&self) -> String {
        let spool = self.spool.gauges();
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let metrics = &self.metrics;
        metrics.spool_pending.set(gauge(spool.pending));
        let oldest_age = spool.oldest_age_ms.unwrap_or(0) / 1000;
        metrics.spool_oldest_age.set(gauge(oldest_age));
        metrics.spool_bytes.set(gauge(spool.bytes));
        metrics.spool_dead.set(gauge(spool.dead));
        metrics.encode()
    }

    pub fn initiation(&self) -> &Initiation {
        &self.initiation
    }

    pub fn odoo(&self) -> &OdooClient {
        &self.odoo
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn spool(&self) -> &Queue {
        &self.spool
    }

    /// The spool, shareable with blocking tasks.
    pub fn spool_arc(&self) -> &Arc<Queue> {
        &self.spool
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}
