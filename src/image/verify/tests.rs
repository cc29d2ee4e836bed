//! Real tiny files of every format (3×2 pixels, written by ImageMagick and
//! cwebp, in `src/image/testdata/`), and crafted headers for what must fail;
//! then formats as claimed and claims compared with the bytes.

use bytes::Bytes;

use super::*;

const LIMITS: ImageLimits = ImageLimits {
    max_bytes: 1024 * 1024,
    max_pixels: 1_000_000,
};

/// (file, format, SHA-256 as `sha256sum` prints it)
const SAMPLES: [(&[u8], ImageFormat, &str); 4] = [
    (
        include_bytes!("../testdata/tiny.png"),
        ImageFormat::Png,
        "6db64287ee5944d40f1d46ca1988364044ae10584fa239d0433086c79d7856e1",
    ),
    (
        include_bytes!("../testdata/tiny.jpeg"),
        ImageFormat::Jpeg,
        "e88b9b5499db17e3e690e8c9ca08b9bdb86a02585d79c1bd299b157e0fad5f4f",
    ),
    (
        include_bytes!("../testdata/tiny.webp"),
        ImageFormat::WebP,
        "f505c33be10988c5c53f569bf53fa542ca8dd48908461c94281b14579529ac30",
    ),
    (
        include_bytes!("../testdata/tiny-lossless.webp"),
        ImageFormat::WebP,
        "76f8d065a10075265b41dbe02b84b0473eddd730c86fafe088eba9ca91382974",
    ),
];

/// Real images in formats that are not accepted.
const REFUSED_FORMATS: [(&[u8], &str); 3] = [
    (include_bytes!("../testdata/tiny.gif"), "gif"),
    (include_bytes!("../testdata/tiny.bmp"), "bmp"),
    (include_bytes!("../testdata/tiny.tiff"), "tiff"),
];

const TINY_PNG: &[u8] = include_bytes!("../testdata/tiny.png");

fn check(bytes: &[u8]) -> Result<VerifiedImage, ImageError> {
    verify(Bytes::copy_from_slice(bytes), &LIMITS)
}

/// A PNG signature and IHDR chunk claiming `width`×`height`, nothing else.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

