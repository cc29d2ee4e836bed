//! Inline image data: base64 text to bytes, bounded before decoding.
//!
//! N8N sends the standard alphabet on one line. Other encoders use the
//! URL-safe alphabet, leave out the `=` padding, wrap lines at 76 columns or
//! send a `data:image/png;base64,…` URL: all accepted, so a workflow can
//! change its encoder. The decoded size follows from the number of symbols,
//! so `images.max_bytes` holds before anything is allocated for the result.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};

use super::ImageError;

/// Decodes base64 `text` into at most `max_bytes` bytes, ignoring ASCII
/// whitespace. A text mixing both alphabets is invalid.
pub fn decode_base64(text: &str, max_bytes: u64) -> Result<Vec<u8>, ImageError> {
    let data = strip_data_url(text)?.as_bytes();
    let is_symbol = |b: &&u8| !b.is_ascii_whitespace();
    let count = data.iter().filter(is_symbol).count();
    let padding = data.trim_ascii_end().iter().rev().take(2);
    let padding = padding.take_while(|&&b| b == b'=').count();
    if count == 0 {
        return Err(ImageError::Empty);
    }
    // Every symbol but the padding carries 6 bits.
    let size = ((count - padding) * 6 / 8) as u64;
    if size > max_bytes {
        return Err(ImageError::TooLarge {
            size: Some(size),
            limit: max_bytes,
        });
    }
    let clean: Cow<'_, [u8]> = if count == data.len() {
        data.into()
    } else {
        data.iter().filter(is_symbol).copied().collect()
    };
    let engine = if clean.iter().any(|b| matches!(b, b'-' | b'_')) {
        URL_SAFE_PAD_INDIFFERENT
    } else {
        STANDARD_PAD_INDIFFERENT
    };
    engine.decode(&clean).map_err(|e| invalid(e.to_string()))
}

/// The base64 part of a `data:…;base64,` URL, or `text` when it is not one.
fn strip_data_url(text: &str) -> Result<&str, ImageError> {
    let trimmed = text.trim_start();
    if !trimmed
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("data:"))
    {
        return Ok(text);
    }
    let (header, data) = trimmed.split_once(',').unwrap_or_default();
    if !header.to_ascii_lowercase().ends_with(";base64") {
        return Err(invalid("a data URL needs ;base64, before its data".into()));
    }
    Ok(data)
}

fn invalid(reason: String) -> ImageError {
    ImageError::InvalidBase64 { reason }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    use super::*;

    /// Bytes whose base64 uses `+` and `/` (standard) or `-` and `_` (URL-safe).
    const DATA: &[u8] = b"\xfb\xff\xfe\x00image\xff\xfe";
    const LIMIT: u64 = 1024;

    #[test]
    fn standard_alphabet_with_padding() {
        let text = STANDARD.encode(DATA);
        assert!(text.contains('+') || text.contains('/'), "{text}");
        assert!(text.ends_with('='), "{text}");
        assert_eq!(decode_base64(&text, LIMIT).unwrap(), DATA);
    }

    #[test]
    fn url_safe_alphabet_without_padding() {
        let text = URL_SAFE_NO_PAD.encode(DATA);
        assert!(text.contains('-') || text.contains('_'), "{text}");
        assert_eq!(decode_base64(&text, LIMIT).unwrap(), DATA);
        let text = STANDARD.encode(DATA);
        assert_eq!(
            decode_base64(text.trim_end_matches('='), LIMIT).unwrap(),
            DATA
        );
    }

    #[test]
    fn whitespace_and_line_breaks_are_ignored() {
        let text = STANDARD.encode(DATA);
        let wrapped: String = text
            .as_bytes()
            .chunks(4)
            .map(|chunk| format!("{}\r\n\t ", std::str::from_utf8(chunk).unwrap()))
            .collect();
        assert_eq!(
            decode_base64(&format!("  {wrapped}\n"), LIMIT).unwrap(),
            DATA
        );
    }

    #[test]
    fn a_data_url_prefix_is_tolerated() {
        let text = STANDARD.encode(DATA);
        for prefix in [
            "data:image/png;base64,",
            "DATA:image/jpeg;BASE64,",
            " data:;base64,",
            "data:image/png;name=x.png;base64,",
        ] {
            assert_eq!(
                decode_base64(&format!("{prefix}{text}"), LIMIT).unwrap(),
                DATA,
                "{prefix}"
            );
        }
        for bad in ["data:image/png,abcd", "data:image/png;base64"] {
            assert!(
                matches!(
                    decode_base64(bad, LIMIT),
                    Err(ImageError::InvalidBase64 { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn invalid_text_is_a_client_error() {
        for (bad, reason) in [
            ("abc!defg", "Invalid symbol 33"),
            ("ab+d-fgh", "Invalid symbol 43"),
            ("abcde", "length"),
            ("ab=cdefg", ""),
            ("aGVs\u{e9}bG8=", "Invalid symbol 195"),
            ("data:image/png,abcd", ";base64,"),
        ] {
            let error = decode_base64(bad, LIMIT).unwrap_err();
            assert!(error.is_client_error(), "{bad}: {error}");
            assert!(
                matches!(error, ImageError::InvalidBase64 { .. }),
                "{bad}: {error:?}"
            );
            assert!(error.to_string().contains(reason), "{bad}: {error}");
        }
    }

    #[test]
    fn empty_data_is_a_client_error() {
        for empty in ["", "  \n ", "data:image/png;base64,"] {
            let error = decode_base64(empty, LIMIT).unwrap_err();
            assert!(matches!(error, ImageError::Empty), "{empty:?}: {error:?}");
            assert!(error.is_client_error());
        }
    }

    #[test]
    fn the_size_limit_is_exact_and_checked_before_decoding() {
        let data = vec![7u8; 300];
        let text = STANDARD.encode(&data);
        assert_eq!(decode_base64(&text, 300).unwrap(), data);
        assert!(matches!(
            decode_base64(&text, 299),
            Err(ImageError::TooLarge {
                size: Some(300),
                limit: 299
            })
        ));
        // Not even valid base64 past the first symbols: refused by size alone,
        // so nothing was decoded.
        let huge = format!("AAAA{}", "!".repeat(10_000));
        assert!(matches!(
            decode_base64(&huge, 1000),
            Err(ImageError::TooLarge { .. })
        ));
        // Whitespace does not count towards the size.
        let spaced = format!("{}{text}", " ".repeat(10_000));
        assert_eq!(decode_base64(&spaced, 300).unwrap(), data);
    }
}
