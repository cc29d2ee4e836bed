//! From bytes to a [`VerifiedImage`] (format, dimensions, SHA-256), and the
//! callback's claims compared with it. `imagesize` reads the header only, so
//! `images.max_pixels` holds before anyone decodes a small file claiming a
//! gigantic picture. PNG, JPEG and WebP cover what AI generators produce.
//! Hashing 40 MB takes tens of milliseconds: async callers run [`verify`] on
//! a blocking thread.

use std::fmt;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::ImageError;
use crate::config::ImageConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    WebP,
}

impl ImageFormat {
    /// The MIME type, as Odoo stores it on an attachment.
    pub fn mimetype(&self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
        }
    }

    /// The file extension, without the dot; also the `file_format` value.
    pub fn extension(&self) -> &'static str {
        &self.mimetype()["image/".len()..]
    }

    /// Reads a format as a callback states it: an extension (`png`, `.jpg`)
    /// or a MIME type (`image/jpeg; q=1`), in any case. Others give `None`.
    pub fn from_claim(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let text = text.split(';').next().unwrap_or_default().trim();
        let name = text.strip_prefix("image/").or(text.strip_prefix('.'));
        match name.unwrap_or(text) {
            "png" | "x-png" | "apng" => Some(Self::Png),
            "jpeg" | "jpg" | "jpe" | "pjpeg" | "jfif" => Some(Self::Jpeg),
            "webp" => Some(Self::WebP),
            _ => None,
        }
    }
}

/// An image whose bytes were checked: an accepted format, dimensions within
/// the limits, and their SHA-256 (lower-case hex).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedImage {
    pub bytes: Bytes,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub sha256_hex: String,
}

impl fmt::Debug for VerifiedImage {
    /// Everything but the bytes themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedImage")
            .field("size", &self.bytes.len())
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("sha256_hex", &self.sha256_hex)
            .finish()
    }
}

/// `images.max_bytes` and `images.max_pixels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_bytes: u64,
    pub max_pixels: u64,
}

impl From<&ImageConfig> for ImageLimits {
    fn from(config: &ImageConfig) -> Self {
        Self {
            max_bytes: config.max_bytes,
            max_pixels: config.max_pixels,
        }
    }
}

/// Checks that `bytes` are an image within `limits` and describes it.
pub fn verify(bytes: Bytes, limits: &ImageLimits) -> Result<VerifiedImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ImageError::TooLarge {
            size: Some(bytes.len() as u64),
            limit: limits.max_bytes,
        });
    }
    let format = match imagesize::image_type(&bytes) {
        // imagesize looks at "\x89PNG" only; the IHDR chunk must come first.
        Ok(imagesize::ImageType::Png) if bytes.get(12..16) == Some(b"IHDR") => ImageFormat::Png,
        Ok(imagesize::ImageType::Jpeg) => ImageFormat::Jpeg,
        Ok(imagesize::ImageType::Webp) => ImageFormat::WebP,
        _ => return Err(ImageError::NotAnImage),
    };
    let corrupt = |reason| ImageError::Corrupt { format, reason };
    let size = imagesize::blob_size(&bytes).map_err(|_| corrupt("the header is incomplete"))?;
    // The three formats store each dimension in at most 32 bits.
    let (width, height) = (size.width as u32, size.height as u32);
    if width == 0 || height == 0 {
        return Err(corrupt("the header gives a zero width or height"));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    if !is_complete(format, &bytes) {
        return Err(corrupt("the file is truncated"));
    }
    let sha256 = Sha256::digest(&bytes);
    Ok(VerifiedImage {
        format,
        width,
        height,
        sha256_hex: sha256.iter().map(|b| format!("{b:02x}")).collect(),
        bytes,
    })
}

/// How far from the end an IEND or EOI may sit (some encoders append data).
const END_MARKER_WINDOW_BYTES: usize = 4096;

/// Whether the file ends where its format says (not cut short in transfer).
fn is_complete(format: ImageFormat, bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(END_MARKER_WINDOW_BYTES)..];
    let contains = |needle: &[u8]| tail.windows(needle.len()).any(|w| w == needle);
    match format {
        // The IEND chunk: its type and its fixed CRC.
        ImageFormat::Png => contains(b"IEND\xAE\x42\x60\x82"),
        ImageFormat::Jpeg => contains(&[0xFF, 0xD9]),
        // The RIFF header, read by detection, states the size that follows.
        ImageFormat::WebP => {
            let riff = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            u64::from(riff) + 8 <= bytes.len() as u64
        }
    }
}

/// A claimed text is echoed at most this long: it comes from outside.
const MAX_ECHOED_CLAIM_CHARS: usize = 40;

/// How the callback's claims (hints, see `docs/protocol.md#callback-contract`)
/// disagree with `image`, one line each, so a broken workflow step shows in
/// the logs. An absent or empty claim is no mismatch.
pub fn claim_mismatches(
    image: &VerifiedImage,
    claimed_mimetype: Option<&str>,
    claimed_format: Option<&str>,
    claimed_width: Option<u64>,
    claimed_height: Option<u64>,
    claimed_size: Option<u64>,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    for (name, claim, real) in [
        ("mimetype", claimed_mimetype, image.format.mimetype()),
        ("file_format", claimed_format, image.format.extension()),
    ] {
        if let Some(claim) = claim.map(str::trim).filter(|c| !c.is_empty())
            && ImageFormat::from_claim(claim) != Some(image.format)
        {
            let mut echo: String = claim.chars().take(MAX_ECHOED_CLAIM_CHARS).collect();
            if echo.len() < claim.len() {
                echo.push('…');
            }
            mismatches.push(format!("{name} claimed {echo:?}, bytes are {real}"));
        }
    }
    for (name, claim, real) in [
        ("width", claimed_width, u64::from(image.width)),
        ("height", claimed_height, u64::from(image.height)),
        ("file_size", claimed_size, image.bytes.len() as u64),
    ] {
        if let Some(claim) = claim.filter(|&c| c != real) {
            mismatches.push(format!("{name} claimed {claim}, image has {real}"));
        }
    }
    mismatches
}

#[cfg(test)]
mod tests;
