//! The Odoo session: the API in use, login, the cached uid, bounded
//! concurrency, and the ORM methods the bridge uses, over `/jsonrpc`
//! ([`Transport`]) or `/json/2` ([`Json2Transport`]).
//!
//! * Callers see one API, `execute_kw(model, method, args, kwargs)`, on both
//!   wires: over `/json/2` the positional arguments become keyword
//!   arguments ([`super::json2::keywords`]) and `create` of one record still
//!   answers its id. `odoo.api = "auto"` picks the wire once ([`super::api`]).
//! * Over `/jsonrpc` the uid from `common.authenticate` is cached. When a
//!   call fails with `AccessDenied` (password changed, API key rotated,
//!   session reset) the client logs in again once and repeats the call; a
//!   second refusal is returned to the caller. Over `/json/2` every call
//!   carries the API key; "login" is `res.users.context_get`, which proves
//!   the key and names the uid. The password or key can be replaced while
//!   running ([`OdooClient::set_password`], on SIGHUP); the next call uses it.
//! * Every outcome updates the client's standing: whether Odoo refuses the
//!   bridge itself right now ([`OdooClient::refusal`]), logged once per
//!   change.
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

use arc_swap::ArcSwap;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell, Semaphore};

use super::api::{Api, major_version};
use super::error::{OdooError, Refusal, ServerErrorKind};
use super::json2::{Json2Target, Json2Transport, keywords};
use super::protocol::{self, Protocol};
use super::standing::Standing;
use super::transport::{Transport, TransportLimits};
use crate::config::{OdooApi, OdooConfig, ProtocolMode};
use crate::metrics::Metrics;

/// 128 MiB: Werkzeug 3's own request limit, so the bridge never refuses what
/// Odoo would take (an image's base64 fits: see `images.max_bytes`).
const MAX_REQUEST_BYTES: u32 = 128 * 1024 * 1024;
/// 32 MiB: far above any answer the bridge asks for.
const MAX_RESPONSE_BYTES: u32 = 32 * 1024 * 1024;

mod choice;

/// An Odoo user id.
pub type Uid = i64;

/// A cheap-to-clone handle on one Odoo database as one user.
#[derive(Clone)]
pub struct OdooClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    json2: Json2Transport,
    /// `odoo.api`.
    choice: OdooApi,
    /// The API `auto` settled on, once asked.
    detected: OnceCell<Api>,
    /// `{odoo.url}/web/version`.
    web_version_url: String,
    database: String,
    login: String,
    password: ArcSwap<SecretString>,
    /// `None` until logged in. Held across a login so concurrent callers wait
    /// for one login instead of starting their own.
    uid: Mutex<Option<Uid>>,
    permits: Semaphore,
    metrics: Option<Arc<Metrics>>,
    standing: Standing,
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

/// The answer of `common.version` (or of `GET /web/version`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ServerVersion {
    pub server_version: String,
    #[serde(default)]
    pub protocol_version: i64,
    /// `[19, 0, 0, "final", 0, ""]`.
    #[serde(default)]
    pub server_version_info: Vec<Value>,
}

