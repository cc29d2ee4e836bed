//! The Odoo session: the API in use, login, the cached uid, bounded
//! concurrency, and the ORM methods the bridge uses.
//!
//! * One `execute_kw` on both wires; `odoo.api = "auto"` picks one, once.
//! * Over `/jsonrpc` the uid of `common.authenticate` is cached; on
//!   `AccessDenied` (password changed, key rotated) the client logs in again
//!   once and repeats the call. Over `/json/2` every call carries the key;
//!   the "login" `res.users.context_get` proves it and names its uid.
//! * Every outcome updates the standing ([`OdooClient::refusal`]).
//! * A semaphore caps calls in flight at `odoo.max_concurrent_calls`:
//!   Odoo's workers are few, and beyond them requests only queue.
//! * Nothing else is retried: callers decide ([`OdooError::is_transient`]).
//! * The [`Protocol`] is detected once per session (an epoch): a login or a
//!   lost connection starts a new one, as an addon may have been installed.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell, Semaphore};

use super::api::{Api, ServerVersion};
use super::error::{OdooError, Refusal, ServerErrorKind};
use super::protocol::{self, Protocol};
use super::records::REQUEST_MODEL;
use super::standing::Standing;
use super::transport::{Caller, Transport};
use crate::config::{OdooApi, OdooConfig, ProtocolMode};
use crate::metrics::Metrics;

/// A cheap-to-clone handle on one Odoo database as one user.
#[derive(Debug, Clone)]
pub struct OdooClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    /// `odoo.api`, or the API `auto` settled on.
    api: OnceCell<Api>,
    password: ArcSwap<SecretString>,
    /// Held across a login, so concurrent callers wait for one login.
    uid: Mutex<Option<i64>>,
    permits: Semaphore,
    metrics: Option<Arc<Metrics>>,
    standing: Standing,
    protocol_mode: ProtocolMode,
    /// Bumped at each login and each lost connection: a new session.
    epoch: AtomicU64,
    /// The protocol detected, and in which session.
    protocol: Mutex<Option<(u64, Protocol)>>,
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
}

impl AccessOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Create => "create",
        }
    }
}

/// One entry of `fields_get`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FieldInfo {
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default, deserialize_with = "super::value::false_as_none")]
    pub relation: Option<String>,
    /// `[[value, label], …]` for selection fields.
    #[serde(default, deserialize_with = "super::value::false_as_none")]
    pub selection: Option<Vec<(String, String)>>,
}

impl OdooClient {
    /// A client for the Odoo of `config`; nothing is sent until the first call.
    pub fn new(config: &OdooConfig) -> Result<Self, OdooError> {
        Self::observed(config, None)
    }

