//! Inline image data: base64 text to bytes, bounded before decoding.
//!
//! Callers send base64 in every dialect: the standard or the URL-safe
//! alphabet, with or without `=` padding, wrapped at 76 columns by MIME
//! encoders, or as a `data:image/png;base64,…` URL. All of these are
//! accepted; a text mixing both alphabets is not (that is corruption, not a
//! dialect). The decoded size follows exactly from the number of symbols, so
//! `images.max_bytes` is enforced before a single byte is allocated for the
//! result. What the bytes are is decided later, by [`super::verify`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;

use super::ImageError;

/// Decodes base64 `text` into at most `max_bytes` bytes.
///
/// ASCII whitespace anywhere is ignored and a `data:…;base64,` prefix is
/// tolerated. Fails with [`ImageError::TooLarge`] before decoding when the
/// result would exceed `max_bytes`, with [`ImageError::InvalidBase64`] for
/// anything that is not base64, and with [`ImageError::Empty`] when no data
/// remains.
pub fn decode_base64(text: &str, max_bytes: u64) -> Result<Vec<u8>, ImageError> {
    let data = strip_data_url(text)?.as_bytes();
    if let Some(bytes) = decode_clean(data, max_bytes) {
        return Ok(bytes);
    }
    decode_any_dialect(data, max_bytes)
}

/// The common case in one pass: standard alphabet, no whitespace, padded or
/// not, as N8N and most encoders send it. `None` when the text is anything
/// else (or would be too large): the careful path then counts, cleans and
/// explains.
fn decode_clean(data: &[u8], max_bytes: u64) -> Option<Vec<u8>> {
    let padding = data
        .iter()
        .rev()
        .take(2)
        .take_while(|&&b| b == b'=')
        .count();
    // Exact for clean text; whitespace would only make the real size smaller.
    let decoded_size = (data.len() - padding) as u64 * 6 / 8;
    if decoded_size > max_bytes || data.is_empty() {
        return None;
    }
    STANDARD_PAD_INDIFFERENT
        .decode(data)
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

/// Every dialect: URL-safe, MIME line breaks, stray whitespace.
fn decode_any_dialect(data: &[u8], max_bytes: u64) -> Result<Vec<u8>, ImageError> {
    let mut symbols: u64 = 0;
    let mut padding: u64 = 0;
    let (mut standard, mut url_safe) = (false, false);
    for &b in data {
        match b {
            b if b.is_ascii_whitespace() => continue,
            b'=' => padding += 1,
            b'+' | b'/' => standard = true,
            b'-' | b'_' => url_safe = true,
            _ => {}
        }
        symbols += 1;
    }
    if standard && url_safe {
        return Err(invalid("it mixes the standard and the URL-safe alphabet"));
    }
    if symbols == 0 {
        return Err(ImageError::Empty);
    }
    // Every symbol carries 6 bits; padding carries none.
    let decoded_size = (symbols - padding.min(symbols)) * 6 / 8;
    if decoded_size > max_bytes {
        return Err(ImageError::TooLarge {
            size: Some(decoded_size),
            limit: max_bytes,
        });
    }

    let mut clean = Vec::with_capacity(usize::try_from(symbols).unwrap_or(0));
    clean.extend(data.iter().filter_map(|&b| match b {
        b if b.is_ascii_whitespace() => None,
        b'-' => Some(b'+'),
        b'_' => Some(b'/'),
        b => Some(b),
    }));
    let bytes = STANDARD_PAD_INDIFFERENT
        .decode(&clean)
        .map_err(|e| invalid(&describe(&e)))?;
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    Ok(bytes)
}

/// The base64 part of a `data:` URL, or `text` itself when it is not one.
fn strip_data_url(text: &str) -> Result<&str, ImageError> {
    let trimmed = text.trim_start();
    let is_data_url = trimmed
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"));
    if !is_data_url {
        return Ok(text);
    }
    let Some((header, data)) = trimmed.split_once(',') else {
        return Err(invalid("the data URL has no comma before its data"));
    };
    let is_base64 = header
        .rsplit(';')
        .next()
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("base64"));
    if !is_base64 {
        return Err(invalid("the data URL is not marked ;base64"));
    }
    Ok(data)
}

fn describe(error: &base64::DecodeError) -> String {
    match error {
        base64::DecodeError::InvalidByte(_, b) if b.is_ascii_graphic() => {
            format!("invalid character '{}'", char::from(*b))
        }
        base64::DecodeError::InvalidByte(_, b) => format!("invalid byte 0x{b:02X}"),
        base64::DecodeError::InvalidLength(_) => {
            "its length is not that of base64 data (truncated?)".into()
        }
        base64::DecodeError::InvalidLastSymbol { .. } => {
            "its last character is impossible (truncated or corrupted)".into()
        }
        base64::DecodeError::InvalidPadding => "its padding is wrong or misplaced".into(),
    }
}

fn invalid(reason: &str) -> ImageError {
    ImageError::InvalidBase64 {
        reason: reason.to_owned(),
    }
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
            ("abc!defg", "invalid character '!'"),
            ("ab+d-fgh", "mixes"),
            ("abcde", "length"),
            ("ab=cdefg", ""),
            ("aGVs\u{e9}bG8=", "invalid byte 0xC3"),
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