impl ServerVersion {
    /// The major version (19 for "19.0"), when it can be told.
    pub fn major(&self) -> Option<u32> {
        major_version(&self.server_version_info, &self.server_version)
    }
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
            max_request_bytes: MAX_REQUEST_BYTES,
            max_response_bytes: MAX_RESPONSE_BYTES,
        };
        let transport = Transport::new(&config.jsonrpc_endpoint(), limits)?;
        let json2 = Json2Transport::new(
            Json2Target {
                base: config.endpoint("/json/2"),
                database: &config.database,
                login: &config.login,
            },
            limits,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                json2,
                choice: config.api,
                detected: OnceCell::new(),
                web_version_url: config.endpoint("/web/version"),
                database: config.database.clone(),
                login: config.login.clone(),
                password: ArcSwap::from_pointee(config.password.clone()),
                uid: Mutex::new(None),
                permits: Semaphore::new(config.max_concurrent_calls),
                standing: Standing::new(metrics.clone()),
                metrics,
                protocol_mode: config.protocol,
                request_model: crate::odoo::records::REQUEST_MODEL.to_owned(),
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

    /// Why Odoo refuses the bridge itself right now, if it does: learnt from
    /// the outcome of every call (a refusal sets it, an authenticated call
    /// that succeeds clears it).
    pub fn refusal(&self) -> Option<Refusal> {
        self.inner.standing.current()
    }

    /// Replaces the password (or API key) the client logs in with; the next
    /// call logs in again with it.
    pub async fn set_password(&self, password: SecretString) {
        let mut cached = self.inner.uid.lock().await;
        self.inner.password.store(Arc::new(password));
        *cached = None;
        tracing::info!(login = %self.inner.login, "odoo.password changed; the next call logs in with it");
    }

    /// Records what an authenticated call says about the bridge's standing
    /// with Odoo: an answer other than a refusal (an exception about the
    /// call included) proves Odoo accepts the bridge.
    fn observe<T>(&self, result: &Result<T, OdooError>) {
        let standing = &self.inner.standing;
        match result.as_ref().err() {
            None => standing.accepted(),
            Some(error) => match error.refusal() {
                Some(refusal) => standing.refused(refusal),
                None if matches!(error, OdooError::Server { .. }) => standing.accepted(),
                None => {}
            },
        }
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

    /// The protocol detected in this session, without asking Odoo: `None`
    /// before the first detection, after a new session began, or while a
    /// detection runs.
    pub fn known_protocol(&self) -> Option<Protocol> {
        let inner = &self.inner;
        if inner.protocol_mode == ProtocolMode::Generic {
            return Some(Protocol::Generic);
        }
        let cached = inner.protocol.try_lock().ok()?;
        let epoch = inner.epoch.load(Ordering::Acquire);
        cached
            .filter(|known| known.epoch == epoch)
            .map(|known| known.protocol)
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
        if self.api().await? == Api::Json2 {
            let uid = self.json2_login().await;
            if uid.is_ok() {
                self.new_session();
            }
            return uid;
        }
        let inner = &self.inner;
        let password = inner.password.load();
        let args = json!([inner.database, inner.login, password.expose_secret(), {}]);
        let answer: Result<Option<Value>, OdooError> = self
            .call_jsonrpc("common", "authenticate", &args, "authenticate")
            .await;
        let uid = Self::uid_of(answer, inner);
        if uid.is_ok() {
            self.new_session();
        }
        // A login that works proves little (Odoo may still deny the session
        // during a cooldown): only an authenticated call clears a refusal.
        if let Some(refusal) = uid.as_ref().err().and_then(OdooError::refusal) {
            self.inner.standing.refused(refusal);
        }
        uid
    }

    fn uid_of(answer: Result<Option<Value>, OdooError>, inner: &Inner) -> Result<Uid, OdooError> {
        match answer? {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|uid| uid > 0) => {
                let uid = n.as_i64().unwrap_or_default();
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

    /// `model.method(*args, **kwargs)`: `object.execute_kw` over `/jsonrpc`,
    /// `POST /json/2/<model>/<method>` with the same arguments as keywords
    /// over `/json/2`.
    ///
    /// `Ok(None)` when the method returned Python `None`. Over `/jsonrpc`,
    /// on `AccessDenied` the client logs in again once and repeats the call
    /// (`/json/2` has no session to renew).
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
        if self.api().await? == Api::Json2 {
            let result = self.call_json2(model, method, args, kwargs).await;
            self.observe(&result);
            return result;
        }
        let uid = self.uid().await?;
        let result = match self.execute_kw_as(uid, model, method, args, kwargs).await {
            Err(e) if e.server_kind() == Some(ServerErrorKind::AccessDenied) => {
                tracing::info!(model, method, "Odoo denied the session; logging in again");
                self.forget_uid(uid).await;
                let uid = self.uid().await?;
                self.execute_kw_as(uid, model, method, args, kwargs).await
            }
            result => result,
        };
        self.observe(&result);
        result
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
        let password = inner.password.load();
        let call_args = (
            &inner.database,
            uid,
            password.expose_secret(),
            model,
            method,
            args,
            kwargs,
        );
        let started = Instant::now();
        let result = self
            .call_jsonrpc("object", "execute_kw", &call_args, method)
            .await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => tracing::debug!(model, method, elapsed_ms, "odoo call"),
            Err(e) => tracing::debug!(model, method, elapsed_ms, error = %e, "odoo call failed"),
        }
        result
    }

    /// One JSON-RPC call within the concurrency bound, counted in the
    /// metrics under `label` (the ORM method, or the `common` method).
    async fn call_jsonrpc<A, R>(
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
        let _permit = self.permit().await?;
        let started = Instant::now();
        let result = self.inner.transport.call(service, method, args).await;
        self.after_call(label, &result, started);
        result
    }

    /// One `/json/2` call within the concurrency bound, with the current API
    /// key, counted in the metrics under the method's name.
    async fn call_json2<A, K, R>(
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
        // Built before waiting for a permit: a refused call costs no slot.
        let body = keywords::body(model, method, args, kwargs)?;
        let _permit = self.permit().await?;
        let started = Instant::now();
        let key = self.inner.password.load();
        let result = self.inner.json2.call(model, method, body, &key).await;
        self.after_call(method, &result, started);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => tracing::debug!(model, method, elapsed_ms, "odoo call"),
            Err(e) => tracing::debug!(model, method, elapsed_ms, error = %e, "odoo call failed"),
        }
        result
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, OdooError> {
        // The semaphore is never closed, so acquiring cannot fail.
        self.inner
            .permits
            .acquire()
            .await
            .map_err(|_| OdooError::Timeout)
    }

    /// After any call: a lost connection starts a new session; the call is
    /// counted in the metrics under `label`.
    fn after_call<T>(&self, label: &str, result: &Result<T, OdooError>, started: Instant) {
        if result.as_ref().is_err_and(OdooError::connection_lost) {
            self.new_session();
        }
        self.count(label, result, started);
    }

    fn count<T>(&self, label: &str, result: &Result<T, OdooError>, started: Instant) {
        if let Some(metrics) = &self.inner.metrics {
            let outcome = result.as_ref().map_or_else(OdooError::kind_label, |_| "ok");
            metrics.odoo_call(label, outcome, started.elapsed());
        }
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

    /// Whether the user's access rights (ACL, not record rules) allow
    /// `operation` on `model`: `check_access_rights(operation,
    /// raise_exception=False)` over `/jsonrpc`; over `/json/2`, where Odoo
    /// 19 deprecates that method, `has_access(operation)` on no record,
    /// which checks exactly the ACL.
    pub async fn check_access_rights(
        &self,
        model: &str,
        operation: AccessOperation,
    ) -> Result<bool, OdooError> {
        let allowed = if self.api().await? == Api::Json2 {
            let no_records: [i64; 0] = [];
            self.execute_kw(
                model,
                "has_access",
                &(no_records, operation.as_str()),
                &json!({}),
            )
            .await?
        } else {
            let kwargs = json!({ "raise_exception": false });
            self.execute_kw(
                model,
                "check_access_rights",
                &json!([operation.as_str()]),
                &kwargs,
            )
            .await?
        };
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
