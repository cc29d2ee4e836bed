//! The HTTP/1.1 server: listening socket, connections, and the life of one request.
//!
//! Connections are kept alive by default (the real server, Werkzeug's threaded server, does
//! keep-alive too, see the README's latency notes); `set_keep_alive(false)` answers with
//! `Connection: close` instead. Once its body is read, a request is handled in a detached task,
//! so that, like Odoo, a call is carried out (and committed) even when the client hangs up
//! before the answer. "Down" drops the listening socket synchronously (new connections are
//! refused at once) and aborts the open connections.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::task::{JoinHandle, JoinSet};

use crate::dispatch::{CallInfo, describe, dispatch};
use crate::emulator::Shared;
use crate::faults::Fault;
use crate::json2;
use crate::protocol::{
    HttpReply, Rejected, parse_request, proxy_page, rpc_error, rpc_result, too_large,
};
use crate::recording::Outcome;
use crate::store::Series;

/// Locks a mutex, ignoring poisoning (a panicking test thread must not wedge the emulator).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running accept loop.
pub struct Listener {
    slot: Arc<Mutex<Option<TcpListener>>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds `addr` (port 0 = any) and starts accepting.
    pub fn start(
        handle: &Handle,
        addr: SocketAddr,
        shared: Arc<Shared>,
    ) -> std::io::Result<(Listener, SocketAddr)> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let local = std_listener.local_addr()?;
        let listener = {
            let _guard = handle.enter();
            TcpListener::from_std(std_listener)?
        };
        let slot = Arc::new(Mutex::new(Some(listener)));
        let task = handle.spawn(accept_loop(slot.clone(), shared));
        Ok((Listener { slot, task }, local))
    }

    /// Closes the listening socket now and aborts every open connection.
    pub fn stop(self) {
        drop(lock(&self.slot).take());
        self.task.abort();
    }
}

async fn accept_loop(slot: Arc<Mutex<Option<TcpListener>>>, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = poll_fn(|cx| match lock(&slot).as_ref() {
            Some(l) => l.poll_accept(cx).map(Some),
            None => Poll::Ready(None),
        })
        .await;
        match accepted {
            None => break,
            Some(Ok((stream, _))) => {
                conns.spawn(serve(stream, shared.clone()));
            }
            Some(Err(_)) => tokio::task::yield_now().await,
        }
        while conns.try_join_next().is_some() {}
    }
}

/// Error returned to hyper to drop a connection without answering.
#[derive(Debug)]
struct Hangup;

impl std::fmt::Display for Hangup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by fault injection")
    }
}

impl std::error::Error for Hangup {}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let keep_alive = lock(&shared.ctl).keep_alive;
    let svc = service_fn(move |req| handle(shared.clone(), req));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(keep_alive);
    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Hangup> {
    let (parts, body) = req.into_parts();
    let Ok(collected) = body.collect().await else {
        return Err(Hangup);
    };
    let body = collected.to_bytes();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let path = parts.uri.path().to_string();
    let odoo19 = lock(&shared.db).series == Series::Odoo19;
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let task = if odoo19 && json2::is_version_path(&path) {
        let reply = json2::version_reply(&lock(&shared.db));
        tokio::spawn(async move { Some(reply) })
    } else if odoo19 && json2::is_json2_path(&path) {
        let meta = json2::Meta {
            http_method: parts.method.as_str().to_owned(),
            path,
            content_type,
            authorization: header("authorization"),
            database: header("x-odoo-database"),
            cookie: parts.headers.contains_key(http::header::COOKIE),
        };
        tokio::spawn(process_json2(shared, meta, body))
    } else {
        tokio::spawn(process(shared, path, content_type, body))
    };
    match task.await {
        Ok(Some(reply)) => Ok(to_response(reply)),
        _ => Err(Hangup),
    }
}

