//! `ir.attachment` contents: base64 decoding, mimetype guessing, Odoo's image post-processing
//! (`_postprocess_contents`), checksum (SHA-1 of the raw bytes), `file_size` and `store_fname`
//! (`<sha1[:2]>/<sha1>`), as `odoo/addons/base/models/ir_attachment.py` does them.
//!
//! Image post-processing: when the mimetype is `image/<subtype>` with the subtype in
//! `base.image_autoresize_extensions` (default `png,jpeg,bmp,tiff`) and
//! `base.image_autoresize_max_px` (default `1920x1920`; a false value such as `0` turns it off) is
//! exceeded, the image is decoded, shrunk with PIL's `thumbnail` size rule (aspect ratio kept) and
//! re-encoded in its own format (JPEG at `base.image_autoresize_quality`, default 80), so the
//! stored bytes, checksum and size change while the mimetype does not. Bytes PIL could not
//! identify are stored as they are (Odoo logs and ignores its `UserError`). Differences from
//! real Odoo: only PNG and JPEG content is decoded (real BMP/TIFF/GIF content is stored as is),
//! PNG output is RGBA rather than PIL's 256-colour WEB palette, and EXIF orientation is ignored.

use std::io::Cursor;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use image::{DynamicImage, ImageFormat, ImageReader, imageops::FilterType};
use sha1::{Digest, Sha1};

use crate::errors::{OdooError, OdooResult, py_str};
use crate::store::Db;

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Python's `base64.b64decode` (non-validating: characters outside the alphabet are dropped).
pub fn b64decode(s: &str) -> OdooResult<Vec<u8>> {
    // Clean, padded base64 (what clients send) decodes the same either way; decoding it as it
    // is spares copying every character of a multi-megabyte image first.
    if s.len().is_multiple_of(4)
        && let Ok(bytes) = LENIENT.decode(s.as_bytes())
    {
        return Ok(bytes);
    }
    let data: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    let pads = s.chars().filter(|c| *c == '=').count();
    let rem = data.len() % 4;
    if rem == 1 {
        return Err(OdooError::new(
            "binascii.Error",
            format!(
                "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more than a multiple of 4",
                data.len()
            ),
        ));
    }
    if rem != 0 && pads < 4 - rem {
        return Err(OdooError::new("binascii.Error", "Incorrect padding"));
    }
    LENIENT
        .decode(data.as_bytes())
        .map_err(|_| OdooError::new("binascii.Error", "Incorrect padding"))
}

/// Base64 of raw bytes.
pub fn b64encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Lower-case hex SHA-1.
pub fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `store_fname` of a file with this checksum.
pub fn store_fname(sha: &str) -> String {
    format!("{}/{}", &sha[..2.min(sha.len())], sha)
}

fn guess_from_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" | "jpe" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "mp4" => "video/mp4",
        "bin" => "application/octet-stream",
        _ => return None,
    })
}

/// Odoo's `guess_mimetype` on content (signature sniffing).
fn guess_from_content(raw: &[u8]) -> &'static str {
    let starts = |sig: &[u8]| raw.starts_with(sig);
    if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"BM") {
        "image/bmp"
    } else if raw.len() >= 12 && &raw[..4] == b"RIFF" && &raw[8..12] == b"WEBP" {
        "image/webp"
    } else if starts(b"II*\x00") || starts(b"MM\x00*") {
        "image/tiff"
    } else if starts(b"<svg")
        || (starts(b"<?xml") && raw.windows(4).take(512).any(|w| w == b"<svg"))
    {
        "image/svg+xml"
    } else {
        "application/octet-stream"
    }
}

