//! [`OdooEmulator`]: start/stop, test data access, fault controls and the call log.
//!
//! All control methods are synchronous (they take a `std::sync::Mutex` for a moment) and can be
//! called from any thread or async context; `start` and the `wait_for_*` helpers are async.
//! Data methods bypass RPC (no ACL, hidden records visible) but still validate like `create` /
//! `write` do; the panicking variants are for test set-up, the `try_*` variants return the Odoo
//! error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::access::UserAccess;
use crate::client::RpcClient;
use crate::dispatch::CallInfo;
use crate::errors::{OdooError, OdooResult};
use crate::faults::{FaultRule, FaultSet};
use crate::orm::{self, Env};
use crate::recording::{Outcome, RecordedCall};
use crate::server::{Listener, lock};
use crate::store::{Db, Series};

/// Start-up options.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Name of the database (`ig`).
    pub database: String,
    /// Create the read-only user `viewer`/`viewer` (uid 6). Turn off to create it through RPC
    /// as transcript 41 does.
    pub seed_viewer: bool,
    /// HTTP keep-alive (default on); off answers with `Connection: close`.
    pub keep_alive: bool,
    /// Which Odoo to play (default 18: `/jsonrpc` only; 19 adds `/json/2` and `/web/version`).
    pub series: Series,
    /// The companion addon `influence_gen_bridge` is installed (default off, like an Odoo whose
    /// admins installed nothing): see [`crate::companion`].
    pub companion_addon: bool,
}

impl EmulatorConfig {
    /// With the companion addon installed.
    pub fn with_companion_addon(mut self) -> Self {
        self.companion_addon = true;
        self
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            database: "ig".into(),
            seed_viewer: true,
            keep_alive: true,
            series: Series::Odoo18,
            companion_addon: false,
        }
    }
}

/// Runtime switches of the server.
#[derive(Debug, Default)]
pub struct Control {
    pub latency: Duration,
    pub http_error: Option<u16>,
    pub max_content_length: Option<usize>,
    pub keep_alive: bool,
    pub faults: FaultSet,
}

/// State shared by the server tasks and the control handle.
#[derive(Debug)]
pub struct Shared {
    pub db: Mutex<Db>,
    pub ctl: Mutex<Control>,
    calls: Mutex<(usize, Vec<RecordedCall>)>,
    notify: Notify,
    /// Calls received but not answered yet, and the most ever at once.
    in_flight: Mutex<(usize, usize)>,
    /// Signalled whenever a companion call releases its request's row lock.
    pub row_released: Notify,
}

impl Shared {
    /// Logs a call on arrival; returns its sequence number.
    pub fn record_arrival(&self, info: &CallInfo, fault: Option<String>) -> usize {
        let mut calls = lock(&self.calls);
        let seq = calls.0;
        calls.0 += 1;
        calls.1.push(RecordedCall {
            seq,
            service: info.key.service.clone().unwrap_or_default(),
            method: info.key.method.clone().unwrap_or_default(),
            db: info.db.clone(),
            model: info.key.model.clone(),
            model_method: info.key.model_method.clone(),
            args: info.args.clone(),
            kwargs: info.kwargs.clone(),
            login: info.login.clone(),
            uid: info.uid,
            outcome: Outcome::Pending,
            applied: false,
            fault,
        });
        drop(calls);
        let mut in_flight = lock(&self.in_flight);
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
        drop(in_flight);
        self.notify.notify_waiters();
        seq
    }

    /// Sets the outcome of call `seq`.
    pub fn record_outcome(&self, seq: usize, outcome: Outcome, applied: bool) {
        let mut calls = lock(&self.calls);
        if let Some(c) = calls.1.iter_mut().rev().find(|c| c.seq == seq) {
            if c.outcome == Outcome::Pending {
                let mut in_flight = lock(&self.in_flight);
                in_flight.0 = in_flight.0.saturating_sub(1);
            }
            if let (Outcome::Ok, "common", "login" | "authenticate") =
                (&outcome, c.service.as_str(), c.method.as_str())
            {
                let login = c.login.clone();
                c.uid = login.and_then(|l| lock(&self.db).uid_of_login(&l));
            }
            c.outcome = outcome;
            c.applied = applied;
        }
        drop(calls);
        self.notify.notify_waiters();
    }
}

/// A running Odoo 18 JSON-RPC emulator on `127.0.0.1`. Dropping it shuts it down.
pub struct OdooEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    handle: Handle,
    listener: Mutex<Option<Listener>>,
    database: String,
}

impl std::fmt::Debug for OdooEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdooEmulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl OdooEmulator {
    /// Starts with the defaults: database `ig`, users `admin`/`admin` (uid 2) and
    /// `viewer`/`viewer` (uid 6, read-only), empty models, `web.base.url` set.
    pub async fn start() -> OdooEmulator {
        Self::start_with(EmulatorConfig::default()).await
    }