fn to_response(reply: HttpReply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() =
        http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(reply.content_type),
    );
    headers.insert(
        http::header::SERVER,
        http::HeaderValue::from_static("Werkzeug/2.2.2 Python/3.11.2"),
    );
    if reply.status == 401 {
        // Only /json/2 answers 401, always with the bearer challenge.
        headers.insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer "),
        );
    }
    resp
}

fn describe_fault(f: &Fault) -> String {
    format!("{f:?}")
}

/// Handles one request body; `None` means "close the connection without answering".
async fn process(
    shared: Arc<Shared>,
    path: String,
    content_type: Option<String>,
    body: Bytes,
) -> Option<HttpReply> {
    let (latency, http_error, max_len) = {
        let ctl = lock(&shared.ctl);
        (ctl.latency, ctl.http_error, ctl.max_content_length)
    };
    let parsed = parse_request(&path, content_type.as_deref(), &body);
    let info = match &parsed {
        Ok(req) => describe(&lock(&shared.db), &req.params),
        Err(_) => CallInfo::default(),
    };
    let fault = match &parsed {
        Ok(_) if http_error.is_none() => lock(&shared.ctl).faults.next_fault(&info.key),
        _ => None,
    };
    let seq = shared.record_arrival(&info, fault.as_ref().map(describe_fault));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = http_error {
        shared.record_outcome(seq, Outcome::Http(status), false);
        return Some(proxy_page(status));
    }
    let req = match parsed {
        Ok(req) => req,
        Err(Rejected::Http(reply)) => {
            shared.record_outcome(seq, Outcome::Http(reply.status), false);
            return Some(reply);
        }
        Err(Rejected::Rpc(id, err)) => {
            shared.record_outcome(
                seq,
                Outcome::Error {
                    name: err.name.clone(),
                    message: err.message.clone(),
                },
                false,
            );
            return Some(rpc_error(&id, &err));
        }
    };
    if max_len.is_some_and(|max| body.len() > max) {
        let err = too_large();
        shared.record_outcome(
            seq,
            Outcome::Error {
                name: err.name.clone(),
                message: err.message.clone(),
            },
            false,
        );
        return Some(rpc_error(&Value::Null, &err));
    }
    // A companion call holds its request's row lock from here until it is applied, through a
    // stall too (crate::companion::locks).
    let row_lock = crate::companion::locks::acquire(&shared, seq, &info).await;
    let mut override_error = None;
    let mut hang_up = false;
    let mut answer_late = None;
    match fault {
        Some(Fault::OdooError { name, message }) => {
            let err = crate::errors::OdooError::new(name, message);
            shared.record_outcome(
                seq,
                Outcome::Error {
                    name: err.name.clone(),
                    message: err.message.clone(),
                },
                false,
            );
            return Some(rpc_error(&req.id, &err));
        }
        Some(Fault::Http(status)) => {
            shared.record_outcome(seq, Outcome::Http(status), false);
            return Some(proxy_page(status));
        }
        Some(Fault::CloseConnection) => {
            shared.record_outcome(seq, Outcome::Closed, false);
            return None;
        }
        Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
        Some(Fault::AnswerLate(d)) => answer_late = Some(d),
        Some(Fault::FailAfterApplying { name, message }) => {
            override_error = Some(crate::errors::OdooError::new(name, message));
        }
        Some(Fault::CloseAfterApplying) => hang_up = true,
        None => {}
    }
    let result = {
        let mut db = lock(&shared.db);
        db.row_locks.set_applying(Some(seq));
        let result = dispatch(&mut db, &req.params);
        db.row_locks.set_applying(None);
        result
    };
    drop(row_lock);
    if hang_up {
        shared.record_outcome(seq, Outcome::Closed, true);
        return None;
    }
    if let Some(d) = answer_late {
        tokio::time::sleep(d).await;
    }
    let result = match override_error {
        Some(e) => Err(e),
        None => result,
    };
    Some(match result {
        Ok(reply) => {
            shared.record_outcome(seq, Outcome::Ok, true);
            rpc_result(&req.id, reply)
        }
        Err(err) => {
            shared.record_outcome(
                seq,
                Outcome::Error {
                    name: err.name.clone(),
                    message: err.message.clone(),
                },
                true,
            );
            rpc_error(&req.id, &err)
        }
    })
}

