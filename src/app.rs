//! The state the running daemon shares, as `Arc<App>`: the configuration (in
//! an [`ArcSwap`], replaced on SIGHUP; each unit of work takes one snapshot
//! with [`App::config`]) and the clients built from it.

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
    /// Builds the clients of `config`; nothing is sent yet.
    pub fn new(config: Config) -> Result<Self, AppError> {
        let metrics = Arc::new(Metrics::new());
        let odoo = OdooClient::observed(&config.odoo, Some(Arc::clone(&metrics)))?;
        let fetcher = ImageFetcher::new(&config.images)?;
        let pipeline = Pipeline::new(odoo.clone(), fetcher, Arc::clone(&metrics));
        let store = Arc::new(spool::open(&config.spool)?);
        let spool = Arc::new(Queue::new(store, config.odoo.timeout)?);
        // Shared locks: a result never races the initiation of its request.
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

    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Takes over a new configuration (SIGHUP); returns the keys that need a
    /// restart. A new Odoo password resumes entries held by Odoo's refusal.
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

    pub async fn readiness(&self) -> readiness::Report {
        self.readiness.check(&self.odoo, &self.spool).await
    }

    /// The metrics text, with the spool's gauges brought up to date.
    pub fn metrics_text(&self) -> String {
        let (spool, metrics) = (self.spool.gauges(), &self.metrics);
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        metrics.spool_pending.set(gauge(spool.pending));
        (metrics.spool_oldest_age).set(gauge(spool.oldest_age_ms.unwrap_or(0) / 1000));
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

    pub fn spool_arc(&self) -> &Arc<Queue> {
        &self.spool
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}
