//! The Odoo session: login, the cached uid, bounded concurrency, and the
//! ORM methods the bridge uses, over [`Transport`].
//!
//! * The uid from `common.authenticate` is cached. When a call fails with
//!   `AccessDenied` (password changed, API key rotated, session reset) the
//!   client logs in again once and repeats the call; a second refusal is
//!   returned to the caller.
//! * A semaphore caps calls in flight at `odoo.max_concurrent_calls`: Odoo's
//!   workers are few, and beyond them requests only queue in its backlog.
//! * Every `execute_kw` is its own Odoo transaction; this client adds no
//!   retries of its own beyond the re-login, so callers decide what is safe to
//!   repeat (see [`super::OdooError::is_transient`]).
//! * The protocol ([`super::Protocol`]) is detected once per session and
//!   cached beside the uid: a login or a lost connection starts a new
//!   session (an epoch counter), and the next [`OdooClient::protocol`] asks
//!   Odoo again, since an addon may have been installed meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

use super::error::{OdooError, ServerErrorKind};
use super::protocol::{self, Protocol};
use super::transport::{Transport, TransportLimits};
use crate::config::{OdooConfig, ProtocolMode};
use crate::metrics::Metrics;

/// An Odoo user id.
pub type Uid = i64;

/// A cheap-to-clone handle on one Odoo database as one user.
#[derive(Clone)]
pub struct OdooClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    database: String,
    login: String,
    password: SecretString,
    /// `None` until logged in. Held across a login so concurrent callers wait
    /// for one login instead of starting their own.
    uid: Mutex<Option<Uid>>,
    permits: Semaphore,
    metrics: Option<Arc<Metrics>>,
    protocol_mode: ProtocolMode,
    /// The model `bridge_protocol()` is asked on.
    request_model: String,
    /// Bumped at each login and each lost connection: a new session.
    epoch: AtomicU64,
    /// The protocol detected, and in which session.
    protocol: Mutex<Option<DetectedProtocol>>,
}

#[derive(Debug, Clone, Copy)]
struct DetectedProtocol {
    epoch: u64,
    protocol: Protocol,
}

impl std::fmt::Debug for OdooClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdooClient")
            .field("database", &self.inner.database)
            .field("login", &self.inner.login)
            .finish_non_exhaustive()
    }
}

/// `limit`, `offset` and `order` of a search.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
}

/// The operations `check_access_rights` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessOperation {
    Read,
    Write,
    Create,
    Unlink,
}

impl AccessOperation {
    /// The name Odoo uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Create => "create",
            Self::Unlink => "unlink",
        }
    }
}

/// One entry of `fields_get`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FieldInfo {
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, deserialize_with = "super::value::false_as_none")]
    pub relation: Option<String>,
    /// `[[value, label], …]` for selection fields.
    #[serde(default, deserialize_with = "super::value::false_as_none")]
    pub selection: Option<Vec<(String, String)>>,
}

/// The answer of `common.version`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ServerVersion {
    pub server_version: String,
    #[serde(default)]
    pub protocol_version: i64,
}

impl OdooClient {
    /// A client for the Odoo of `config`; nothing is sent until the first call.
    pub fn new(config: &OdooConfig) -> Result<Self, OdooError> {
        Self::observed(config, None)
    }

