//! The wire of Odoo 19's `/json/2`: plain JSON over reqwest.
//!
//! `POST {odoo.url}/json/2/<model>/<method>` with `Authorization: bearer
//! <API key>` and `X-Odoo-Database` on every call (the header is optional
//! only on a server with a single database; sending it always is what works
//! everywhere). The body is the method's keyword arguments ([`keywords`]);
//! the answer is the bare result or an error with a real HTTP status
//! ([`answer`]). There are no sessions: each call carries the key.
//!
//! What must stay true:
//! - the key is a sensitive header value: never logged, never in an error;
//! - a request larger than `odoo.max_request_bytes` is not sent, an answer
//!   larger than `odoo.max_response_bytes` is not read to its end;
//! - redirects are not followed (they would carry the key elsewhere).

pub mod answer;
pub mod keywords;

use std::time::Duration;

use http::HeaderValue;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::OdooError;
use super::transport::TransportLimits;
use answer::Caller;

/// The header naming the database (Odoo 19).
const DATABASE_HEADER: &str = "X-Odoo-Database";
/// How much of an error body is read.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A `/json/2` connection to one Odoo database as the owner of one API key.
#[derive(Debug, Clone)]
pub struct Json2Transport {
    client: reqwest::Client,
    /// `{odoo.url}/json/2`.
    base: String,
    database: HeaderValue,
    login: String,
    database_name: String,
    limits: TransportLimits,
}

/// Where and as whom a [`Json2Transport`] calls.
pub struct Json2Target<'a> {
    /// `{odoo.url}/json/2`.
    pub base: String,
    pub database: &'a str,
    /// Only for messages: over `/json/2` the key alone decides the user.
    pub login: &'a str,
}

impl Json2Transport {
    pub fn new(target: Json2Target<'_>, limits: TransportLimits) -> Result<Self, OdooError> {
        crate::tls::install_crypto_provider();
        let setup = |what: &str| OdooError::Unsupported(format!("/json/2 ({what})"));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .retry(reqwest::retry::never())
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .build()
            .map_err(|e| setup(&e.to_string()))?;
        let database = HeaderValue::from_str(target.database)
            .map_err(|_| setup("odoo.database is not a valid HTTP header value"))?;
        Ok(Self {
            client,
            base: target.base,
            database,
            login: target.login.to_owned(),
            database_name: target.database.to_owned(),
            limits,
        })
    }

    /// Sends a body built by [`keywords::body`] to `model.method`, with
    /// `api_key` as the bearer token (read per call: a reload may replace it).
    pub async fn call<R: DeserializeOwned>(
        &self,
        model: &str,
        method: &str,
        body: keywords::Body,
        api_key: &SecretString,
    ) -> Result<Option<R>, OdooError> {
        if body.bytes.len() > self.limits.max_request_bytes as usize {
            return Err(OdooError::RequestTooLarge);
        }
        let Ok(mut authorization) =
            HeaderValue::from_bytes(format!("bearer {}", api_key.expose_secret()).as_bytes())
        else {
            return Err(OdooError::Unsupported(
                "/json/2: odoo.password holds a character an HTTP header cannot carry".to_owned(),
            ));
        };
        authorization.set_sensitive(true);
        let url = format!("{}/{model}/{method}", self.base);
        let sent = self
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(AUTHORIZATION, authorization)
            .header(DATABASE_HEADER, self.database.clone())
            .body(body.bytes)
            .send()
            .await;
        let mut response = sent.map_err(transport_error)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let success = response.status().is_success();
        let limit = if success {
            self.limits.max_response_bytes as usize
        } else {
            MAX_ERROR_BODY_BYTES
        };
        let bytes = read_body(&mut response, limit, success).await?;
        let caller = Caller {
            login: &self.login,
            database: &self.database_name,
        };
        answer::decode(
            status,
            content_type.as_deref(),
            &bytes,
            body.single_create,
            caller,
        )
    }
}

/// Reads the body up to `limit` bytes: beyond it a success is refused as
/// too large, an error is cut (its start says enough).
async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
    refuse_beyond: bool,
) -> Result<Vec<u8>, OdooError> {
    if refuse_beyond
        && response
            .content_length()
            .is_some_and(|len| len > limit as u64)
    {
        return Err(OdooError::ResponseTooLarge);
    }
    let capacity = response
        .content_length()
        .map_or(0, |len| len as usize)
        .min(limit);
    let mut body = Vec::with_capacity(capacity);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    if refuse_beyond {
                        return Err(OdooError::ResponseTooLarge);
                    }
                    body.extend_from_slice(&chunk[..limit - body.len()]);
                    return Ok(body);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if refuse_beyond => return Err(transport_error(e)),
            Err(_) => return Ok(body),
        }
    }
}

/// A reqwest failure as the kind `/jsonrpc`'s transport gives.
pub fn transport_error(error: reqwest::Error) -> OdooError {
    if error.is_timeout() {
        return OdooError::Timeout;
    }
    // reqwest's own text names the URL; the chain says what happened.
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    OdooError::Unreachable(text)
}

/// The answer of `GET /web/version` (Odoo 19 and later; 404 before).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct WebVersion {
    pub version: String,
    #[serde(default)]
    pub version_info: Vec<serde_json::Value>,
}

/// `GET {odoo.url}/web/version` with `client`; needs no credentials.
pub async fn web_version(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<WebVersion, OdooError> {
    let caller = Caller {
        login: "",
        database: "",
    };
    let mut response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(transport_error)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = read_body(&mut response, MAX_ERROR_BODY_BYTES, true).await?;
    answer::decode::<WebVersion>(status, content_type.as_deref(), &bytes, false, caller)?
        .ok_or_else(|| OdooError::InvalidResponse("/web/version answered null".to_owned()))
}

impl Json2Transport {
    /// `GET /web/version` through this transport's client.
    pub async fn web_version(&self, url: &str) -> Result<WebVersion, OdooError> {
        web_version(&self.client, url, self.limits.timeout).await
    }
}
