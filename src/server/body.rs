//! Reading a request body, bounded in size and time, into one buffer: each
//! frame is copied into a buffer sized from `Content-Length` and dropped at
//! once, so a large body is not held twice (collect, then join).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Body;

/// A whole body's deadline: 64 MiB in 30 s is 20 Mbit/s, far slower than N8N.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a body could not be read (safe to tell the caller).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the body did not arrive in time")]
    TimedOut,
    #[error("the body could not be read")]
    Unreadable,
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TimedOut => StatusCode::REQUEST_TIMEOUT,
            Self::Unreadable => StatusCode::BAD_REQUEST,
        }
    }
}

/// Reads `body` whole: at most `limit` bytes (a larger `Content-Length` is
/// refused before anything is read) within `timeout`.
pub async fn read<B>(
    mut body: B,
    headers: &HeaderMap,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    let collect = async {
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(|_| BodyError::Unreadable)?.into_data() else {
                continue; // trailers
            };
            if (buffer.len() + data.len()) as u64 > limit {
                return Err(BodyError::TooLarge { limit });
            }
            buffer.extend_from_slice(&data);
        }
        Ok(())
    };
    let collected = tokio::time::timeout(timeout, collect).await;
    collected.unwrap_or(Err(BodyError::TimedOut))?;
    Ok(buffer.freeze())
}

#[cfg(test)]
mod tests;