    /// Like [`OdooClient::new`], counting every call in `metrics`.
    pub fn observed(config: &OdooConfig, metrics: Option<Arc<Metrics>>) -> Result<Self, OdooError> {
        let limits = TransportLimits {
            timeout: config.timeout,
            max_request_bytes: config.max_request_bytes,
            max_response_bytes: config.max_response_bytes,
        };
        let transport = Transport::new(&config.jsonrpc_endpoint(), limits)?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                database: config.database.clone(),
                login: config.login.clone(),
                password: config.password.clone(),
                uid: Mutex::new(None),
                permits: Semaphore::new(config.max_concurrent_calls),
                metrics,
                protocol_mode: config.protocol,
                request_model: config.request_model.clone(),
                epoch: AtomicU64::new(0),
                protocol: Mutex::new(None),
            }),
        })
    }

    /// The database this client works on.
    pub fn database(&self) -> &str {
        &self.inner.database
    }

    /// The login this client acts as.
    pub fn login(&self) -> &str {
        &self.inner.login
    }

    /// `common.version`: needs no credentials, proves Odoo answers JSON-RPC.
    pub async fn version(&self) -> Result<ServerVersion, OdooError> {
        let version = self
            .call("common", "version", &json!([]), "version")
            .await?;
        required(version, "common.version")
    }

    /// Logs in now (even if a uid is cached) and caches the new uid.
    pub async fn authenticate(&self) -> Result<Uid, OdooError> {
        let mut cached = self.inner.uid.lock().await;
        let uid = self.login_once().await?;
        *cached = Some(uid);
        Ok(uid)
    }

    /// The protocol to speak (see [`super::protocol`]): `odoo.protocol`
    /// applied to what `bridge_protocol()` answered in this session, asked
    /// once per session. In `companion` mode without a usable addon this is
    /// [`OdooError::CompanionUnavailable`]; in `generic` mode Odoo is never
    /// asked.
    pub async fn protocol(&self) -> Result<Protocol, OdooError> {
        let inner = &self.inner;
        if inner.protocol_mode == ProtocolMode::Generic {
            return Ok(Protocol::Generic);
        }
        // Held while detecting, so concurrent callers wait for one answer.
        let mut cached = inner.protocol.lock().await;
        let epoch = inner.epoch.load(Ordering::Acquire);
        if let Some(known) = cached.filter(|known| known.epoch == epoch) {
            return Ok(known.protocol);
        }
        let previous = cached.map(|known| known.protocol);
        let detection = protocol::detect(self, &inner.request_model).await?;
        let chosen = protocol::choose(inner.protocol_mode, &detection);
        let protocol = match chosen {
            Ok(protocol) => protocol,
            Err(error) => {
                *cached = None;
                return Err(error);
            }
        };
        if previous != Some(protocol) {
            match protocol {
                Protocol::Companion { version } => tracing::info!(
                    version,
                    "the companion addon answers: one Odoo call per result, claim and initiation"
                ),
                Protocol::Generic if inner.protocol_mode == ProtocolMode::Auto => tracing::info!(
                    reason = %protocol::fallback_reason(&detection),
                    "speaking the generic protocol (odoo.protocol = auto): one bridge per database"
                ),
                Protocol::Generic => {}
            }
        }
        // The epoch read after detecting: a re-login during `detect` was
        // followed by the answer, which therefore belongs to the new session.
        *cached = Some(DetectedProtocol {
            epoch: inner.epoch.load(Ordering::Acquire),
            protocol,
        });
        Ok(protocol)
    }

    /// Starts a new session for the protocol cache.
    fn new_session(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The cached uid, logging in first when there is none.
    pub async fn uid(&self) -> Result<Uid, OdooError> {
        let mut cached = self.inner.uid.lock().await;
        if let Some(uid) = *cached {
            return Ok(uid);
        }
        let uid = self.login_once().await?;
        *cached = Some(uid);
        Ok(uid)
    }

    async fn login_once(&self) -> Result<Uid, OdooError> {
        let inner = &self.inner;
        let args = json!([
            inner.database,
            inner.login,
            inner.password.expose_secret(),
            {}
        ]);
        let answer: Option<Value> = self
            .call("common", "authenticate", &args, "authenticate")
            .await?;
        match answer {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|uid| uid > 0) => {
                let uid = n.as_i64().unwrap_or_default();
                self.new_session();
                tracing::debug!(uid, login = %inner.login, "logged in to Odoo");
                Ok(uid)
            }
            Some(Value::Bool(false)) => Err(OdooError::LoginRefused {
                login: inner.login.clone(),
                database: inner.database.clone(),
            }),
            other => Err(OdooError::InvalidResponse(format!(
                "common.authenticate answered {}",
                shape_of(&other)
            ))),
        }
    }

    /// Forgets `uid` if it is still the cached one, so the next call logs in.
    async fn forget_uid(&self, uid: Uid) {
        let mut cached = self.inner.uid.lock().await;
        if *cached == Some(uid) {
            *cached = None;
        }
    }

    /// `object.execute_kw(db, uid, password, model, method, args, kwargs)`.
    ///
    /// `Ok(None)` when the method returned Python `None`. On `AccessDenied`
    /// the client logs in again once and repeats the call.
    pub async fn execute_kw<A, K, R>(
        &self,
        model: &str,
        method: &str,
        args: &A,
        kwargs: &K,
    ) -> Result<Option<R>, OdooError>
    where
        A: Serialize + Sync,
        K: Serialize + Sync,
        R: DeserializeOwned,
    {
        let uid = self.uid().await?;
        match self.execute_kw_as(uid, model, method, args, kwargs).await {
            Err(e) if e.server_kind() == Some(ServerErrorKind::AccessDenied) => {
                tracing::info!(model, method, "Odoo denied the session; logging in again");
                self.forget_uid(uid).await;
                let uid = self.uid().await?;
                self.execute_kw_as(uid, model, method, args, kwargs).await
            }
            result => result,
        }
    }

    async fn execute_kw_as<A, K, R>(
        &self,
        uid: Uid,
        model: &str,
        method: &str,
        args: &A,
        kwargs: &K,
    ) -> Result<Option<R>, OdooError>
    where
        A: Serialize + Sync,
        K: Serialize + Sync,
        R: DeserializeOwned,
    {
        let inner = &self.inner;
        let call_args = (
            &inner.database,
            uid,
            inner.password.expose_secret(),
            model,
            method,
            args,
            kwargs,
        );
        let started = Instant::now();
        let result = self.call("object", "execute_kw", &call_args, method).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => tracing::debug!(model, method, elapsed_ms, "odoo call"),
            Err(e) => tracing::debug!(model, method, elapsed_ms, error = %e, "odoo call failed"),
        }
        result
    }

    /// One JSON-RPC call within the concurrency bound, counted in the
    /// metrics under `label` (the ORM method, or the `common` method).
    async fn call<A, R>(
        &self,
        service: &str,
        method: &str,
        args: &A,
        label: &str,
    ) -> Result<Option<R>, OdooError>
    where
        A: Serialize + Sync,
        R: DeserializeOwned,
    {
        // The semaphore is never closed, so acquiring cannot fail.
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| OdooError::Timeout)?;
        let started = Instant::now();
        let result = self.inner.transport.call(service, method, args).await;
        if result.as_ref().is_err_and(OdooError::connection_lost) {
            self.new_session();
        }
        if let Some(metrics) = &self.inner.metrics {
            let outcome = result.as_ref().map_or_else(OdooError::kind_label, |_| "ok");
            metrics.odoo_call(label, outcome, started.elapsed());
        }
        result
    }

    // --- ORM methods ------------------------------------------------------

    /// `search_read(domain, fields=…, limit/offset/order)`.
    pub async fn search_read<R: DeserializeOwned>(
        &self,
        model: &str,
        domain: &Value,
        fields: &[&str],
        options: &SearchOptions,
    ) -> Result<Vec<R>, OdooError> {
        let mut kwargs = serde_json::to_value(options).unwrap_or_else(|_| json!({}));
        kwargs["fields"] = json!(fields);
        let records = self
            .execute_kw(model, "search_read", &json!([domain]), &kwargs)
            .await?;
        required(records, "search_read")
    }

    /// `search(domain, limit/offset/order)` → ids.
    pub async fn search(
        &self,
        model: &str,
        domain: &Value,
        options: &SearchOptions,
    ) -> Result<Vec<i64>, OdooError> {
        let ids = self
            .execute_kw(model, "search", &json!([domain]), options)
            .await?;
        required(ids, "search")
    }

    /// `read(ids, fields)`; ids that do not exist are silently left out.
    pub async fn read<R: DeserializeOwned>(
        &self,
        model: &str,
        ids: &[i64],
        fields: &[&str],
    ) -> Result<Vec<R>, OdooError> {
        let records = self
            .execute_kw(model, "read", &json!([ids]), &json!({ "fields": fields }))
            .await?;
        required(records, "read")
    }

    /// `create(vals)` → the new id.
    pub async fn create<V: Serialize + Sync>(
        &self,
        model: &str,
        vals: &V,
    ) -> Result<i64, OdooError> {
        let id = self
            .execute_kw(model, "create", &(vals,), &json!({}))
            .await?;
        required(id, "create")
    }

    /// `create([vals, …])` → the new ids, in order.
    pub async fn create_many<V: Serialize + Sync>(
        &self,
        model: &str,
        vals: &[V],
    ) -> Result<Vec<i64>, OdooError> {
        let ids = self
            .execute_kw(model, "create", &(vals,), &json!({}))
            .await?;
        required(ids, "create")
    }

    /// `write(ids, vals)`.
    pub async fn write<V: Serialize + Sync>(
        &self,
        model: &str,
        ids: &[i64],
        vals: &V,
    ) -> Result<(), OdooError> {
        let done: Option<bool> = self
            .execute_kw(model, "write", &(ids, vals), &json!({}))
            .await?;
        match done {
            Some(true) => Ok(()),
            other => Err(OdooError::InvalidResponse(format!(
                "write answered {other:?}"
            ))),
        }
    }

    /// `fields_get(attributes=[type, required, relation, selection])`.
    pub async fn fields_get(&self, model: &str) -> Result<BTreeMap<String, FieldInfo>, OdooError> {
        let kwargs = json!({ "attributes": ["type", "required", "relation", "selection"] });
        let fields = self
            .execute_kw(model, "fields_get", &json!([]), &kwargs)
            .await?;
        required(fields, "fields_get")
    }

    /// `check_access_rights(operation, raise_exception=False)`.
    pub async fn check_access_rights(
        &self,
        model: &str,
        operation: AccessOperation,
    ) -> Result<bool, OdooError> {
        let kwargs = json!({ "raise_exception": false });
        let allowed = self
            .execute_kw(
                model,
                "check_access_rights",
                &json!([operation.as_str()]),
                &kwargs,
            )
            .await?;
        required(allowed, "check_access_rights")
    }
}

/// Unwraps a result that Odoo must not return as `None`.
fn required<T>(value: Option<T>, method: &str) -> Result<T, OdooError> {
    value.ok_or_else(|| OdooError::InvalidResponse(format!("{method} returned nothing")))
}

fn shape_of(value: &Option<Value>) -> &'static str {
    match value {
        None | Some(Value::Null) => "nothing",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number that is not a uid",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "a list",
        Some(Value::Object(_)) => "an object",
    }
}
