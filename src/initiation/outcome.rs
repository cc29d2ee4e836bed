//! What an initiation ends in: an [`Outcome`] recorded in Odoo, or an
//! [`InitiationError`] when Odoo could not be read or written. `Outcome`'s
//! `Display` is the one line `initiate` prints.

use std::fmt;

use crate::odoo::OdooError;

/// What one initiation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// N8N took the request; it is `processing`.
    Sent {
        request_id: i64,
        http_status: u16,
        attempts: u32,
    },
    /// N8N did not take it (or nothing could be sent); it is
    /// `initiation_failed` with `details` in `error_details`.
    Failed {
        request_id: i64,
        details: String,
        attempts: u32,
    },
    /// The call may or may not have reached N8N (a timeout, a broken
    /// connection): it is `processing`, not sent again, and noted in its
    /// chatter; the watchdog gives up on it if no result arrives.
    Unknown {
        request_id: i64,
        details: String,
        attempts: u32,
    },
    /// It was not `queued`; nothing was sent.
    Skipped { request_id: i64, status: String },
    /// No such request is readable by the bridge's Odoo user.
    NotFound { request_id: i64 },
    /// Shutdown stopped the retries after failures N8N surely did not act
    /// on; it is `queued` again.
    Deferred { request_id: i64, reason: String },
}

impl Outcome {
    /// The request's Odoo id.
    pub fn request_id(&self) -> i64 {
        match self {
            Self::Sent { request_id, .. }
            | Self::Failed { request_id, .. }
            | Self::Unknown { request_id, .. }
            | Self::Skipped { request_id, .. }
            | Self::NotFound { request_id }
            | Self::Deferred { request_id, .. } => *request_id,
        }
    }

    /// The metric label of this outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Failed { .. } => "failed",
            Self::Unknown { .. } => "unknown",
            Self::Skipped { .. } => "skipped",
            Self::NotFound { .. } => "not_found",
            Self::Deferred { .. } => "deferred",
        }
    }

    /// Whether the request left `queued` because of this initiation (or was
    /// never there), so a sweep made progress.
    pub fn settled(&self) -> bool {
        !matches!(self, Self::Deferred { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sent {
                request_id,
                http_status,
                attempts,
            } => {
                write!(
                    f,
                    "request {request_id}: sent to N8N (HTTP {http_status}); status processing"
                )?;
                if *attempts > 1 {
                    write!(f, " (after {attempts} attempts)")?;
                }
                Ok(())
            }
            Self::Failed {
                request_id,
                details,
                ..
            } => write!(
                f,
                "request {request_id}: initiation failed: {details}; status initiation_failed"
            ),
            Self::Unknown {
                request_id,
                details,
                ..
            } => write!(
                f,
                "request {request_id}: sent to N8N, outcome unknown: {details}; N8N may or may not have \
                 started it, so it is not sent again; status processing"
            ),
            Self::Skipped { request_id, status } => write!(
                f,
                "request {request_id}: skipped: its status is {status}, not queued; nothing sent"
            ),
            Self::NotFound { request_id } => write!(
                f,
                "request {request_id}: not found (or not readable by the bridge's Odoo user); nothing sent"
            ),
            Self::Deferred { request_id, reason } => {
                write!(f, "request {request_id}: not sent: {reason}; status queued")
            }
        }
    }
}

/// Why an initiation stopped without a recorded outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitiationError {
    #[error("cannot read request {request_id} from Odoo: {source}")]
    Read { request_id: i64, source: OdooError },
    #[error(
        "cannot mark request {request_id} as processing in Odoo: {source}; nothing was sent and it stays queued"
    )]
    Claim { request_id: i64, source: OdooError },
    #[error("cannot claim the next queued request in Odoo: {source}; nothing was sent")]
    ClaimNext { source: OdooError },
    #[error("request {request_id}: {what}, but Odoo did not record it: {source}")]
    Record {
        request_id: i64,
        what: String,
        source: OdooError,
    },
}