#[test]
fn every_supported_format_is_recognised_with_its_dimensions_and_digest() {
    for (bytes, format, sha256) in SAMPLES {
        let image = check(bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(image.format, format);
        assert_eq!((image.width, image.height), (3, 2), "{format:?}");
        assert_eq!(image.sha256_hex, sha256, "{format:?}");
        assert_eq!(image.bytes, bytes);
    }
}

#[test]
fn gif_bmp_and_tiff_are_refused_naming_the_accepted_formats() {
    for (bytes, name) in REFUSED_FORMATS {
        let error = check(bytes).unwrap_err();
        assert!(matches!(error, ImageError::NotAnImage), "{name}: {error:?}");
        assert!(!error.is_transient() && !error.is_client_error(), "{name}");
        assert_eq!(
            error.to_string(),
            "the data is not a PNG, JPEG or WebP image (the formats accepted)"
        );
    }
}

#[test]
fn text_and_html_are_not_images() {
    for text in [
        &b"<!DOCTYPE html><html><body>404 Not Found</body></html>"[..],
        b"{\"error\": \"expired token\"}",
        b"just some text that is long enough",
        b"BMW is a car brand, not a bitmap",
        b"RIFF....WAVEfmt ",
        b"\x89PNG\r\n\x1a\n",
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDX not a header",
        b"GIF8",
    ] {
        assert!(
            matches!(check(text), Err(ImageError::NotAnImage)),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn a_huge_claimed_size_is_refused_from_the_header_alone() {
    // 100000×100000 RGBA would need 40 GB to decode; the header is 33 bytes.
    let result = check(&png_header(100_000, 100_000));
    match result {
        Err(ImageError::TooManyPixels {
            width,
            height,
            limit,
        }) => {
            assert_eq!((width, height, limit), (100_000, 100_000, 1_000_000));
        }
        other => panic!("expected TooManyPixels, got {other:?}"),
    }
    // Within the limit the same header is only incomplete.
    assert!(matches!(
        check(&png_header(10, 10)),
        Err(ImageError::Corrupt { .. })
    ));
    // The product of two u32::MAX dimensions does not overflow.
    assert!(matches!(
        check(&png_header(u32::MAX, u32::MAX)),
        Err(ImageError::TooManyPixels { .. })
    ));
}

#[test]
fn empty_truncated_and_damaged_files_are_refused() {
    assert!(matches!(check(b""), Err(ImageError::Empty)));
    for (bytes, format, _) in SAMPLES {
        // Cut inside the header.
        let result = check(&bytes[..14.min(bytes.len())]);
        assert!(result.is_err(), "{format:?} cut at 14 bytes: {result:?}");
    }
    for (bytes, format, _) in SAMPLES {
        // PNG, JPEG and WebP say where they end.
        let cut = &bytes[..bytes.len() - 3];
        assert!(
            matches!(check(cut), Err(ImageError::Corrupt { .. })),
            "{format:?} missing its last bytes"
        );
    }
    let mut zero_width = png_header(0, 10);
    zero_width.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    assert!(matches!(
        check(&zero_width),
        Err(ImageError::Corrupt { .. })
    ));
}

#[test]
fn the_byte_limit_applies_to_verified_bytes_too() {
    let limits = ImageLimits {
        max_bytes: 10,
        max_pixels: 100,
    };
    assert!(matches!(
        verify(Bytes::from_static(TINY_PNG), &limits),
        Err(ImageError::TooLarge {
            size: Some(84),
            limit: 10
        })
    ));
}

#[test]
fn debug_output_leaves_out_the_bytes() {
    let image = check(TINY_PNG).unwrap();
    let debug = format!("{image:?}");
    assert!(debug.contains("size: 84"), "{debug}");
    assert!(!debug.contains("bytes:"), "{debug}");
}

#[test]
fn formats_as_claimed() {
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
        assert_eq!(ImageFormat::from_claim(format.mimetype()), Some(format));
        assert_eq!(ImageFormat::from_claim(format.extension()), Some(format));
    }
    assert_eq!(ImageFormat::Jpeg.extension(), "jpeg");
    for (claim, format) in [
        ("jpg", ImageFormat::Jpeg),
        ("JPG", ImageFormat::Jpeg),
        (".jpeg", ImageFormat::Jpeg),
        (" image/JPEG ", ImageFormat::Jpeg),
        ("image/png; charset=binary", ImageFormat::Png),
        ("WEBP", ImageFormat::WebP),
    ] {
        assert_eq!(ImageFormat::from_claim(claim), Some(format), "{claim}");
    }
    for claim in [
        "",
        "image/",
        "gif",
        "image/tiff",
        "svg",
        "text/html",
        "heic",
    ] {
        assert_eq!(ImageFormat::from_claim(claim), None, "{claim}");
    }
}

#[test]
fn matching_and_absent_claims_are_no_mismatch() {
    let image = check(TINY_PNG).unwrap();
    assert!(claim_mismatches(&image, None, None, None, None, None).is_empty());
    let all_right = claim_mismatches(
        &image,
        Some("image/png"),
        Some("PNG"),
        Some(3),
        Some(2),
        Some(84),
    );
    assert!(all_right.is_empty(), "{all_right:?}");
    assert!(claim_mismatches(&image, Some(""), Some(" "), None, None, None).is_empty());
}

#[test]
fn each_wrong_claim_is_named_with_the_real_value() {
    let image = check(TINY_PNG).unwrap();
    let mismatches = claim_mismatches(
        &image,
        Some("image/jpeg"),
        Some("jpg"),
        Some(1024),
        Some(768),
        Some(5000),
    );
    assert_eq!(
        mismatches,
        [
            "mimetype claimed \"image/jpeg\", bytes are image/png",
            "file_format claimed \"jpg\", bytes are png",
            "width claimed 1024, image has 3",
            "height claimed 768, image has 2",
            "file_size claimed 5000, image has 84",
        ]
    );
}

#[test]
fn unknown_and_hostile_claims_are_echoed_safely() {
    let image = check(TINY_PNG).unwrap();
    let long = format!("image/{}", "x".repeat(200));
    let mismatches = claim_mismatches(&image, Some(&long), Some("svg\n<script>"), None, None, None);
    assert_eq!(mismatches.len(), 2);
    assert!(mismatches[0].len() < 100, "{}", mismatches[0]);
    assert!(mismatches[0].contains('…'), "{}", mismatches[0]);
    assert!(
        mismatches[1].contains("\\n"),
        "newlines are escaped: {}",
        mismatches[1]
    );
}