    /// Like [`OdooClient::new`], counting every call in `metrics`.
    pub fn observed(config: &OdooConfig, metrics: Option<Arc<Metrics>>) -> Result<Self, OdooError> {
        let caller = Caller {
            login: config.login.clone(),
            database: config.database.clone(),
        };
        let api = match config.api {
            OdooApi::Auto => None,
            OdooApi::JsonRpc => Some(Api::JsonRpc),
            OdooApi::Json2 => Some(Api::Json2),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                transport: Transport::new(config.endpoint(""), config.timeout, caller)?,
                api: OnceCell::new_with(api),
                password: ArcSwap::from_pointee(config.password.clone()),
                uid: Mutex::new(None),
                permits: Semaphore::new(config.max_concurrent_calls),
                standing: Standing::new(metrics.clone()),
                metrics,
                protocol_mode: config.protocol,
                epoch: AtomicU64::new(0),
                protocol: Mutex::new(None),
            }),
        })
    }

    /// The database this client works on.
    pub fn database(&self) -> &str {
        &self.inner.transport.caller.database
    }

    /// The login this client acts as.
    pub fn login(&self) -> &str {
        &self.inner.transport.caller.login
    }

    /// Why Odoo refuses the bridge itself right now, if it does.
    pub fn refusal(&self) -> Option<Refusal> {
        self.inner.standing.current()
    }

    /// Replaces the password (or API key); the next call logs in with it.
    pub async fn set_password(&self, password: SecretString) {
        let mut cached = self.inner.uid.lock().await;
        self.inner.password.store(Arc::new(password));
        *cached = None;
        tracing::info!(login = %self.inner.transport.caller.login, "odoo.password changed; the next call logs in with it");
    }

    /// `odoo.protocol` applied to what `bridge_protocol()` answered, asked
    /// once per session (never in `generic` mode).
    pub async fn protocol(&self) -> Result<Protocol, OdooError> {
        let inner = &self.inner;
        if inner.protocol_mode == ProtocolMode::Generic {
            return Ok(Protocol::Generic);
        }
        // Held while detecting, so concurrent callers wait for one answer.
        let mut cached = inner.protocol.lock().await;
        if let Some(known) = self.this_session(*cached) {
            return Ok(known);
        }
        let previous = cached.map(|(_, known)| known);
        let detection = protocol::detect(self, REQUEST_MODEL).await?;
        let chosen = protocol::choose(inner.protocol_mode, &detection);
        let protocol = chosen.inspect_err(|_| *cached = None)?;
        if previous != Some(protocol) {
            match protocol {
                Protocol::Companion { version } => tracing::info!(
                    version,
                    "the companion addon answers: one Odoo call per result, claim and initiation"
                ),
                // In `auto` mode (`generic` never asks): no usable addon.
                Protocol::Generic => tracing::info!(
                    reason = protocol::fallback_reason(&detection).unwrap_or_default(),
                    "speaking the generic protocol (odoo.protocol = auto): one bridge per database"
                ),
            }
        }
        // The epoch read after detecting: a re-login during `detect` came
        // before the answer, which therefore belongs to the new session.
        *cached = Some((inner.epoch.load(Ordering::Acquire), protocol));
        Ok(protocol)
    }

    /// The protocol of this session without asking Odoo: `None` before the
    /// first detection, after a new session began, or while one runs.
    pub fn known_protocol(&self) -> Option<Protocol> {
        let inner = &self.inner;
        if inner.protocol_mode == ProtocolMode::Generic {
            return Some(Protocol::Generic);
        }
        self.this_session(*inner.protocol.try_lock().ok()?)
    }

    fn this_session(&self, cached: Option<(u64, Protocol)>) -> Option<Protocol> {
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        cached
            .filter(|(at, _)| *at == epoch)
            .map(|(_, known)| known)
    }

    /// The server's version over the API in use; needs no credentials.
    pub async fn version(&self) -> Result<ServerVersion, OdooError> {
        match self.api().await? {
            Api::Json2 => self.web_version().await,
            Api::JsonRpc => self.jsonrpc_version().await,
        }
    }

    /// The API in use, asking the server once when `odoo.api = "auto"`.
    pub async fn api(&self) -> Result<Api, OdooError> {
        let detect = || async {
            // `/web/version` exists from Odoo 19 on. Only a permanent refusal
            // (its 404 on Odoo 16-18) falls back: an outage settles nothing.
            let version = match self.web_version().await {
                Err(error) if !error.is_transient() => self.jsonrpc_version().await,
                version => version,
            }?;
            let api = Api::for_major(version.major());
            tracing::info!(odoo_version = %version.server_version, %api, "Odoo answered; choosing its API");
            Ok::<_, OdooError>(api)
        };
        self.inner.api.get_or_try_init(detect).await.copied()
    }

    async fn web_version(&self) -> Result<ServerVersion, OdooError> {
        self.counted("version", self.inner.transport.get("/web/version"))
            .await
    }

    async fn jsonrpc_version(&self) -> Result<ServerVersion, OdooError> {
        let args = json!([]);
        let call = self.inner.transport.jsonrpc("common", "version", &args);
        let version = self.counted("version", call).await?;
        version.ok_or_else(|| OdooError::InvalidResponse("common.version returned nothing".into()))
    }

    /// Logs in now (even if a uid is cached) and caches the new uid.
    pub async fn authenticate(&self) -> Result<i64, OdooError> {
        self.logged_in(true).await
    }

    /// The cached uid (unless `again`), else a login's.
    async fn logged_in(&self, again: bool) -> Result<i64, OdooError> {
        let mut cached = self.inner.uid.lock().await;
        if let Some(uid) = cached.filter(|_| !again) {
            return Ok(uid);
        }
        let uid = self.login_once().await;
        match &uid {
            Ok(uid) => {
                tracing::debug!(uid, login = %self.inner.transport.caller.login, "logged in to Odoo");
                *cached = Some(*uid);
                self.inner.epoch.fetch_add(1, Ordering::AcqRel);
            }
            // A login that works proves little (Odoo may still deny the
            // session during a cooldown): only an authenticated call clears
            // a refusal.
            Err(error) => error
                .refusal()
                .into_iter()
                .for_each(|refusal| self.inner.standing.refused(refusal)),
        }
        uid
    }

    async fn login_once(&self) -> Result<i64, OdooError> {
        let (inner, caller) = (&self.inner, &self.inner.transport.caller);
        let (answer, method) = if self.api().await? == Api::Json2 {
            // An authenticated call, so its outcome is the standing too.
            let context: Option<Value> =
                Box::pin(self.execute_kw("res.users", "context_get", &json!([]), &json!({})))
                    .await?;
            (context.map(|c| c["uid"].clone()), "res.users.context_get")
        } else {
            let password = inner.password.load();
            let args = json!([caller.database, caller.login, password.expose_secret(), {}]);
            let call = inner.transport.jsonrpc("common", "authenticate", &args);
            let answer = self.counted("authenticate", call).await?;
            (answer, "common.authenticate")
        };
        if answer == Some(Value::Bool(false)) {
            return Err(caller.refused());
        }
        let uid = (answer.as_ref().and_then(Value::as_i64)).filter(|uid| *uid > 0);
        let answer = answer.unwrap_or_default();
        uid.ok_or_else(|| OdooError::InvalidResponse(format!("{method} answered {answer}")))
    }

    /// `model.method(*args, **kwargs)`: `object.execute_kw` over `/jsonrpc`,
    /// or `POST /json/2/<model>/<method>` with the arguments named
    /// ([`super::json2`]). `Ok(None)` when the method returned `None`.
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
        let inner = &self.inner;
        let result = if self.api().await? == Api::Json2 {
            // Built before waiting for a permit: a refused call costs no slot.
            let body = super::json2::body(model, method, args, kwargs)?;
            let key = inner.password.load();
            let call = inner.transport.json2(model, method, body, &key);
            self.counted(method, call).await
        } else {
            let mut renewed = false;
            loop {
                let uid = self.logged_in(false).await?;
                let (password, database) =
                    (inner.password.load(), &inner.transport.caller.database);
                let secret = password.expose_secret();
                let call = (database, uid, secret, model, method, args, kwargs);
                let call = inner.transport.jsonrpc("object", "execute_kw", &call);
                match self.counted(method, call).await {
                    Err(e)
                        if !renewed && e.server_kind() == Some(ServerErrorKind::AccessDenied) =>
                    {
                        tracing::info!(model, method, "Odoo denied the session; logging in again");
                        let mut cached = inner.uid.lock().await;
                        *cached = cached.filter(|cached| *cached != uid);
                        renewed = true;
                    }
                    result => break result,
                }
            }
        };
        // Any answer but a refusal (an exception about the call included)
        // proves Odoo accepts the bridge.
        match result.as_ref().map_err(|e| (e.refusal(), e)) {
            Err((Some(refusal), _)) => inner.standing.refused(refusal),
            Ok(_) | Err((None, OdooError::Server { .. })) => inner.standing.accepted(),
            Err(_) => {}
        }
        result
    }

    /// Runs one call within the concurrency bound, counted in the metrics
    /// under `label` (the method); a lost connection starts a new session.
    async fn counted<T>(
        &self,
        label: &str,
        call: impl Future<Output = Result<T, OdooError>>,
    ) -> Result<T, OdooError> {
        // Never closed, so acquiring cannot fail.
        let _permit = self.inner.permits.acquire().await.ok();
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => tracing::debug!(method = label, elapsed_ms, "odoo call"),
            Err(error) => {
                tracing::debug!(method = label, elapsed_ms, %error, "odoo call failed");
                if error.connection_lost() {
                    self.inner.epoch.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
        if let Some(metrics) = &self.inner.metrics {
            let outcome = result.as_ref().map_or_else(OdooError::kind_label, |_| "ok");
            metrics.odoo_call(label, outcome, elapsed);
        }
        result
    }

    // --- ORM methods ------------------------------------------------------

    /// [`OdooClient::execute_kw`] of a method that never returns `None`.
    async fn call<A, K, R>(
        &self,
        model: &str,
        method: &str,
        args: &A,
        kw: &K,
    ) -> Result<R, OdooError>
    where
        A: Serialize + Sync,
        K: Serialize + Sync,
        R: DeserializeOwned,
    {
        let value = self.execute_kw(model, method, args, kw).await?;
        value.ok_or_else(|| OdooError::InvalidResponse(format!("{method} returned nothing")))
    }

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
        self.call(model, "search_read", &json!([domain]), &kwargs)
            .await
    }

    /// `search(domain, limit/offset/order)` → ids.
    pub async fn search(
        &self,
        model: &str,
        domain: &Value,
        options: &SearchOptions,
    ) -> Result<Vec<i64>, OdooError> {
        self.call(model, "search", &json!([domain]), options).await
    }

    /// `read(ids, fields)`; ids that do not exist are silently left out.
    pub async fn read<R: DeserializeOwned>(
        &self,
        model: &str,
        ids: &[i64],
        fields: &[&str],
    ) -> Result<Vec<R>, OdooError> {
        let kwargs = json!({ "fields": fields });
        self.call(model, "read", &json!([ids]), &kwargs).await
    }

    /// `create(vals)` → the new id.
    pub async fn create<V: Serialize + Sync>(
        &self,
        model: &str,
        vals: &V,
    ) -> Result<i64, OdooError> {
        self.call(model, "create", &(vals,), &json!({})).await
    }

    /// `create([vals, …])` → the new ids, in order.
    pub async fn create_many<V: Serialize + Sync>(
        &self,
        model: &str,
        vals: &[V],
    ) -> Result<Vec<i64>, OdooError> {
        self.call(model, "create", &(vals,), &json!({})).await
    }

    /// `write(ids, vals)`.
    pub async fn write<V: Serialize + Sync>(
        &self,
        model: &str,
        ids: &[i64],
        vals: &V,
    ) -> Result<(), OdooError> {
        let written: bool = self.call(model, "write", &(ids, vals), &json!({})).await?;
        let refused = || OdooError::InvalidResponse("write answered false".into());
        written.then_some(()).ok_or_else(refused)
    }

    /// `fields_get(attributes=[type, relation, selection])`.
    pub async fn fields_get(&self, model: &str) -> Result<BTreeMap<String, FieldInfo>, OdooError> {
        let kwargs = json!({ "attributes": ["type", "relation", "selection"] });
        self.call(model, "fields_get", &json!([]), &kwargs).await
    }

    /// Whether the ACL (not record rules) allow `operation` on `model`: over
    /// `/json/2`, where Odoo 19 deprecates `check_access_rights`,
    /// `has_access(operation)` on no record checks exactly the ACL.
    pub async fn check_access_rights(
        &self,
        model: &str,
        operation: AccessOperation,
    ) -> Result<bool, OdooError> {
        let operation = operation.as_str();
        let (method, args, kwargs) = match self.api().await? {
            Api::Json2 => ("has_access", json!([[], operation]), json!({})),
            Api::JsonRpc => (
                "check_access_rights",
                json!([operation]),
                json!({ "raise_exception": false }),
            ),
        };
        self.call(model, method, &args, &kwargs).await
    }
}
