//! From bytes to a [`VerifiedImage`]: format, dimensions, digest.
//!
//! Only headers are read, never pixels: the format from the signature
//! ([`ImageFormat::sniff`]), the dimensions with the `imagesize` crate (BMP's
//! by hand, see [`bmp_dimensions`]). Width × height is checked against
//! `images.max_pixels` before anyone decodes the image, which is what makes a
//! small file claiming a gigantic picture harmless. A cheap look at the end
//! of the file catches the commonest damage, a truncated transfer, for the
//! formats that state where they end.
//!
//! [`verify`] hashes the whole input: at 40 MB that is tens of milliseconds
//! of CPU, so async callers run it on a blocking thread.

use std::io::Cursor;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::format::read_u32_le;
use super::{ImageError, ImageFormat};
use crate::config::ImageConfig;

/// An image whose bytes were checked: a supported format, plausible
/// dimensions within the limits, and their SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedImage {
    pub bytes: Bytes,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of `bytes`, lower-case hex.
    pub sha256_hex: String,
}

impl VerifiedImage {
    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

impl std::fmt::Debug for VerifiedImage {
    /// Everything but the bytes themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedImage")
            .field("size", &self.bytes.len())
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("sha256_hex", &self.sha256_hex)
            .finish()
    }
}

/// The bounds an image must stay within, from `[images]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// `images.max_bytes`
    pub max_bytes: u64,
    /// `images.max_pixels`
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
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(ImageError::TooLarge {
            size: Some(size),
            limit: limits.max_bytes,
        });
    }
    let format = ImageFormat::sniff(&bytes).ok_or(ImageError::NotAnImage)?;
    let (width, height) = dimensions(format, &bytes)?;
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt {
            format,
            reason: "the header gives a zero width or height",
        });
    }
    // Both are at most 2^32, so the product cannot overflow a u64.
    if width.saturating_mul(height) > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    check_end(format, &bytes)?;
    let too_wide = || ImageError::TooManyPixels {
        width,
        height,
        limit: limits.max_pixels,
    };
    let width = u32::try_from(width).map_err(|_| too_wide())?;
    let height = u32::try_from(height).map_err(|_| too_wide())?;
    let sha256_hex = hex(&Sha256::digest(&bytes));
    Ok(VerifiedImage {
        bytes,
        format,
        width,
        height,
        sha256_hex,
    })
}

/// Width and height from the header.
fn dimensions(format: ImageFormat, bytes: &[u8]) -> Result<(u64, u64), ImageError> {
    let corrupt = |reason| ImageError::Corrupt { format, reason };
    if format == ImageFormat::Bmp {
        return bmp_dimensions(bytes).ok_or_else(|| corrupt("the header is incomplete"));
    }
    // imagesize sniffs for itself; both must agree on what the bytes are.
    let detected = imagesize::image_type(bytes).map_err(|_| corrupt("the header is incomplete"))?;
    let expected = match format {
        ImageFormat::Png => imagesize::ImageType::Png,
        ImageFormat::Jpeg => imagesize::ImageType::Jpeg,
        ImageFormat::WebP => imagesize::ImageType::Webp,
        ImageFormat::Gif => imagesize::ImageType::Gif,
        ImageFormat::Tiff => imagesize::ImageType::Tiff,
        ImageFormat::Bmp => imagesize::ImageType::Bmp,
    };
    if detected != expected {
        return Err(corrupt("the header does not match the signature"));
    }
    let size = imagesize::reader_size(Cursor::new(bytes))
        .map_err(|_| corrupt("the header is incomplete or invalid"))?;
    Ok((size.width as u64, size.height as u64))
}

/// BMP dimensions, read here because `imagesize` takes the height as
/// unsigned while a top-down BMP stores it negative.
fn bmp_dimensions(bytes: &[u8]) -> Option<(u64, u64)> {
    const DIB_HEADER_OFFSET: usize = 14;
    let dib_size = read_u32_le(bytes, DIB_HEADER_OFFSET)?;
    let fields = DIB_HEADER_OFFSET + 4;
    if dib_size == 12 {
        // BITMAPCOREHEADER: unsigned 16-bit width and height.
        let field = bytes.get(fields..fields + 4)?;
        let width = u16::from_le_bytes([field[0], field[1]]);
        let height = u16::from_le_bytes([field[2], field[3]]);
        return Some((u64::from(width), u64::from(height)));
    }
    let width = i32::from_le_bytes(read_u32_le(bytes, fields)?.to_le_bytes());
    let height = i32::from_le_bytes(read_u32_le(bytes, fields + 4)?.to_le_bytes());
    if width < 0 {
        return None;
    }
    Some((
        u64::from(width.unsigned_abs()),
        u64::from(height.unsigned_abs()),
    ))
}

/// How far from the end a PNG's IEND or a JPEG's EOI may sit; a few
/// encoders append padding or metadata after them.
const END_MARKER_WINDOW_BYTES: usize = 4096;

/// Rejects files cut short, for the formats that mark or state their end.
fn check_end(format: ImageFormat, bytes: &[u8]) -> Result<(), ImageError> {
    let tail = &bytes[bytes.len().saturating_sub(END_MARKER_WINDOW_BYTES)..];
    let complete = match format {
        // The IEND chunk: type and its fixed CRC.
        ImageFormat::Png => contains(tail, b"IEND\xAE\x42\x60\x82"),
        ImageFormat::Jpeg => contains(tail, &[0xFF, 0xD9]),
        // The RIFF header states the size of what follows it.
        ImageFormat::WebP => {
            read_u32_le(bytes, 4).is_some_and(|riff| u64::from(riff) + 8 <= bytes.len() as u64)
        }
        // The trailer byte, possibly followed by zero padding.
        ImageFormat::Gif => bytes.iter().rev().find(|&&b| b != 0) == Some(&0x3B),
        // BMP and TIFF state no overall end that writers reliably fill in.
        ImageFormat::Bmp | ImageFormat::Tiff => true,
    };
    if complete {
        Ok(())
    } else {
        Err(ImageError::Corrupt {
            format,
            reason: "the file is truncated",
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest
        .iter()
        .fold(String::with_capacity(digest.len() * 2), |mut text, b| {
            let _ = write!(text, "{b:02x}");
            text
        })
}

#[cfg(test)]
mod tests;
