//! Which API a client speaks, and the login that proves an API key.
//!
//! With `odoo.api = "auto"` the first call that needs the API asks the
//! server once ([`OdooClient::api`], see [`super::super::api`]); an outage
//! during that question settles nothing. Over `/json/2` there is no
//! `common.authenticate`: the login is `res.users.context_get`, whose `uid`
//! is the key's user.

use std::time::Instant;

use serde_json::json;

use super::{OdooClient, ServerVersion, Uid, required};
use crate::config::OdooApi;
use crate::odoo::OdooError;
use crate::odoo::api::Api;

impl OdooClient {
    /// The server's version, asked on the API in use (`GET /web/version`
    /// for `/json/2`, `common.version` for `/jsonrpc`); needs no
    /// credentials. With `odoo.api = "auto"` this settles the API.
    pub async fn version(&self) -> Result<ServerVersion, OdooError> {
        match self.inner.choice {
            OdooApi::JsonRpc => self.jsonrpc_version().await,
            OdooApi::Json2 => self.web_version().await,
            OdooApi::Auto => {
                let version = self.detect().await?;
                let api = Api::for_major(version.major());
                let _ = self.inner.detected.set(api);
                Ok(version)
            }
        }
    }

    /// The API in use, asking the server once when `odoo.api = "auto"`.
    pub async fn api(&self) -> Result<Api, OdooError> {
        match self.inner.choice {
            OdooApi::JsonRpc => Ok(Api::JsonRpc),
            OdooApi::Json2 => Ok(Api::Json2),
            OdooApi::Auto => {
                let detected = self
                    .inner
                    .detected
                    .get_or_try_init(|| async {
                        let version = self.detect().await?;
                        let api = Api::for_major(version.major());
                        tracing::info!(
                            odoo_version = %version.server_version,
                            api = %api,
                            "Odoo answered; choosing its API"
                        );
                        Ok::<_, OdooError>(api)
                    })
                    .await?;
                Ok(*detected)
            }
        }
    }

    /// `/web/version` where it exists (Odoo 19+), else `common.version`.
    /// Only a permanent refusal of `/web/version` (its 404 on Odoo 16-18)
    /// falls back; an outage is returned, so nothing is settled on it.
    async fn detect(&self) -> Result<ServerVersion, OdooError> {
        match self.web_version().await {
            Ok(version) => Ok(version),
            Err(error) if error.is_transient() => Err(error),
            Err(error) => {
                tracing::debug!(%error, "no /web/version; asking common.version");
                self.jsonrpc_version().await
            }
        }
    }

    async fn jsonrpc_version(&self) -> Result<ServerVersion, OdooError> {
        let version = self
            .call_jsonrpc("common", "version", &json!([]), "version")
            .await?;
        required(version, "common.version")
    }

    async fn web_version(&self) -> Result<ServerVersion, OdooError> {
        let _permit = self.permit().await?;
        let started = Instant::now();
        let version = self
            .inner
            .json2
            .web_version(&self.inner.web_version_url)
            .await;
        self.count("version", &version, started);
        let version = version?;
        Ok(ServerVersion {
            server_version: version.version,
            protocol_version: 1,
            server_version_info: version.version_info,
        })
    }

    /// `res.users.context_get()` with the key: its `uid` is the key's user.
    /// An authenticated call, so its outcome is the bridge's standing too.
    pub(super) async fn json2_login(&self) -> Result<Uid, OdooError> {
        #[derive(serde::Deserialize)]
        struct Context {
            uid: Option<Uid>,
        }
        let context: Result<Option<Context>, _> = self
            .call_json2("res.users", "context_get", &json!([]), &json!({}))
            .await;
        self.observe(&context);
        match context?.and_then(|c| c.uid) {
            Some(uid) if uid > 0 => {
                tracing::debug!(uid, "Odoo accepted the API key");
                Ok(uid)
            }
            _ => Err(OdooError::InvalidResponse(
                "res.users.context_get answered no uid".to_owned(),
            )),
        }
    }
}