/// `_compute_mimetype`: the given mimetype, else a guess from the name or URL, else from content.
pub fn compute_mimetype(
    declared: Option<&str>,
    name: Option<&str>,
    url: Option<&str>,
    raw: Option<&[u8]>,
) -> String {
    let mut mimetype = declared.filter(|m| !m.is_empty()).map(str::to_string);
    if mimetype.is_none() {
        mimetype = name.and_then(guess_from_name).map(str::to_string);
    }
    if mimetype.is_none() {
        mimetype = url
            .and_then(|u| guess_from_name(u.split('?').next().unwrap_or(u)))
            .map(str::to_string);
    }
    let unknown = mimetype
        .as_deref()
        .is_none_or(|m| m == "application/octet-stream");
    if let (true, Some(raw)) = (unknown, raw.filter(|r| !r.is_empty())) {
        mimetype = Some(guess_from_content(raw).to_string());
    }
    mimetype
        .map(|m| m.to_lowercase())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// Odoo's `str2bool(s, default)`.
fn str2bool(s: &str, default: bool) -> bool {
    match s.to_lowercase().as_str() {
        "y" | "yes" | "1" | "true" | "t" | "on" => true,
        "n" | "no" | "0" | "false" | "f" | "off" => false,
        _ => default,
    }
}

/// Parses `max_resolution.split('x')` into two ints as Python would (or fails like it).
fn parse_max_px(s: &str) -> OdooResult<(u32, u32)> {
    let parts: Vec<&str> = s.split('x').collect();
    if parts.len() < 2 {
        return Err(OdooError::value_error(format!(
            "not enough values to unpack (expected 2, got {})",
            parts.len()
        )));
    }
    if parts.len() > 2 {
        return Err(OdooError::value_error(
            "too many values to unpack (expected 2)",
        ));
    }
    let int = |p: &str| {
        p.trim().parse::<u32>().map_err(|_| {
            OdooError::value_error(format!(
                "invalid literal for int() with base 10: {}",
                py_str(p)
            ))
        })
    };
    Ok((int(parts[0])?, int(parts[1])?))
}

/// Pillow's `Image.thumbnail` target size for a `w`×`h` image in an `x`×`y` box.
pub fn thumbnail_size(w: u32, h: u32, x: u32, y: u32) -> (u32, u32) {
    if x >= w && y >= h {
        return (w, h);
    }
    let aspect = w as f64 / h as f64;
    let (xf, yf) = (x as f64, y as f64);
    let pick = |n: f64, key: &dyn Fn(f64) -> f64| -> u32 {
        let (lo, hi) = (n.floor(), n.ceil());
        let best = if key(hi) < key(lo) { hi } else { lo };
        (best as u32).max(1)
    };
    if xf / yf >= aspect {
        let nx = pick(yf * aspect, &|n| (aspect - n / yf).abs());
        (nx, y)
    } else {
        let ny = pick(xf / aspect, &|n| {
            if n == 0.0 {
                0.0
            } else {
                (aspect - xf / n).abs()
            }
        });
        (x, ny)
    }
}

fn encode(img: &DynamicImage, format: ImageFormat, quality: u8) -> OdooResult<Vec<u8>> {
    let mut out = Vec::new();
    let res = match format {
        ImageFormat::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            rgb.write_with_encoder(enc)
        }
        _ => img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png),
    };
    res.map_err(|e| OdooError::new("builtins.OSError", format!("cannot write image: {e}")))?;
    Ok(out)
}