    /// Starts with explicit options.
    pub async fn start_with(config: EmulatorConfig) -> OdooEmulator {
        let shared = Arc::new(Shared {
            db: Mutex::new(Db::new(&config.database, "127.0.0.1", 0)),
            ctl: Mutex::new(Control {
                keep_alive: config.keep_alive,
                ..Control::default()
            }),
            calls: Mutex::new((0, Vec::new())),
            notify: Notify::new(),
            in_flight: Mutex::new((0, 0)),
            row_released: Notify::new(),
        });
        let handle = Handle::current();
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let (listener, addr) = match Listener::start(&handle, any, shared.clone()) {
            Ok(x) => x,
            Err(e) => panic!("odoo emulator: cannot listen on 127.0.0.1: {e}"),
        };
        let emu = OdooEmulator {
            shared,
            addr,
            handle,
            listener: Mutex::new(Some(listener)),
            database: config.database.clone(),
        };
        {
            let mut db = lock(&emu.shared.db);
            db.port = addr.port();
            db.series = config.series;
        }
        emu.set_param("web.base.url", &emu.url());
        if config.companion_addon {
            emu.install_companion_addon();
        }
        if config.seed_viewer {
            emu.add_user_named(
                "Viewer (read-only)",
                "viewer",
                "viewer",
                UserAccess::ReadOnly,
            );
        }
        emu
    }

    /// `http://127.0.0.1:PORT` (without `/jsonrpc`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// A JSON-RPC client for this emulator.
    pub fn client(&self) -> RpcClient {
        RpcClient::new(self.addr)
    }

    fn with_db<T>(&self, f: impl FnOnce(&mut Db) -> T) -> T {
        f(&mut lock(&self.shared.db))
    }

    /// Creates a record (validated like `create`, no access checks); panics on error.
    pub fn insert(&self, model: &str, vals: Value) -> i64 {
        self.try_insert(model, vals)
            .unwrap_or_else(|e| panic!("odoo emulator: insert into {model} failed: {e}"))
    }

    /// Creates a record; returns Odoo's error on invalid values.
    pub fn try_insert(&self, model: &str, vals: Value) -> OdooResult<i64> {
        self.with_db(|db| orm::write::create(db, &Env::control(), model, &[vals]))
            .map(|ids| ids.first().copied().unwrap_or_default())
    }

    /// Creates an `influence_gen.ai_image_request`.
    pub fn seed_request(&self, vals: Value) -> i64 {
        self.insert(crate::catalog::REQUEST, vals)
    }

    /// All fields of a record as `read` returns them (hidden records included).
    pub fn record(&self, model: &str, id: i64) -> Option<Value> {
        self.with_db(|db| orm::read::read(db, &Env::control(), model, &[id], None, true).ok())
            .and_then(|rows| rows.first().map(|r| r.to_value()))
    }

    /// All records of a model, ascending ids.
    pub fn records(&self, model: &str) -> Vec<Value> {
        self.with_db(|db| {
            let ids = db.ids(model, false);
            orm::read::read(db, &Env::control(), model, &ids, None, true)
                .map(|rows| rows.iter().map(|r| r.to_value()).collect())
                .unwrap_or_default()
        })
    }

    /// Writes values (validated like `write`, no access checks); panics on error.
    pub fn update(&self, model: &str, id: i64, vals: Value) {
        if let Err(e) = self.try_update(model, id, vals) {
            panic!("odoo emulator: update of {model}({id}) failed: {e}");
        }
    }

    /// Writes values; returns Odoo's error on invalid values.
    pub fn try_update(&self, model: &str, id: i64, vals: Value) -> OdooResult<()> {
        self.with_db(|db| orm::write::write(db, &Env::control(), model, &[id], &vals))
    }

    /// Deletes a record (like `unlink`, no access checks).
    pub fn delete(&self, model: &str, id: i64) -> OdooResult<()> {
        self.with_db(|db| orm::write::unlink(db, &Env::control(), model, &[id]))
    }

    /// The stored (possibly resized) bytes of an attachment.
    pub fn attachment_bytes(&self, id: i64) -> Option<Vec<u8>> {
        self.with_db(|db| db.blobs.get(&id).cloned())
    }

    /// Sets an `ir.config_parameter`.
    pub fn set_param(&self, key: &str, value: &str) {
        self.with_db(|db| {
            let env = Env::control();
            let existing = db.tables.get("ir.config_parameter").and_then(|t| {
                t.rows
                    .iter()
                    .find(|(_, r)| r.get("key").and_then(Value::as_str) == Some(key))
                    .map(|(id, _)| *id)
            });
            let res = match existing {
                Some(id) => orm::write::write(
                    db,
                    &env,
                    "ir.config_parameter",
                    &[id],
                    &json!({"value": value}),
                ),
                None => orm::write::create(
                    db,
                    &env,
                    "ir.config_parameter",
                    &[json!({"key": key, "value": value})],
                )
                .map(|_| ()),
            };
            if let Err(e) = res {
                panic!("odoo emulator: set_param({key}) failed: {e}");
            }
        });
    }