fn error_outcome(err: &crate::errors::OdooError) -> Outcome {
    Outcome::Error {
        name: err.name.clone(),
        message: err.message.clone(),
    }
}

/// Handles one `/json/2` request like [`process`] does a JSON-RPC one: the same latency,
/// proxy errors and per-call faults, answered the `/json/2` way.
async fn process_json2(shared: Arc<Shared>, meta: json2::Meta, body: Bytes) -> Option<HttpReply> {
    let (latency, http_error, max_len) = {
        let ctl = lock(&shared.ctl);
        (ctl.latency, ctl.http_error, ctl.max_content_length)
    };
    let accepted = {
        let db = lock(&shared.db);
        json2::accept(&db, &meta, &body).map(|call| {
            let info = json2::info(&db, &call);
            (call, info)
        })
    };
    let info = accepted
        .as_ref()
        .map(|(_, info)| info.clone())
        .unwrap_or_default();
    let fault = match &accepted {
        Ok(_) if http_error.is_none() => lock(&shared.ctl).faults.next_fault(&info.key),
        _ => None,
    };
    let seq = shared.record_arrival(&info, fault.as_ref().map(describe_fault));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = http_error {
        shared.record_outcome(seq, Outcome::Http(status), false);
        return Some(proxy_page(status));
    }
    let call = match accepted {
        Ok((call, _)) => call,
        Err(reply) => {
            shared.record_outcome(seq, Outcome::Http(reply.status), false);
            return Some(reply);
        }
    };
    if max_len.is_some_and(|max| body.len() > max) {
        let mut err = too_large();
        err.arguments = vec![Value::from(err.message.clone()), Value::from(413)];
        shared.record_outcome(seq, error_outcome(&err), false);
        return Some(json2::error_reply(&err));
    }
    // A companion call holds its request's row lock until it is applied, as over /jsonrpc.
    let row_lock = crate::companion::locks::acquire(&shared, seq, &info).await;
    let mut override_error = None;
    let mut hang_up = false;
    let mut answer_late = None;
    match fault {
        Some(Fault::OdooError { name, message }) => {
            let err = crate::errors::OdooError::new(name, message);
            shared.record_outcome(seq, error_outcome(&err), false);
            return Some(json2::error_reply(&err));
        }
        Some(Fault::Http(status)) => {
            shared.record_outcome(seq, Outcome::Http(status), false);
            return Some(proxy_page(status));
        }
        Some(Fault::CloseConnection) => {
            shared.record_outcome(seq, Outcome::Closed, false);
            return None;
        }
        Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
        Some(Fault::AnswerLate(d)) => answer_late = Some(d),
        Some(Fault::FailAfterApplying { name, message }) => {
            override_error = Some(crate::errors::OdooError::new(name, message));
        }
        Some(Fault::CloseAfterApplying) => hang_up = true,
        None => {}
    }
    let result = {
        let mut db = lock(&shared.db);
        db.row_locks.set_applying(Some(seq));
        let result = json2::execute(&mut db, &call);
        db.row_locks.set_applying(None);
        result
    };
    drop(row_lock);
    if hang_up {
        shared.record_outcome(seq, Outcome::Closed, true);
        return None;
    }
    if let Some(d) = answer_late {
        tokio::time::sleep(d).await;
    }
    Some(match override_error.map_or(result, Err) {
        Ok(reply) => {
            shared.record_outcome(seq, Outcome::Ok, true);
            json2::result_reply(reply)
        }
        Err(err) => {
            shared.record_outcome(seq, error_outcome(&err), true);
            json2::error_reply(&err)
        }
    })
}
