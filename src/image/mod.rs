//! Getting a callback's image as verified bytes: from inline base64
//! ([`decode_base64`]) or from an `image_url`, then
//! [`verify`] for the format, the dimensions and the SHA-256.
//!
//! What must stay true: the bytes alone decide what an image is (never a
//! header, a file name or a claim; [`claim_mismatches`] only reports the
//! disagreements); no image is ever decoded, only its header read, so the
//! limits of `[images]` hold before any large allocation.
//!
//! | file | concept |
//! |---|---|
//! | `format` | [`ImageFormat`]: MIME types, extensions, signatures |
//! | `decode` | [`decode_base64`]: inline data, bounded before decoding |
//! | `verify` | [`verify`], [`VerifiedImage`], [`ImageLimits`] |
//! | `claims` | [`claim_mismatches`] |
//! | `error` | [`ImageError`] |

mod claims;
mod decode;
mod error;
mod format;
mod verify;

pub use claims::claim_mismatches;
pub use decode::decode_base64;
pub use error::ImageError;
pub use format::ImageFormat;
pub use verify::{ImageLimits, VerifiedImage, verify};