    /// An `ir.config_parameter` value.
    pub fn param(&self, key: &str) -> Option<String> {
        self.with_db(|db| db.param(key))
    }

    /// Adds a user (its name is its login); returns the uid.
    pub fn add_user(&self, login: &str, password: &str, access: UserAccess) -> i64 {
        self.add_user_named(login, login, password, access)
    }

    /// Adds a user with a display name; returns the uid.
    pub fn add_user_named(
        &self,
        name: &str,
        login: &str,
        password: &str,
        access: UserAccess,
    ) -> i64 {
        let vals = json!({"name": name, "login": login, "password": password, "groups_id": access.group_ids()});
        self.insert("res.users", vals)
    }

    /// Adds an internal user in the group InfluenceGen Bridge (the bridge's service user, whom
    /// the companion addon's methods require); returns the uid.
    pub fn add_bridge_user(&self, login: &str, password: &str) -> i64 {
        let uid = self.add_user(login, password, UserAccess::User);
        self.set_in_bridge_group(uid, true);
        uid
    }

    /// Puts a user in the group InfluenceGen Bridge, or takes it out (e.g. `admin`, uid 2, who
    /// is not in it on a real Odoo either).
    pub fn set_in_bridge_group(&self, uid: i64, member: bool) {
        let command = if member { 4 } else { 3 };
        let vals = json!({"groups_id": [[command, crate::access::BRIDGE_GROUP_ID]]});
        self.update("res.users", uid, vals);
    }

    /// Installs the companion addon now (as an admin would with `-i influence_gen_bridge`).
    pub fn install_companion_addon(&self) {
        self.with_db(crate::companion::install);
    }

    /// Uninstalls it: its methods answer "does not exist" again.
    pub fn uninstall_companion_addon(&self) {
        self.with_db(crate::companion::uninstall);
    }

    /// Adds an API key that authenticates `uid` like its password (and, on Odoo 19, as the
    /// bearer token of `/json/2`). It never expires and is not listed in `res.users.apikeys`.
    pub fn add_api_key(&self, uid: i64, key: &str) {
        self.with_db(|db| {
            if let Some(c) = db.creds.get_mut(&uid) {
                c.api_keys.push(key.to_string());
            }
        });
    }

    /// Adds an API key as a user makes one in Odoo: a `res.users.apikeys` row named `name` that
    /// the user can list, expiring at `expiration` (`YYYY-MM-DD HH:MM:SS` UTC; `None`: never).
    /// An expired key is refused (Odoo's "Invalid apikey").
    pub fn add_listed_api_key(&self, uid: i64, key: &str, name: &str, expiration: Option<&str>) {
        self.add_api_key(uid, key);
        self.insert(
            crate::catalog::API_KEYS,
            json!({"name": name, "user_id": uid, "expiration_date": expiration.map_or(Value::Bool(false), |e| json!(e))}),
        );
        if let Some(expiration) = expiration {
            self.with_db(|db| {
                db.api_key_expirations
                    .insert(key.to_owned(), expiration.to_owned());
            });
        }
    }

    /// Which Odoo this emulator plays.
    pub fn series(&self) -> Series {
        self.with_db(|db| db.series)
    }

    /// Removes a field from a model (an addon version without it): RPC then rejects it as
    /// unknown, and `fields_get` no longer lists it.
    pub fn remove_field(&self, model: &str, field: &str) {
        self.with_db(|db| {
            if let Some(m) = db.models.get_mut(model) {
                m.fields.retain(|f| f.name != field);
            }
            if let Some(t) = db.tables.get_mut(model) {
                for row in t.rows.values_mut() {
                    row.remove(field);
                }
            }
        });
    }

    /// Makes a public method behave as if it did not exist (e.g. `message_post` without chatter).
    pub fn remove_method(&self, model: &str, method: &str) {
        self.with_db(|db| {
            db.removed_methods
                .insert((model.to_string(), method.to_string()))
        });
    }

    /// Sets the next id a model's sequence gives (to line ids up with a real database).
    pub fn set_next_id(&self, model: &str, next: i64) {
        self.with_db(|db| db.table_mut(model).next_id = next);
    }

    /// Hides a record from RPC calls for `d` (as if its create were not committed yet).
    pub fn hide_record_for(&self, model: &str, id: i64, d: Duration) {
        let until = tokio::time::Instant::now() + d;
        self.with_db(|db| db.hidden.insert((model.to_string(), id), until));
    }

