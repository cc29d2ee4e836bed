//! What a callback says about its image, compared with what the bytes are.
//!
//! N8N sends `mimetype`, `file_format`, `file_size`, `width` and `height`
//! beside the image (SDS §4.2). They are hints: the bridge stores the values
//! read from the bytes, and reports each claim that disagrees so a broken
//! workflow step shows up in the logs. A claim that is absent or empty is not
//! a mismatch.

use super::{ImageFormat, VerifiedImage};

/// A claimed text is echoed at most this long: it comes from outside.
const MAX_ECHOED_CLAIM_CHARS: usize = 40;

/// Human-readable differences between the claims and `image`, one per
/// claim (e.g. `file_format claimed png, bytes are jpeg`); empty when all
/// agree.
pub fn claim_mismatches(
    image: &VerifiedImage,
    claimed_mimetype: Option<&str>,
    claimed_format: Option<&str>,
    claimed_width: Option<u64>,
    claimed_height: Option<u64>,
    claimed_size: Option<u64>,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    if let Some(claim) = claimed_mimetype.filter(|c| !c.trim().is_empty())
        && ImageFormat::from_claim(claim) != Some(image.format)
    {
        mismatches.push(format!(
            "mimetype claimed {}, bytes are {}",
            echo(claim),
            image.format.mimetype()
        ));
    }
    if let Some(claim) = claimed_format.filter(|c| !c.trim().is_empty())
        && ImageFormat::from_claim(claim) != Some(image.format)
    {
        mismatches.push(format!(
            "file_format claimed {}, bytes are {}",
            echo(claim),
            image.format
        ));
    }
    for (name, claim, real) in [
        ("width", claimed_width, u64::from(image.width)),
        ("height", claimed_height, u64::from(image.height)),
    ] {
        if let Some(claim) = claim.filter(|&c| c != real) {
            mismatches.push(format!("{name} claimed {claim}, image is {real}"));
        }
    }
    if let Some(claim) = claimed_size.filter(|&c| c != image.size()) {
        mismatches.push(format!(
            "file_size claimed {claim} bytes, image has {} bytes",
            image.size()
        ));
    }
    mismatches
}

/// `claim` quoted and cut short, with control characters escaped.
fn echo(claim: &str) -> String {
    let trimmed = claim.trim();
    let mut text: String = trimmed.chars().take(MAX_ECHOED_CLAIM_CHARS).collect();
    if trimmed.chars().count() > MAX_ECHOED_CLAIM_CHARS {
        text.push('…');
    }
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::image::{ImageLimits, verify};

    fn tiny_png() -> VerifiedImage {
        let limits = ImageLimits {
            max_bytes: 1024,
            max_pixels: 100,
        };
        verify(
            Bytes::from_static(include_bytes!("testdata/tiny.png")),
            &limits,
        )
        .unwrap()
    }

    #[test]
    fn matching_and_absent_claims_are_no_mismatch() {
        let image = tiny_png();
        assert!(claim_mismatches(&image, None, None, None, None, None).is_empty());
        assert!(
            claim_mismatches(
                &image,
                Some("image/png"),
                Some("PNG"),
                Some(3),
                Some(2),
                Some(84)
            )
            .is_empty()
        );
        assert!(claim_mismatches(&image, Some(""), Some(" "), None, None, None).is_empty());
    }

    #[test]
    fn each_wrong_claim_is_named_with_the_real_value() {
        let image = tiny_png();
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
                "width claimed 1024, image is 3",
                "height claimed 768, image is 2",
                "file_size claimed 5000 bytes, image has 84 bytes",
            ]
        );
    }

    #[test]
    fn unknown_and_hostile_claims_are_echoed_safely() {
        let image = tiny_png();
        let long = format!("image/{}", "x".repeat(200));
        let mismatches =
            claim_mismatches(&image, Some(&long), Some("svg\n<script>"), None, None, None);
        assert_eq!(mismatches.len(), 2);
        assert!(mismatches[0].len() < 100, "{}", mismatches[0]);
        assert!(mismatches[0].contains('…'), "{}", mismatches[0]);
        assert!(
            mismatches[1].contains("\\n"),
            "newlines are escaped: {}",
            mismatches[1]
        );
    }
}
