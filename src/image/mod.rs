//! A callback's image as verified bytes: inline base64 ([`decode_base64`]) or
//! a guarded download ([`ImageFetcher`]), then [`verify`]. The bytes alone
//! decide what an image is, never a header, a file name or a claim; only
//! headers are read, so the `[images]` limits hold before any large
//! allocation.

mod decode;
mod error;
mod fetch;
mod guard;
mod verify;

#[cfg(test)]
mod test_server;

pub use decode::decode_base64;
pub use error::ImageError;
pub use fetch::ImageFetcher;
pub use guard::{UrlGuard, blocked_range};
pub use verify::{ImageFormat, ImageLimits, VerifiedImage, claim_mismatches, verify};
