//! The state every part of the running daemon shares: the configuration and
//! the clients built from it.
//!
//! Built once at start by [`App::new`]; handlers get it as `Arc<App>`.

use crate::config::Config;
use crate::odoo::{OdooClient, OdooError};

/// Shared state of a running daemon.
#[derive(Debug)]
pub struct App {
    config: Config,
    odoo: OdooClient,
}

impl App {
    /// Builds the clients of `config`; nothing is sent to Odoo yet.
    pub fn new(config: Config) -> Result<Self, OdooError> {
        let odoo = OdooClient::new(&config.odoo)?;
        Ok(Self { config, odoo })
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Odoo session.
    pub fn odoo(&self) -> &OdooClient {
        &self.odoo
    }
}
