//! Getting a callback's image as verified bytes: from inline base64
//! ([`decode_base64`]) or from an `image_url` ([`ImageFetcher`]), then
//! [`verify`] for the format, the dimensions and the SHA-256.
//!
//! What must stay true: the bytes alone decide what an image is (never a
//! header, a file name or a claim; [`claim_mismatches`] only reports the
//! disagreements); no image is ever decoded, only its header read, so the
//! limits of `[images]` hold before any large allocation; and a download
//! reaches only what [`UrlGuard`] allows (see [`guard`] for what is blocked
//! by default).
//!
//! | file | concept |
//! |---|---|
//! | `format` | [`ImageFormat`]: MIME types, extensions, signatures |
//! | `decode` | [`decode_base64`]: inline data, bounded before decoding |
//! | `verify` | [`verify`], [`VerifiedImage`], [`ImageLimits`] |
//! | `claims` | [`claim_mismatches`] |
//! | `address` | the IP ranges a download must not reach |
//! | [`guard`] | [`UrlGuard`] and its DNS resolver |
//! | `fetch` | [`ImageFetcher`]: the bounded, guarded download |
//! | `error` | [`ImageError`] |

mod address;
mod claims;
mod decode;
mod error;
mod fetch;
mod format;
pub mod guard;
mod verify;

#[cfg(test)]
mod test_server;

pub use address::{BlockedRange, blocked_range};
pub use claims::claim_mismatches;
pub use decode::decode_base64;
pub use error::ImageError;
pub use fetch::ImageFetcher;
pub use format::ImageFormat;
pub use guard::{GuardedResolver, UrlGuard};
pub use verify::{ImageLimits, VerifiedImage, verify};
