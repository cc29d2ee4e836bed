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
use crate::odoo::{OdooClient, OdooError};
use crate::pipeline::Pipeline;

/// Shared state of a running daemon.
#[derive(Debug)]
pub struct App {
    config: ArcSwap<Config>,
    odoo: OdooClient,
    pipeline: Pipeline,
    auth: Authenticator,
}

/// Why the shared state could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("cannot set up the Odoo client: {0}")]
    Odoo(#[from] OdooError),
    #[error("cannot set up the image downloader: {0}")]
    Image(#[from] ImageError),
}

impl App {
    /// Builds the clients of `config`; nothing is sent to Odoo yet.
    pub fn new(config: Config) -> Result<Self, AppError> {
        let odoo = OdooClient::new(&config.odoo)?;
        let pipeline = Pipeline::new(odoo.clone(), ImageFetcher::new(&config.images)?);
        Ok(Self {
            config: ArcSwap::from_pointee(config),
            odoo,
            pipeline,
            auth: Authenticator::default(),
        })
    }

    /// A snapshot of the current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// The Odoo session.
    pub fn odoo(&self) -> &OdooClient {
        &self.odoo
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
