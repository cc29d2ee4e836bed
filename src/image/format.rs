//! The image formats the bridge accepts, and how bytes are recognised.
//!
//! [`ImageFormat::sniff`] looks at the file's signature (magic bytes) only:
//! a `Content-Type` header, a file name or a callback's claim never decide
//! what an image is. Each signature is checked strictly enough that text
//! which happens to start like an image (`BM…`, `II…`) is not taken for one.

use std::fmt;

/// A supported image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    Jpeg,
    WebP,
    Gif,
    Bmp,
    Tiff,
}

/// The sizes a BMP's DIB header can have (core, info, v2–v5, OS/2 v2).
const BMP_DIB_HEADER_SIZES: [u32; 7] = [12, 40, 52, 56, 64, 108, 124];

impl ImageFormat {
    /// Every supported format, in the order they are tried.
    pub const ALL: [Self; 6] = [
        Self::Png,
        Self::Jpeg,
        Self::WebP,
        Self::Gif,
        Self::Bmp,
        Self::Tiff,
    ];

    /// The MIME type, as Odoo stores it on an attachment.
    pub fn mimetype(&self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
            Self::Gif => "image/gif",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
        }
    }

    /// The file extension, without the dot; also the `file_format` value.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::WebP => "webp",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
        }
    }

    /// Reads a format as a callback states it: an extension (`png`, `jpg`,
    /// `.jpeg`, `tif`) or a MIME type (`image/jpeg`, `image/x-ms-bmp`), in
    /// any case. Unknown names give `None`.
    pub fn from_claim(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        // A MIME type may carry parameters: `image/png; charset=binary`.
        let text = text.split(';').next().unwrap_or_default().trim();
        let name = text
            .strip_prefix("image/")
            .or_else(|| text.strip_prefix('.'))
            .unwrap_or(text);
        match name {
            "png" | "x-png" | "apng" => Some(Self::Png),
            "jpeg" | "jpg" | "jpe" | "pjpeg" | "jfif" => Some(Self::Jpeg),
            "webp" => Some(Self::WebP),
            "gif" => Some(Self::Gif),
            "bmp" | "x-bmp" | "x-ms-bmp" | "dib" => Some(Self::Bmp),
            "tiff" | "tif" | "x-tiff" => Some(Self::Tiff),
            _ => None,
        }
    }

    /// The format whose signature `bytes` start with, if any.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|format| format.signature_matches(bytes))
    }

    fn signature_matches(self, b: &[u8]) -> bool {
        match self {
            // The signature, then the IHDR chunk that must come first.
            Self::Png => b.starts_with(b"\x89PNG\r\n\x1a\n") && b.get(12..16) == Some(b"IHDR"),
            // SOI followed by the first marker's FF.
            Self::Jpeg => b.starts_with(&[0xFF, 0xD8, 0xFF]),
            Self::WebP => b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP"),
            Self::Gif => b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a"),
            // "BM" alone is too weak: also require a known DIB header size.
            Self::Bmp => {
                b.starts_with(b"BM")
                    && read_u32_le(b, 14).is_some_and(|size| BMP_DIB_HEADER_SIZES.contains(&size))
            }
            // Classic TIFF (42) and BigTIFF (43), little and big endian.
            Self::Tiff => {
                b.starts_with(b"II*\0")
                    || b.starts_with(b"MM\0*")
                    || b.starts_with(b"II+\0")
                    || b.starts_with(b"MM\0+")
            }
        }
    }
}

impl fmt::Display for ImageFormat {
    /// The extension (`png`, `jpeg`, …), as claims and messages use it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

pub(super) fn read_u32_le(bytes: &[u8], offset: usize) -> Option<u32> {
    let field = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(field.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mimetypes_and_extensions() {
        let table = [
            (ImageFormat::Png, "image/png", "png"),
            (ImageFormat::Jpeg, "image/jpeg", "jpeg"),
            (ImageFormat::WebP, "image/webp", "webp"),
            (ImageFormat::Gif, "image/gif", "gif"),
            (ImageFormat::Bmp, "image/bmp", "bmp"),
            (ImageFormat::Tiff, "image/tiff", "tiff"),
        ];
        for (format, mimetype, extension) in table {
            assert_eq!(format.mimetype(), mimetype);
            assert_eq!(format.extension(), extension);
            assert_eq!(ImageFormat::from_claim(mimetype), Some(format));
            assert_eq!(ImageFormat::from_claim(extension), Some(format));
        }
    }

    #[test]
    fn claims_are_read_loosely() {
        for (claim, format) in [
            ("jpg", ImageFormat::Jpeg),
            ("JPG", ImageFormat::Jpeg),
            (".jpeg", ImageFormat::Jpeg),
            (" image/JPEG ", ImageFormat::Jpeg),
            ("image/png; charset=binary", ImageFormat::Png),
            ("tif", ImageFormat::Tiff),
            ("image/x-ms-bmp", ImageFormat::Bmp),
        ] {
            assert_eq!(ImageFormat::from_claim(claim), Some(format), "{claim}");
        }
        for claim in ["", "image/", "svg", "image/svg+xml", "text/html", "heic"] {
            assert_eq!(ImageFormat::from_claim(claim), None, "{claim}");
        }
    }

    #[test]
    fn text_that_starts_like_an_image_is_not_one() {
        for text in [
            &b"BMW is a car brand, not a bitmap"[..],
            b"II* is not a TIFF header here",
            b"RIFF....WAVEfmt ",
            b"GIF8",
            b"\x89PNG\r\n\x1a\n",
            b"<html><body>Not found</body></html>",
            b"",
        ] {
            assert_eq!(ImageFormat::sniff(text), None, "{text:?}");
        }
    }
}
