//! A minimal HTTP/1.1 client for tests (one connection per request, like a client without a
//! pool): raw `POST`s with any content type and body, and a JSON-RPC convenience wrapper.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// An HTTP answer as received.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A header value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// POSTs `body` with `content_type` to `path` on `addr` (one connection per request).
pub async fn post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> std::io::Result<RawResponse> {
    let headers = [("Content-Type".to_owned(), content_type.to_owned())];
    send(addr, "POST", path, &headers, body).await
}

/// Sends one request with exactly `headers` (plus `Host`), as the Odoo 19 transcripts record
/// them (one connection per request).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: impl Into<Bytes>,
) -> std::io::Result<RawResponse> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(io_err)?;
    let driver = tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string());
    for (name, value) in headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let req = req.body(Full::new(body.into())).map_err(io_err)?;
    let resp = sender.send_request(req).await.map_err(io_err)?;
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(io_err)?
        .to_bytes()
        .to_vec();
    driver.abort();
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone());
    Ok(RawResponse {
        status,
        content_type,
        headers,
        body,
    })
}

/// An error answer of a JSON-RPC call.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcError {
    /// A JSON-RPC error: `data.name` and `data.message`.
    Odoo { name: String, message: String },
    /// A non-JSON answer (status and body).
    Http(u16, String),
    /// Connection-level failure.
    Io(String),
}

/// A tiny JSON-RPC client for the emulator (or any Odoo).
#[derive(Debug)]
pub struct RpcClient {
    addr: SocketAddr,
    next_id: AtomicU64,
}

impl RpcClient {
    /// A client for the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        RpcClient {
            addr,
            next_id: AtomicU64::new(1),
        }
    }

    /// Calls `service.method(*args)`; `Ok(None)` when the answer has no `result` key.
    pub async fn call(
        &self,
        service: &str,
        method: &str,
        args: Value,
    ) -> Result<Option<Value>, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args}, "id": id});
        let resp = post(self.addr, "/jsonrpc", "application/json", body.to_string())
            .await
            .map_err(|e| RpcError::Io(e.to_string()))?;
        let Some(v) = resp.json().filter(|_| resp.status == 200) else {
            return Err(RpcError::Http(resp.status, resp.text()));
        };
        if let Some(err) = v.get("error") {
            let s = |k: &str| err["data"][k].as_str().unwrap_or("").to_string();
            return Err(RpcError::Odoo {
                name: s("name"),
                message: s("message"),
            });
        }
        Ok(v.get("result").cloned())
    }

    /// `object.execute_kw(db, uid, password, model, method, args, kwargs)`.
    #[allow(clippy::too_many_arguments)]
    pub async fn execute_kw(
        &self,
        db: &str,
        uid: i64,
        password: &str,
        model: &str,
        method: &str,
        args: Value,
        kwargs: Value,
    ) -> Result<Option<Value>, RpcError> {
        self.call(
            "object",
            "execute_kw",
            json!([db, uid, password, model, method, args, kwargs]),
        )
        .await
    }
}