/// `_postprocess_contents`: returns the bytes to store (shrunk when needed).
pub fn postprocess(db: &Db, mimetype: &str, raw: Vec<u8>) -> OdooResult<Vec<u8>> {
    let exts = db
        .param("base.image_autoresize_extensions")
        .unwrap_or_else(|| "png,jpeg,bmp,tiff".into());
    let (kind, subtype) = mimetype.split_once('/').unwrap_or((mimetype, ""));
    if kind != "image" || !exts.split(',').any(|e| e == subtype) || raw.is_empty() {
        return Ok(raw);
    }
    let max_px = db
        .param("base.image_autoresize_max_px")
        .unwrap_or_else(|| "1920x1920".into());
    if !str2bool(&max_px, true) {
        return Ok(raw);
    }
    // ImageProcess: empty, SVG and WEBP sources are not processed
    if raw[0] == b'<' || (raw.len() >= 15 && &raw[..4] == b"RIFF" && &raw[8..15] == b"WEBPVP8") {
        return Ok(raw);
    }
    let format = match image::guess_format(&raw) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        // unidentified by PIL (UserError, logged and ignored), or a format this emulator
        // does not decode
        _ => return Ok(raw),
    };
    let Ok((w, h)) = ImageReader::with_format(Cursor::new(&raw), format).into_dimensions() else {
        return Ok(raw); // PIL cannot open it: "This file could not be decoded…", ignored
    };
    if w == 0 || h == 0 {
        return Ok(raw);
    }
    let (nw, nh) = parse_max_px(&max_px)?;
    if !(w > nw || h > nh) || (nw == 0 && nh == 0) {
        return Ok(raw);
    }
    let (aw, ah) = (
        if nw > 0 {
            nw
        } else {
            (w as u64 * nh as u64 / h as u64) as u32
        },
        if nh > 0 {
            nh
        } else {
            (h as u64 * nw as u64 / w as u64) as u32
        },
    );
    // The header identified an image but its data does not decode: Pillow raises
    // `OSError: image file is truncated` while loading the pixels for the resize, which Odoo
    // does not catch (only UserError is), so the create/write fails with builtins.OSError.
    let img = ImageReader::with_format(Cursor::new(&raw), format)
        .decode()
        .map_err(|_| {
            OdooError::new("builtins.OSError", "image file is truncated").at(
                "  File \"/srv/venv/lib/python3.11/site-packages/PIL/ImageFile.py\", line 251, in load\n    raise OSError(\"image file is truncated\")",
            )
        })?;
    let (tw, th) = thumbnail_size(w, h, aw, ah);
    if (tw, th) == (w, h) {
        return Ok(raw);
    }
    let quality = db
        .param("base.image_autoresize_quality")
        .and_then(|q| q.trim().parse::<u8>().ok())
        .unwrap_or(80);
    let resized = img.resize_exact(tw, th, FilterType::Lanczos3);
    encode(&resized, format, quality)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_and_store_fname_match_transcript_23() {
        let raw = b64decode("iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR42mO4oxGFFTEMLQkAUUZXgaqJA2wAAAAASUVORK5CYII=").expect("b64");
        assert_eq!(raw.len(), 74);
        let sha = sha1_hex(&raw);
        assert_eq!(sha, "9289badb9ec8fe6b8539295e2561b0c7670dde5b");
        assert_eq!(
            store_fname(&sha),
            "92/9289badb9ec8fe6b8539295e2561b0c7670dde5b"
        );
    }

    #[test]
    fn base64_like_python() {
        assert_eq!(b64decode("aGk=\n").expect("ok"), b"hi");
        assert_eq!(b64decode("aGk").unwrap_err().message, "Incorrect padding");
        assert_eq!(b64decode("a").unwrap_err().name, "binascii.Error");
    }

    #[test]
    fn thumbnail_sizes_like_pillow() {
        assert_eq!(thumbnail_size(4000, 3000, 1920, 1920), (1920, 1440));
        assert_eq!(thumbnail_size(1000, 3000, 1920, 1920), (640, 1920));
        assert_eq!(thumbnail_size(100, 100, 1920, 1920), (100, 100));
        assert_eq!(thumbnail_size(3001, 1000, 1920, 1920), (1920, 640));
    }

    #[test]
    fn mimetype_guessing() {
        assert_eq!(
            compute_mimetype(None, Some("a.PNG"), None, None),
            "image/png"
        );
        assert_eq!(
            compute_mimetype(
                Some("application/octet-stream"),
                None,
                None,
                Some(b"%PDF-1.4")
            ),
            "application/pdf"
        );
        assert_eq!(
            compute_mimetype(None, None, None, None),
            "application/octet-stream"
        );
    }
}