    /// Down: the port refuses connections and open connections are cut. Up: listens again on
    /// the same port.
    pub fn set_down(&self, down: bool) {
        let mut slot = lock(&self.listener);
        if down {
            if let Some(l) = slot.take() {
                l.stop();
            }
        } else if slot.is_none() {
            match Listener::start(&self.handle, self.addr, self.shared.clone()) {
                Ok((l, _)) => *slot = Some(l),
                Err(e) => panic!("odoo emulator: cannot listen again on {}: {e}", self.addr),
            }
        }
    }

    /// Whether the emulator is down.
    pub fn is_down(&self) -> bool {
        lock(&self.listener).is_none()
    }

    /// Delay added to every call.
    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.ctl).latency = d;
    }

    /// Answers every call with this HTTP status and an HTML page (a proxy error), or stops.
    pub fn set_http_error(&self, status: Option<u16>) {
        lock(&self.shared.ctl).http_error = status;
    }

    /// Keep-alive for new connections.
    pub fn set_keep_alive(&self, on: bool) {
        lock(&self.shared.ctl).keep_alive = on;
    }

    /// Refuses bodies larger than this like Werkzeug 3 (`RequestEntityTooLarge`, `id: null`).
    pub fn set_max_content_length(&self, max: Option<usize>) {
        lock(&self.shared.ctl).max_content_length = max;
    }

    /// Adds a fault rule (see [`crate::faults`]).
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.shared.ctl).faults.push(rule);
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        lock(&self.shared.ctl).faults.clear();
    }

    /// Every call received, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.calls).1.clone()
    }

    /// How many `execute_kw` calls of `model_method` on `model` were received.
    pub fn count(&self, model: &str, model_method: &str) -> usize {
        lock(&self.shared.calls)
            .1
            .iter()
            .filter(|c| {
                c.model.as_deref() == Some(model) && c.model_method.as_deref() == Some(model_method)
            })
            .count()
    }

    /// The most calls that were being handled at the same moment.
    pub fn peak_concurrency(&self) -> usize {
        lock(&self.shared.in_flight).1
    }

    /// Takes the answered calls out of the log and counts them by [`RecordedCall::kind`]; calls
    /// still pending stay. For load runs, whose log would otherwise keep every call with its
    /// arguments (whole images) for good.
    pub fn take_answered_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        lock(&self.shared.calls).1.retain(|call| {
            if call.outcome == Outcome::Pending {
                return true;
            }
            *counts.entry(call.kind()).or_default() += 1;
            false
        });
        counts
    }

    /// Forgets the logged calls.
    pub fn clear_calls(&self) {
        lock(&self.shared.calls).1.clear();
    }

    /// Waits until `pred(calls)` holds (re-checked on every arrival and answer); false on timeout.
    pub async fn wait_for_calls(
        &self,
        pred: impl Fn(&[RecordedCall]) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(&lock(&self.shared.calls).1) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pred(&lock(&self.shared.calls).1);
            }
        }
    }

    /// Waits until `n` answered calls of `model_method` on `model` were logged.
    pub async fn wait_for_count(
        &self,
        model: &str,
        model_method: &str,
        n: usize,
        timeout: Duration,
    ) -> bool {
        let answered = |c: &RecordedCall| c.outcome != Outcome::Pending;
        self.wait_for_matching(model, model_method, answered, n, timeout)
            .await
    }

    /// Waits until `n` calls of `model_method` on `model` arrived, answered or
    /// not (e.g. to act while a stalled call is still running).
    pub async fn wait_for_arrival(
        &self,
        model: &str,
        model_method: &str,
        n: usize,
        timeout: Duration,
    ) -> bool {
        self.wait_for_matching(model, model_method, |_| true, n, timeout)
            .await
    }

    /// Waits until `n` calls of `model_method` on `model` also satisfy `also`.
    async fn wait_for_matching(
        &self,
        model: &str,
        model_method: &str,
        also: impl Fn(&RecordedCall) -> bool,
        n: usize,
        timeout: Duration,
    ) -> bool {
        let matches = |c: &&RecordedCall| {
            c.model.as_deref() == Some(model)
                && c.model_method.as_deref() == Some(model_method)
                && also(c)
        };
        self.wait_for_calls(|calls| calls.iter().filter(matches).count() >= n, timeout)
            .await
    }

    /// Runs an ORM read as a given user, bypassing HTTP (handy to check visibility).
    pub fn read_as(&self, uid: i64, model: &str, ids: &[i64]) -> Result<Vec<Value>, OdooError> {
        self.with_db(|db| orm::read::read(db, &Env::rpc(uid), model, ids, None, true))
            .map(|rows| rows.iter().map(|r| r.to_value()).collect())
    }
}

impl Drop for OdooEmulator {
    fn drop(&mut self) {
        if let Some(l) = lock(&self.listener).take() {
            l.stop();
        }
    }
}
